"""#30 classes 3, 4, 8 and 9: numbers checked where declared (NaN, words, 400-digit integers, bools), camera
sources checked before OpenCV sees them (a negative index used to kill the process), only sampt's errors
leaving the public API, naming the argument, and the messages of a corrupt stream, a very long component
name and a preset name that is a path."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import sampt
from sampt.cli import main
from sampt.constraints import Range, check_coordinate, is_real, is_whole
from sampt.data.synthetic import make_clip
from sampt.errors import ConfigError, InputError, OutputError, UsageError, api_boundary, shown
from sampt.io import write_video
from sampt.sources import MAX_CAMERA_INDEX, camera_target, open_source

FAST = ["tracker=lk", "segmenter=grabcut", "pipeline=fast", "pipeline.refinement_iterations=0",
        "segmenter.iterations=1", "pipeline.positive_points=4"]
HUGE = "9" * 400


@pytest.fixture(scope="module")
def clip():
    return make_clip(seed=2, num_frames=3, height=32, width=40, num_objects=1, name="clip")


def one_line_exit_2(argv, capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


# -- class 3: numbers ---------------------------------------------------------------------------------------
def test_number_predicates_refuse_bools_words_nan_and_overflow():
    assert is_whole(3) and is_whole(np.int64(3)) and not is_whole(True) and not is_whole(2**64) and not is_whole(3.0)
    assert is_real(0.5) and is_real(7) and not is_real(float("nan")) and not is_real(float("inf"))
    assert not is_real("1") and not is_real(np.bool_(True)) and not is_real(10**400)
    assert not Range(0, None).allows(float("inf")) and Range(0, None).allows(10**400)  # no OverflowError
    with pytest.raises(ConfigError, match="x must be a finite number; '3' is not finite or not a number"):
        check_coordinate("x", "3")
    assert shown(10**5000).startswith("<an integer of about 5001 digits")  # repr alone would raise


@pytest.mark.parametrize("override, match", [
    (f"tracker.window_size={HUGE}", "tracker.window_size"),
    (f"pipeline.positive_points={HUGE}", "pipeline.positive_points"),
    ("pipeline.iou_threshold=nan", "pipeline.iou_threshold"),
    ("pipeline.iou_threshold=abc", "pipeline.iou_threshold"),
    ("pipeline.positive_points=true", "pipeline.positive_points"),
    (f"seed={HUGE}", "seed"),
])
def test_options_that_are_not_numbers_of_their_type_are_refused_in_one_line(clip, tmp_path, capsys, override, match):
    frames = tmp_path / "f"
    from sampt.io import write_frames, write_label_png

    write_frames(frames, clip.video)
    write_label_png(tmp_path / "m.png", clip.label_map(0))
    err = one_line_exit_2(["run", str(frames), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "o"), *FAST,
                           override], capsys)
    assert match in err and "Overflow" not in err
    assert not (tmp_path / "o").exists()
    err = one_line_exit_2(["config", *FAST, override], capsys)
    assert match in err


@pytest.mark.parametrize("value", [float("nan"), "abc", float("inf"), -1.0, 10**400, True])
def test_session_memory_budgets_must_be_finite_numbers(value):
    from sampt.interactive import EditError, SessionOptions
    from sampt.pipeline import SamPtOptions

    with pytest.raises(EditError, match="embedding_memory_mb"):
        SessionOptions(pipeline=SamPtOptions(), embedding_memory_mb=value)


def test_session_coordinates_and_object_ids(clip, tmp_path, recording_segmenter):
    from sampt.builtin.trackers import LucasKanadeTracker
    from sampt.interactive import EditError, Session, SessionOptions
    from sampt.pipeline import SamPtOptions

    options = SessionOptions(pipeline=SamPtOptions(positive_points=4, negative_points=1, refinement_iterations=1),
                             cache_dir=str(tmp_path / "cache"))
    session = Session(clip.video, LucasKanadeTracker(), recording_segmenter(), options)
    try:
        with pytest.raises(EditError, match="object id"):
            session.add_object(True, 0, mask=clip.masks[0, 0])  # a bool is not an id
        session.add_object(1, 0, mask=clip.masks[0, 0])
        for x, y, name in [("10", 5, "x"), (10, "abc", "y"), (float("nan"), 5, "x"), (10**400, 5, "x"),
                           (None, 5, "x")]:
            with pytest.raises(EditError, match=f"{name} must be a finite number"):
                session.add_point(1, 0, x, y)
        assert session.add_point(1, 0, 10, 12.5) is not None
    finally:
        session.close()


# -- class 4: cameras ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, match", [(-1, "out of range"), ("-1", "out of range"), (10**12, "out of range"),
                                          ("99999999999", "out of range"), (MAX_CAMERA_INDEX + 1, "out of range"),
                                          (True, "bool"), ("nocam", "not a camera index"), (" ", "needs a camera"),
                                          (1.5, "index or a URL")])
def test_a_camera_target_is_checked_before_opencv_opens_it(value, match):
    with pytest.raises(UsageError, match=match):
        camera_target(value)


def test_good_camera_targets_pass():
    assert camera_target("0") == 0 and camera_target(np.int64(3)) == 3 and camera_target("rtsp://h/s") == "rtsp://h/s"


def test_the_camera_opener_is_a_parameter_of_the_stream(clip):
    opened = []

    def fake(target):
        opened.append(target)
        return iter(clip.video.frames)

    frames, fps, name = open_source(2, open_camera=fake)
    assert len(list(frames)) == 3 and opened == [2] and name == "camera2"
    pipeline = sampt.config.build_pipeline(sampt.config.compose(FAST))
    from sampt.pipeline.query_points import ObjectPrompt

    out = list(pipeline.stream(0, [ObjectPrompt(1, 0, mask=clip.masks[0, 0])], open_camera=fake))
    assert [r.t for r in out] == [0, 1, 2]
    with pytest.raises(UsageError, match="out of range"):
        list(pipeline.stream(-1, [ObjectPrompt(1, 0, mask=clip.masks[0, 0])], open_camera=fake))


@pytest.mark.parametrize("camera, match", [("-1", "out of range"), ("123456789", "out of range"),
                                           ("42", "cannot be opened")])
def test_sampt_run_with_a_bad_camera_exits_2_in_a_real_process(tmp_path, camera, match):
    """A negative index used to kill the process with SIGSEGV inside OpenCV: run it in a child process."""
    proc = subprocess.run([sys.executable, "-c", "import sys; from sampt.cli import main; sys.exit(main())", "run",
                           "--camera", camera, "--points", "5,5", "-o",
                           str(tmp_path / "o"), *FAST], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DISPLAY": ""})
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.returncode != -signal.SIGSEGV and match in proc.stderr
    assert not (tmp_path / "o").exists()


# -- class 8: the API boundary ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"mask": "MASK_FIRST"}, "mask: {frame: value} keys must be frame indices"),
    ({"points": "abc"}, "points must be an array of numbers"),
    ({"points": [[1, "a"]]}, "points must be an array of numbers"),
    ({"box": "x"}, "box must be an array of numbers"),
    ({"output": 5}, "output must be a path"),
    ({"tracker": 5}, "tracker must be a component name"),
    ({"overrides": [5]}, "overrides must be a list"),
    ({"overlay": "avi"}, "overlay must be"),
])
def test_segment_raises_only_sampt_errors_naming_the_argument(clip, kwargs, match):
    if kwargs.get("mask") == "MASK_FIRST":
        kwargs = {"mask": {"first": clip.label_map(0)}}
    kwargs.setdefault("mask", None if {"points", "box"} & set(kwargs) else clip.label_map(0))
    with pytest.raises(UsageError, match=match):
        sampt.segment(clip.video, **{"overrides": FAST, **kwargs})


def test_segment_output_paths_give_output_errors(clip, tmp_path):
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path / "file", tmp_path / "file" / "below"):
        with pytest.raises(OutputError, match="output"):
            sampt.segment(clip.video, mask=clip.label_map(0), overrides=FAST, output=bad, overlay=None)


def test_the_api_boundary_turns_os_errors_into_sampt_errors_naming_the_path(tmp_path):
    @api_boundary(output="output")
    def write(output, source=None):
        if source is not None:
            open(source).read()
        os.mkdir(output)

    (tmp_path / "there").mkdir()
    with pytest.raises(OutputError, match=f"output {tmp_path / 'there'} cannot be written.*File exists"):
        write(tmp_path / "there")
    with pytest.raises(InputError, match="nothing.txt cannot be read or written"):
        write(tmp_path / "new", source=tmp_path / "nothing.txt")


# -- class 9: messages --------------------------------------------------------------------------------------
def test_a_corrupt_video_gives_one_error_and_no_misleading_warning(clip, tmp_path, capsys):
    write_video(tmp_path / "full.avi", clip.video.frames, 10)
    data = (tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: data.find(b"movi") + 12])  # the header announces frames; none decode
    for stream in (["--stream"], []):
        err = one_line_exit_2(["run", str(tmp_path / "cut.avi"), *stream, "--points", "5,5", "-o",
                               str(tmp_path / "o"), *FAST], capsys)
        assert "no decodable frames" in err and "using those" not in err


@pytest.mark.parametrize("override", [f"tracker={'a' * 5000}", f"segmenter={'b' * 300}", "pipeline=../config",
                                      "tracker=../../etc/passwd", "pipeline=/etc/x"])
def test_config_group_names_are_plain_names(override, capsys):
    err = one_line_exit_2(["config", override], capsys)
    assert "not a plain name" in err and "too long" not in err and len(err) < 400


# -- the session's entry points: only sampt's errors, naming the argument -------------------------------------
NOT_VALUES = [None, "a", 1.5, -1, 10**400, float("nan"), True, [1], {}, 2**63]


def test_session_methods_refuse_bad_arguments_with_sampt_errors(tmp_path):
    from sampt.config import compose
    from sampt.data.synthetic import make_clip
    from sampt.errors import SamptError
    from sampt.interactive import Session

    clip = make_clip(seed=1, num_frames=3, height=32, width=40, num_objects=1)
    with Session.from_config(compose(["tracker=lk", "segmenter=grabcut"]), clip.video) as session:
        session.add_object(1, frame=0, mask=clip.masks[0, 0])
        calls = {
            "add_point object": lambda b: session.add_point(b, frame=0, x=5, y=5),
            "add_point frame": lambda b: session.add_point(1, frame=b, x=5, y=5),
            "add_point x": lambda b: session.add_point(1, frame=0, x=b, y=5),
            "add_object id": lambda b: session.add_object(b, frame=0, points=[[5, 5]], labels=[1]),
            "add_object points": lambda b: session.add_object(8, frame=0, points=b, labels=[1]),
            "add_object mask": lambda b: session.add_object(10, frame=0, mask=b),
            "move_point": lambda b: session.move_point(b, frame=0, x=3, y=3),
            "remove_point": lambda b: session.remove_point(b),
            "save": lambda b: session.save(b),
            "export": lambda b: session.export(b),
            "load": lambda b: Session.load(b, clip.video),
        }
        foreign = []
        for name, call in calls.items():
            for value in NOT_VALUES:
                try:
                    call(value)
                except SamptError:
                    pass
                except Exception as exc:  # noqa: BLE001 - what this test looks for
                    foreign.append(f"{name}({value!r:.20}): {type(exc).__name__}: {exc}")
        assert foreign == []
        with pytest.raises(SamptError, match="path must be a path"):
            session.save(5)
