"""Reliability, per fault class: atomic outputs (interruptions by real signals included), one-line errors
with exit code 2 at the CLI boundary, validation before any output, option ranges for every component,
input reading (frame order, masks, tiny and truncated videos, long videos on disk), the Python API's
errors, and a seeded fuzz test over masks, point strings and config overrides."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
from PIL import Image

import sampt
from sampt.cli import main
from sampt.constraints import Choices, Range
from sampt.errors import ConfigError, InputError, OutputError, UsageError
from sampt.io import (CachedVideo, VideoReader, davis_palette, natural_key, read_label_png, read_video,
                      write_frames, write_label_png, write_video)
from sampt.outputs import OLD_MARK, TMP_MARK, OutputDir, atomic_file, clean_stale
from sampt.testing import write_clip_inputs

FAST = ["tracker=lk", "segmenter=grabcut", "pipeline=fast", "pipeline.refinement_iterations=0",
        "segmenter.iterations=1", "pipeline.positive_points=4"]


def snapshot(folder: Path) -> dict:
    """Every file under ``folder`` (hidden ones too) with its content hash."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def one_error_line(err: str, word: str = "error") -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and word in lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    frames, mask, clip = write_clip_inputs(root, seed=3, num_frames=5, height=32, width=40)
    return root, frames, mask, clip


@pytest.fixture(scope="module")
def previous(inputs, tmp_path_factory):
    """A finished run's output folder, copied fresh by tests that check it is left untouched."""
    root, frames, mask, _ = inputs
    out = tmp_path_factory.mktemp("prev") / "out"
    assert main(["run", str(frames), "--mask", str(mask), "-o", str(out), "--no-progress", *FAST]) == 0
    return out


