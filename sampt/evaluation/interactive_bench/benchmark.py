"""The paper's interactive benchmark (SAM-PT §4.6): a simulated annotator corrects points until each frame
is good enough, and the curve of J&F against the number of interactions is what is compared.

Per video with one object and its ground truth (:func:`simulate`):

* the object is added from its ground-truth mask on its first frame; its initial query points count as
  interactions;
* frames are walked in order; on a frame whose IoU with the ground truth is below the current target, one
  interaction is made, in this priority:

  1. remove the first visible negative point lying inside the ground truth, from this frame onward;
  2. else remove the first visible positive point lying outside the ground truth, from this frame onward;
  3. else add one point, tracked from this frame to the end: positive in the false-negative region if it
     is larger than the false-positive region, else negative in the false-positive region, at the
     representative point of that region's largest connected component (8-connected): the pixel
     farthest from the component's border (the frame's edge counts as border; ties: first in raster
     order);

  the frame is left when it reaches the target or after ``max_per_frame`` (3) interactions in this visit;
* everything stops when ``budget`` (300) interactions are spent, initial points included;
* ``offline`` mode raises the target through 0.10, 0.20, ..., 0.90, 0.95, one pass over the video per
  target; ``online`` makes one pass at 0.90;
* the baseline is the same protocol on a session with tracking off (a point lives on its own frame
  only): SAM per frame.

"Inside"/"outside" the ground truth is read at the pixel nearest the point. Each interaction is followed
by the session bringing every frame up to date (only the frames it changed are segmented again) and the
J&F of those frames recomputed; the video's curve holds, after the initial points and after every
interaction, the total number of interactions and the mean J&F over all frames of the video.

Over a dataset (:func:`mean_curve`), each video's curve is read as a step function of interactions per
10 frames (``10 * interactions / frames``), 0 before its first point, and averaged over videos on a grid
of rates; :func:`summary_row` reads it at 1, 2, 5 and 10 interactions per 10 frames and gives the area
under it over [0, 10] divided by 10 (so 1.0 is perfect from the start).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import cv2
import numpy as np

from sampt.evaluation.davis.metrics import boundary_f, jaccard
from sampt.types import NEGATIVE, POSITIVE

OFFLINE_TARGETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
ONLINE_TARGETS = (0.9,)
MODES = {"offline": OFFLINE_TARGETS, "online": ONLINE_TARGETS}
DEFAULT_BUDGET = 300
MAX_PER_FRAME = 3
RATES = (1, 2, 5, 10)
"""Interactions per 10 frames at which the summary reads the mean curve."""
MAX_RATE = 10.0
GRID_STEP = 0.05


@dataclass
class Simulation:
    """One video's simulation: ``history`` (one dict per interaction: action, frame, point, IoU and J&F
    of that frame before and after, interactions so far, mean J&F of the video after), ``curve`` (pairs
    of interactions and mean J&F of the video, starting after the initial points), and what it cost."""

    frames: int
    initial_points: int
    history: list[dict] = field(default_factory=list)
    curve: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"frames": self.frames, "initial_points": self.initial_points, "history": self.history,
                "curve": [[n, jf] for n, jf in self.curve], "seconds": self.seconds, "stats": self.stats}

    @classmethod
    def from_dict(cls, data: dict) -> "Simulation":
        return cls(data["frames"], data["initial_points"], data["history"], [(int(n), float(jf)) for n, jf in data["curve"]],
                   data.get("seconds", 0.0), data.get("stats", {}))


def representative_point(region: np.ndarray) -> Optional[tuple[int, int]]:
    """``(x, y)`` of the pixel of ``region``'s largest 8-connected component farthest from its border, or
    None for an empty region."""
    region = np.asarray(region, bool)
    if not region.any():
        return None
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    component = np.pad(labels == largest, 1).astype(np.uint8)
    distance = cv2.distanceTransform(component, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return int(x), int(y)


def _inside(mask: np.ndarray, x: float, y: float) -> bool:
    H, W = mask.shape
    return bool(mask[min(max(int(round(y)), 0), H - 1), min(max(int(round(x)), 0), W - 1)])


def choose_interaction(points: Sequence[Any], gt: np.ndarray, pred: np.ndarray) -> dict:
    """The interaction the protocol makes on a frame: ``points`` are the object's points there
    (:class:`~sampt.interactive.state.PointView`), ``gt`` and ``pred`` its true and predicted masks."""
    for label, want_inside, action in ((NEGATIVE, True, "remove_negative"), (POSITIVE, False, "remove_positive")):
        for p in points:
            if p.visible and p.label == label and _inside(gt, p.x, p.y) == want_inside:
                return {"action": action, "point_id": p.point_id, "point": [p.x, p.y]}
    false_negative, false_positive = gt & ~pred, pred & ~gt
    positive = int(false_negative.sum()) > int(false_positive.sum())
    where = representative_point(false_negative if positive else false_positive)
    if where is None:
        return {"action": "none"}
    return {"action": "add_positive" if positive else "add_negative", "point": [where[0], where[1]]}


def frame_jf(gt: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """IoU (J) and J&F of one frame."""
    j = float(jaccard(gt, pred))
    return j, (j + float(boundary_f(gt, pred))) / 2


def simulate(session: Any, gt: np.ndarray, first_frame: Optional[int] = None, mode: str = "offline",
             budget: int = DEFAULT_BUDGET, max_per_frame: int = MAX_PER_FRAME, object_id: int = 1) -> Simulation:
    """Run the protocol on ``session`` (empty, over the video of ``gt`` ``(T, H, W)`` bool), for the object
    whose ground truth is ``gt``, added from its mask on ``first_frame`` (default: the first frame where
    it appears). Returns the :class:`Simulation`."""
    if mode not in MODES:
        raise ValueError(f"unknown interactive mode {mode!r}; choose offline or online")
    gt = np.asarray(gt, bool)
    T = len(gt)
    if first_frame is None:
        present = np.flatnonzero(gt.reshape(T, -1).any(axis=1))
        if not len(present):
            raise ValueError("the object never appears in its ground truth")
        first_frame = int(present[0])
    started = time.perf_counter()
    change = session.add_object(object_id, first_frame, mask=gt[first_frame])
    interactions = len(change.points)
    sim = Simulation(T, interactions)
    scores = np.zeros((T, 2))  # J, J&F per frame

    def refresh(frames: Sequence[int]) -> None:
        session.propagate()
        for fm in session.masks(frames):
            scores[fm.frame] = frame_jf(gt[fm.frame], fm.masks[0])

    refresh(range(T))
    sim.curve.append((interactions, float(scores[:, 1].mean())))
    for target in MODES[mode]:
        for t in range(T):
            done_here = 0
            while scores[t, 0] < target and done_here < max_per_frame and interactions < budget:
                pred = next(session.masks([t])).masks[0]
                choice = choose_interaction(session.points(object_id, frame=t), gt[t], pred)
                if choice["action"] == "none":
                    break
                before = scores[t].copy()
                if choice["action"].startswith("remove"):
                    change = session.remove_point(choice["point_id"], from_frame=t)
                else:
                    x, y = choice["point"]
                    change = session.add_point(object_id, t, float(x), float(y), positive=choice["action"] == "add_positive",
                                               backward=False)
                interactions += 1
                done_here += 1
                refresh(change.frames)
                mean = float(scores[:, 1].mean())
                sim.history.append({**choice, "frame": t, "target": target, "iou_before": before[0],
                                    "jf_before": before[1], "iou_after": float(scores[t, 0]),
                                    "jf_after": float(scores[t, 1]), "interactions": interactions, "mean_jf": mean})
                sim.curve.append((interactions, mean))
            if interactions >= budget:
                break
        if interactions >= budget:
            break
    sim.seconds = time.perf_counter() - started
    sim.stats = session.stats()
    return sim


def step_values(curve: Sequence[tuple[int, float]], frames: int, rates: np.ndarray) -> np.ndarray:
    """A video's curve read at ``rates`` (interactions per 10 frames): the J&F after the last point at or
    below each rate; 0 before the first."""
    xs = np.array([10.0 * n / frames for n, _ in curve])
    ys = np.array([jf for _, jf in curve])
    index = np.searchsorted(xs, rates, side="right") - 1
    return np.where(index >= 0, ys[np.maximum(index, 0)], 0.0)


def curve_area(curve: Sequence[tuple[int, float]], frames: int) -> float:
    """The exact area under a video's step curve over [0, 10] interactions per 10 frames, divided by 10
    (the mean curve's area is the mean of these)."""
    xs = [10.0 * n / frames for n, _ in curve] + [MAX_RATE]
    area = 0.0
    for (x0, x1), (_, jf) in zip(zip(xs[:-1], xs[1:]), curve):
        lo, hi = min(max(x0, 0.0), MAX_RATE), min(max(x1, 0.0), MAX_RATE)
        area += jf * max(0.0, hi - lo)
    return area / MAX_RATE


def rate_grid() -> np.ndarray:
    return np.round(np.arange(0.0, MAX_RATE + GRID_STEP / 2, GRID_STEP), 6)


def mean_curve(simulations: Sequence[Simulation]) -> tuple[np.ndarray, np.ndarray]:
    """The dataset's mean curve on :func:`rate_grid` (interactions per 10 frames, mean J&F)."""
    rates = rate_grid()
    if not simulations:
        return rates, np.full(len(rates), np.nan)
    return rates, np.mean([step_values(s.curve, s.frames, rates) for s in simulations], axis=0)


def summary_row(name: str, simulations: Sequence[Simulation]) -> dict:
    """A method's row: J&F at 1, 2, 5, 10 interactions per 10 frames, area under the mean curve over
    [0, 10] / 10, videos, mean interactions and the final mean J&F."""
    rates, curve = mean_curve(simulations)
    row: dict[str, Any] = {"method": name, "videos": len(simulations)}
    for r in RATES:
        row[f"J&F@{r}"] = float(curve[int(np.argmin(np.abs(rates - r)))])
    row["AUC"] = float(np.mean([curve_area(s.curve, s.frames) for s in simulations])) if simulations else float("nan")
    row["interactions"] = float(np.mean([s.curve[-1][0] for s in simulations])) if simulations else float("nan")
    row["final J&F"] = float(np.mean([s.curve[-1][1] for s in simulations])) if simulations else float("nan")
    return row
