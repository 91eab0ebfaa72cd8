"""Weightless point trackers: pyramidal Lucas-Kanade and chained dense optical flow (OpenCV).

Both sweep the video once forward and once backward, so queries may start at any frame and are tracked
in both directions from it. A forward-backward consistency check marks a point lost (invisible) when
tracking it from frame a to b and back to a misses its start by more than ``fb_threshold`` pixels, or
when it leaves the frame; a lost point keeps its last position and stays lost (these trackers cannot
re-detect a point that comes back).
"""
from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Annotated

import cv2
import numpy as np

from sampt.constraints import Choices, Range
from sampt.hookspecs import hookimpl
from sampt.interfaces import Tracker, TrackerCapabilities
from sampt.types import Tracks, Video

log = logging.getLogger(__name__)

class SweepTracker(Tracker):
    """Base of frame-to-frame trackers: subclasses say how points move from one frame to the next."""

    capabilities = TrackerCapabilities(online=False, any_query_frame=True, bidirectional=True, has_visibility=True)

    def __init__(self, fb_threshold: Annotated[float, Range(0, None, low_open=True)] = 1.0):
        self.fb_threshold = fb_threshold

    @abstractmethod
    def _advance(self, frame_a: np.ndarray, frame_b: np.ndarray, points: np.ndarray,
                 cache: dict) -> tuple[np.ndarray, np.ndarray]:
        """Move ``points`` ``(N, 2)`` from gray ``frame_a`` to ``frame_b``; return new points and a bool
        ``(N,)`` saying which passed the forward-backward check."""

    def _track(self, video: Video, queries: np.ndarray) -> Tracks:
        T, H, W = len(video), video.height, video.width
        N = len(queries)
        points = np.zeros((T, N, 2), np.float32)
        visible = np.zeros((T, N), bool)
        start = queries[:, 0].astype(int)
        gray_cache: dict[int, np.ndarray] = {}

        def gray(t: int) -> np.ndarray:  # two frames at a time: memory does not grow with the video
            if t not in gray_cache:
                if len(gray_cache) >= 2:
                    gray_cache.pop(next(iter(gray_cache)))
                gray_cache[t] = cv2.cvtColor(video[t], cv2.COLOR_RGB2GRAY)
            return gray_cache[t]

        for direction in (1, -1):
            current = np.full((N, 2), np.nan, np.float32)
            alive = np.zeros(N, bool)
            frames = range(T) if direction == 1 else range(T - 1, -1, -1)
            cache: dict = {}
            previous = None
            for t in frames:
                if previous is not None:
                    idx = np.flatnonzero(alive)
                    if len(idx):
                        moved, ok = self._advance(gray(previous), gray(t), current[idx], cache)
                        inside = (moved[:, 0] >= 0) & (moved[:, 0] <= W - 1) & (moved[:, 1] >= 0) & (moved[:, 1] <= H - 1)
                        ok &= inside & np.all(np.isfinite(moved), axis=1)
                        current[idx[ok]] = moved[ok]
                        alive[idx[~ok]] = False
                starting = start == t
                current[starting] = queries[starting, 1:]
                alive[starting] = True
                # this sweep owns frames at and after (forward) / before (backward) each query's frame
                owned = (start <= t) if direction == 1 else (start > t)
                points[t, owned] = current[owned]
                visible[t, owned] = alive[owned]
                previous = t
        # backward frames of points lost before reaching them keep NaN positions: use the query position
        missing = ~np.isfinite(points).all(axis=2)
        if missing.any():
            points[missing] = np.broadcast_to(queries[:, 1:], (T, N, 2))[missing]
        return Tracks(points, visible)

