"""Video instance segmentation metrics as the YouTube-VIS evaluation (``ytvoseval``) computes them, here
class-agnostic (every instance is one class, as SAM-PT scores UVO).

* **Video mask IoU** of a predicted and a true instance: the intersections summed over all frames divided
  by the unions summed over all frames (a frame where only one of the two has a mask adds that mask's area
  to the union); 0 when the union is empty.
* Per video, predictions are ranked by score (ties keep their order) and at most ``max_dets[-1]`` are kept.
  At each IoU threshold 0.50:0.05:0.95 they are matched greedily, best-scoring first, to the unmatched true
  instance of highest IoU not below the threshold; crowd instances (``iscrowd``) are "ignore" instances: a
  prediction matched to one counts neither as a true nor a false positive, and they may match many times.
* **AP**: precision interpolated at the 101 recall points 0:0.01:1 (precision made monotone from the right;
  0 beyond the reached recall), averaged over recall points and IoU thresholds. AP50 / AP75 at one
  threshold. **AR@k**: the recall reached with the top ``k`` predictions of each video, averaged over IoU
  thresholds. A value that cannot be computed (no true instance at all) is -1, as the official summary.
* Only the "all" area range is computed: UVO's reported numbers (AP, AP50, AP75, AR1, AR10) use no other.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
MAX_DETS = (1, 10, 100)
SUMMARY = ("AP", "AP50", "AP75", "AR1", "AR10", "AR100")


def video_mask_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """Video-level IoU of two ``(T, H, W)`` boolean mask stacks (see the module notes)."""
    pred = np.asarray(pred).astype(bool)
    true = np.asarray(true).astype(bool)
    if pred.shape != true.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {true.shape} differ in shape")
    inter = int(np.count_nonzero(pred & true))
    union = int(np.count_nonzero(pred | true))
    return inter / union if union > 0 else 0.0


def iou_matrix(preds: Sequence[np.ndarray], trues: Sequence[np.ndarray]) -> np.ndarray:
    """``(D, G)`` video IoUs between predicted and true ``(T, H, W)`` instances."""
    out = np.zeros((len(preds), len(trues)))
    for i, d in enumerate(preds):
        for j, g in enumerate(trues):
            out[i, j] = video_mask_iou(d, g)
    return out


@dataclass
class VideoMatches:
    """What the metric needs of one video: prediction ``scores`` ``(D,)``, ``ious`` ``(D, G)`` with the
    true instances, and their ``crowd`` flags ``(G,)``."""

    scores: np.ndarray
    ious: np.ndarray
    crowd: np.ndarray

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, np.float64).reshape(-1)
        self.crowd = np.asarray(self.crowd, bool).reshape(-1)
        self.ious = np.asarray(self.ious, np.float64).reshape(len(self.scores), len(self.crowd))


@dataclass
class _Matched:
    scores: np.ndarray      # (D,) sorted, best first
    matched: np.ndarray     # (T, D) bool
    ignored: np.ndarray     # (T, D) bool: matched to a crowd instance
    num_true: int           # non-crowd true instances


def _match_video(video: VideoMatches, max_det: int) -> Optional[_Matched]:
    D, G = video.ious.shape
    if D == 0 and G == 0:
        return None
    order = np.argsort(-video.scores, kind="mergesort")[:max_det]
    gt_order = np.argsort(video.crowd.astype(np.int64), kind="mergesort")  # crowd instances last
    ious = video.ious[order][:, gt_order]
    crowd = video.crowd[gt_order]
    T = len(IOU_THRESHOLDS)
    matched = np.zeros((T, len(order)), bool)
    ignored = np.zeros((T, len(order)), bool)
    for ti, thr in enumerate(IOU_THRESHOLDS):
        taken = np.zeros(G, bool)
        for di in range(len(order)):
            best, m = min(thr, 1 - 1e-10), -1
            for gi in range(G):
                if taken[gi] and not crowd[gi]:
                    continue
                if m > -1 and not crowd[m] and crowd[gi]:
                    break  # matched a real instance; only crowd ones are left
                if ious[di, gi] < best:
                    continue
                best, m = ious[di, gi], gi
            if m == -1:
                continue
            matched[ti, di] = True
            ignored[ti, di] = crowd[m]
            taken[m] = True
    return _Matched(video.scores[order], matched, ignored, int(np.count_nonzero(~crowd)))


def _accumulate(per_video: list[_Matched], max_det: int) -> tuple[np.ndarray, np.ndarray]:
    """Precision ``(T, R)`` and recall ``(T,)`` over all videos with the top ``max_det`` of each
    (-1 where there is no true instance)."""
    T, R = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)
    precision = -np.ones((T, R))
    recall = -np.ones(T)
    if not per_video:
        return precision, recall
    num_true = sum(v.num_true for v in per_video)
    if num_true == 0:
        return precision, recall
    scores = np.concatenate([v.scores[:max_det] for v in per_video])
    order = np.argsort(-scores, kind="mergesort")
    matched = np.concatenate([v.matched[:, :max_det] for v in per_video], axis=1)[:, order]
    ignored = np.concatenate([v.ignored[:, :max_det] for v in per_video], axis=1)[:, order]
    tps = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
    fps = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
    for t in range(T):
        tp, fp = tps[t], fps[t]
        n = len(tp)
        rc = tp / num_true
        pr = tp / (fp + tp + np.spacing(1))
        recall[t] = rc[-1] if n else 0.0
        q = np.zeros(R)
        pr = np.maximum.accumulate(pr[::-1])[::-1] if n else pr  # monotone from the right
        idx = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
        ok = idx < n
        q[ok] = pr[idx[ok]]
        precision[t] = q
    return precision, recall


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def vis_scores(videos: Iterable[VideoMatches], max_dets: Sequence[int] = MAX_DETS) -> dict[str, float]:
    """Class-agnostic ``AP``, ``AP50``, ``AP75`` (with the top ``max_dets[-1]`` predictions per video) and
    ``AR<k>`` for every ``k`` in ``max_dets``, as fractions (the official printout's numbers)."""
    max_dets = sorted(int(m) for m in max_dets)
    matched = [m for m in (_match_video(v, max_dets[-1]) for v in videos) if m is not None]
    precision, _ = _accumulate(matched, max_dets[-1])
    out = {"AP": _mean_valid(precision),
           "AP50": _mean_valid(precision[np.isclose(IOU_THRESHOLDS, 0.5)]),
           "AP75": _mean_valid(precision[np.isclose(IOU_THRESHOLDS, 0.75)])}
    for m in max_dets:
        out[f"AR{m}"] = _mean_valid(_accumulate(matched, m)[1])
    return out
