"""``sampt run --stream`` and ``sampt run --camera``: files written as frames finish, the same masks as an
offline run, a fake camera at a fixed frame rate, a live window where a display exists, and interruptions
(Ctrl-C, SIGTERM) that keep the frames finished so far."""
from __future__ import annotations

import json
import signal
import sys
import textwrap

import numpy as np
import pytest

from sampt.cli import Interrupted, main
from sampt.data.synthetic import make_clip
from sampt.io import read_label_png, read_video, write_label_png, write_video
from sampt.pipeline import streaming
from sampt.testing import FakeCamera

FAST = ["--no-progress", "tracker=lk", "segmenter=grabcut", "pipeline.refinement_iterations=1",
        "pipeline.positive_points=6", "pipeline.stream_chunk_length=4", "pipeline.stream_chunk_overlap=1"]


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream")
    clip = make_clip(seed=1, num_frames=8, height=48, width=64, num_objects=2)
    write_video(root / "clip.avi", clip.video, fps=8)
    write_label_png(root / "first.png", clip.label_map(0))
    return root, clip


def _labels(folder, count):
    return np.stack([read_label_png(folder / f"{t:05d}.png") for t in range(count)])


def _no_leftovers(folder):
    assert not [p for p in folder.parent.iterdir() if ".sampt-" in p.name]


def _camera(monkeypatch, clip, fps=200.0, num_frames=12, interrupt_after=None, signum=signal.SIGTERM):
    """A fake camera behind ``--camera`` (the returned ``run(argv)`` passes it to ``main``): frames at ``fps``; with ``interrupt_after`` the signal
    ``signum`` arrives (as sampt.cli turns it into an exception) when that many frames were delivered."""
    camera = FakeCamera(clip.video.frames, fps=fps, num_frames=num_frames)
    opened = []

    def frames(target):
        opened.append(target)
        for frame in camera:
            if interrupt_after is not None and camera.delivered > interrupt_after:
                raise KeyboardInterrupt() if signum == signal.SIGINT else Interrupted(signum)
            yield frame

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return camera, opened, lambda argv: main(argv, open_camera=frames)  # the camera passed in, as a parameter


def test_stream_writes_the_same_masks_as_an_offline_run(tmp_path, clip_files, capsys):
    root, clip = clip_files
    common = [str(root / "clip.avi"), "--mask", str(root / "first.png"), *FAST]
    assert main(["run", *common, "-o", str(tmp_path / "offline")]) == 0
    assert main(["run", *common, "--stream", "-o", str(tmp_path / "streamed")]) == 0
    out = capsys.readouterr().out
    assert "streamed 2 object(s) over 8 frames" in out and "latency up to 3 frame(s) (declared 3)" in out
    np.testing.assert_array_equal(_labels(tmp_path / "streamed" / "masks" / "clip", 8),
                                  _labels(tmp_path / "offline" / "masks" / "clip", 8))
    summary = json.loads((tmp_path / "streamed" / "result.json").read_text())
    assert summary["num_frames"] == 8 and summary["stream"]["stopped"] is None
    assert summary["stream"]["latency_frames_max"] == 3 == summary["stream"]["latency_frames_declared"]
    assert summary["input"]["frame_names"][:2] == ["00000", "00001"] and len(summary["per_frame"]["area"]) == 8
    assert len(read_video(tmp_path / "streamed" / "overlay.mp4")) == 8
    _no_leftovers(tmp_path / "streamed")


