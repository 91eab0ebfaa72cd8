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

Besides SAM-PT combinations, the grid may hold whole VOS methods that plugins register through the
``register_methods`` hook (:mod:`sampt.methods`), e.g. SAM 2's video predictor: a grid axis
``method=sampt,sam2_video`` adds one row per method, scored, timed and probed the same way. ``sampt`` is
SAM-PT itself (the tracker/segmenter/pipeline axes apply to it only); a whole method takes its options as
``method.KEY=VALUE`` overrides (``method.model=sam2.1_hiera_tiny``, ``method.checkpoint=/path``).

This module runs the grid that :mod:`sampt.evaluation.bench.plan` plans (:func:`run_bench`); one combination's measurement
is :mod:`sampt.evaluation.bench.combination`, the measuring tools are in
:mod:`sampt.evaluation.measure`, the machine and versions in :mod:`sampt.provenance`, the table,
plot and files in :mod:`sampt.evaluation.bench.report`, the command line in :mod:`sampt.evaluation.commands`.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

from sampt.errors import UsageError
from sampt.outputs import private_work_dir
from sampt.evaluation.bench.combination import (KEYED_ACCURACY, CombinationBench, combination_name, run_grid,
                                                weights_policy)
from sampt.evaluation.bench.plan import BenchPlan
from sampt.evaluation.executors import Job, make_executor
from sampt.evaluation.inference import SequenceInput, object_prompts
from sampt.evaluation.measure import STAGES
from sampt.provenance import provenance

log = logging.getLogger(__name__)

COMPOSED_ACCURACY = "n/a (composed)"  #: the accuracy cell of a row composed from stage times


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


def describe_dataset(spec: dict, dataset: Any, num_sequences: int, root: Optional[str]) -> str:
    """How the report names the benchmark's data."""
    name = spec.get("name", "synthetic")
    if name == "synthetic" and not (root or spec.get("root")):
        syn = spec.get("synthetic") or {}
        return (f"synthetic DAVIS-layout set ({num_sequences} clips of {syn.get('num_frames', 16)} frames, "
                f"{syn.get('width', 128)}x{syn.get('height', 96)}, seed {syn.get('seed', 0)})")
    return f"{name} ({dataset.name} layout, split {dataset.split})"


# -- the run ----------------------------------------------------------------------------------------

@dataclass
class BenchResult:
    """What :func:`run_bench` measured: one row per combination, per-sequence rows, the metadata (machine,
    versions, git revision, configs, protocol, executor, failures) that goes with them, and the executor's
    summary (None for the local grid)."""

    rows: list[dict]
    per_sequence: list[dict]
    meta: dict
    summary: Any = None