class LucasKanadeTracker(SweepTracker):
    """Pyramidal Lucas-Kanade (``cv2.calcOpticalFlowPyrLK``) with a forward-backward check."""

    def __init__(self, window_size: Annotated[int, Range(3, None)] = 15,
                 pyramid_levels: Annotated[int, Range(0, 10)] = 3,
                 fb_threshold: Annotated[float, Range(0, None, low_open=True)] = 1.0,
                 max_iterations: Annotated[int, Range(1, None)] = 30):
        super().__init__(fb_threshold)
        self.window_size, self.pyramid_levels, self.max_iterations = window_size, pyramid_levels, max_iterations

    def _advance(self, frame_a, frame_b, points, cache):
        params = dict(winSize=(self.window_size, self.window_size), maxLevel=self.pyramid_levels,
                      criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, self.max_iterations, 0.01))
        p0 = points.reshape(-1, 1, 2).astype(np.float32)
        p1, st1, _ = cv2.calcOpticalFlowPyrLK(frame_a, frame_b, p0, None, **params)
        p0_back, st2, _ = cv2.calcOpticalFlowPyrLK(frame_b, frame_a, p1, None, **params)
        fb_error = np.linalg.norm(p0_back.reshape(-1, 2) - points, axis=1)
        ok = (st1.reshape(-1) == 1) & (st2.reshape(-1) == 1) & (fb_error <= self.fb_threshold)
        return p1.reshape(-1, 2), ok

def _sample_flow(flow: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinearly sample an ``(H, W, 2)`` flow field at ``(N, 2)`` points."""
    map_x = points[:, 0].reshape(1, -1).astype(np.float32)
    map_y = points[:, 1].reshape(1, -1).astype(np.float32)
    return cv2.remap(flow, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 2)


DIS_MIN_SIDE = 16


def _padded(gray: np.ndarray) -> np.ndarray:
    """Extend a small frame to at least ``DIS_MIN_SIDE`` pixels on each side (edge pixels repeated, at the
    bottom and right so point coordinates are unchanged)."""
    h, w = gray.shape[:2]
    if h >= DIS_MIN_SIDE and w >= DIS_MIN_SIDE:
        return gray
    return cv2.copyMakeBorder(gray, 0, max(0, DIS_MIN_SIDE - h), 0, max(0, DIS_MIN_SIDE - w), cv2.BORDER_REPLICATE)


class DenseFlowTracker(SweepTracker):
    """Chains dense optical flow (OpenCV DIS) from frame to frame, with a forward-backward occlusion check
    on the flow fields themselves."""

    PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
               "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}

    def __init__(self, preset: Annotated[str, Choices("ultrafast", "fast", "medium")] = "medium",
                 finest_scale: Annotated[int, Range(0, 10)] = 0,
                 fb_threshold: Annotated[float, Range(0, None, low_open=True)] = 1.0):
        super().__init__(fb_threshold)
        self.preset = preset
        self.finest_scale = finest_scale  # 0: flow at full resolution (the presets stop at half or less)

    def _advance(self, frame_a, frame_b, points, cache):
        dis = cache.get("dis")
        if dis is None:
            dis = cache["dis"] = cv2.DISOpticalFlow_create(self.PRESETS[self.preset])
            dis.setFinestScale(self.finest_scale)
        frame_a, frame_b = _padded(frame_a), _padded(frame_b)  # DIS refuses frames under 12 pixels
        forward = dis.calc(frame_a, frame_b, None)
        backward = dis.calc(frame_b, frame_a, None)
        moved = points + _sample_flow(forward, points)
        returned = moved + _sample_flow(backward, moved)
        ok = np.linalg.norm(returned - points, axis=1) <= self.fb_threshold
        return moved.astype(np.float32), ok

@hookimpl
def register_trackers(register):
    register("lk", LucasKanadeTracker, description="pyramidal Lucas-Kanade (OpenCV), forward-backward check; no weights",
             aliases=("lucas_kanade",))
    register("flow", DenseFlowTracker, description="chained DIS dense optical flow (OpenCV), forward-backward occlusion check; no weights",
             aliases=("dis",))
