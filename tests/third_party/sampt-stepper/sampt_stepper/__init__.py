"""A toy tracker plugin written for sampt plugin API 1: it overrides ``Tracker.track`` (the interface then),
moving every point one pixel right per frame after its query frame."""
import numpy as np

import sampt

SAMPT_PLUGIN_API = "1.0"


class StepTracker(sampt.Tracker):
    capabilities = sampt.TrackerCapabilities(any_query_frame=True, bidirectional=False)
    calls = 0

    def track(self, video: sampt.Video, queries: np.ndarray) -> sampt.Tracks:
        StepTracker.calls += 1
        steps = np.maximum(np.arange(len(video))[:, None] - queries[None, :, 0], 0)  # (T, N)
        points = queries[None, :, 1:] + steps[..., None] * np.array([1.0, 0.0], np.float32)
        return sampt.Tracks(points.astype(np.float32), np.ones(points.shape[:2], bool))


@sampt.hookimpl
def register_trackers(register):
    register("stepper", "sampt_stepper:StepTracker", description="points step one pixel right a frame")
