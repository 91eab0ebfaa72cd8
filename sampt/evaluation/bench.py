"""``sampt bench``: a speed/accuracy grid over trackers x segmenters x pipeline options.

For each combination of the grid the pipeline is built once, every sequence is decoded up front (decoding
is not timed), ``warmup`` runs on the first sequence are discarded, then ``repeats`` timed passes go over
the whole dataset, combination after combination, or alternating between combinations pass by pass
(``interleave``) so that a change in machine load affects all of them alike. Reported per combination:

* J&F, J, F of the first timed pass (the official DAVIS protocol: first and last frames excluded);
* FPS of the whole pipeline (frames / wall-clock seconds of ``SamPt.run``): median and best pass;
* seconds per frame, min and median over passes, and split by stage (``result.timings``: tracking,
  encoding, decoding, other; medians); process CPU seconds per frame (median);
* peak resident host memory during the timed passes (sampled from ``/proc``), and peak CUDA memory when
  the components use torch on a GPU.

Outputs in ``--output``: ``runs.csv``, ``runs.json`` (rows + per-sequence scores + the machine, config,
seed, package versions and git revision), ``results.md`` (a Markdown table) and ``speed_accuracy.png``.
"""
from __future__ import annotations

import argparse
import itertools
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.report import markdown_table, text_table, write_csv, write_json

log = logging.getLogger(__name__)

STAGES = ("tracking", "encoding", "decoding", "other")
RUN_COLUMNS = ("name", "tracker", "segmenter", "options", "J&F", "J", "F", "fps_median", "fps_best",
               "spf_min", "spf_median", "cpu_spf_median", "spf_tracking", "spf_encoding", "spf_decoding", "spf_other",
               "peak_rss_mib", "rss_increase_mib", "peak_gpu_mib", "frames", "sequences", "objects", "repeats", "setup_s")
TABLE_COLUMNS = ("name", "J&F", "J", "F", "fps_median", "fps_best", "spf_median", "cpu_spf_median", "spf_tracking", "spf_encoding",
                 "spf_decoding", "spf_other", "peak_rss_mib", "rss_increase_mib", "peak_gpu_mib")
DEFAULT_CONFIG = "synthetic"
DIGITS = {"J&F": 3, "J": 3, "F": 3, "fps_median": 1, "fps_best": 1, "peak_rss_mib": 0, "rss_increase_mib": 1,
          "peak_gpu_mib": 0,
          **{c: 4 for c in RUN_COLUMNS if "spf_" in c}}


# -- configuration ------------------------------------------------------------------------------------

def bench_config_dir() -> Path:
    from sampt.config import config_dir

    return config_dir() / "bench"


def load_bench_config(name_or_path: Optional[str]) -> dict:
    """Load a bench config: a path to a YAML file, or a name under ``configs/bench/``."""
    from omegaconf import OmegaConf

    name_or_path = name_or_path or DEFAULT_CONFIG
    path = Path(name_or_path)
    if not path.is_file():
        path = bench_config_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in bench_config_dir().glob("*.yaml"))
        raise UsageError(f"bench config {name_or_path!r} not found (a YAML file, or one of: {', '.join(known) or 'none'})")
    try:
        cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as exc:
        raise UsageError(f"bench config {path} cannot be parsed: {exc}") from None
    if not isinstance(cfg, dict):
        raise UsageError(f"bench config {path} must hold a mapping")
    unknown = set(cfg) - {"dataset", "grid", "overrides", "repeats", "warmup", "seed", "sequences", "config",
                          "interleave"}
    if unknown:
        raise UsageError(f"bench config {path}: unknown key {sorted(unknown)[0]!r} (keys: dataset, grid, overrides, "
                         "repeats, warmup, interleave, seed, sequences, config)")
    cfg["_path"] = str(path)
    return cfg


def _as_list(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]


def parse_grid_item(item: str) -> tuple[str, list[str]]:
    """``KEY=V1,V2`` -> ``(KEY, [V1, V2])``."""
    key, sep, values = item.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise UsageError(f"grid axis {item!r} is not KEY=V1,V2,... (e.g. tracker=lk,flow)")
    return key.strip(), _as_list(values)