def test_camera_without_a_display_streams_into_files(tmp_path, clip_files, monkeypatch, capsys):
    root, clip = clip_files
    camera, opened, run = _camera(monkeypatch, clip, fps=100.0, num_frames=12)
    shown = []
    monkeypatch.setattr("cv2.imshow", lambda *a: shown.append(a))
    assert run(["run", "--camera", "0", "--mask", str(root / "first.png"), "-o", str(tmp_path / "live"), *FAST]) == 0
    assert opened == [0] and camera.delivered == 12 and not shown  # no DISPLAY: no window
    labels = _labels(tmp_path / "live" / "masks" / "camera0", 12)
    assert (labels[0] == clip.label_map(0)).mean() > 0.9 and set(np.unique(labels[5])) >= {1, 2}
    summary = json.loads((tmp_path / "live" / "result.json").read_text())
    assert summary["input"]["camera"] == "0" and summary["num_frames"] == 12
    assert summary["stream"]["latency_frames_max"] == 3
    assert len(read_video(tmp_path / "live" / "overlay.mp4")) == 12


def test_sigterm_on_an_endless_camera_keeps_what_was_emitted(tmp_path, clip_files, monkeypatch, capsys):
    root, clip = clip_files
    _, _, run = _camera(monkeypatch, clip, num_frames=10**6, interrupt_after=9)
    out = tmp_path / "live"
    assert run(["run", "--camera", "0", "--mask", str(root / "first.png"), "-o", str(out), *FAST]) == 0
    assert "stopped (SIGTERM) after" in capsys.readouterr().err
    summary = json.loads((out / "result.json").read_text())
    n = summary["num_frames"]
    assert summary["stream"]["stopped"] == "SIGTERM" and 0 < n <= 9
    assert sorted(p.name for p in (out / "masks" / "camera0").iterdir()) == [f"{t:05d}.png" for t in range(n)]
    assert len(read_video(out / "overlay.mp4")) == n  # the overlay was closed properly, with those frames
    _no_leftovers(out)


