"""``sampt eval``: run the pipeline over a dataset, write result PNGs, score them.

Protocol (semi-supervised VOS): each object is prompted with its annotated mask on the frame where it first
appears. The output label map of a frame gives each pixel to the object with the highest positive logit;
an object is absent before its prompt frame, and on its prompt frame it is exactly its given mask (the usual
convention; DAVIS never scores that frame). Outputs are written for the frames the dataset scores.
"""
from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.datasets import VOSDataset, VOSSequence, open_dataset
from sampt.evaluation.report import text_table, write_csv
from sampt.evaluation.writers import SERVER_NOTE, resize_labels, sequence_complete, write_sequence, zip_submission

log = logging.getLogger(__name__)

DATASET_KEYS = ("dataset", "split", "year")


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
    start, cpu_start = time.perf_counter(), time.process_time()
    result = pipeline.run(video, prompts, progress=progress)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
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
    return SequencePrediction(out, result, seconds, cpu_seconds)


def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset_root", metavar="DATASET_ROOT", help="dataset root folder")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="dataset=davis2017|davis2016|youtubevos2018|youtubevos2019|mose, split=val, and config "
                        "overrides (tracker=lk segmenter=grabcut pipeline.positive_points=8 ...)")
    p.add_argument("--output", "-o", default=None,
                   help="results folder (default: sampt-output/eval/<dataset>-<split>-<tracker>-<segmenter>)")
    p.add_argument("--sequences", default=None, help="comma-separated sequences to run (default: all)")
    p.add_argument("--config", default=None, help="base config file (default: configs/config.yaml)")
    p.add_argument("--overwrite", action="store_true",
                   help="rerun every sequence, even complete ones (also allows a different configuration)")
    p.add_argument("--zip", action="store_true", help="YouTube-VOS/MOSE: also zip the submission")
    p.add_argument("--no-score", action="store_true", help="write the results only")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_eval_command(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from sampt.config import compose
    from sampt.pipeline import SamPt

    picked, overrides = split_dataset_overrides(args.overrides)
    dataset = open_dataset(picked.get("dataset", "davis2017"), args.dataset_root, split=picked.get("split"),
                           year=picked.get("year"))
    dataset.select([s for s in (args.sequences or "").split(",") if s])
    cfg = compose(overrides, config_file=args.config)
    out_dir = Path(args.output or f"sampt-output/eval/{dataset.name}-{dataset.split}-{cfg.tracker.name}-{cfg.segmenter.name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg_text = OmegaConf.to_yaml(cfg)
    cfg_path = out_dir / "sampt-config.yaml"
    if cfg_path.is_file() and cfg_path.read_text() != cfg_text and not args.overwrite:
        raise UsageError(f"{out_dir} holds results of a different configuration ({cfg_path}); "
                         "give another --output, or --overwrite to replace them")
    from sampt.io import atomic_write

    with atomic_write(cfg_path) as tmp:
        tmp.write_text(cfg_text)
    pipeline = SamPt.from_config(cfg)
    rows = []
    names = dataset.sequences
    it: Any = names
    from sampt.progress import progress_bar

    it = progress_bar(names, desc="sequences", unit="seq", enabled=not args.no_progress, leave=True)
    for name in it:
        seq = dataset.sequence(name)
        frame_names = [seq.frame_names[t] for t in seq.eval_frames]
        if not args.overwrite and sequence_complete(out_dir, dataset.kind, name, frame_names):
            log.info("%s: complete, skipped", name)
            rows.append({"Sequence": name, "Frames": len(seq), "Objects": len(seq.object_ids), "Seconds": "skipped",
                         "FPS": ""})
            continue
        pred = predict_sequence(pipeline, seq, progress=not args.no_progress)
        write_sequence(out_dir, dataset.kind, name, frame_names, pred.labels)
        rows.append({"Sequence": name, "Frames": len(seq), "Objects": len(seq.object_ids),
                     "Seconds": round(pred.seconds, 2), "FPS": round(len(seq) / max(pred.seconds, 1e-9), 2)})
    if not dataset.scored_locally or args.no_score:
        print(text_table(rows, ["Sequence", "Frames", "Objects", "Seconds", "FPS"]))
        if dataset.kind == "youtubevos":
            if args.zip:
                print(f"submission: {zip_submission(out_dir)}")
            print(SERVER_NOTE)
        elif not dataset.scored_locally:
            print(f"{dataset.name} {dataset.split} is scored by the DAVIS challenge server: upload a zip of the "
                  "sequence folders (https://davischallenge.org).")
        print(f"results written to {out_dir}")
        return 0
    from sampt.evaluation.scoring import score_results

    report = score_results(out_dir, dataset, progress=False)
    per_seq = {r["Sequence"]: r for r in report.sequence_rows()}
    for r in rows:
        r.update({k: v for k, v in per_seq[r["Sequence"]].items() if k != "Objects"})
    columns = ["Sequence", "Frames", "Objects", "J&F-Mean", "J-Mean", "F-Mean", "Seconds", "FPS"]
    print(text_table(rows, columns))
    print()
    print(report.format(f"{dataset.name} {dataset.split}"))
    g, s = report.write_csvs(out_dir, dataset.split)
    write_csv(out_dir / f"sequences-{dataset.split}.csv", rows, columns)
    print(f"\nresults written to {out_dir}; scores in {g.name}, {s.name}")
    return 0
