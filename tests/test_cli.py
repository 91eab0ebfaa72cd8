"""The ``sampt`` command line: the demo, ``run`` end to end, and one-line errors for bad input."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from sampt.cli import main
from sampt.data.synthetic import make_clip
from sampt.io import read_label_png, read_video, write_label_png, write_video


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    clip = make_clip(seed=1, num_frames=8, height=72, width=96, num_objects=2)
    write_video(root / "clip.avi", clip.video, fps=8)
    write_label_png(root / "first.png", clip.label_map(0))
    empty = np.zeros((72, 96), np.uint8)
    write_label_png(root / "empty.png", empty)
    write_label_png(root / "small.png", np.ones((10, 10), np.uint8))
    (root / "broken.mp4").write_bytes(b"\x00" * 100)
    return root, clip


def test_demo_runs_offline_and_writes_results(tmp_path, capsys):
    assert main(["demo", "--no-progress", "--frames", "12", "-o", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "mean J" in out and "encoder calls 12" in out
    summary = json.loads((tmp_path / "demo" / "result.json").read_text())
    assert summary["encoder_calls"] == 12 and summary["mean_J"] > 0.5
    assert len(list((tmp_path / "demo" / "masks" / "synthetic_000").glob("*.png"))) == 12
    assert len(read_video(tmp_path / "demo" / "overlay.mp4")) == 12


def test_run_with_a_mask_writes_masks_overlay_and_summary(tmp_path, clip_files):
    root, clip = clip_files
    out = tmp_path / "out"
    code = main(["run", str(root / "clip.avi"), "--mask", str(root / "first.png"), "-o", str(out), "--no-progress",
                 "tracker=flow", "pipeline.refinement_iterations=2"])
    assert code == 0
    labels = np.stack([read_label_png(out / "masks" / "clip" / f"{t:05d}.png") for t in range(8)])
    assert set(np.unique(labels)) == {0, 1, 2}
    truth = np.stack([clip.label_map(t) for t in range(8)])
    assert ((labels == 1) & (truth == 1)).sum() / ((labels == 1) | (truth == 1)).sum() > 0.5
    summary = json.loads((out / "result.json").read_text())
    assert summary["object_ids"] == [1, 2] and summary["config"]["tracker"]["name"] == "flow"
    assert (out / "overlay.mp4").stat().st_size > 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_run_with_clicked_points(tmp_path, clip_files):
    root, clip = clip_files
    ys, xs = np.nonzero(clip.masks[0, 0])
    clicks = ";".join(f"{x},{y}" for x, y in zip(xs[:: max(1, len(xs) // 5)], ys[:: max(1, len(xs) // 5)]))
    assert main(["run", str(root / "clip.avi"), "--points", clicks, "-o", str(tmp_path / "o"), "--no-progress",
                 "--no-overlay"]) == 0
    assert read_label_png(tmp_path / "o" / "masks" / "clip" / "00000.png").max() == 1


@pytest.mark.parametrize("args, message", [
    (["run", "{root}/missing.mp4", "--mask", "{root}/first.png"], "does not exist"),
    (["run", "{root}/broken.mp4", "--mask", "{root}/first.png"], "cannot be decoded"),
    (["run", "{root}/clip.avi", "--mask", "{root}/empty.png"], "empty"),
    (["run", "{root}/clip.avi", "--mask", "{root}/small.png"], "10x10"),
    (["run", "{root}/clip.avi", "--mask", "{root}/nomask.png"], "does not exist"),
    (["run", "{root}/clip.avi", "--points", "500,20"], "outside the 96x72 frame"),
    (["run", "{root}/clip.avi", "--points", "a,b"], "not x,y"),
    (["run", "{root}/clip.avi", "--mask", "{root}/first.png", "tracker=nosuch"], "known trackers"),
    (["run", "{root}/clip.avi", "--mask", "{root}/first.png", "pipeline.nokey=1"], "nokey"),
    (["run", "{root}/clip.avi", "--mask", "{root}/first.png", "--frame", "30"], "outside the video"),
    (["run", "{root}/clip.avi", "--mask", "{root}/first.png", "segmenter.checkpoint=/none.pth"], "checkpoint"),
    (["weights", "fetch", "nosuch"], "unknown checkpoint"),
])
def test_bad_input_is_one_line_error_without_output(tmp_path, clip_files, capsys, args, message):
    root, _ = clip_files
    out = tmp_path / "out"
    argv = [a.format(root=root) for a in args] + (["-o", str(out), "--no-progress"] if args[0] == "run" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("sampt: error:") and "Traceback" not in err
    assert message in err
    assert not out.exists()


def test_console_script_reports_errors_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sampt.cli", "run", str(tmp_path / "nope.mp4"), "--mask", "m.png",
                           "-o", str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "does not exist" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, here or elsewhere


def test_run_after_the_demo_writes_its_own_default_folder(tmp_path, monkeypatch):
    from sampt.testing import write_clip_inputs

    frames, mask, _ = write_clip_inputs(tmp_path / "in", seed=2, num_frames=3, height=32, width=40)
    monkeypatch.chdir(tmp_path)  # the defaults are relative to the working directory
    fast = ["--no-progress", "--overlay", "none", "pipeline.refinement_iterations=0", "segmenter.iterations=1"]
    assert main(["demo", "--frames", "2", *fast]) == 0
    assert main(["run", str(frames), "--mask", str(mask), *fast]) == 0  # did not collide with the demo's folder
    assert (tmp_path / "sampt-output" / "demo" / "result.json").is_file()
    assert (tmp_path / "sampt-output" / "run" / frames.name / "result.json").is_file()


@pytest.mark.parametrize("video, camera, expected", [("clips/bear.mp4", None, "bear"), (None, "0", "camera0"),
                                                     (None, "rtsp://cam:554/live", "camera_rtsp_cam_554_live")])
def test_default_run_output_is_named_after_the_input(video, camera, expected):
    from pathlib import Path

    from sampt.commands import default_run_output

    assert default_run_output(video, camera) == Path("sampt-output", "run", expected)


def test_config_command_prints_the_composition(capsys):
    assert main(["config", "tracker=flow", "pipeline.positive_points=4"]) == 0
    out = capsys.readouterr().out
    assert "name: flow" in out and "positive_points: 4" in out
