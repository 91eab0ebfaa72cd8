"""``sampt eval ROOT dataset=uvo task=vis``: video instance segmentation over a dataset, resumable.

Each video's results are written atomically to ``OUT/videos/<video_id>.json`` as it finishes (a resumed
run skips videos already there); then every video's results are merged into ``OUT/results.json`` (the
YouTube-VIS results format) and, when the annotation file has annotations, scored class-agnostic
(AP, AP50, AP75, AR1, AR10 into ``OUT/scores.json``). ``vis.KEY=VALUE`` sets :class:`VISOptions`;
``proposals=FILE`` uses given first-frame proposals instead of generating them.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from sampt.errors import UsageError
from sampt.evaluation.report import write_csv, write_json
from sampt.evaluation.vis.predict import VISOptions, predict_vis_video

log = logging.getLogger(__name__)

SCORE_COLUMNS = ("AP", "AP50", "AP75", "AR1", "AR10")
ROW_COLUMNS = ("Video", "Frames", "Proposals", "Tracks", "Seconds", "FPS")


def split_vis_overrides(overrides: list[str]) -> tuple[dict[str, str], Optional[str], list[str]]:
    """``vis.KEY=VALUE`` options, a ``proposals=FILE``, and the remaining pipeline overrides."""
    vis, proposals, rest = {}, None, []
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if sep and key.startswith("vis."):
            vis[key[4:]] = value.strip()
        elif sep and key == "proposals":
            proposals = value.strip()
        else:
            rest.append(item)
    return vis, proposals, rest


@dataclass
class VISEvalOutcome:
    """What :func:`run_vis_eval` did: the dataset, results folder, one row per video, the merged
    ``results.json`` and the class-agnostic scores (None when not scored) with the files they went to."""

    dataset: Any
    out_dir: Path
    rows: list[dict]
    results_path: Path
    scores: Optional[dict] = None
    score_files: list[Path] = field(default_factory=list)


def run_vis_eval(dataset_root: str, picked: dict[str, str], overrides: Sequence[str], output: Optional[str] = None,
                 sequences: Optional[str] = None, config_file: Optional[str] = None, overwrite: bool = False,
                 score: bool = True, progress: bool = True) -> VISEvalOutcome:
    """The ``task=vis`` branch of ``sampt eval`` (``picked``: dataset/split/task; ``overrides``: the rest,
    ``vis.*`` and ``proposals=`` included)."""
    from omegaconf import OmegaConf

    from sampt.config import build_pipeline, compose
    from sampt.evaluation.vis.proposals import proposals_for, read_proposals
    from sampt.evaluation.vis.scoring import load_results, score_vis_results
    from sampt.evaluation.datasets.uvo import UVODataset, require_pycocotools
    from sampt.outputs import atomic_file, check_output_path

    dataset_name = picked.get("dataset", "uvo").lower()
    if dataset_name != "uvo":
        raise UsageError(f"task=vis needs a video instance segmentation dataset (dataset=uvo, any YouTube-VIS style "
                         f"JSON in the UVO layout), not {dataset_name!r}")
    require_pycocotools()
    vis_items, proposals_file, rest = split_vis_overrides(list(overrides))
    options = VISOptions.from_overrides(vis_items)
    dataset = UVODataset(dataset_root, split=picked.get("split") or "val")
    dataset.select([s for s in (sequences or "").split(",") if s])
    given = read_proposals(proposals_file) if proposals_file else None
    cfg = compose(rest, config_file=config_file)
    out_dir = Path(output or f"sampt-output/eval/uvo-{dataset.split}-vis-{cfg.tracker.name}-{cfg.segmenter.name}")
    check_output_path(out_dir, "output folder", "dir")
    setup = {"task": "vis", "vis": vis_items, "proposals": str(Path(proposals_file).resolve()) if proposals_file else None}
    cfg_text = OmegaConf.to_yaml(cfg) + "# " + json.dumps(setup, sort_keys=True) + "\n"
    cfg_path = out_dir / "sampt-config.yaml"
    if cfg_path.is_file() and cfg_path.read_text() != cfg_text and not overwrite:
        raise UsageError(f"{out_dir} holds results of a different configuration ({cfg_path}); "
                         "give another --output, or --overwrite to replace them")
    pipeline = build_pipeline(cfg)  # every check before the first output
    with atomic_file(cfg_path) as tmp:
        tmp.write_text(cfg_text)
    video_dir = out_dir / "videos"
    rows = []
    it: Any = dataset.videos
    if progress:
        from tqdm import tqdm

        it = tqdm(dataset.videos, desc="videos", unit="video")
    for v in it:
        path = video_dir / f"{v.id}.json"
        if path.is_file() and not overwrite:
            log.info("video %s: complete, skipped", v.id)
            rows.append({"Video": v.name, "Frames": len(v), "Proposals": "", "Tracks": "", "Seconds": "skipped", "FPS": ""})
            continue
        proposals = None
        if given is not None:
            entries = given.get(str(v.id), given.get(v.name, []))
            proposals = proposals_for(entries, v.height, v.width, len(v))
        pred = predict_vis_video(pipeline, v.video(), options, proposals)
        with atomic_file(path) as tmp:
            tmp.write_text(json.dumps(pred.results(v.id)))
        seconds = pred.propose_seconds + pred.track_seconds
        rows.append({"Video": v.name, "Frames": len(v), "Proposals": pred.num_proposals, "Tracks": len(pred.tracks),
                     "Seconds": round(seconds, 2), "FPS": round(len(v) / max(seconds, 1e-9), 2)})
    results = []
    for v in dataset.videos:
        results.extend(json.loads((video_dir / f"{v.id}.json").read_text()))
    results_path = out_dir / "results.json"
    with atomic_file(results_path) as tmp:
        tmp.write_text(json.dumps(results))
    if not score or not dataset.has_ground_truth:
        return VISEvalOutcome(dataset, out_dir, rows, results_path)
    scores = score_vis_results(dataset, load_results(results_path), progress=progress)
    files = [write_json(out_dir / "scores.json", scores),
             write_csv(out_dir / f"global_results-{dataset.split}.csv", [scores], SCORE_COLUMNS)]
    return VISEvalOutcome(dataset, out_dir, rows, results_path, scores, files)


def score_vis_file(results: str | os.PathLike, dataset: Any, csv_dir: Optional[str | os.PathLike] = None,
                   progress: bool = False) -> tuple[dict, Path]:
    """Score a YouTube-VIS results JSON (or a folder holding ``results.json``) against ``dataset``; writes
    ``global_results-<split>.csv`` beside it (or in ``csv_dir``)."""
    from sampt.evaluation.vis.scoring import load_results, score_vis_results

    path = Path(results)
    if path.is_dir():
        path = path / "results.json"
    scores = score_vis_results(dataset, load_results(path), progress=progress)
    out_dir = Path(csv_dir) if csv_dir else path.parent
    return scores, write_csv(out_dir / f"global_results-{dataset.split}.csv", [scores], SCORE_COLUMNS)