def copy_tree(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


# -- the atomic-output mechanism -------------------------------------------------------------------------

def test_output_dir_is_swapped_in_whole_or_not_at_all(tmp_path):
    final = tmp_path / "out"
    with OutputDir(final) as staged:
        (staged / "a.txt").write_text("old")
    before = snapshot(final)
    with pytest.raises(RuntimeError):
        with OutputDir(final) as staged:
            (staged / "a.txt").write_text("new")
            (staged / "b.txt").write_text("new")
            raise RuntimeError("the run failed")
    assert snapshot(final) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporaries left
    with OutputDir(final) as staged:
        (staged / "b.txt").write_text("new")
    assert snapshot(final).keys() == {"b.txt"}  # the previous result is replaced whole, not merged


def test_failed_unit_removes_the_parents_it_created(tmp_path):
    unit = OutputDir(tmp_path / "a" / "b" / "out")
    (unit.path / "x").write_text("x")
    unit.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_outputs_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with OutputDir(tmp_path / "out") as staged:
            (staged / "masks").mkdir()
            write_label_png(staged / "masks" / "0.png", np.zeros((2, 2), np.uint8))
        with atomic_file(tmp_path / "f.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (tmp_path / "out" / "masks").stat().st_mode & 0o777 == 0o777 & ~umask
    assert (tmp_path / "out" / "masks" / "0.png").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_of_dead_runs_are_cleaned_and_live_ones_kept(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    (tmp_path / f".out{TMP_MARK}{dead}-abcd").mkdir()
    (tmp_path / f".result{TMP_MARK}{dead}-abcd.json").write_text("{")
    (tmp_path / f".out{TMP_MARK}{alive}-abcd").mkdir()
    (tmp_path / f".gone{OLD_MARK}{dead}-abcd").mkdir()  # a kill between the two renames of a swap
    (tmp_path / f".gone{OLD_MARK}{dead}-abcd" / "result.json").write_text("{}")
    (tmp_path / "unrelated.txt").write_text("keep")
    clean_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".out{TMP_MARK}{alive}-abcd", "gone", "unrelated.txt"])
    assert (tmp_path / "gone" / "result.json").read_text() == "{}"  # the previous result is restored


def test_a_folder_that_is_not_a_sampt_result_is_not_replaced(inputs, tmp_path):
    _, frames, mask, _ = inputs
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(OutputError, match="not a sampt result"):
        from sampt.results import RunOutput

        RunOutput(out)
    assert (out / "thesis.tex").read_text() == "precious"


# -- interruptions by real signals to a real process --------------------------------------------------------

def _start_run(child_process, frames: Path, mask: Path, out: Path):
    """A real ``sampt run`` process that stops, blocked, once its second frame's mask is in the staging
    folder (:mod:`sampt.testhooks`): the interruption lands mid-run however fast or loaded the machine is."""
    cmd = [sys.executable, "-m", "sampt.cli", "run", str(frames), "--mask", str(mask), "-o", str(out),
           "--no-progress", *FAST]
    child = child_process(cmd, handshake="mask-written#2")
    child.wait_for("mask-written")
    assert [p for p in out.parent.iterdir() if TMP_MARK in p.name and (p / "masks").is_dir()]
    return child


@pytest.fixture(scope="module")
def long_inputs(tmp_path_factory):
    """Other inputs than ``previous``'s, so a result that replaced it would show."""
    root = tmp_path_factory.mktemp("long")
    frames, mask, _ = write_clip_inputs(root, seed=4, num_frames=6, height=48, width=64)
    return frames, mask


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 128 + signal.SIGINT)])
def test_a_signalled_run_keeps_the_previous_result_whole(long_inputs, previous, tmp_path, child_process, sig, code):
    frames, mask = long_inputs
    out = copy_tree(previous, tmp_path / "out")
    before = snapshot(out)
    child = _start_run(child_process, frames, mask, out)
    child.proc.send_signal(sig)
    rc, _, err = child.finish(timeout=120)
    assert rc == code, err
    one_error_line(err, "interrupted")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_killed_run_leaves_a_temporary_that_the_next_run_removes(long_inputs, inputs, previous, tmp_path,
                                                                   child_process):
    frames, mask = long_inputs
    out = copy_tree(previous, tmp_path / "out")
    before = snapshot(out)
    child = _start_run(child_process, frames, mask, out)
    child.kill()  # SIGKILL: no chance to clean up
    assert snapshot(out) == before
    assert any(TMP_MARK in p.name for p in tmp_path.iterdir())
    _, small_frames, small_mask, _ = inputs
    assert main(["run", str(small_frames), "--mask", str(small_mask), "-o", str(out), "--no-progress", *FAST]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert {"result.json", "masks", "overlay.mp4"} <= {p.name for p in out.iterdir()}


# -- one CLI boundary: one line, exit 2, nothing written ---------------------------------------------------

def bad_cli_cases(root: Path, frames: Path, mask: Path) -> list[list[str]]:
    afile = root / "afile"
    return [
        ["run", str(frames), "--mask", str(mask), "-o", str(afile)],                    # output is a file
        ["run", str(frames), "--mask", str(mask), "-o", str(afile / "sub")],            # its parent is a file
        ["run", str(frames), "--points", "nan,20"],
        ["run", str(frames), "--points", "5,5,7"],
        ["run", str(frames), "--points", "1e9,3"],
        ["run", str(frames), "--mask", str(mask), "pipeline.positive_points=[1,"],
        ["run", str(frames), "--mask", str(mask), "pipeline.positive_points=${nope}"],
        ["run", str(frames), "--mask", str(mask), "tracker.window_size=-1"],
        ["run", str(frames), "--mask", str(mask), "tracker.pyramid_levels=-4"],
        ["run", str(frames), "--mask", str(mask), "tracker=flow", "tracker.preset=bogus"],
        ["run", str(frames), "--mask", str(mask), "pipeline.iou_threshold=1.5"],
        ["run", str(frames), "--mask", str(mask), "tracker=nope"],
        ["run", str(frames), "--mask", str(mask), "--max-frames", "0"],
        ["run", str(frames), "--mask", str(mask), "--max-side", "-5"],
        ["run", str(frames), "--mask", str(mask), "--frame", "99"],
        ["run", str(frames), "--mask", str(root / "nope.png")],
        ["run", str(frames), "--mask", str(afile)],                                     # not an image
        ["run", str(root / "nope.mp4"), "--mask", str(mask)],
        ["run", str(root / "broken.mp4"), "--mask", str(mask)],
        ["demo", "--frames", "0"],
        ["demo", "--seed", "-1"],
        ["score", str(root), str(root), "--csv-dir", str(afile)],
        ["eval", str(root / "nope"), "-o", str(afile)],
        ["bench", "--trackers", "nope"],
        ["config", "a=[1,"],
        ["weights", "fetch", "nope"],
    ]


def test_every_bad_input_is_one_line_exit_2_and_writes_nothing(inputs, tmp_path, capsys, monkeypatch):
    root, frames, mask, _ = inputs
    (root / "afile").write_text("not a folder")
    (root / "broken.mp4").write_bytes(b"\x00" * 64)
    monkeypatch.chdir(tmp_path)  # default output folders would land here
    for case in bad_cli_cases(root, frames, mask):
        argv = [*case, *([] if case[0] in ("config", "weights", "score", "eval") else ["--no-progress"])]
        if case[0] in ("run", "demo") and "-o" not in case:
            argv += ["-o", str(tmp_path / "out")]
        before = snapshot(root)
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (case, err)
        one_error_line(err)
        assert snapshot(root) == before, case
        assert list(tmp_path.iterdir()) == [], case


def test_eval_with_a_bad_option_writes_nothing_and_a_corrected_rerun_works(tmp_path, capsys):
    from sampt.data.synthetic import make_clip, write_davis

    davis = write_davis(tmp_path / "davis", [make_clip(seed=0, num_frames=4, height=32, width=40, name="s1")])
    out = tmp_path / "res"
    assert main(["eval", str(davis), *FAST, "tracker.window_size=-1", "-o", str(out), "--no-progress"]) == 2
    one_error_line(capsys.readouterr().err)
    assert not out.exists()
    assert main(["eval", str(davis), *FAST, "-o", str(out), "--no-progress", "--no-score"]) == 0
    assert not [p for p in out.rglob("*") if TMP_MARK in p.name]


def test_unexpected_errors_keep_their_traceback_and_debug_shows_all(monkeypatch, capsys):
    import sampt.commands

    with pytest.raises(UsageError):  # --debug: the expected error with its traceback
        main(["--debug", "config", "a=[1,"])

    def boom(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(sampt.commands, "cmd_config", boom)  # looked up when the parser is built
    with pytest.raises(RuntimeError, match="a bug"):  # a bug is not turned into a one-line message
        main(["config"])


def test_broken_pipe_is_not_a_traceback():
    proc = subprocess.run(f"{sys.executable} -m sampt.cli plugins | head -c 1 >/dev/null", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr, proc.stderr


def test_weights_fetch_honours_offline(monkeypatch, capsys):
    from sampt.plugins import Registry

    names = sorted(Registry().weights)
    if not names:
        pytest.skip("no plugin registers checkpoints")  # the model plugins are installed in CI
    monkeypatch.setenv("SAMPT_OFFLINE", "1")
    monkeypatch.setenv("SAMPT_CACHE_DIR", "/nonexistent-sampt-cache")
    assert main(["weights", "fetch", names[0], "--no-progress"]) == 2
    assert "SAMPT_OFFLINE" in one_error_line(capsys.readouterr().err)


def test_checkpoint_errors_never_advise_unpickling(tmp_path):
    torch = pytest.importorskip("torch")
    from sampt.weights import WeightsError, checkpoint_state_dict

    path = tmp_path / "pickled.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "obj": _Pickled()}, path)
    with pytest.raises(WeightsError) as info:
        checkpoint_state_dict(path)
    assert "weights_only" not in str(info.value) and "\n" not in str(info.value)
    assert "tensors only" in str(info.value)


class _Pickled:
    pass


# -- option ranges, declared beside the option, for every component ---------------------------------------

class _ThirdPartyTracker(sampt.Tracker):
    def __init__(self, stride: Annotated[int, Range(1, 8)] = 4,
                 mode: Annotated[str, Choices("fast", "exact")] = "fast", alpha: float = 0.5):
        if alpha > 10:
            raise ValueError(f"alpha={alpha} is too large for stride {stride}")
        self.stride, self.mode = stride, mode

    def _track(self, video, queries):  # pragma: no cover - never run here
        raise NotImplementedError


class _ThirdPartyPlugin:
    @sampt.hookimpl
    def register_trackers(self, register):
        register("third", _ThirdPartyTracker)


def test_third_party_option_ranges_are_checked_by_the_registry_and_config():
    from sampt.config import compose
    from sampt.plugins import Registry, plugin_manager

    registry = Registry(plugin_manager([_ThirdPartyPlugin()]))
    assert registry.create("tracker", "third", stride=8, mode="exact").stride == 8
    with pytest.raises(ConfigError, match=r"stride=0 is out of range: it must be in \[1, 8\]"):
        registry.create("tracker", "third", stride=0)
    with pytest.raises(ConfigError, match="one of fast, exact"):
        registry.create("tracker", "third", mode="slow")
    with pytest.raises(ConfigError, match="tracker.stride=9"):
        compose(["tracker=third", "tracker.stride=9"], registry=registry)
    assert compose(["tracker=third", "tracker.alpha=-3"], registry=registry).tracker.alpha == -3  # undeclared
    with pytest.raises(ConfigError, match="tracker 'third': alpha=11"):  # the constructor's own check
        registry.create("tracker", "third", alpha=11)


@pytest.mark.parametrize("override", [
    "pipeline.iou_threshold=1.5", "pipeline.iou_threshold=-0.1", "pipeline.border_margin=0.5",
    "pipeline.positive_points=0", "pipeline.negative_points=-1", "pipeline.max_other_negatives=-2",
    "tracker.window_size=1", "tracker.fb_threshold=0", "tracker.max_iterations=0",
    "segmenter.iterations=0", "segmenter.margin=-1", "positive_sampler.subsample_size=0",
    "seed=-1", "seed=99999999999999999999",
])
def test_builtin_option_ranges(override):
    from sampt.config import compose

    with pytest.raises(ConfigError):
        compose([override])


def test_pipeline_options_check_ranges_on_creation():
    from sampt.pipeline.options import SamPtOptions

    with pytest.raises(ValueError, match="iou_threshold"):
        SamPtOptions(iou_threshold=2.0)
    assert SamPtOptions(iou_threshold=1.0).iou_threshold == 1.0


# -- input reading ----------------------------------------------------------------------------------------

def test_frame_folders_are_read_in_natural_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (0, 1, 2, 10, 11):
        Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(folder / f"{i}.png")
    video = read_video(folder)
    assert [int(f[0, 0, 0]) for f in video] == [0, 1, 2, 10, 11]
    assert sorted(["f10", "F2", "f1"], key=natural_key) == ["f1", "F2", "f10"]


def test_masks_give_one_object_per_value_or_colour_and_ignore_void(tmp_path):
    grey = np.zeros((6, 6), np.uint8)
    grey[0, :2], grey[1, :2], grey[2, :2] = 1, 2, 255
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    assert set(np.unique(read_label_png(tmp_path / "grey.png"))) == {0, 1, 2}  # 255 is void

    binary = np.where(grey > 0, 255, 0).astype(np.uint8)
    Image.fromarray(binary, "L").save(tmp_path / "binary.png")
    assert set(np.unique(read_label_png(tmp_path / "binary.png"))) == {0, 1}

    sixteen = np.zeros((6, 6), np.uint16)
    sixteen[0, 0], sixteen[1, 1], sixteen[2, 2] = 1000, 40000, 65535
    Image.fromarray(sixteen).save(tmp_path / "16.png")
    labels = read_label_png(tmp_path / "16.png")
    assert labels[0, 0] == 1 and labels[1, 1] == 2 and labels[2, 2] == 3

    rgb = np.zeros((6, 6, 3), np.uint8)
    rgb[0, 0], rgb[3, 3] = (10, 200, 30), (250, 0, 250)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    labels = read_label_png(tmp_path / "rgb.png")
    assert labels[0, 0] == 1 and labels[3, 3] == 2 and labels.sum() == 3

    palette_rgb = np.zeros((6, 6, 3), np.uint8)
    palette_rgb[0, 0], palette_rgb[1, 1], palette_rgb[2, 2] = davis_palette()[[3, 5, 255]]
    Image.fromarray(palette_rgb).save(tmp_path / "davis_rgb.png")
    labels = read_label_png(tmp_path / "davis_rgb.png")
    assert labels[0, 0] == 3 and labels[1, 1] == 5 and labels[2, 2] == 0

    indexed = np.zeros((6, 6), np.uint8)
    indexed[0, 0], indexed[1, 1] = 2, 255
    write_label_png(tmp_path / "void.png", indexed)
    assert set(np.unique(read_label_png(tmp_path / "void.png"))) == {0, 2}

    smooth = np.zeros((32, 32), np.uint8)
    smooth[8:24, 8:24] = 255
    Image.fromarray(smooth, "L").save(tmp_path / "m.jpg", quality=60)  # lossy: many grey values
    assert set(np.unique(read_label_png(tmp_path / "m.jpg"))) == {0, 1}

    noise = np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)
    Image.fromarray(noise).save(tmp_path / "photo.png")
    with pytest.raises(InputError, match="colours"):
        read_label_png(tmp_path / "photo.png")


def test_run_with_a_multi_object_greyscale_mask_segments_each_object(inputs, tmp_path, capsys):
    root, frames, mask, clip = inputs
    grey = read_label_png(mask) * 40  # objects as grey values 40, 80
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    assert main(["run", str(frames), "--mask", str(tmp_path / "grey.png"), "-o", str(tmp_path / "o"),
                 "--no-progress", "--no-overlay", *FAST]) == 0
    assert json.loads((tmp_path / "o" / "result.json").read_text())["object_ids"] == [40, 80]


def test_tiny_videos_run_or_fail_cleanly(tmp_path, capsys):
    for size, tracker in [((1, 1), "lk"), ((8, 8), "flow"), ((3, 17), "flow")]:
        folder = tmp_path / f"v{size[0]}x{size[1]}{tracker}"
        frames = np.random.default_rng(0).integers(0, 255, (3, *size, 3), np.uint8)
        write_frames(folder, sampt.Video(frames), suffix=".png")
        write_label_png(tmp_path / "m.png", np.ones(size, np.uint8))
        code = main(["run", str(folder), "--mask", str(tmp_path / "m.png"), "-o", str(folder) + "-out",
                     "--no-progress", "tracker=" + tracker, "segmenter=grabcut", "pipeline=fast"])
        assert code == 0, capsys.readouterr().err
        assert len(list((Path(str(folder) + "-out") / "masks").glob("*/*.png"))) == 3


def test_truncated_video_is_read_with_a_warning(tmp_path, caplog):
    rng = np.random.default_rng(0)
    write_video(tmp_path / "a.avi", [rng.integers(0, 255, (24, 32, 3), np.uint8) for _ in range(30)], fps=10)
    data = (tmp_path / "a.avi").read_bytes()
    (tmp_path / "t.avi").write_bytes(data[: len(data) // 2])
    with caplog.at_level("WARNING", logger="sampt.io"):
        video = read_video(tmp_path / "t.avi")
    assert 0 < len(video) < 30
    assert any("truncated" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kwargs, match", [({"max_frames": 0}, "max_frames must be"),
                                           ({"max_side": -5}, "max_side must be"),
                                           ({"stride": 0}, "stride must be")])
def test_reader_options_are_checked(inputs, kwargs, match):
    with pytest.raises(InputError, match=match):
        VideoReader(inputs[1], **kwargs)


def test_long_videos_are_kept_on_disk_and_read_frame_by_frame(inputs, monkeypatch):
    _, frames, _, clip = inputs
    monkeypatch.setenv("SAMPT_VIDEO_MEMORY_MB", "0.001")
    cached = read_video(frames)
    monkeypatch.delenv("SAMPT_VIDEO_MEMORY_MB")
    memory = read_video(frames)
    assert isinstance(cached, CachedVideo) and not isinstance(memory, CachedVideo)
    assert len(cached) == len(memory) and cached.size == memory.size
    for a, b in zip(cached, memory):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(cached[-1], memory[-1])
    np.testing.assert_array_equal(cached.frames[::-1], memory.frames[::-1])  # plugins slice .frames
    from sampt.builtin.trackers import LucasKanadeTracker

    queries = np.array([[0, 10, 10], [2, 20, 15]], np.float32)
    a, b = LucasKanadeTracker().track(cached, queries), LucasKanadeTracker().track(memory, queries)
    np.testing.assert_array_equal(a.points, b.points)


# -- the Python API ---------------------------------------------------------------------------------------

def test_api_accepts_paths_and_arrays_and_rejects_bad_prompts(inputs):
    from sampt.config import build_pipeline, compose
    from sampt.pipeline import ObjectPrompt

    _, frames, mask, clip = inputs
    pipeline = build_pipeline(compose(FAST))
    object_mask = read_label_png(mask) == 1
    assert pipeline.run(str(frames), [ObjectPrompt(1, 0, mask=object_mask)]).num_frames == len(clip.video)
    assert pipeline.run(clip.video.frames, ObjectPrompt(1, 0, mask=object_mask)).num_frames == len(clip.video)
    for prompt, match in [(ObjectPrompt(1, 1.5, mask=object_mask), "not a frame index"),
                          (ObjectPrompt(256, 0, mask=object_mask), "1..255"),
                          (ObjectPrompt(0, 0, mask=object_mask), "1..255"),
                          (ObjectPrompt(1, 0, points=[[np.nan, 3]]), "NaN"),
                          (ObjectPrompt(1, 0, points=[[3, 3]], labels=[2]), "labels must be 1")]:
        with pytest.raises(UsageError, match=match):
            pipeline.run(clip.video, [prompt])
    with pytest.raises(InputError, match="uint8"):
        pipeline.run(clip.video.frames.astype(np.float32), [ObjectPrompt(1, 0, mask=object_mask)])
    with pytest.raises(UsageError, match="KEY=VALUE"):
        compose(["[1,"])
    with pytest.raises(ConfigError, match="does not parse"):
        compose(["pipeline.positive_points=[1,"])


# -- fuzz: exit 0 with complete outputs, or exit 2 with one line and no output changed ----------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

FUZZ = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _check_outcome(code: int, err: str, out: Path, before: dict, frames: int) -> None:
    if code == 0:
        assert len(list((out / "masks").glob("*/*.png"))) == frames
        assert json.loads((out / "result.json").read_text())["num_frames"] == frames
        assert not any(TMP_MARK in p.name for p in out.parent.iterdir())
    else:
        assert code == 2, err
        one_error_line(err)
        assert snapshot(out) == before


@pytest.fixture
def fuzz_out(previous, tmp_path_factory):
    def fresh() -> tuple[Path, dict]:
        out = copy_tree(previous, tmp_path_factory.mktemp("fuzz") / "out")
        return out, snapshot(out)
    return fresh


@FUZZ
@given(text=st.text(alphabet="0123456789,;.-+e naif", max_size=24))
@example(text="12,10;20,14,0")  # both outcomes are always exercised
@example(text="12,nan")
def test_fuzz_point_strings(inputs, fuzz_out, capsys, text):
    _, frames, _, clip = inputs
    out, before = fuzz_out()
    code = main(["run", str(frames), "--points", text, "-o", str(out), "--no-progress", "--no-overlay", *FAST])
    _check_outcome(code, capsys.readouterr().err, out, before, len(clip.video))


@FUZZ
@given(values=st.lists(st.sampled_from([0, 0, 0, 1, 2, 7, 254, 255, 300, 65535]), min_size=4, max_size=4),
       mode=st.sampled_from(["L", "I;16", "RGB", "P", "1"]), size_ok=st.booleans())
@example(values=[0, 1, 2, 0], mode="P", size_ok=True)
@example(values=[0, 1, 2, 0], mode="P", size_ok=False)
def test_fuzz_masks(inputs, fuzz_out, capsys, tmp_path_factory, values, mode, size_ok):
    _, frames, _, clip = inputs
    H, W = clip.video.size if size_ok else (7, 9)
    arr = np.zeros((H, W), np.int64)
    for i, v in enumerate(values):  # four quadrants-ish blocks
        arr[(i // 2) * H // 2:(i // 2 + 1) * H // 2, (i % 2) * W // 2:(i % 2 + 1) * W // 2] = v
    path = tmp_path_factory.mktemp("mask") / "m.png"
    if mode == "RGB":
        Image.fromarray(np.stack([arr % 256, (arr * 7) % 256, (arr // 256) % 256], -1).astype(np.uint8)).save(path)
    elif mode == "I;16":
        Image.fromarray(arr.astype(np.uint16)).save(path)
    elif mode == "P":
        write_label_png(path, (arr % 256).astype(np.uint8))
    else:
        Image.fromarray((arr % 256).astype(np.uint8), "L").convert(mode).save(path)
    out, before = fuzz_out()
    code = main(["run", str(frames), "--mask", str(path), "-o", str(out), "--no-progress", "--no-overlay", *FAST])
    _check_outcome(code, capsys.readouterr().err, out, before, len(clip.video))


KEYS = ["pipeline.positive_points", "pipeline.iou_threshold", "pipeline.border_margin", "tracker.window_size",
        "tracker.pyramid_levels", "segmenter.margin", "pipeline.reinit_variant", "seed", "tracker", "nope.key",
        "pipeline.nope", "pipeline.max_other_negatives"]
VALUES = ["0", "1", "-1", "2", "0.5", "1.5", "nan", "inf", "abc", "[1,", "${nope}", "null", "A", "flow", "lk",
          "[1,2]", "{a: 1}", "''", "1e9", "true"]


@FUZZ
@example(overrides=[("pipeline.iou_threshold", "0.5")])
@example(overrides=[("pipeline.iou_threshold", "1.5")])
@given(overrides=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES)), min_size=1, max_size=3))
def test_fuzz_config_overrides(inputs, fuzz_out, capsys, overrides):
    _, frames, mask, clip = inputs
    out, before = fuzz_out()
    argv = ["run", str(frames), "--mask", str(mask), "-o", str(out), "--no-progress", "--no-overlay", *FAST,
            *[f"{k}={v}" for k, v in overrides]]
    code = main(argv)
    _check_outcome(code, capsys.readouterr().err, out, before, len(clip.video))
