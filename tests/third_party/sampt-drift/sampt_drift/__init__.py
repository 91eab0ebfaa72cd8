"""A toy tracker plugin for sampt: every point moves by ``(dx, dy)`` pixels per frame from its query
frame, both forward and backward, and stays visible while inside the frame."""
import numpy as np

import sampt


class DriftTracker(sampt.Tracker):
    capabilities = sampt.TrackerCapabilities(online=False, any_query_frame=True, bidirectional=True)
    calls = 0

    def __init__(self, dx: float = 1.0, dy: float = 0.0):
        self.dx, self.dy = dx, dy

    def _track(self, video: sampt.Video, queries: np.ndarray) -> sampt.Tracks:
        DriftTracker.calls += 1
        steps = np.arange(len(video))[:, None] - queries[None, :, 0]  # (T, N) frames since the query
        points = queries[None, :, 1:] + steps[..., None] * np.array([self.dx, self.dy], np.float32)
        H, W = video.size
        inside = (points[..., 0] >= 0) & (points[..., 0] <= W - 1) & (points[..., 1] >= 0) & (points[..., 1] <= H - 1)
        return sampt.Tracks(points, inside)


@sampt.hookimpl
def register_trackers(register):
    register("drift", "sampt_drift:DriftTracker", description="points drift at a constant velocity")
