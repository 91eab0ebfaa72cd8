"""BDD100K VOS metrics as SAM-PT's BDD100K evaluation computes them: J&F split by how long objects are visible.

BDD100K objects enter and leave the scene at any frame, so each object is scored from the frame after the
one it first appears on (where it is prompted) to the last frame of the sequence, on every frame, visible
or not: a frame where the object is absent scores J = F = 1 when the prediction is empty too, else 0.

* Per object: J and F per frame (the DAVIS measures of :mod:`sampt.evaluation.davis.metrics`), then
  mean / recall / decay; also the means over the frames where the object is visible ("Vis") and where it
  is not ("NonVis").
* An object that first appears on the sequence's last frame has nothing to score: J = F = 1, and (as the
  official code) its Vis and NonVis means are 1 as well.
* **Visible frames** of an object count its first-appearance frame and every later frame with a
  non-empty annotation. Buckets follow the official evaluator's thresholds ``short_max=5`` and
  ``long_min=30`` applied as ``visible < 5`` (short), ``5 <= visible < 30`` (medium), ``visible >= 30``
  (long); i.e. short = 1-4, medium = 5-29, long = 30+ visible frames. (The paper describes the buckets as
  1-5 / 6-30 / 31+; the numbers it reports come from the code, which this reproduces. Pass
  ``short_max=6, long_min=31`` for the wording's edges.)
* Global scores: means over all objects of all sequences; Vis / NonVis averages skip objects that have no
  such frames (NaN); a bucket with no object is NaN.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from sampt.evaluation.davis.metrics import BOUND_TH, ObjectScore, boundary_f, jaccard

SHORT_MAX = 5  #: objects visible on fewer frames than this are "short" (official ``short_object_threshold``)
LONG_MIN = 30  #: objects visible on at least this many frames are "long" (official ``long_object_threshold``)

GLOBAL_COLUMNS = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay",
                  "J&F-Mean-Vis", "J-Mean-Vis", "F-Mean-Vis", "J&F-Mean-NonVis", "J-Mean-NonVis", "F-Mean-NonVis",
                  "J&F-Mean-Short", "J-Mean-Short", "F-Mean-Short", "J&F-Mean-Medium", "J-Mean-Medium",
                  "F-Mean-Medium", "J&F-Mean-Long", "J-Mean-Long", "F-Mean-Long")
OBJECT_COLUMNS = ("Sequence", "Object", "J-Mean", "F-Mean", "J-Mean-Vis", "F-Mean-Vis", "J-Mean-NonVis",
                  "F-Mean-NonVis", "n_frames", "visible_frames", "nonvisible_frames", "bucket")


def _nanmean(values: np.ndarray | Sequence[float]) -> float:
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return float(np.nanmean(v))


@dataclass
class VisibilityScore(ObjectScore):
    """One object's BDD100K scores: an :class:`~sampt.evaluation.davis.metrics.ObjectScore` whose ``j``/``f`` are
    per scored frame, with ``visible`` whether the annotation has the object on that frame; ``n_frames`` and
    ``visible_frames`` count the first-appearance frame."""

    visible: np.ndarray = field(kw_only=True)
    n_frames: int = field(kw_only=True)
    visible_frames: int = field(kw_only=True)
    appears_last: bool = field(default=False, kw_only=True)  #: first seen on the last frame: every score is 1, NonVis included

    @property
    def nonvisible_frames(self) -> int:
        return self.n_frames - self.visible_frames

    @property
    def j_vis(self) -> float:
        return _nanmean(self.j[self.visible])

    @property
    def f_vis(self) -> float:
        return _nanmean(self.f[self.visible])

    @property
    def j_nonvis(self) -> float:
        return 1.0 if self.appears_last else _nanmean(self.j[~self.visible])

    @property
    def f_nonvis(self) -> float:
        return 1.0 if self.appears_last else _nanmean(self.f[~self.visible])

    def bucket(self, short_max: int = SHORT_MAX, long_min: int = LONG_MIN) -> str:
        """``short``, ``medium`` or ``long`` by :attr:`visible_frames`."""
        return visibility_bucket(self.visible_frames, short_max, long_min)

    def row(self, short_max: int = SHORT_MAX, long_min: int = LONG_MIN) -> dict:
        return {"Sequence": self.sequence, "Object": self.object_id, "J-Mean": self.j_mean, "F-Mean": self.f_mean,
                "J-Mean-Vis": self.j_vis, "F-Mean-Vis": self.f_vis, "J-Mean-NonVis": self.j_nonvis,
                "F-Mean-NonVis": self.f_nonvis, "n_frames": self.n_frames, "visible_frames": self.visible_frames,
                "nonvisible_frames": self.nonvisible_frames, "bucket": self.bucket(short_max, long_min)}


def visibility_bucket(visible_frames: int, short_max: int = SHORT_MAX, long_min: int = LONG_MIN) -> str:
    """The duration bucket of an object visible on ``visible_frames`` frames (see the module notes)."""
    if visible_frames < short_max:
        return "short"
    return "medium" if visible_frames < long_min else "long"


def score_object(sequence: str, object_id: int, gt: np.ndarray, pred: np.ndarray,
                 bound_th: float = BOUND_TH) -> VisibilityScore:
    """Score one object from its ``(T, H, W)`` boolean annotation ``gt`` and prediction ``pred`` over the
    whole sequence. The object must appear in ``gt`` on some frame."""
    gt = np.asarray(gt).astype(bool)
    pred = np.asarray(pred).astype(bool)
    if gt.shape != pred.shape or gt.ndim != 3:
        raise ValueError(f"{sequence} object {object_id}: ground truth {gt.shape} and prediction {pred.shape} "
                         "must be equal (T, H, W) stacks")
    present = gt.any(axis=(1, 2))
    if not present.any():
        raise ValueError(f"{sequence} object {object_id} never appears in the annotations")
    first = int(np.argmax(present))
    if first == len(gt) - 1:  # nothing after its prompt frame
        one = np.ones(1)
        return VisibilityScore(sequence, object_id, one, one.copy(), visible=np.ones(1, bool), n_frames=1,
                               visible_frames=1, appears_last=True)
    g, p = gt[first + 1:], pred[first + 1:]
    j = np.atleast_1d(jaccard(g, p)).astype(np.float64)
    f = np.atleast_1d(boundary_f(g, p, None, bound_th)).astype(np.float64)
    visible = present[first + 1:]
    return VisibilityScore(sequence, object_id, j, f, visible=visible, n_frames=len(visible) + 1,
                           visible_frames=int(visible.sum()) + 1)


def score_sequence(sequence: str, gt: np.ndarray, pred: np.ndarray, object_ids: Optional[Sequence[int]] = None,
                   bound_th: float = BOUND_TH) -> list[VisibilityScore]:
    """Score every object of a sequence from ``(T, H, W)`` label maps (pixel value = object id).
    ``object_ids`` defaults to the non-zero labels of ``gt``."""
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    ids = sorted(int(i) for i in np.unique(gt) if i != 0) if object_ids is None else list(object_ids)
    return [score_object(sequence, oid, gt == oid, pred == oid, bound_th) for oid in ids]


def global_scores(objects: Sequence[VisibilityScore], short_max: int = SHORT_MAX,
                  long_min: int = LONG_MIN) -> dict[str, float]:
    """Dataset-level scores with the official column names (``J&F-Mean-Short`` ...)."""
    def mean(values: Sequence[float]) -> float:
        return float(np.mean(values)) if len(values) else float("nan")

    jm = [o.j_mean for o in objects]
    fm = [o.f_mean for o in objects]
    g = {"J-Mean": mean(jm), "J-Recall": mean([o.j_recall for o in objects]),
         "J-Decay": mean([o.j_decay for o in objects]), "F-Mean": mean(fm),
         "F-Recall": mean([o.f_recall for o in objects]), "F-Decay": mean([o.f_decay for o in objects])}
    g["J&F-Mean"] = (g["J-Mean"] + g["F-Mean"]) / 2
    for suffix, jv, fv in (("Vis", [o.j_vis for o in objects], [o.f_vis for o in objects]),
                           ("NonVis", [o.j_nonvis for o in objects], [o.f_nonvis for o in objects])):
        g[f"J-Mean-{suffix}"], g[f"F-Mean-{suffix}"] = _nanmean(jv), _nanmean(fv)
        g[f"J&F-Mean-{suffix}"] = (g[f"J-Mean-{suffix}"] + g[f"F-Mean-{suffix}"]) / 2
    buckets = [o.bucket(short_max, long_min) for o in objects]
    for name in ("short", "medium", "long"):
        sel = [k for k, b in enumerate(buckets) if b == name]
        key = name.capitalize()
        g[f"J-Mean-{key}"] = mean([jm[k] for k in sel])
        g[f"F-Mean-{key}"] = mean([fm[k] for k in sel])
        g[f"J&F-Mean-{key}"] = g[f"J-Mean-{key}"] / 2 + g[f"F-Mean-{key}"] / 2  # as the official, bit for bit
    return {k: g[k] for k in GLOBAL_COLUMNS}
