"""sampt's data contract: the arrays that cross every component boundary.

Coordinate convention (stated once, obeyed everywhere):
    * points are ``(x, y)`` in pixels of the *original* frame, x to the right, y down;
    * pixel centres lie on integer coordinates: the pixel in row ``i``, column ``j`` has its centre at
      ``(x=j, y=i)``, so a frame of width ``W`` spans ``x`` in ``[-0.5, W - 0.5]``;
    * query points are ``(t, x, y)`` rows, ``t`` an integer frame index;
    * boxes are ``(x0, y0, x1, y1)`` in the same coordinates.
Components that need another convention (a model's input resolution, a raster convention with centres at
``+0.5``) convert at their own boundary, in and out.

Masks are boolean ``(H, W)`` arrays per object and frame (``(T, O, H, W)`` when stacked, objects in the
order of their ids); combined label maps are ``(H, W)`` uint8 with 0 for background.

Only NumPy is used here so the core installs and runs without torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import numpy as np

POSITIVE = 1
"""Label of a positive (foreground) point."""
NEGATIVE = 0
"""Label of a negative (background) point."""
MAX_OBJECT_ID = 255
"""Object ids are the label values of uint8 masks: 1..255 (0 is background)."""


def check_click_labels(labels: Optional[np.ndarray], count: int, what: str = "clicked points") -> np.ndarray:
    """The labels of ``count`` clicked points as ``(count,)`` int64 (None: all :data:`POSITIVE`). A
    ``ValueError`` unless there is one label per point, each POSITIVE or NEGATIVE, and at least one
    positive: the one place the rule for clicks is written."""
    if labels is None:
        return np.full(count, POSITIVE, np.int64)
    values = np.asarray(labels).reshape(-1)
    if len(values) != count:
        raise ValueError(f"{what}: {count} points but {len(values)} labels")
    if not np.all(np.isin(values, (POSITIVE, NEGATIVE))):
        raise ValueError(f"{what}: point labels must be 1 (positive) or 0 (negative), got "
                         f"{sorted(set(values.tolist()))}")
    if count and not np.any(values == POSITIVE):
        raise ValueError(f"{what}: needs at least one positive click (label 1) to mark the object")
    return values.astype(np.int64)


@dataclass
class Video:
    """A decoded clip held in memory: ``frames`` is ``(T, H, W, 3)`` uint8 RGB.

    ``frame_names`` name each frame as its source does (a frame folder's file stems, a video file's frame
    indices ``00000``, ``00005``... with the stride applied); outputs are named after them. Default:
    ``00000``, ``00001``...
    """

    frames: np.ndarray
    fps: float = 24.0
    name: str = "video"
    frame_names: Optional[list[str]] = None

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"video frames must be (T, H, W, 3), got shape {frames.shape}")
        if frames.dtype != np.uint8:
            raise ValueError(f"video frames must be uint8 RGB, got {frames.dtype}")
        if frames.shape[0] == 0:
            raise ValueError("video has no frames")
        self.frames = frames
        if self.frame_names is None:
            self.frame_names = [f"{t:05d}" for t in range(frames.shape[0])]
        else:
            self.frame_names = [str(n) for n in self.frame_names]
            if len(self.frame_names) != frames.shape[0]:
                raise ValueError(f"video has {frames.shape[0]} frames but {len(self.frame_names)} frame names")
            if len(set(self.frame_names)) != len(self.frame_names):
                raise ValueError("video frame names must be unique")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def __getitem__(self, t: int) -> np.ndarray:
        return self.frames[t]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.frames)

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width


def as_queries(queries: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Validate and return query points as a float32 ``(N, 3)`` array of ``(t, x, y)`` rows."""
    q = np.asarray(queries, dtype=np.float32)
    if q.ndim == 1 and q.size == 0:
        q = q.reshape(0, 3)
    if q.ndim != 2 or q.shape[1] != 3:
        raise ValueError(f"query points must be an (N, 3) array of (t, x, y), got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise ValueError("query points contain NaN or infinity")
    if np.any(q[:, 0] != np.round(q[:, 0])) or np.any(q[:, 0] < 0):
        raise ValueError("query frame indices t must be non-negative integers")
    return q


def check_queries(queries: np.ndarray | Sequence[Sequence[float]], height: int, width: int,
                  num_frames: Optional[int] = None) -> np.ndarray:
    """Validate query points for a ``height`` x ``width`` video of ``num_frames`` frames (None: a stream
    of unknown length) and return them as float32 ``(N, 3)``: the shape and values of :func:`as_queries`,
    each query frame inside the video, each point inside the frame."""
    q = as_queries(queries)
    if num_frames is not None and len(q) and q[:, 0].max() >= num_frames:
        raise ValueError(f"a query starts at frame {int(q[:, 0].max())} but the video has {num_frames} frames "
                         f"(0..{num_frames - 1})")
    check_points_inside(q[:, 1:], height, width, "query points")
    return q


def check_points_inside(points: np.ndarray, height: int, width: int, what: str = "points") -> None:
    """Raise a ValueError naming the first point outside a ``height`` x ``width`` frame."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    bad = (pts[:, 0] < -0.5) | (pts[:, 0] > width - 0.5) | (pts[:, 1] < -0.5) | (pts[:, 1] > height - 0.5)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{what}: point {i} at (x={pts[i, 0]:g}, y={pts[i, 1]:g}) lies outside the {width}x{height} frame; "
            f"x must be in [0, {width - 1}] and y in [0, {height - 1}]"
        )


@dataclass(frozen=True)
class PointTransform:
    """How a component maps points of an original frame to its model's input: ``x' = x * scale_x`` and
    ``y' = y * scale_y`` (SAM: ``1024 / W`` and ``round(H * 1024 / W) / H`` for a landscape frame: the two
    factors differ slightly because the resized height is rounded). Applies to ``(..., 2)`` points and
    ``(..., 4)`` boxes alike, in float64."""

    scale_x: float = 1.0
    scale_y: float = 1.0

    def to_model(self, coords: np.ndarray) -> np.ndarray:
        """Original-frame coordinates -> the model's input coordinates."""
        pairs = np.array(coords, dtype=np.float64).reshape(-1, 2)
        pairs[:, 0] *= self.scale_x
        pairs[:, 1] *= self.scale_y
        return pairs.reshape(np.shape(coords))

    def from_model(self, coords: np.ndarray) -> np.ndarray:
        """The model's input coordinates -> original-frame coordinates (the inverse of :meth:`to_model`)."""
        pairs = np.array(coords, dtype=np.float64).reshape(-1, 2)
        pairs[:, 0] /= self.scale_x
        pairs[:, 1] /= self.scale_y
        return pairs.reshape(np.shape(coords))


