"""``sampt interactive-bench``: the interactive benchmark over a dataset, resumable, with its report.

Every object of every sequence is one video of the protocol (:mod:`sampt.evaluation.interactive_bench.benchmark`), run
with SAM-PT (point tracking on) and with the per-frame baseline (tracking off). Each (method, sequence,
object) result is written atomically to ``OUT/histories/<method>/<sequence>_<object>.json`` as soon as it
is done; a rerun skips the ones present, as ``sampt eval`` skips complete sequences, and refuses an
output folder made with another configuration unless told to overwrite. The report is rebuilt from the
history files:

* ``curves.csv``: the mean curves (interactions per 10 frames, mean J&F per method);
* ``videos.csv``: one row per video and method (interactions, final J&F, area under its curve, seconds);
* ``summary.csv`` and ``summary.md``: J&F at 1, 2, 5, 10 interactions per 10 frames and the area under
  the curve, per method;
* ``curves.png``: SAM-PT against the per-frame baseline.

The sessions of one sequence share an embedding cache folder, so each frame is encoded once for all its
objects and both methods.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.report import write_json
from sampt.evaluation.interactive_bench.benchmark import DEFAULT_BUDGET, MODES, RATES, Simulation, curve_area, mean_curve, simulate, summary_row
from sampt.outputs import atomic_file, check_output_path, private_temp_dir, remove_private

log = logging.getLogger(__name__)

METHODS = {"sam-pt": ("SAM-PT", True), "per-frame": ("SAM per frame (tracking off)", False)}
"""Method key (file names) -> (label, point tracking on)."""
BENCH_KEYS = ("dataset", "split", "year", "mode", "budget")
SUMMARY_COLUMNS = ("method", "videos", *(f"J&F@{r}" for r in RATES), "AUC", "interactions", "final J&F")
VIDEO_COLUMNS = ("method", "sequence", "object", "frames", "initial_points", "interactions", "final J&F", "AUC", "seconds",
                 "encoder_calls", "segmented_pairs")
SYNTHETIC = {"num_clips": 3, "seed": 0, "num_frames": 16, "height": 64, "width": 80}
"""The synthetic DAVIS-layout set used when no dataset root is given (``dataset=synthetic``)."""


@dataclass
class InteractiveOutcome:
    """What :func:`run_interactive_bench` did: the output folder, the summary rows, the per-video rows, how
    many videos were run and skipped, and the files written."""

    out_dir: Path
    summary: list[dict]
    videos: list[dict]
    ran: int = 0
    skipped: int = 0
    files: list[Path] = field(default_factory=list)


def split_bench_overrides(overrides: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Separate ``dataset=``, ``split=``, ``year=``, ``mode=``, ``budget=`` from config overrides."""
    picked: dict[str, str] = {}
    rest = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and (key.strip() in BENCH_KEYS or key.strip().startswith("synthetic.")):
            picked[key.strip()] = value.strip()
        else:
            rest.append(item)
    return picked, rest


def _open_dataset(picked: dict, root: Optional[str], out_dir: Path) -> Any:
    from sampt.evaluation.bench.run import prepare_dataset

    name = picked.get("dataset", "synthetic" if not root else "davis2017")
    if name == "synthetic" and root:
        raise UsageError("dataset=synthetic writes its own clips: drop DATASET_ROOT, or name the dataset it holds")
    if name != "synthetic" and not root:
        raise UsageError(f"dataset={name} needs DATASET_ROOT (the folder holding JPEGImages/ and Annotations/)")
    synthetic = dict(SYNTHETIC)
    for key, value in picked.items():
        if key.startswith("synthetic."):
            option = key.split(".", 1)[1]
            if option not in SYNTHETIC:
                raise UsageError(f"{key} is not an option of the synthetic set; options: "
                                 f"{', '.join('synthetic.' + k for k in SYNTHETIC)}")
            try:
                synthetic[option] = int(value)
            except ValueError:
                raise UsageError(f"{key}={value} must be a whole number") from None
    spec = {"name": name, "split": picked.get("split"), "synthetic": synthetic}
    if name != "synthetic":
        from sampt.evaluation.datasets import open_dataset

        dataset = open_dataset(name, root, split=picked.get("split"), year=picked.get("year"))
        if dataset.kind == "vis":
            raise UsageError(f"interactive-bench corrects one annotated object at a time; dataset={name} is a video "
                             "instance segmentation set: use davis2017, youtubevos2019, mose or bdd100k")
        return dataset
    return prepare_dataset(spec, None, out_dir)