def expand_grid(grid: dict[str, list]) -> list[list[str]]:
    """All combinations of the grid as lists of ``key=value`` overrides (in the grid's key order)."""
    if not grid:
        return [[]]
    keys = list(grid)
    values = [[("null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)) for v in _as_list(grid[k])]
              for k in keys]
    for k, vs in zip(keys, values):
        if not vs:
            raise UsageError(f"grid axis {k!r} has no values")
    return [[f"{k}={v}" for k, v in zip(keys, combo)] for combo in itertools.product(*values)]


def combination_name(overrides: Sequence[str]) -> tuple[str, str, str, str]:
    """``(name, tracker, segmenter, options)`` for a combination's overrides."""
    d = dict(o.split("=", 1) for o in overrides)
    tracker, segmenter = d.pop("tracker", ""), d.pop("segmenter", "")
    options = " ".join(f"{k.replace('pipeline.', '')}={v}" for k, v in d.items())
    name = "+".join(x for x in (tracker, segmenter) if x) or "default"
    if options:
        name += f" ({options})"
    return name, tracker, segmenter, options


# -- machine and provenance -------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def gpu_name() -> Optional[str]:
    """The CUDA device's name when torch is already in use and CUDA is available (torch is not imported)."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # pragma: no cover - broken CUDA setups
        return None
    return None


def machine_info() -> dict:
    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "gpu": gpu_name(), "platform": platform.platform(),
            "python": platform.python_version(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "hostname": platform.node()}


def machine_label(info: dict) -> str:
    return f"{info['cpu']} ({info['cpu_count']} cores)" + (f", GPU: {info['gpu']}" if info.get("gpu") else ", no GPU")


def package_versions() -> dict:
    from importlib import metadata

    out = {}
    for dist in ("sampt", "numpy", "opencv-python-headless", "opencv-python", "omegaconf", "pluggy", "scipy",
                 "torch", "torchvision", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    try:
        import cv2

        out["cv2"] = cv2.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def git_revision() -> dict:
    """The git commit of the sampt checkout and whether tracked files were modified."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        if rev.returncode != 0:
            return {"commit": None}
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        return {"commit": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}


# -- memory -----------------------------------------------------------------------------------------

def _rss_bytes() -> Optional[int]:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class PeakMemory:
    """Peak resident memory while active: samples ``/proc/self/statm`` every ``interval`` seconds (falls back
    to ``ru_maxrss``, the process's lifetime peak, where ``/proc`` is missing), and the peak CUDA memory
    allocated through torch when torch is in use with CUDA."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak = self.start = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.gpu_peak: Optional[int] = None

    def _cuda(self):
        torch = sys.modules.get("torch")
        try:
            return torch if torch is not None and torch.cuda.is_available() else None
        except Exception:  # pragma: no cover
            return None

    def __enter__(self) -> "PeakMemory":
        self.peak = self.start = _rss_bytes() or 0
        torch = self._cuda()
        if torch is not None:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = _rss_bytes()
            if rss is not None and rss > self.peak:
                self.peak = rss

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        rss = _rss_bytes()
        if rss is None:
            self.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        else:
            self.peak = max(self.peak, rss)
        torch = self._cuda()
        if torch is not None:
            torch.cuda.synchronize()
            self.gpu_peak = int(torch.cuda.max_memory_allocated())


# -- data -------------------------------------------------------------------------------------------

def prepare_dataset(spec: dict, root: Optional[str], workdir: Path) -> Any:
    """Open the benchmark's dataset: ``name: synthetic`` writes seeded synthetic clips in the DAVIS layout
    under ``workdir`` first; any other name opens ``root`` (``--dataset-root`` or ``dataset.root``)."""
    from sampt.evaluation.datasets import open_dataset

    name = str(spec.get("name", "synthetic"))
    split = spec.get("split")
    root = root or spec.get("root")
    if name == "synthetic" and not root:
        from sampt.data.synthetic import make_synthetic_set, write_davis

        opts = dict(spec.get("synthetic") or {})
        num_clips = int(opts.pop("num_clips", 3))
        seed = int(opts.pop("seed", 0))
        clips = make_synthetic_set(num_clips=num_clips, seed=seed, **opts)
        write_davis(workdir / "synthetic-davis", clips, split=split or "val", year="2017")
        return open_dataset("davis2017", workdir / "synthetic-davis", split=split or "val")
    if not root:
        raise UsageError(f"bench dataset {name!r} needs a root folder: --dataset-root or dataset.root in the config")
    return open_dataset("davis2017" if name == "synthetic" else name, root, split=split)


# -- the run ----------------------------------------------------------------------------------------

class CombinationBench:
    """Benchmark state of one grid combination: build the pipeline (:meth:`setup`, timed separately),
    :meth:`warm_up`, timed passes over every sequence (:meth:`run_pass`), then :meth:`results`.
    ``sequences`` holds ``(VOSSequence, Video, prompts)``; ``common`` overrides apply to every combination,
    ``combo`` are this combination's own (they name it)."""

    def __init__(self, common: list[str], combo: list[str], sequences: list[tuple[Any, Any, list]],
                 config_file: Optional[str] = None, exclude_first_last: bool = True):
        from sampt.config import compose

        self.combo, self.sequences, self.exclude_first_last = combo, sequences, exclude_first_last
        self.cfg = compose(common + combo, config_file=config_file)
        self.name = combination_name(combo)[0]
        self.pipeline: Any = None
        self.setup_seconds = 0.0
        self.totals: list[float] = []
        self.cpu_totals: list[float] = []
        self.stage_totals: dict[str, list[float]] = {s: [] for s in STAGES}
        self.object_scores: list = []
        self.per_sequence: list[dict] = []
        self.peak_rss = 0
        self.peak_rss_increase = 0
        self.peak_gpu: Optional[int] = None
        self.progress = False  # per-frame progress bars during passes

    def setup(self) -> None:
        from sampt.pipeline import SamPt

        start = time.perf_counter()
        self.pipeline = SamPt.from_config(self.cfg)
        self.setup_seconds = time.perf_counter() - start

    def warm_up(self, runs: int) -> None:
        _, video, prompts = self.sequences[0]
        for _ in range(runs):
            self.pipeline.run(video, prompts)

    def run_pass(self) -> None:
        """One timed pass over every sequence; the first pass is also scored."""
        from sampt.evaluation.metrics import global_scores
        from sampt.evaluation.run import predict_sequence
        from sampt.evaluation.scoring import score_label_maps

        first = not self.totals
        elapsed = cpu = 0.0
        stages = dict.fromkeys(STAGES, 0.0)
        with PeakMemory() as mem:
            for seq, video, prompts in self.sequences:
                pred = predict_sequence(self.pipeline, seq, video=video, prompts=prompts,
                                        progress=self.progress)
                elapsed += pred.seconds
                cpu += pred.cpu_seconds
                for s in STAGES:
                    stages[s] += float(pred.result.timings.get(s, 0.0))
                if first and seq.has_ground_truth:
                    index = {t: k for k, t in enumerate(seq.eval_frames)}
                    scores = score_label_maps(seq, lambda t: pred.labels[index[t]], self.exclude_first_last)
                    self.object_scores.extend(scores)
                    g = global_scores(scores)
                    self.per_sequence.append({"name": self.name, "sequence": seq.name, "frames": len(video),
                                              "objects": len(prompts), "J&F": g["J&F-Mean"], "J": g["J-Mean"],
                                              "F": g["F-Mean"], "seconds": pred.seconds})
                del pred
        self.totals.append(elapsed)
        self.cpu_totals.append(cpu)
        for s in STAGES:
            self.stage_totals[s].append(stages[s])
        self.peak_rss = max(self.peak_rss, mem.peak)
        self.peak_rss_increase = max(self.peak_rss_increase, mem.peak - mem.start)
        if mem.gpu_peak is not None:
            self.peak_gpu = max(self.peak_gpu or 0, mem.gpu_peak)

    def release(self) -> None:
        self.pipeline = None

    def results(self) -> tuple[dict, list[dict], dict]:
        """The run row, per-sequence rows and the composed config."""
        from omegaconf import OmegaConf

        from sampt.evaluation.metrics import global_scores

        name, tracker, segmenter, options = combination_name(self.combo)
        frames = sum(len(v) for _, v, _ in self.sequences)
        g = global_scores(self.object_scores)
        totals = self.totals
        spf = [t / frames for t in totals]
        row = {
            "name": name, "tracker": tracker or str(self.cfg.tracker.name),
            "segmenter": segmenter or str(self.cfg.segmenter.name), "options": options,
            "J&F": g["J&F-Mean"], "J": g["J-Mean"], "F": g["F-Mean"],
            "fps_median": frames / statistics.median(totals), "fps_best": frames / min(totals),
            "spf_min": min(spf), "spf_median": statistics.median(spf),
            "cpu_spf_median": statistics.median(self.cpu_totals) / frames,
            **{f"spf_{s}": statistics.median(self.stage_totals[s]) / frames for s in STAGES},
            "peak_rss_mib": self.peak_rss / 2**20, "rss_increase_mib": self.peak_rss_increase / 2**20,
            "peak_gpu_mib": (self.peak_gpu / 2**20) if self.peak_gpu is not None else None,
            "frames": frames, "sequences": len(self.sequences),
            "objects": sum(len(p) for _, _, p in self.sequences), "repeats": len(totals),
            "setup_s": self.setup_seconds, "seconds_per_pass": totals,
        }
        return row, self.per_sequence, OmegaConf.to_container(self.cfg, resolve=True)


def run_grid(benches: list[CombinationBench], repeats: int, warmup: int, interleave: bool = False,
             bar: Any = None) -> None:
    """Run every combination: one after another (each pipeline built, measured and released in turn), or
    ``interleave``d (all pipelines built first, then pass ``r`` of every combination before pass ``r + 1``,
    so a change in machine load affects all combinations alike; memory then includes every pipeline)."""
    if interleave:
        for b in benches:
            b.setup()
            b.warm_up(warmup)
        for _ in range(repeats):
            for b in benches:
                if bar is not None:
                    bar.set_postfix_str(b.name, refresh=False)
                b.run_pass()
                if bar is not None:
                    bar.update(1)
        for b in benches:
            b.release()
        return
    for b in benches:
        if bar is not None:
            bar.set_postfix_str(b.name, refresh=False)
        b.setup()
        b.warm_up(warmup)
        for _ in range(repeats):
            b.run_pass()
            if bar is not None:
                bar.update(1)
        b.release()


def _require_matplotlib(pyplot: bool = True) -> Any:
    """``matplotlib.pyplot`` (Agg backend); only ``matplotlib`` itself when not ``pyplot`` (a cheap check
    that does not load the plotting machinery into the process being measured)."""
    try:
        import matplotlib

        if not pyplot:
            return matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("the speed/accuracy plot needs matplotlib: pip install matplotlib (or 'sampt[plot]'), "
                         "or pass --no-plot") from None
    return plt


def plot_speed_accuracy(rows: Sequence[dict], path: Path, title: str) -> Path:
    """Scatter of J&F against FPS (log scale when the FPS span an order of magnitude), one labelled point
    per combination."""
    plt = _require_matplotlib()
    from sampt.io import atomic_write

    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    for r in rows:
        x, y = r["fps_median"], r["J&F"]
        if y is None or not np.isfinite(y):
            continue
        ax.scatter([x], [100 * y], s=40)
        ax.annotate(r["name"], (x, 100 * y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    fps = [r["fps_median"] for r in rows if r.get("fps_median")]
    log_scale = bool(fps) and max(fps) / max(min(fps), 1e-9) > 10  # spans an order of magnitude
    if log_scale:
        ax.set_xscale("log")
    ax.margins(x=0.25, y=0.15)
    ax.set_xlabel(f"frames per second (whole pipeline, median of passes{'; log scale' if log_scale else ''})")
    ax.set_ylabel("J&F (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def markdown_report(rows: Sequence[dict], meta: dict) -> str:
    machine = machine_label(meta["machine"])
    rev = meta["git"].get("commit") or "unknown"
    lines = [f"Machine: {machine}. sampt {meta['versions'].get('sampt', '?')}, git {rev[:12]}"
             f"{' (modified)' if meta['git'].get('dirty') else ''}. Dataset: {meta['dataset']}, "
             f"{meta['frames']} frames in {meta['sequences']} sequences; {meta['warmup']} warm-up run(s) excluded, "
             f"{meta['repeats']} timed passes{' (interleaved across combinations)' if meta.get('interleave') else ''}; "
             f"seed {meta['seed']}.",
             "",
             "J&F, J, F: DAVIS protocol (first and last frames excluded). FPS: frames per wall-clock second of the "
             "whole pipeline (median and best pass). spf_*: wall-clock seconds per frame (median pass) in total and by "
             "stage; cpu_spf_median: process CPU seconds per frame (all threads; less sensitive to other load on the "
             "machine). "
             "Memory: peak resident host memory of the process (MiB) during the timed passes, and its largest rise "
             "within a pass; GPU: peak CUDA memory allocated.",
             "",
             markdown_table(rows, TABLE_COLUMNS, digits=DIGITS)]
    return "\n".join(lines) + "\n"


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides applied to every combination (pipeline=fast pipeline.refinement_iterations=3)")
    p.add_argument("--config", "-c", default=None,
                   help=f"bench config: a YAML file or a name in configs/bench/ (default: {DEFAULT_CONFIG})")
    p.add_argument("--dataset-root", default=None, help="dataset root (default: the config's; synthetic needs none)")
    p.add_argument("--dataset", default=None, help="dataset name (synthetic, davis2017, davis2016, ...)")
    p.add_argument("--split", default=None, help="dataset split")
    p.add_argument("--sequences", default=None, help="comma-separated sequences (default: all)")
    p.add_argument("--trackers", default=None, help="comma-separated trackers (replaces the config's grid axis)")
    p.add_argument("--segmenters", default=None, help="comma-separated segmenters (replaces the config's grid axis)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="a grid axis (repeatable), e.g. pipeline.positive_points=4,8,16")
    p.add_argument("--repeats", type=int, default=None, help="timed passes per combination (default: config, 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up runs (default: config, 1)")
    p.add_argument("--interleave", action=argparse.BooleanOptionalAction, default=None,
                   help="build every pipeline first and alternate the combinations pass by pass, so changes in "
                        "machine load hit all alike (default: the config's, off)")
    p.add_argument("--pipeline-config", default=None, help="base pipeline config file (default: configs/config.yaml)")
    p.add_argument("--output", "-o", default=None, help="output folder (default: sampt-output/bench/<config>-<time>)")
    p.add_argument("--no-plot", action="store_true", help="skip the speed/accuracy plot (no matplotlib needed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_bench_command(args: argparse.Namespace) -> int:
    cfg = load_bench_config(args.config)
    dataset_spec = dict(cfg.get("dataset") or {"name": "synthetic"})
    if args.dataset:
        dataset_spec["name"] = args.dataset
        if args.dataset != "synthetic":
            dataset_spec.pop("root", None)
    if args.split:
        dataset_spec["split"] = args.split
    grid = {k: _as_list(v) for k, v in (cfg.get("grid") or {}).items()}
    if args.trackers:
        grid["tracker"] = _as_list(args.trackers)
    if args.segmenters:
        grid["segmenter"] = _as_list(args.segmenters)
    for item in args.grid:
        k, vs = parse_grid_item(item)
        grid[k] = vs
    repeats = int(args.repeats if args.repeats is not None else cfg.get("repeats", 3))
    warmup = int(args.warmup if args.warmup is not None else cfg.get("warmup", 1))
    if repeats < 1 or warmup < 0:
        raise UsageError(f"--repeats must be >= 1 and --warmup >= 0 (got {repeats}, {warmup})")
    seed = cfg.get("seed")
    common = [str(o) for o in _as_list(cfg.get("overrides") or [])] + list(args.overrides)
    if seed is not None and not any(o.startswith("seed=") for o in common):
        common.append(f"seed={int(seed)}")
    config_file = args.pipeline_config or cfg.get("config")
    combos = expand_grid(grid)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out_dir = Path(args.output or f"sampt-output/bench/{Path(cfg['_path']).stem}-{stamp}")
    out_dir.mkdir(parents=True, exist_ok=True)

    if not args.no_plot:  # fail now rather than after the whole grid
        _require_matplotlib(pyplot=False)
    # check every combination composes before spending time on any
    from sampt.config import compose

    for combo in combos:
        compose(common + combo, config_file=config_file)
    interleave = bool(args.interleave if args.interleave is not None else cfg.get("interleave", False))

    with tempfile.TemporaryDirectory(prefix="sampt-bench-") as work:
        dataset = prepare_dataset(dataset_spec, args.dataset_root, Path(work))
        names = [s for s in (args.sequences or "").split(",") if s] or _as_list(cfg.get("sequences") or [])
        dataset.select(names)
        if not dataset.scored_locally:
            raise UsageError(f"{dataset.name} {dataset.split} has no public annotations; benchmark on a split "
                             "that can be scored locally (DAVIS val, synthetic)")
        from sampt.evaluation.run import object_prompts

        sequences = []
        for seq in dataset:
            sequences.append((seq, seq.video(), object_prompts(seq)))
        if not sequences:
            raise UsageError("the benchmark dataset has no sequences")
        from sampt.progress import progress_bar, stderr_is_terminal

        bar = progress_bar(total=len(combos) * repeats, desc="bench", unit="pass", enabled=not args.no_progress,
                           leave=True)
        benches = [CombinationBench(common, combo, sequences, config_file, dataset.exclude_first_last)
                   for combo in combos]
        for b in benches:  # per-frame bars inside each pass
            b.progress = not args.no_progress and stderr_is_terminal()
        try:
            run_grid(benches, repeats, warmup, interleave, bar)
        finally:
            bar.close()
        rows, per_sequence, configs = [], [], {}
        for b in benches:
            row, seq_rows, resolved = b.results()
            row["overrides"] = b.combo
            rows.append(row)
            per_sequence.extend(seq_rows)
            configs[row["name"]] = resolved
        dataset_desc = f"{dataset_spec.get('name', 'synthetic')} ({dataset.name} layout, split {dataset.split})"
        if dataset_spec.get("name", "synthetic") == "synthetic" and not (args.dataset_root or dataset_spec.get("root")):
            syn = dataset_spec.get("synthetic") or {}
            dataset_desc = (f"synthetic DAVIS-layout set ({len(sequences)} clips of {syn.get('num_frames', 16)} frames, "
                            f"{syn.get('width', 128)}x{syn.get('height', 96)}, seed {syn.get('seed', 0)})")
        frames = sum(len(v) for _, v, _ in sequences)
        num_sequences = len(sequences)
    meta = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arguments": {k: v for k, v in vars(args).items()
                      if isinstance(v, (str, int, float, bool, list, type(None))) and k != "func"},
        "machine": machine_info(), "versions": package_versions(), "git": git_revision(),
        "bench_config": {k: v for k, v in cfg.items() if k != "_path"}, "bench_config_file": cfg["_path"],
        "grid": grid, "common_overrides": common, "repeats": repeats, "warmup": warmup, "interleave": interleave,
        "seed": seed if seed is not None else next((int(c["seed"]) for c in configs.values()), None),
        "dataset": dataset_desc, "frames": frames, "sequences": num_sequences, "configs": configs,
    }
    write_csv(out_dir / "runs.csv", rows, RUN_COLUMNS)
    write_json(out_dir / "runs.json", {"meta": meta, "runs": rows, "per_sequence": per_sequence})
    md = markdown_report(rows, meta)
    from sampt.io import atomic_write

    with atomic_write(out_dir / "results.md") as tmp:
        tmp.write_text(md)
    if not args.no_plot:
        plot_speed_accuracy(rows, out_dir / "speed_accuracy.png",
                            f"SAM-PT speed vs accuracy on {dataset_desc}\n{machine_label(meta['machine'])}")
    print(text_table(rows, TABLE_COLUMNS, digits=DIGITS))
    print(f"\nbenchmark written to {out_dir} (runs.csv, runs.json, results.md"
          f"{'' if args.no_plot else ', speed_accuracy.png'})")
    return 0