def test_ctrl_c_on_a_streamed_video_keeps_the_finished_frames_and_exits_130(tmp_path, clip_files, monkeypatch):
    root, clip = clip_files
    real = streaming.segment_frame
    calls = []

    def segment_frame(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while frame 2 is being segmented
        return real(*args, **kwargs)

    monkeypatch.setattr(streaming, "segment_frame", segment_frame)
    out = tmp_path / "o"
    assert main(["run", str(root / "clip.avi"), "--stream", "--mask", str(root / "first.png"), "-o", str(out),
                 *FAST]) == 130
    summary = json.loads((out / "result.json").read_text())
    assert summary["stream"]["stopped"] == "SIGINT" and summary["num_frames"] == 2
    assert len(list((out / "masks" / "clip").iterdir())) == 2


def test_an_interruption_before_any_frame_discards_the_run(tmp_path, clip_files, monkeypatch, capsys):
    root, clip = clip_files
    _, _, run = _camera(monkeypatch, clip, num_frames=10**6, interrupt_after=1, signum=signal.SIGINT)
    out = tmp_path / "live"
    assert run(["run", "--camera", "0", "--mask", str(root / "first.png"), "-o", str(out), *FAST]) == 130
    assert "discarded" in capsys.readouterr().err and not out.exists()
    _no_leftovers(out)


def test_live_window_where_a_display_exists_and_q_stops(tmp_path, clip_files, monkeypatch):
    root, clip = clip_files
    import cv2

    camera, _, run = _camera(monkeypatch, clip, num_frames=10**6)
    monkeypatch.setenv("DISPLAY", ":99")
    shown = []
    monkeypatch.setattr(cv2, "imshow", lambda title, image: shown.append(image.shape))
    monkeypatch.setattr(cv2, "waitKey", lambda delay: ord("q") if len(shown) == 5 else -1)
    monkeypatch.setattr(cv2, "getWindowProperty", lambda *a: 1.0)
    monkeypatch.setattr(cv2, "destroyWindow", lambda *a: None)
    out = tmp_path / "live"
    assert run(["run", "--camera", "0", "--mask", str(root / "first.png"), "-o", str(out), *FAST]) == 0
    assert shown == [(48, 64, 3)] * 5
    summary = json.loads((out / "result.json").read_text())
    assert summary["stream"]["stopped"] == "window closed" and summary["num_frames"] == 5


def test_a_display_that_cannot_open_a_window_falls_back_to_files(tmp_path, clip_files, monkeypatch, capsys):
    root, clip = clip_files
    import cv2

    _, _, run = _camera(monkeypatch, clip, num_frames=6)
    monkeypatch.setenv("DISPLAY", ":99")

    def imshow(*args):
        raise cv2.error("The function is not implemented (headless build)")

    monkeypatch.setattr(cv2, "imshow", imshow)
    assert run(["run", "--camera", "0", "--mask", str(root / "first.png"), "-o", str(tmp_path / "o"), *FAST]) == 0
    assert "no live window" in capsys.readouterr().err
    assert len(list((tmp_path / "o" / "masks" / "camera0").iterdir())) == 6


def test_camera_prompts_are_on_frames_of_the_stream(tmp_path, clip_files, monkeypatch, capsys):
    root, clip = clip_files
    _, _, run = _camera(monkeypatch, clip, num_frames=8)
    ys, xs = np.nonzero(clip.masks[3, 0])
    clicks = ";".join(f"{x},{y}" for x, y in list(zip(xs, ys))[:: max(1, len(xs) // 4)])
    out = tmp_path / "clicked"
    assert run(["run", "--camera", "0", "--points", f"frame=3:{clicks}", "-o", str(out), *FAST]) == 0
    summary = json.loads((out / "result.json").read_text())
    assert summary["objects"][0]["prompt"]["frame"] == 3 and summary["stream"]["latency_frames_max"] >= 3
    assert (_labels(out / "masks" / "camera0", 8)[3] == 1).any()
    # a prompt beyond the end of the stream, a bad camera, both or neither input: one-line errors, exit 2
    capsys.readouterr()
    assert run(["run", "--camera", "0", "--points", f"frame=20:{clicks}", "-o", str(tmp_path / "x"), *FAST]) == 2
    assert "frame 20" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["run", "--camera", "99", "--points", clicks, "-o", str(tmp_path / "x"), *FAST]) == 2
    assert "camera 99 cannot be opened" in capsys.readouterr().err
    assert main(["run", "--points", clicks, "-o", str(tmp_path / "x"), *FAST]) == 2
    assert "--camera" in capsys.readouterr().err
    assert main(["run", str(root / "clip.avi"), "--camera", "0", "--points", clicks, "-o", str(tmp_path / "x")]) == 2
    assert "not both" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


RUNNER = textwrap.dedent("""
    import sys
    import numpy as np
    from sampt.cli import main
    from sampt.data.synthetic import make_clip
    from sampt.testing import FakeCamera

    clip = make_clip(seed=1, num_frames=8, height=48, width=64, num_objects=2)
    camera = lambda target: iter(FakeCamera(clip.video.frames, fps=30.0, num_frames=10**6))
    sys.exit(main(sys.argv[1:], open_camera=camera))
""")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_real_signal_stops_an_endless_camera_cleanly(tmp_path, clip_files, child_process, signum):
    root, _ = clip_files
    out = tmp_path / "live"
    # the child stops, blocked, once its 4th frame is written whole: the signal comes exactly then
    child = child_process([sys.executable, "-c", RUNNER, "run", "--camera", "0", "--mask", str(root / "first.png"),
                           "-o", str(out), *FAST], handshake="stream-frame#4", env={"DISPLAY": ""})
    child.wait_for("stream-frame")
    child.proc.send_signal(signum)
    rc, _, err = child.finish(timeout=120)
    assert rc == 0, err
    summary = json.loads((out / "result.json").read_text())
    n = summary["num_frames"]
    assert summary["stream"]["stopped"] == signal.Signals(signum).name and n == 4
    assert sorted(p.name for p in (out / "masks" / "camera0").iterdir()) == [f"{t:05d}.png" for t in range(n)]
    assert len(read_video(out / "overlay.mp4")) == n
    _no_leftovers(out)
