"""``sampt eval``: run the pipeline over a dataset (one sequence at a time here, or spread over a Ray
cluster: :mod:`sampt.evaluation.executors`), write result PNGs as sequences finish, score them.

The protocol of one sequence's run is in :mod:`sampt.evaluation.inference`. Outputs are written for the
frames the dataset scores.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from sampt.errors import UsageError
from sampt.evaluation.datasets import VOSDataset, open_dataset
from sampt.evaluation.inference import sequence_input
from sampt.evaluation.report import write_csv
from sampt.evaluation.writers import sequence_complete, write_sequence
from sampt.outputs import atomic_file, check_output_path

log = logging.getLogger(__name__)

DATASET_KEYS = ("dataset", "split", "year", "task")
SEQUENCE_COLUMNS = ("Sequence", "Frames", "Objects", "J&F-Mean", "J-Mean", "F-Mean", "Seconds", "FPS")


def split_dataset_overrides(overrides: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Separate ``dataset=``, ``split=``, ``year=`` from the pipeline config overrides."""
    picked: dict[str, str] = {}
    rest = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and key.strip() in DATASET_KEYS:
            picked[key.strip()] = value.strip()
        else:
            rest.append(item)
    return picked, rest


def sequence_columns(rows: Sequence[dict]) -> list[str]:
    """:data:`SEQUENCE_COLUMNS`, and ``Node`` when the rows were measured by a distributed executor."""
    return list(SEQUENCE_COLUMNS) + (["Node"] if any("Node" in r for r in rows) else [])


@dataclass
class EvalOutcome:
    """What :func:`run_eval` did: the dataset, the results folder, one row per sequence (``Seconds`` is
    ``"skipped"`` for a sequence already complete, ``"failed"`` for one given up), the score report of the
    complete sequences and the CSVs it was written to (None and none when not scored), and the executor's
    summary (workers, retries, failures)."""

    dataset: VOSDataset
    out_dir: Path
    rows: list[dict]
    report: Any = None
    score_files: list[Path] = field(default_factory=list)
    summary: Any = None


def run_eval(dataset_root: str, overrides: Sequence[str] = (), output: Optional[str] = None,
             sequences: Optional[str] = None, config_file: Optional[str] = None, overwrite: bool = False,
             score: bool = True, progress: bool = True, executor: Any = None,
             on_sequence: Optional[Callable[[Any], None]] = None) -> EvalOutcome:
    """Run the pipeline over a dataset, write each sequence's result PNGs atomically as it finishes
    (skipping complete ones unless ``overwrite``) and score them where the dataset can be scored locally.

    ``overrides`` may hold ``dataset=``/``split=``/``year=`` and ``executor=local|ray`` with
    ``executor.<option>=`` (:class:`~sampt.evaluation.executors.ExecutorSpec`); ``executor`` may instead be
    an executor object (then it is not closed here). ``on_sequence`` is called with each
    :class:`~sampt.evaluation.executors.JobResult` after its sequence is written."""
    from omegaconf import OmegaConf

    from sampt.config import compose
    from sampt.evaluation.executors import Job, LocalExecutor, Worker, make_executor, split_executor_overrides

    spec, overrides = split_executor_overrides(overrides)
    picked, overrides = split_dataset_overrides(overrides)
    task = picked.get("task", "vis" if picked.get("dataset", "").lower() == "uvo" else "vos").lower()
    if task not in ("vos", "vis"):
        raise UsageError(f"task must be vos or vis, got {task!r}")
    if task == "vis":  # video instance segmentation: proposals, tracks, YouTube-VIS results
        from sampt.evaluation.vis.run import run_vis_eval

        if spec.name != "local" or executor is not None:
            raise UsageError(f"executor={spec.name} does not run video instance segmentation yet; use the local one")

        return run_vis_eval(dataset_root, picked, overrides, output, sequences, config_file, overwrite,  # type: ignore[return-value]
                            score, progress)
    dataset = open_dataset(picked.get("dataset", "davis2017"), dataset_root, split=picked.get("split"),
                           year=picked.get("year"))
    if getattr(dataset, "kind", "") == "vis":
        raise UsageError(f"{dataset.name} is a video instance segmentation dataset: use task=vis")
    dataset.select([s for s in (sequences or "").split(",") if s])
    cfg = compose(overrides, config_file=config_file)
    out_dir = Path(output or f"sampt-output/eval/{dataset.name}-{dataset.split}-{cfg.tracker.name}-{cfg.segmenter.name}")
    check_output_path(out_dir, "output folder", "dir")
    cfg_text = OmegaConf.to_yaml(cfg)
    cfg_path = out_dir / "sampt-config.yaml"
    if cfg_path.is_file() and cfg_path.read_text() != cfg_text and not overwrite:
        raise UsageError(f"{out_dir} holds results of a different configuration ({cfg_path}); "
                         "give another --output, or --overwrite to replace them")
    combo = f"{cfg.tracker.name}+{cfg.segmenter.name}"
    runner = executor
    if runner is None:  # locally the pipeline is built now: every check before the first output
        runner = LocalExecutor(spec, {combo: Worker(cfg)}) if spec.name == "local" else make_executor(spec)
    rows: dict[str, dict] = {}
    frames: dict[str, list[str]] = {}
    jobs = []
    for name in dataset.sequences:
        seq = dataset.sequence(name)
        frames[name] = [seq.frame_names[t] for t in seq.eval_frames]
        if not overwrite and sequence_complete(out_dir, dataset.kind, name, frames[name]):
            log.info("%s: complete, skipped", name)
            rows[name] = {"Sequence": name, "Frames": len(seq), "Objects": len(seq.object_ids), "Seconds": "skipped",
                          "FPS": ""}
            continue
        rows[name] = {"Sequence": name, "Frames": len(seq), "Objects": len(seq.object_ids), "Seconds": "failed",
                      "FPS": ""}
        jobs.append(Job(combo, cfg, name, partial(sequence_input, seq)))
    with atomic_file(cfg_path) as tmp:  # every sequence checked first: a refused run writes nothing
        tmp.write_text(cfg_text)

    def write(result: Any) -> None:
        write_sequence(out_dir, dataset.kind, result.sequence, frames[result.sequence], result.labels)
        seconds = result.runs[0].seconds
        row = rows[result.sequence]
        row.update({"Seconds": round(seconds, 2), "FPS": round(row["Frames"] / max(seconds, 1e-9), 2)})
        if runner.name != "local":  # timings are labelled with the host that measured them
            row["Node"] = result.node
        if on_sequence is not None:
            on_sequence(result)

    try:
        summary = runner.run(jobs, write, progress=progress)
    finally:
        if executor is None:
            runner.close()
    failed = {f.sequence for f in summary.failures}
    table = [rows[n] for n in dataset.sequences]
    if not dataset.scored_locally or not score:
        return EvalOutcome(dataset, out_dir, table, summary=summary)
    from sampt.evaluation.scorers import score_dataset

    if failed:  # score what is complete; the failures are in the summary
        dataset.select([n for n in dataset.sequences if n not in failed])
    if not dataset.sequences:
        return EvalOutcome(dataset, out_dir, table, summary=summary)
    report = score_dataset(out_dir, dataset, progress=False)
    per_seq = {r["Sequence"]: r for r in report.sequence_rows()}
    for r in table:
        r.update({k: v for k, v in per_seq.get(r["Sequence"], {}).items() if k != "Objects"})
    write_csv(out_dir / f"sequences-{dataset.split}.csv", table, sequence_columns(table))
    files = report.write_csvs(out_dir, dataset.split)
    return EvalOutcome(dataset, out_dir, table, report, list(files), summary)
