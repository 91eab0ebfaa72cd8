"""The edit state of an interactive session: immutable points and objects, and what an edit changed.

Every edit builds a new :data:`State` from the old one and shares everything it did not touch, so a
point's track is the very same array before and after an edit to another point (the tests check it bit
for bit), undo is a matter of going back to an earlier state, and the history costs memory only for
what each edit created.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np


@dataclass(frozen=True, eq=False)
class Point:
    """One prompt point of one object, with its track.

    ``frame`` and ``(x, y)`` are where the user put it (or last moved it); ``track`` ``(T, 2)`` and
    ``visible`` ``(T,)`` its tracked positions (read-only arrays, never changed in place); it takes part in
    the prompts of frames ``start <= t < end`` where the tracker says it is visible.
    """

    point_id: int
    object_id: int
    label: int
    frame: int
    x: float
    y: float
    track: np.ndarray
    visible: np.ndarray
    start: int
    end: int

    def __post_init__(self) -> None:
        for array in (self.track, self.visible):
            array.flags.writeable = False

    def active(self, t: int) -> bool:
        return self.start <= t < self.end

    def with_end(self, end: int) -> "Point":
        return Point(self.point_id, self.object_id, self.label, self.frame, self.x, self.y, self.track,
                     self.visible, self.start, end)


@dataclass(frozen=True, eq=False)
class ObjectState:
    """One object: its id, the frame and mask it was added with (``mask`` None until known), its points."""

    object_id: int
    frame: int
    points: tuple[Point, ...]
    mask: Optional[np.ndarray] = None

    def with_points(self, points: tuple[Point, ...]) -> "ObjectState":
        return ObjectState(self.object_id, self.frame, points, self.mask)

    def point(self, point_id: int) -> Optional[Point]:
        for p in self.points:
            if p.point_id == point_id:
                return p
        return None


State = tuple[ObjectState, ...]
"""The objects of a session, in the order they were added."""


@dataclass(frozen=True)
class Change:
    """What an operation changed: the ``objects`` (ids) whose prompts, and so masks, changed on some of
    the ``frames`` (a range, empty when nothing changed), and the ids of ``points`` it created.

    Masks of those frames are brought up to date when they are next read (:meth:`Session.masks`) or by
    :meth:`Session.propagate`; all other frames keep their masks.
    """

    action: str
    objects: tuple[int, ...] = ()
    frames: range = range(0)
    points: tuple[int, ...] = ()
    masks: Optional[Any] = field(default=None, compare=False)
    """For an edit on one frame (:meth:`Session.add_point`, :meth:`Session.move_point`,
    :meth:`Session.add_object` from clicks): that frame's masks, already brought up to date (a
    :class:`~sampt.interactive.masks.FrameMasks`); None otherwise."""

    @property
    def empty(self) -> bool:
        return not self.objects


@dataclass(frozen=True)
class PointView:
    """A point as a user (or a UI) sees it on one frame: where it is there and whether it is visible."""

    point_id: int
    object_id: int
    label: int
    x: float
    y: float
    visible: bool


@dataclass
class HistoryEntry:
    """One step of the edit history: the ``action`` that led to ``state`` (a JSON-able description),
    and the frames it may have changed (``frames``), used to redo and undo it."""

    action: dict
    state: State
    frames: range = field(default_factory=lambda: range(0))


@dataclass
class SegmentationMemo:
    """One object's segmentation on one frame, kept to be reused when the same prompt comes back (undo, redo,
    back-and-forth edits): the prompt's ``key``, the mask as a crop ``(y0, x0, mask)`` (``None``: empty),
    the predicted IoU and the prompt itself."""

    key: bytes
    entry: Optional[tuple[int, int, np.ndarray]]
    iou: float
    prompt: tuple[np.ndarray, np.ndarray]

    @property
    def nbytes(self) -> int:
        return 64 + (0 if self.entry is None else self.entry[2].nbytes) + self.prompt[0].nbytes + self.prompt[1].nbytes



def point_views(objects: State, frame: Optional[int]) -> list[PointView]:
    """The points of ``objects`` as they are on ``frame`` (only those that live there), or where they were
    placed (``frame`` None)."""
    out = []
    for o in objects:
        for p in o.points:
            if frame is None:
                out.append(PointView(p.point_id, o.object_id, p.label, p.x, p.y, True))
            elif p.active(frame):
                x, y = p.track[frame]
                out.append(PointView(p.point_id, o.object_id, p.label, float(x), float(y), bool(p.visible[frame])))
    return out