def run_interactive_bench(dataset_root: Optional[str], overrides: Sequence[str] = (), output: Optional[str] = None,
                          sequences: Optional[str] = None, methods: Sequence[str] = tuple(METHODS),
                          config_file: Optional[str] = None, overwrite: bool = False, plot: bool = True,
                          progress: bool = True) -> InteractiveOutcome:
    """Run the interactive benchmark (see the module docstring) and write its report."""
    from sampt.config import compose

    picked, overrides = split_bench_overrides(overrides)
    mode = picked.get("mode", "offline")
    if mode not in MODES:
        raise UsageError(f"mode={mode} is not a mode of the interactive benchmark; choose mode=offline or mode=online")
    try:
        budget = int(picked.get("budget", DEFAULT_BUDGET))
    except ValueError:
        raise UsageError(f"budget={picked['budget']} is not a whole number of interactions") from None
    if budget < 1:
        raise UsageError(f"budget must be at least 1 interaction, got {budget}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise UsageError(f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(METHODS)}")
    cfg = compose(overrides, config_file=config_file)
    if cfg.pipeline.get("reinit_variant") is not None:
        raise UsageError("the interactive benchmark edits points itself: set pipeline.reinit_variant=null")
    name = picked.get("dataset", "synthetic" if not dataset_root else "davis2017")
    out_dir = check_output_path(output or f"sampt-output/interactive/{name}-{mode}-{cfg.tracker.name}-{cfg.segmenter.name}",
                                "--output folder")
    workdir = private_temp_dir("interactive")  # the synthetic set, when it is used
    try:
        # the dataset is opened and checked before anything is written: a refused run leaves no folder behind
        dataset = _open_dataset(picked, dataset_root, workdir)
        dataset.select([s for s in (sequences or "").split(",") if s])
        _write_settings(out_dir, picked, mode, budget, name, cfg, overwrite)
        ran, skipped = _run_all(dataset, cfg, out_dir, methods, mode, budget, progress)
    finally:
        remove_private(workdir)
    outcome = write_report(out_dir, methods, list(dataset.sequences), mode, budget, plot=plot)
    outcome.ran, outcome.skipped = ran, skipped
    return outcome


def _write_settings(out_dir: Path, picked: dict, mode: str, budget: int, name: str, cfg: Any, overwrite: bool) -> None:
    """``interactive-config.yaml``; an output folder holding another configuration's results is refused."""
    from omegaconf import OmegaConf

    out_dir.mkdir(parents=True, exist_ok=True)
    settings = OmegaConf.to_yaml(OmegaConf.create({"benchmark": {**picked, "mode": mode, "budget": budget, "dataset": name},
                                                   "config": OmegaConf.to_container(cfg)}))
    settings_path = out_dir / "interactive-config.yaml"
    if settings_path.is_file() and settings_path.read_text() != settings:
        if not overwrite:
            raise UsageError(f"{out_dir} holds results of a different configuration ({settings_path}); give another "
                             "--output, or --overwrite to replace them")
        shutil.rmtree(out_dir / "histories", ignore_errors=True)
    with atomic_file(settings_path) as tmp:
        tmp.write_text(settings)


def _run_all(dataset: Any, cfg: Any, out_dir: Path, methods: Sequence[str], mode: str, budget: int,
             progress: bool) -> tuple[int, int]:
    """Simulate every (sequence, object, method) without a history file; returns how many ran and were
    skipped."""
    import cv2

    from sampt.interactive.session import Session

    names: Any = dataset.sequences
    if progress:
        from tqdm.auto import tqdm

        names = tqdm(dataset.sequences, desc="sequences", unit="seq")
    ran = skipped = 0
    for seq_name in names:
        seq = dataset.sequence(seq_name)
        todo = [(m, oid) for oid in seq.object_ids for m in methods
                if read_history(_history_path(out_dir, m, seq_name, oid), m, seq_name, oid) is None]
        skipped += len(seq.object_ids) * len(methods) - len(todo)
        if not todo:
            continue
        video = seq.video()
        labels = np.stack([seq.annotation(t) for t in range(len(seq))])
        cache = private_temp_dir("interactive")
        try:
            for method, oid in todo:
                cv2.setRNGSeed(int(cfg.seed))  # results independent of what ran before (resumed runs)
                session = Session.from_config(cfg, video, tracking=METHODS[method][1], cache_dir=str(cache))
                sim = simulate(session, labels == oid, first_frame=seq.first_frames.get(oid), mode=mode, budget=budget)
                session.ctx.embeddings.flush()  # the next session of this sequence encodes nothing again
                record = {"method": method, "sequence": seq_name, "object": oid, "mode": mode, "budget": budget,
                          **sim.as_dict()}
                write_json(_history_path(out_dir, method, seq_name, oid), record)
                ran += 1
                log.info("%s object %d (%s): %d interactions, J&F %.3f", seq_name, oid, method, sim.curve[-1][0],
                         sim.curve[-1][1])
        finally:
            remove_private(cache)
    return ran, skipped


