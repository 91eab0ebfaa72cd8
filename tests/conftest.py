"""Shared fixtures: small synthetic clips and fake components that record how they are called."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.interfaces import ImageEmbedding, Segmenter, Tracker, TrackerCapabilities
from sampt.types import PointTransform, Prediction, Tracks


class RecordingSegmenter(Segmenter):
    """Answers every prompt with a disc around the mean of its positive points and records each call.

    ``iou`` is the predicted IoU it reports; ``radius`` the disc radius (0: a single-pixel mask); ``scale``
    the ``(x, y)`` factors of the coordinate map it reports (as SAM's resize would, e.g. 1024/96, 683/64).
    """

    def __init__(self, iou: float = 0.9, radius: int = 4, scale: tuple[float, float] = (1.0, 1.0)):
        super().__init__()
        self.iou, self.radius, self.scale = iou, radius, scale
        self.calls: list[list] = []  # one entry per decode call: the list of prompts
        self.encoded: list[int] = []

    def _encode(self, image):
        self.encoded.append(int(image.sum()))
        return ImageEmbedding(None, image.shape[:2])

    def coordinate_transform(self, size):
        return PointTransform(*self.scale)

    def decode(self, embedding, prompts):
        self.calls.append(list(prompts))
        H, W = embedding.size
        out = []
        for p in prompts:
            pos = p.points[p.labels == 1]
            cx, cy = pos.mean(axis=0) if len(pos) else (W / 2, H / 2)
            yy, xx = np.mgrid[:H, :W]
            if self.radius:
                mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= self.radius ** 2
            else:
                mask = (xx == int(round(cx))) & (yy == int(round(cy)))
            logits = np.where(mask, 1.0, -1.0).astype(np.float32)
            low = np.full((256, 256), float(len(self.calls)), np.float32)  # identifies the call that made it
            out.append(Prediction(logits, low, self.iou))
        return out


class FixedTracker(Tracker):
    """Returns the tracks it was given (for the queries in the order given)."""

    capabilities = TrackerCapabilities()

    def __init__(self, tracks: Tracks):
        self.tracks = tracks
        self.calls = []

    def _track(self, video, queries):
        self.calls.append(np.asarray(queries).copy())
        return self.tracks


@pytest.fixture
def recording_segmenter():
    return RecordingSegmenter


@pytest.fixture
def fixed_tracker():
    return FixedTracker


@pytest.fixture(scope="session")
def small_clip():
    from sampt.data.synthetic import make_clip

    return make_clip(seed=3, num_frames=10, height=72, width=96, num_objects=2)


@pytest.fixture(scope="session", autouse=True)
def no_sampt_folder_left_behind(tmp_path_factory):
    """The suite's temporaries go to a folder of its own (``TMPDIR``, inherited by child processes, short
    enough for Ray's socket paths); at the end, once what exit would remove is gone (collected sessions,
    :mod:`sampt.outputs`' private folders), it must hold no ``sampt-*`` folder: closed sessions, finished
    benchmarks and killed runs cleaned up after must not leave one behind."""
    import gc
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from sampt import outputs

    tmp_path_factory.getbasetemp()  # pytest's own tmp_path folders stay where they were
    root = Path(tempfile.mkdtemp(prefix="pytest-tmp-"))
    saved = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = str(root), str(root)
    try:
        yield root
        gc.collect()
        outputs.remove_all_private()
        left = sorted(p.name for p in root.iterdir() if p.name.startswith("sampt-"))
        assert not left, f"the test suite left {left} in its temporary folder {root}"
    finally:
        if saved[0] is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved[0]
        tempfile.tempdir = saved[1]
        shutil.rmtree(root, ignore_errors=True)
