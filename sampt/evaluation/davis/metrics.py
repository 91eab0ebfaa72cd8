"""DAVIS video object segmentation metrics, computed exactly as the official DAVIS 2017 evaluation.

* **J** (region similarity): intersection over union of the predicted and true masks; 1 when both are empty.
* **F** (contour accuracy): F-measure of boundary precision and recall. Boundaries are the one-pixel maps of
  Martin et al.'s ``seg2bmap``; a boundary pixel matches when the other boundary lies within
  ``ceil(0.008 * image diagonal)`` pixels, measured with a disk structuring element (``x^2 + y^2 <= r^2``,
  as ``skimage.morphology.disk``) applied with ``cv2.dilate`` (as the official code does).
* Per object: **mean**, **recall** (fraction of frames scoring above 0.5) and **decay** (mean of the first
  quarter of frames minus the mean of the last quarter, with the official bin edges).
* The semi-supervised protocol scores every frame except the first (given as the prompt) and the last.

The one deliberate difference: the official ``db_statistics`` stores its bin indices as ``uint8``, which
wraps for sequences longer than 256 frames; here they are ordinary integers. Every DAVIS sequence is shorter,
so DAVIS scores are unchanged.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Optional, Sequence

import cv2
import numpy as np

BOUND_TH = 0.008


def disk(radius: float) -> np.ndarray:
    """A disk structuring element ``(2r+1, 2r+1)`` uint8: ``x^2 + y^2 <= r^2`` (skimage's ``disk``)."""
    coords = np.arange(-radius, radius + 1, dtype=np.float64)  # as skimage, also for a fractional radius
    return ((coords[None, :] ** 2 + coords[:, None] ** 2) <= float(radius) ** 2).astype(np.uint8)


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of a binary mask (Martin et al., as used by DAVIS).

    A pixel is a boundary pixel when it differs from its east, south or south-east neighbour; the last row
    only compares with the east neighbour, the last column only with the south one, and the bottom-right
    pixel is never a boundary. Boundaries therefore sit half a pixel towards the origin.
    """
    seg = np.asarray(seg).astype(bool)
    if seg.ndim != 2:
        raise ValueError(f"seg2bmap needs a 2-D mask, got shape {seg.shape}")
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    bmap[-1, :] = seg[-1, :] ^ east[-1, :]
    bmap[:, -1] = seg[:, -1] ^ south[:, -1]
    bmap[-1, -1] = False
    return bmap


def _check_pair(gt: np.ndarray, pred: np.ndarray, void: Optional[np.ndarray]) -> None:
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    if void is not None and void.shape[-2:] != gt.shape[-2:]:
        raise ValueError(f"void mask {void.shape} does not match masks {gt.shape}")


def jaccard(gt: np.ndarray, pred: np.ndarray, void: Optional[np.ndarray] = None) -> np.ndarray | float:
    """Region similarity J (IoU) of boolean masks ``(..., H, W)``; 1 where both are empty.

    ``void`` pixels (``(H, W)`` or the masks' shape) are left out of both intersection and union.
    Returns a float for 2-D input, else an array over the leading axes.
    """
    gt = np.asarray(gt).astype(bool)
    pred = np.asarray(pred).astype(bool)
    _check_pair(gt, pred, void)
    keep = np.ones(gt.shape[-2:], bool) if void is None else ~np.asarray(void).astype(bool)
    inter = np.sum(gt & pred & keep, axis=(-2, -1))
    union = np.sum((gt | pred) & keep, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        j = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
    return float(j) if j.ndim == 0 else j.astype(np.float64)


def f_measure(gt: np.ndarray, pred: np.ndarray, void: Optional[np.ndarray] = None,
              bound_th: float = BOUND_TH) -> float:
    """Contour accuracy F of one frame: boundary F-measure with tolerance ``bound_th`` (a fraction of the
    image diagonal when < 1, else pixels).

    Corner cases as the official code: no predicted boundary but a true one -> precision 1, recall 0;
    a predicted boundary but no true one -> precision 0, recall 1; neither -> 1; F = 0 when P + R = 0.
    """
    gt = np.asarray(gt).astype(bool)
    pred = np.asarray(pred).astype(bool)
    if gt.ndim != 2:
        raise ValueError(f"f_measure needs 2-D masks, got {gt.shape}")
    _check_pair(gt, pred, void)
    if void is not None:
        keep = ~np.asarray(void).astype(bool)
        gt, pred = gt & keep, pred & keep
    radius = bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(*gt.shape))
    kernel = disk(radius)
    pred_b = seg2bmap(pred)
    gt_b = seg2bmap(gt)
    pred_dil = cv2.dilate(pred_b.astype(np.uint8), kernel) > 0
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), kernel) > 0
    n_pred = int(pred_b.sum())
    n_gt = int(gt_b.sum())
    if n_pred == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_pred > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_pred == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = float(np.sum(pred_b & gt_dil)) / n_pred
        recall = float(np.sum(gt_b & pred_dil)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def boundary_f(gt: np.ndarray, pred: np.ndarray, void: Optional[np.ndarray] = None,
               bound_th: float = BOUND_TH) -> np.ndarray | float:
    """:func:`f_measure` for ``(H, W)`` masks (a float) or ``(T, H, W)`` stacks (an array per frame)."""
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.ndim == 2:
        return f_measure(gt, pred, void, bound_th)
    if gt.ndim != 3:
        raise ValueError(f"boundary_f supports (H, W) or (T, H, W) masks, got {gt.shape}")
    _check_pair(gt, pred, None)
    out = np.zeros(gt.shape[0])
    for t in range(gt.shape[0]):
        v = None if void is None else (void[t] if np.ndim(void) == 3 else void)
        out[t] = f_measure(gt[t], pred[t], v, bound_th)
    return out


def decay_bins(n: int) -> list[slice]:
    """The official four decay quantile bins over ``n`` per-frame values (consecutive bins share an edge)."""
    ids = (np.round(np.linspace(1, n, 5) + 1e-10) - 1).astype(np.int64)
    return [slice(int(ids[i]), int(ids[i + 1]) + 1) for i in range(4)]


def statistics(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """``(mean, recall, decay)`` of per-frame scores, as the official ``db_statistics`` (NaNs ignored)."""
    v = np.asarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = float(np.nanmean(v)) if v.size else float("nan")
        recall = float(np.nanmean(v > 0.5)) if v.size else float("nan")
        if v.size == 0:
            return mean, recall, float("nan")
        bins = [v[s] for s in decay_bins(len(v))]
        decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return mean, recall, decay


@dataclass
class ObjectScore:
    """Scores of one object of one sequence; ``j``/``f`` hold the per-frame values of the scored frames."""

    sequence: str
    object_id: int
    j: np.ndarray
    f: np.ndarray
    j_mean: float = field(init=False)
    j_recall: float = field(init=False)
    j_decay: float = field(init=False)
    f_mean: float = field(init=False)
    f_recall: float = field(init=False)
    f_decay: float = field(init=False)

    def __post_init__(self) -> None:
        self.j_mean, self.j_recall, self.j_decay = statistics(self.j)
        self.f_mean, self.f_recall, self.f_decay = statistics(self.f)

    @property
    def name(self) -> str:
        """``<sequence>_<object id>``, as the official per-object table."""
        return f"{self.sequence}_{self.object_id}"

    @property
    def jf_mean(self) -> float:
        return (self.j_mean + self.f_mean) / 2

    def row(self) -> dict[str, float | str | int]:
        return {"Sequence": self.sequence, "Object": self.object_id, "J&F-Mean": self.jf_mean,
                "J-Mean": self.j_mean, "J-Recall": self.j_recall, "J-Decay": self.j_decay,
                "F-Mean": self.f_mean, "F-Recall": self.f_recall, "F-Decay": self.f_decay}


GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")


def global_scores(objects: Sequence[ObjectScore]) -> dict[str, float]:
    """Dataset-level scores: every statistic averaged over all objects of all sequences (official)."""
    if not objects:
        return {k: float("nan") for k in GLOBAL_COLUMNS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        g = {
            "J-Mean": float(np.mean([o.j_mean for o in objects])),
            "J-Recall": float(np.mean([o.j_recall for o in objects])),
            "J-Decay": float(np.mean([o.j_decay for o in objects])),
            "F-Mean": float(np.mean([o.f_mean for o in objects])),
            "F-Recall": float(np.mean([o.f_recall for o in objects])),
            "F-Decay": float(np.mean([o.f_decay for o in objects])),
        }
    g["J&F-Mean"] = (g["J-Mean"] + g["F-Mean"]) / 2
    return {k: g[k] for k in GLOBAL_COLUMNS}


def score_sequence(name: str, gt: np.ndarray, pred: np.ndarray, object_ids: Sequence[int],
                   void: Optional[np.ndarray] = None, exclude_first_last: bool = True,
                   bound_th: float = BOUND_TH) -> list[ObjectScore]:
    """Score one sequence. ``gt`` and ``pred`` are ``(T, H, W)`` label maps (pixel value = object id), or
    ``(O, T, H, W)`` boolean masks in the order of ``object_ids``. With ``exclude_first_last`` the first
    and last frames are dropped (semi-supervised protocol). ``void`` ``(T, H, W)`` pixels are ignored."""
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.ndim == 3:
        gt = np.stack([gt == i for i in object_ids])
    if pred.ndim == 3:
        pred = np.stack([pred == i for i in object_ids])
    if gt.shape != pred.shape:
        raise ValueError(f"{name}: ground truth {gt.shape} and prediction {pred.shape} differ in shape")
    frames = slice(1, -1) if exclude_first_last else slice(None)
    gt, pred = gt[:, frames], pred[:, frames]
    v = None if void is None else np.asarray(void)[frames]
    scores = []
    for k, oid in enumerate(object_ids):
        if v is None:
            j = np.atleast_1d(jaccard(gt[k], pred[k])) if gt.shape[1] else np.zeros(0)
        else:
            j = np.array([jaccard(gt[k, t], pred[k, t], v[t]) for t in range(gt.shape[1])])
        f = np.atleast_1d(boundary_f(gt[k], pred[k], v, bound_th)) if gt.shape[1] else np.zeros(0)
        scores.append(ObjectScore(name, int(oid), np.asarray(j, np.float64), np.asarray(f, np.float64)))
    return scores