def run_bench(plan: BenchPlan, dataset_root: Optional[str] = None, progress: bool = True) -> BenchResult:
    """Run the plan's grid on its dataset and collect the rows and metadata (nothing is written)."""
    with private_work_dir("bench") as work:
        dataset = prepare_dataset(plan.dataset, dataset_root, Path(work))
        dataset.select(plan.sequences)
        if getattr(dataset, "kind", "") == "vis":  # UVO: video instance segmentation
            from sampt.evaluation.vis.bench import prepare_vis_benches

            if plan.executor.name != "local":
                raise UsageError(f"executor={plan.executor.name} does not run video instance segmentation yet; "
                                 "benchmark uvo with the local executor")
            benches: list[CombinationBench] = prepare_vis_benches(dataset, plan.common, plan.combos, plan.pipeline_config,
                                                                   plan.vis, plan.proposals)
        else:
            if not dataset.scored_locally:
                raise UsageError(f"{dataset.name} {dataset.split} has no public annotations; benchmark on a split "
                                 "that can be scored locally (DAVIS val, synthetic)")
            sequences = [(seq, seq.video(), object_prompts(seq)) for seq in dataset]
            if not sequences:
                raise UsageError("the benchmark dataset has no sequences")
            benches = [CombinationBench(plan.common, combo, sequences, plan.pipeline_config, dataset.exclude_first_last)
                       for combo in plan.combos]
        for b in benches:
            b.weights, b.force_visible = plan.weights, plan.force_visible
        sequences = benches[0].sequences
        if plan.executor.name == "local":
            summary = None
            from sampt.progress import progress_bar

            bar = progress_bar(total=len(plan.combos) * plan.repeats, desc="bench", unit="pass", enabled=progress,
                               leave=True)
            try:
                run_grid(benches, plan.repeats, plan.warmup, plan.interleave, bar)
            finally:
                bar.close()
        else:
            if plan.interleave:
                log.warning("interleave has no effect with executor=%s: each (combination, sequence) runs its "
                            "repeats on one worker", plan.executor.name)
            summary = run_jobs(plan, benches, sequences, progress)
        rows, per_sequence, configs = [], [], {}
        for b in benches:
            if not b.totals:  # every sequence of it failed (listed in the summary and meta["failures"])
                continue
            row, seq_rows, resolved = b.results()
            rows.append(row)
            per_sequence.extend(seq_rows)
            configs[row["name"]] = resolved
        if plan.design == "axes":
            rows = compose_axes_rows(rows, plan.anchor, plan.cross)
        for row in rows:
            row.update(plan.reference.get(row["name"], {}))
        dataset_desc = describe_dataset(plan.dataset, dataset, len(sequences), dataset_root)
        frames = sum(len(v) for _, v, _ in sequences)
    plan_dict = {k: v for k, v in asdict(plan).items() if k != "config"}
    meta = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "plan": plan_dict, "dataset_root": dataset_root, **provenance(),
        "bench_config": {k: v for k, v in plan.config.items() if k != "_path"}, "bench_config_file": plan.config_file,
        "grid": plan.grid, "common_overrides": plan.common, "repeats": plan.repeats, "warmup": plan.warmup,
        "interleave": plan.interleave, "weights": plan.weights, "force_visible": plan.force_visible,
        "design": plan.design, "anchor": plan.anchor,
        "seed": plan.seed if plan.seed is not None else next((int(c["seed"]) for c in configs.values()), None),
        "dataset": dataset_desc, "frames": frames, "sequences": len(sequences), "configs": configs,
        "executor": {"name": plan.executor.name, "workers": summary.workers if summary else 1,
                     "spec": asdict(plan.executor)},
        "failures": [asdict(f) for f in summary.failures] if summary else [],
    }
    return BenchResult(rows, per_sequence, meta, summary)


COMPOSED_KEYS = ("spf_min", "spf_median", "cpu_spf_median", *(f"spf_{s}" for s in STAGES), "peak_rss_mib",
                 "rss_increase_mib", "peak_gpu_mib", "setup_s")
"""Row values :func:`compose_axes_rows` adds up (FPS follows from the composed seconds per frame)."""


def compose_axes_rows(rows: Sequence[dict], anchor: Sequence[str], cross: Sequence[list[str]]) -> list[dict]:
    """The whole cross product from an ``axes`` run: measured rows as they are (``source: measured``), and
    each combination not run composed additively from the rows that vary one axis from the anchor::

        value(c) = value(anchor) + sum over axes k where c differs from the anchor of
                   (value(anchor with k = c[k]) - value(anchor))

    for seconds per frame (in total and by stage), CPU seconds and memory. SAM-PT's stages run one after
    another and each depends on one component (tracking on the tracker, encoding and decoding on the
    segmenter), so stage times compose; peak memory composes only approximately (it adds each component's
    weights and its own working set, an upper bound when their peaks do not overlap). Accuracy is not
    composed. A composed row says ``source: composed`` and names its ``composed_from`` rows."""
    by_name = {r["name"]: r for r in rows}
    anchor_name = combination_name(anchor)[0]
    if anchor_name not in by_name:
        return list(rows)  # the anchor failed: nothing can be composed
    base = by_name[anchor_name]
    base_values = dict(o.split("=", 1) for o in anchor)
    out = []
    for combo in cross:
        name, tracker, segmenter, options = combination_name(combo)
        if name in by_name:
            out.append({**by_name[name], "source": "measured"})
            continue
        values = dict(o.split("=", 1) for o in combo)
        sources = [combination_name([f"{k}={values[k] if k == key else v}" for k, v in base_values.items()])[0]
                   for key in base_values if values[key] != base_values[key]]
        if any(s not in by_name for s in sources):
            continue  # one of its axis rows failed
        row = {k: v for k, v in base.items() if k not in ("seconds_per_pass", "nodes")}
        for key in COMPOSED_KEYS:
            if base.get(key) is None:
                continue
            value = base[key] + sum(by_name[s][key] - base[key] for s in sources)
            row[key] = max(0.0, value)
        keyed = sorted({m for s in [anchor_name, *sources] for m in by_name[s].get("keyed_models", [])})
        accuracy = KEYED_ACCURACY if keyed else COMPOSED_ACCURACY
        row.update({"name": name, "tracker": tracker or base["tracker"], "segmenter": segmenter or base["segmenter"],
                    "options": options, "J&F": accuracy, "J": accuracy, "F": accuracy,
                    "weights": "keyed" if keyed else "checkpoint", "keyed_models": keyed,
                    "fps_median": 1.0 / max(row["spf_median"], 1e-12), "fps_best": 1.0 / max(row["spf_min"], 1e-12),
                    "overrides": list(combo), "source": "composed", "composed_from": [anchor_name, *sources]})
        row.pop("fps_predicted", None)
        row.pop("prediction_error_pct", None)
        out.append(row)
    return out


