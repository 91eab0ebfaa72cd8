"""Score YouTube-VIS results (``[{"video_id", "score", "segmentations"}]``) class-agnostic against a VIS
dataset (:class:`~sampt.evaluation.datasets.uvo.UVODataset`): decode the RLE masks, compute video mask IoUs, and
hand them to :mod:`sampt.evaluation.vis.metrics`."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.vis.metrics import VideoMatches, video_mask_iou, vis_scores
from sampt.evaluation.datasets.schema import FileFields
from sampt.evaluation.datasets.uvo import UVODataset, VISVideo, decode_rle
from sampt.io import read_json_records


def load_results(path: str | os.PathLike) -> list[dict]:
    """A YouTube-VIS results JSON: a list of ``{"video_id", "score", "segmentations"}``."""
    records = read_json_records(path, "results file", [{"video_id"}, {"score"}, {"segmentations"}],
                                "a YouTube-VIS results list ([{video_id, score, segmentations}, ...])")
    fields = FileFields(Path(path))
    for k, r in enumerate(records):  # the types every later step relies on, each error naming the field
        fields.integer(r["video_id"], f"[{k}].video_id")
        fields.number(r["score"], f"[{k}].score")
        for t, seg in enumerate(fields.items(r["segmentations"], f"[{k}].segmentations")):
            if seg is not None and not isinstance(seg, (dict, list)):
                raise fields.fail(f"[{k}].segmentations[{t}]", "null, an RLE object or polygons", seg)
    return records


def score_vis_results(dataset: UVODataset, results: Iterable[dict], max_dets: Sequence[int] = (1, 10, 100),
                      progress: bool = False) -> dict[str, float]:
    """Class-agnostic AP / AR of ``results`` on every video of ``dataset``
    (:mod:`sampt.evaluation.vis.metrics`)."""
    per_video: dict[int, list[dict]] = {}
    for r in results:
        per_video.setdefault(int(r["video_id"]), []).append(r)
    unknown = sorted(set(per_video) - dataset.all_video_ids)  # results of unselected videos are left out
    if unknown:
        raise UsageError(f"results name video {unknown[0]}, which is not in {dataset.json_path}")
    it: Iterable[VISVideo] = dataset
    if progress:
        from tqdm import tqdm

        it = tqdm(list(dataset), desc="scoring", unit="video")
    matches = [video_matches(video, per_video.get(video.id, []), max(max_dets)) for video in it]
    return vis_scores(matches, max_dets)


def video_matches(video: VISVideo, results: Sequence[dict], max_det: int = 100) -> VideoMatches:
    """What the VIS metric needs of one video's results: scores, video IoUs with the true instances
    (only the top ``max_det`` results by score are decoded), crowd flags."""
    for r in results:
        if len(r["segmentations"]) != len(video):
            raise UsageError(f"a result for video {video.id} has {len(r['segmentations'])} segmentations for "
                             f"{len(video)} frames")
    order = np.argsort([-float(r["score"]) for r in results], kind="mergesort")[:max_det]
    preds = [results[i] for i in order]
    true = [video.instance_masks(i) for i in video.instances]
    ious = np.zeros((len(preds), len(true)))
    for i, r in enumerate(preds):
        d = np.stack([decode_rle(s, video.height, video.width) for s in r["segmentations"]])
        for j, g in enumerate(true):
            ious[i, j] = video_mask_iou(d, g)
    return VideoMatches([float(r["score"]) for r in preds], ious, [i.iscrowd for i in video.instances])
