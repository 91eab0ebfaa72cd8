"""Shared fixtures: small synthetic clips, fake components that record how they are called, and child
processes that stop at handshake points and are always killed."""
from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from sampt.interfaces import ImageEmbedding, Segmenter, Tracker, TrackerCapabilities
from sampt.testhooks import HANDSHAKE_ENV
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
# -- processes a test starts: handshakes instead of timing, and always killed --------------------------------

class Child:
    """A process a test started (in its own process group, output in files), optionally stopping at a
    :mod:`sampt.testhooks` handshake point."""

    def __init__(self, proc: subprocess.Popen, folder: Path, fifo: Optional[Path], announce: Optional[int]):
        self.proc, self.folder, self.fifo, self._announce = proc, folder, fifo, announce

    def wait_for(self, point: str, timeout: float = 300) -> None:
        """Block until the child announces ``point`` (it then waits, blocked, for :meth:`go` or a signal);
        fail at once, with its output, if it exits first."""
        pidfd = os.pidfd_open(self.proc.pid) if hasattr(os, "pidfd_open") else None
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                ready, _, _ = select.select([self._announce] + ([pidfd] if pidfd is not None else []), [], [],
                                            None if pidfd is not None else 0.5)
                if self._announce in ready:
                    line = os.read(self._announce, 4096).decode()
                    assert line.split(" #")[0] == point, line
                    return
                if self.proc.poll() is not None:
                    rc, out, err = self.finish()
                    raise AssertionError(f"the child exited ({rc}) before {point}:\n{out}\n{err}")
            raise AssertionError(f"the child did not reach {point} within {timeout} s")
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def go(self) -> None:
        """Let a child waiting at a handshake point go on."""
        with open(f"{self.fifo}.go", "w"):
            pass

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        """Wait for the exit; return the exit code, stdout and stderr."""
        rc = self.proc.wait(timeout=timeout)
        return rc, (self.folder / "stdout").read_text(), (self.folder / "stderr").read_text()

    def kill(self) -> None:
        """Kill the child and everything it started, then reap it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self._announce is not None:
            os.close(self._announce)
            self._announce = None


@pytest.fixture
def child_process(tmp_path_factory):
    """``start(args, handshake="POINT[#N]", env=...)`` starts a child process; every one is killed, with
    its own children (its process group), when the test ends, passed or failed."""
    children: list[Child] = []

    def start(args: list, handshake: Optional[str] = None, env: Optional[dict] = None, **popen) -> Child:
        folder = tmp_path_factory.mktemp("child")
        env = {**os.environ, **(env or {})}
        fifo = announce = None
        env.pop(HANDSHAKE_ENV, None)
        if handshake:
            fifo = folder / "handshake"
            os.mkfifo(fifo)
            os.mkfifo(f"{fifo}.go")
            announce = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # read+write: never sees EOF, never blocks
            env[HANDSHAKE_ENV] = f"{handshake}@{fifo}"
        with open(folder / "stdout", "w") as out, open(folder / "stderr", "w") as err:
            proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True,
                                    start_new_session=True, **popen)
        children.append(Child(proc, folder, fifo, announce))
        return children[-1]

    yield start
    for child in children:
        child.kill()