def run_jobs(plan: BenchPlan, benches: list[CombinationBench], sequences: list[tuple[Any, Any, list]],
             progress: bool = True) -> Any:
    """Run the grid as (combination, sequence) jobs on the plan's executor (``executor=ray``): each job
    makes ``repeats`` timed runs of its sequence (after ``warmup`` runs on each worker's first sequence);
    run ``r`` of every sequence adds up to pass ``r``. Returns the executor's summary."""
    by_combo = {b.name: b for b in benches}
    by_name = {seq.name: seq for seq, _, _ in sequences}

    def job(b: CombinationBench, seq: Any, video: Any, prompts: list) -> Job:
        return Job(b.name, b.cfg, seq.name, lambda: SequenceInput(seq.name, video, prompts, list(seq.eval_frames)),
                   repeats=plan.repeats, warmup=plan.warmup)

    jobs = [job(b, *item) for b in benches for item in sequences]
    executor = make_executor(plan.executor)
    try:
        return executor.run(jobs, lambda r: by_combo[r.combo].add_result(by_name[r.sequence], r), progress=progress)
    finally:
        executor.close()


def default_output(plan: BenchPlan) -> Path:
    """``sampt-output/bench/<config>-<UTC time>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(f"sampt-output/bench/{Path(plan.config_file).stem}-{stamp}")


def predict_bench(plan: BenchPlan, dataset_root: Optional[str] = None, timings_path: Optional[Path] = None) -> tuple[list[dict], Any]:
    """``sampt bench --predict``: each combination's FPS on the plan's dataset estimated from its components'
    timings (:mod:`sampt.evaluation.bench.predict`; read from ``timings_path`` where measured before, the rest
    measured now on the first sequence). Returns the rows and the timings."""
    from sampt.config import compose
    from sampt.evaluation.bench.predict import ensure_timings, predict_rows

    cfgs = {combination_name(c)[0]: compose(plan.common + c, config_file=plan.pipeline_config) for c in plan.combos}
    with private_work_dir("bench") as work:
        dataset = prepare_dataset(plan.dataset, dataset_root, Path(work))
        dataset.select(plan.sequences)
        if not dataset.sequences:
            raise UsageError("the benchmark dataset has no sequences")
        videos = [(len(seq), len(seq.object_ids)) for seq in dataset]
        with weights_policy(plan.weights, int(next(iter(cfgs.values())).seed) if cfgs else 0):
            timings = ensure_timings(timings_path, list(cfgs.values()), dataset.sequence(dataset.sequences[0]).video())
    return predict_rows(cfgs, videos, timings), timings


def add_predictions(rows: list[dict], predicted: Sequence[dict]) -> None:
    """Put each combination's predicted FPS beside the measured one, with the error in percent."""
    by_name = {p["name"]: p for p in predicted}
    for row in rows:
        p = by_name.get(row["name"])
        if p is not None:
            row["fps_predicted"] = p["fps_predicted"]
            row["prediction_error_pct"] = 100.0 * (p["fps_predicted"] - row["fps_median"]) / row["fps_median"]