@dataclass
class Tracks:
    """Point tracks: ``points`` ``(T, N, 2)`` float32 ``(x, y)``, ``visibility`` ``(T, N)`` bool,
    optional ``confidence`` ``(T, N)`` float32 in ``[0, 1]``."""

    points: np.ndarray
    visibility: np.ndarray
    confidence: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float32)
        self.visibility = np.asarray(self.visibility, dtype=bool)
        if self.points.ndim != 3 or self.points.shape[-1] != 2:
            raise ValueError(f"track points must be (T, N, 2), got {self.points.shape}")
        if self.visibility.shape != self.points.shape[:2]:
            raise ValueError(f"visibility must be (T, N) = {self.points.shape[:2]}, got {self.visibility.shape}")
        if self.confidence is not None:
            self.confidence = np.asarray(self.confidence, dtype=np.float32)
            if self.confidence.shape != self.points.shape[:2]:
                raise ValueError(f"confidence must be (T, N), got {self.confidence.shape}")

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    @property
    def num_points(self) -> int:
        return int(self.points.shape[1])

    @staticmethod
    def concatenate(parts: Sequence["Tracks"], axis: int) -> "Tracks":
        """Join tracks along frames (``axis=0``) or points (``axis=1``)."""
        has_conf = all(p.confidence is not None for p in parts)
        return Tracks(
            np.concatenate([p.points for p in parts], axis=axis),
            np.concatenate([p.visibility for p in parts], axis=axis),
            np.concatenate([p.confidence for p in parts], axis=axis) if has_conf else None,
        )

    def select(self, index: np.ndarray | slice) -> "Tracks":
        """The tracks of a subset of points."""
        return Tracks(
            self.points[:, index],
            self.visibility[:, index],
            None if self.confidence is None else self.confidence[:, index],
        )


@dataclass
class Prompt:
    """One prompt for a promptable segmenter on one image.

    ``points`` ``(N, 2)`` float32 ``(x, y)`` with ``labels`` ``(N,)`` (1 positive, 0 negative); ``box``
    ``(4,)`` ``(x0, y0, x1, y1)`` or None; ``mask_logits`` the ``low_res_logits`` of an earlier
    :class:`Prediction` on the same image (a mask prompt), or None.
    """

    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    box: Optional[np.ndarray] = None
    mask_logits: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float32).reshape(-1, 2)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if len(self.points) != len(self.labels):
            raise ValueError(f"prompt has {len(self.points)} points but {len(self.labels)} labels")
        if self.box is not None:  # float64: a box computed to land exactly on model pixels stays exact
            self.box = np.asarray(self.box, dtype=np.float64).reshape(4)
        if len(self.points) == 0 and self.box is None and self.mask_logits is None:
            raise ValueError("a prompt needs at least one point, a box or a mask")


@dataclass
class Prediction:
    """A segmenter's answer to one :class:`Prompt`.

    ``logits`` ``(H, W)`` float32 at the original image's resolution (mask = logits > 0);
    ``low_res_logits`` the segmenter's own low-resolution logits, fed back as ``Prompt.mask_logits``;
    ``iou`` the segmenter's predicted IoU of the mask.
    """

    logits: np.ndarray
    low_res_logits: np.ndarray
    iou: float

    @property
    def mask(self) -> np.ndarray:
        return self.logits > 0
