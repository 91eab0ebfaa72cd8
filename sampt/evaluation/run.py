"""``sampt eval``: run the pipeline over a dataset, write result PNGs, score them.

Protocol (semi-supervised VOS): each object is prompted with its annotated mask on the frame where it first
appears. The output label map of a frame gives each pixel to the object with the highest positive logit;
an object is absent before its prompt frame, and on its prompt frame it is exactly its given mask (the usual
convention; DAVIS never scores that frame). Outputs are written for the frames the dataset scores.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.outputs import atomic_file, check_output_path
from sampt.evaluation.datasets import VOSDataset, VOSSequence, open_dataset
from sampt.evaluation.measure import Stopwatch
from sampt.evaluation.report import write_csv
from sampt.evaluation.writers import resize_labels, sequence_complete, write_sequence

log = logging.getLogger(__name__)

DATASET_KEYS = ("dataset", "split", "year")
SEQUENCE_COLUMNS = ("Sequence", "Frames", "Objects", "J&F-Mean", "J-Mean", "F-Mean", "Seconds", "FPS")


@dataclass
class SequencePrediction:
    """Label maps of a sequence's scored frames (``labels`` ``(len(eval_frames), H, W)`` uint8), the
    pipeline's result, and the wall-clock and process CPU seconds of ``SamPt.run``."""

    labels: np.ndarray
    result: Any
    seconds: float
    cpu_seconds: float = float("nan")


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


def object_prompts(seq: VOSSequence) -> list:
    """Each object's :class:`~sampt.pipeline.ObjectPrompt`: its mask on its first-appearance frame."""
    from sampt.pipeline import ObjectPrompt

    return [ObjectPrompt(object_id=m.object_id, frame=m.frame, mask=m.mask) for m in seq.initial_masks()]


def predict_sequence(pipeline: Any, seq: VOSSequence, video: Any = None, prompts: Optional[list] = None,
                     progress: bool = False) -> SequencePrediction:
    """Run ``pipeline`` on one sequence and return the label maps of its scored frames."""
    import cv2

    video = seq.video() if video is None else video
    prompts = object_prompts(seq) if prompts is None else prompts
    # OpenCV's global RNG (e.g. GrabCut's k-means initialisation) would make a sequence's result depend on
    # what ran before it; reseed it so every sequence is reproducible whatever the order (resumed runs,
    # benchmark passes)
    cv2.setRNGSeed(int(getattr(pipeline, "seed", 0) or 0))
    with Stopwatch() as sw:
        result = pipeline.run(video, prompts, progress=progress)
    labels = result.label_maps()
    ids = list(result.object_ids)
    H, W = prompts[0].mask.shape
    out = np.zeros((len(seq.eval_frames), H, W), np.uint8)
    first = {p.object_id: p.frame for p in prompts}
    for k, t in enumerate(seq.eval_frames):
        lab = resize_labels(labels[t], H, W)
        for oid in ids:  # no object before it appears
            if t < first[oid]:
                lab = np.where(lab == oid, 0, lab).astype(np.uint8)
        for p in prompts:  # on its prompt frame an object is exactly its given mask
            if p.frame == t:
                lab = np.where(lab == p.object_id, 0, lab)
                lab = np.where(p.mask, np.uint8(p.object_id), lab).astype(np.uint8)
        out[k] = lab
    return SequencePrediction(out, result, sw.seconds, sw.cpu_seconds)


@dataclass
class EvalOutcome:
    """What :func:`run_eval` did: the dataset, the results folder, one row per sequence (``Seconds`` is
    ``"skipped"`` for a sequence already complete), the score report and the CSVs it was written to (None
    and none when not scored)."""

    dataset: VOSDataset
    out_dir: Path
    rows: list[dict]
    report: Any = None
    score_files: list[Path] = field(default_factory=list)


def run_eval(dataset_root: str, overrides: Sequence[str] = (), output: Optional[str] = None,
             sequences: Optional[str] = None, config_file: Optional[str] = None, overwrite: bool = False,
             score: bool = True, progress: bool = True) -> EvalOutcome:
    """Run the pipeline over a dataset, write each sequence's result PNGs atomically (skipping complete ones
    unless ``overwrite``) and score them where the dataset can be scored locally."""
    from omegaconf import OmegaConf

    from sampt.config import build_pipeline, compose

    picked, overrides = split_dataset_overrides(overrides)
    dataset = open_dataset(picked.get("dataset", "davis2017"), dataset_root, split=picked.get("split"),
                           year=picked.get("year"))
    dataset.select([s for s in (sequences or "").split(",") if s])
    cfg = compose(overrides, config_file=config_file)
    out_dir = Path(output or f"sampt-output/eval/{dataset.name}-{dataset.split}-{cfg.tracker.name}-{cfg.segmenter.name}")
    check_output_path(out_dir, "output folder", "dir")
    cfg_text = OmegaConf.to_yaml(cfg)
    cfg_path = out_dir / "sampt-config.yaml"
    if cfg_path.is_file() and cfg_path.read_text() != cfg_text and not overwrite:
        raise UsageError(f"{out_dir} holds results of a different configuration ({cfg_path}); "
                         "give another --output, or --overwrite to replace them")
    pipeline = build_pipeline(cfg)  # every check before the first output
    with atomic_file(cfg_path) as tmp:
        tmp.write_text(cfg_text)
    rows = []
    from sampt.progress import progress_bar

    it: Any = progress_bar(dataset.sequences, desc="sequences", unit="seq", enabled=progress, leave=True)
    for name in it:
        seq = dataset.sequence(name)
        frame_names = [seq.frame_names[t] for t in seq.eval_frames]
        if not overwrite and sequence_complete(out_dir, dataset.kind, name, frame_names):
            log.info("%s: complete, skipped", name)
            rows.append({"Sequence": name, "Frames": len(seq), "Objects": len(seq.object_ids), "Seconds": "skipped",
                         "FPS": ""})
            continue
        pred = predict_sequence(pipeline, seq, progress=progress)
        write_sequence(out_dir, dataset.kind, name, frame_names, pred.labels)
        rows.append({"Sequence": name, "Frames": len(seq), "Objects": len(seq.object_ids),
                     "Seconds": round(pred.seconds, 2), "FPS": round(len(seq) / max(pred.seconds, 1e-9), 2)})
    if not dataset.scored_locally or not score:
        return EvalOutcome(dataset, out_dir, rows)
    from sampt.evaluation.scoring import score_results

    report = score_results(out_dir, dataset, progress=False)
    per_seq = {r["Sequence"]: r for r in report.sequence_rows()}
    for r in rows:
        r.update({k: v for k, v in per_seq[r["Sequence"]].items() if k != "Objects"})
    write_csv(out_dir / f"sequences-{dataset.split}.csv", rows, SEQUENCE_COLUMNS)
    files = report.write_csvs(out_dir, dataset.split)
    return EvalOutcome(dataset, out_dir, rows, report, list(files))