def _history_path(out_dir: Path, method: str, sequence: str, object_id: int) -> Path:
    return out_dir / "histories" / method / f"{sequence}_{object_id}.json"


def read_history(path: Path, method: str, sequence: str, object_id: int) -> Optional[tuple[dict, Simulation]]:
    """One item's history file, or None when it is absent or unusable (cut short, not this item's, malformed):
    an unusable file is reported, and the resumed run redoes that item."""
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        if (record.get("method"), record.get("sequence"), record.get("object")) != (method, sequence, object_id):
            raise ValueError(f"it records {record.get('method')!r} {record.get('sequence')!r} "
                             f"object {record.get('object')!r}")
        return record, Simulation.from_dict(record)
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError, IndexError) as exc:
        log.warning("history %s is unusable (%s): that item is redone", path, exc)
        return None


def load_histories(out_dir: Path, method: str, sequences: Sequence[str]) -> list[tuple[dict, Simulation]]:
    """The history files of ``method`` for ``sequences`` (in that order, objects ascending); a file there that
    is no item's history (``<sequence>_<object>.json``) is reported and left out."""
    folder = out_dir / "histories" / method
    by_sequence: dict[str, list] = {seq: [] for seq in sequences}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        seq, _, object_id = path.stem.rpartition("_")
        if path.suffix != ".json" or not seq or not object_id.isdigit():
            log.warning("%s is not a history file (<sequence>_<object>.json): ignored", path)
        elif seq in by_sequence:  # (others belong to sequences this run did not select)
            loaded = read_history(path, method, seq, int(object_id))
            if loaded is not None:
                by_sequence[seq].append((int(object_id), loaded))
    return [loaded for seq in sequences for _, loaded in sorted(by_sequence[seq], key=lambda item: item[0])]


def write_report(out_dir: Path, methods: Sequence[str], sequences: Sequence[str], mode: str, budget: int,
                 plot: bool = True) -> InteractiveOutcome:
    """Rebuild ``curves.csv``, ``videos.csv``, ``summary.csv``, ``summary.md`` (and ``curves.png``) from
    the history files."""
    from sampt.evaluation.report import markdown_table, write_csv

    summary, videos, curves = [], [], {}
    for method in methods:
        loaded = load_histories(out_dir, method, sequences)
        sims = [s for _, s in loaded]
        row = summary_row(METHODS[method][0], sims)
        summary.append(row)
        curves[method] = mean_curve(sims)
        for record, sim in loaded:
            videos.append({"method": method, "sequence": record["sequence"], "object": record["object"],
                           "frames": sim.frames, "initial_points": sim.initial_points, "interactions": sim.curve[-1][0],
                           "final J&F": sim.curve[-1][1], "AUC": curve_area(sim.curve, sim.frames),
                           "seconds": round(sim.seconds, 2), "encoder_calls": sim.stats.get("encoder_calls"),
                           "segmented_pairs": sim.stats.get("segmented_pairs")})
    rates = next(iter(curves.values()))[0]
    curve_rows = [{"interactions_per_10_frames": float(r), **{m: float(curves[m][1][i]) for m in methods}}
                  for i, r in enumerate(rates)]
    files = [write_csv(out_dir / "curves.csv", curve_rows, ["interactions_per_10_frames", *methods], digits=4),
             write_csv(out_dir / "videos.csv", videos, VIDEO_COLUMNS, digits=4),
             write_csv(out_dir / "summary.csv", summary, SUMMARY_COLUMNS, digits=4)]
    text = (f"# Interactive benchmark ({mode}, budget {budget})\n\n"
            f"Mean J&F over {len(videos) // max(1, len(methods))} videos (one per object) against interactions per "
            "10 frames; AUC: area under the mean curve over 0..10 interactions per 10 frames, divided by 10. "
            "Protocol: SAM-PT §4.6 (see sampt.evaluation.interactive_bench.benchmark).\n\n"
            + markdown_table(summary, SUMMARY_COLUMNS, digits={c: (1 if c == "interactions" else 3) for c in SUMMARY_COLUMNS})
            + "\n")
    with atomic_file(out_dir / "summary.md") as tmp:
        tmp.write_text(text)
    files.append(out_dir / "summary.md")
    if plot:
        files.append(plot_curves(out_dir / "curves.png", curves, f"interactive benchmark ({mode}, budget {budget})"))
    return InteractiveOutcome(out_dir, summary, videos, files=files)


def plot_curves(path: Path, curves: dict, title: str) -> Path:
    """Mean J&F against interactions per 10 frames, one line per method."""
    from sampt.evaluation.bench.report import require_matplotlib

    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6.5, 4.5), dpi=120)
    for method, (rates, values) in curves.items():
        ax.step(rates, 100 * values, where="post", label=METHODS[method][0])
    ax.set_xlabel("interactions per 10 frames")
    ax.set_ylabel("mean J&F (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
