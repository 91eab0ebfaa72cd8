"""The command line's manners: a quiet INFO summary on stdout, -v/-q anywhere, progress bars that turn off,
help with examples and exit codes, prompts on any frame, negative coordinates without `=`."""
from __future__ import annotations

import argparse
import json
import logging
import warnings

import numpy as np
import pytest

from sampt.cli import build_parser, configure_logging, join_coordinate_values, main
from sampt.data.synthetic import make_clip
from sampt.io import write_label_png, write_video

FAST = ["tracker=lk", "pipeline.refinement_iterations=1", "pipeline.positive_points=4", "--no-overlay"]


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("clip")
    clip = make_clip(seed=5, num_frames=5, height=48, width=64, num_objects=2)
    write_video(root / "clip.avi", clip.video, fps=5)
    write_label_png(root / "first.png", (clip.label_map(0) == 1).astype(np.uint8))
    later = clip.label_map(3)
    write_label_png(root / "later.png", np.where(later == 2, 2, 0).astype(np.uint8))
    write_label_png(root / "clash.png", (later == 2).astype(np.uint8))
    return root, clip


def _click(clip, o, t):
    ys, xs = np.nonzero(clip.masks[t, o])
    i = len(xs) // 2
    return f"{xs[i]},{ys[i]}"


def test_success_prints_the_summary_on_stdout_and_nothing_on_stderr(tmp_path, clip_files, capsys):
    root, _ = clip_files
    assert main(["run", str(root / "clip.avi"), "--mask", str(root / "first.png"), "-o", str(tmp_path / "o"),
                 "--no-progress", *FAST]) == 0
    captured = capsys.readouterr()
    assert "segmented 1 object(s) over 5 frames" in captured.out
    assert captured.err == ""


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_before_or_after_the_command(tmp_path, clip_files, capsys, where):
    root, _ = clip_files
    args = ["run", str(root / "clip.avi"), "--mask", str(root / "first.png"), "-o", str(tmp_path / "o"),
            "--no-progress", *FAST]
    assert main(["-q", *args] if where == "before" else [*args, "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_main_leaves_logging_as_it_found_it(tmp_path):
    sampt_log = logging.getLogger("sampt")
    before = (list(sampt_log.handlers), sampt_log.propagate, sampt_log.level)
    assert main(["config", "-q"]) == 0
    assert (list(sampt_log.handlers), sampt_log.propagate, sampt_log.level) == before


def test_verbose_after_the_command_is_accepted():
    args = build_parser().parse_args(["config", "-vv"])
    assert args.verbose == 2
    args = build_parser().parse_args(["-v", "config"])
    assert args.verbose == 1 and args.quiet is False


def test_third_party_warnings_only_with_verbose(capsys):
    from sampt.cli import _logging_state, _restore_logging

    state = _logging_state()
    try:
        _check_third_party_warnings(capsys)
    finally:
        _restore_logging(state)


def _check_third_party_warnings(capsys):
    with warnings.catch_warnings():
        configure_logging(verbose=0)
        warnings.warn("timm is deprecated", FutureWarning)
        logging.getLogger("timm").warning("timm chatter")
    assert "timm" not in capsys.readouterr().err
    with warnings.catch_warnings():
        configure_logging(verbose=1)
        try:
            warnings.warn("timm is deprecated", FutureWarning)
        finally:
            logging.captureWarnings(False)
    # with -v the warning goes through logging (to stderr) instead of vanishing
    assert "timm is deprecated" in capsys.readouterr().err


def test_every_command_documents_examples_and_exit_codes():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"run", "demo", "export", "score", "eval", "bench", "plugins", "weights", "config"} <= set(sub.choices)
    for name, command in sub.choices.items():
        text = command.format_help()
        assert "exit codes:" in text and "2    bad input" in text, name
        assert "examples:" in text, name
        assert f"sampt {name}" in text.split("examples:")[1], name
        assert command.description, name
    assert "examples:" in parser.format_help()


def test_negative_coordinates_need_no_equals_sign():
    assert join_coordinate_values(["run", "v.mp4", "--points", "-0.4,10;20,20"]) == \
        ["run", "v.mp4", "--points=-0.4,10;20,20"]
    assert join_coordinate_values(["--box", "-0.2,-0.3,20,20", "-v"]) == ["--box=-0.2,-0.3,20,20", "-v"]
    assert join_coordinate_values(["--points", "10,10", "-q"]) == ["--points", "10,10", "-q"]


def test_negative_click_outside_the_frame_is_a_clear_error(tmp_path, clip_files, capsys):
    root, _ = clip_files
    assert main(["run", str(root / "clip.avi"), "--points", "-5,10", "-o", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "outside the 64x48 frame" in err and "expected one argument" not in err


def test_objects_on_different_frames(tmp_path, clip_files):
    root, clip = clip_files
    out = tmp_path / "o"
    assert main(["run", str(root / "clip.avi"), "--mask", str(root / "first.png"),
                 "--mask", f"frame=3:{root / 'later.png'}",
                 "--points", f"frame=2:{_click(clip, 0, 2)}", "--frame", "0", "-o", str(out), "--no-progress",
                 "-q", *FAST]) == 0
    info = json.loads((out / "result.json").read_text())
    assert info["object_ids"] == [1, 2, 3]
    prompts = [o["prompt"] for o in info["objects"]]
    assert [(p["kind"], p["frame"]) for p in prompts] == [("mask", 0), ("mask", 3), ("points", 2)]
    assert prompts[2]["points"] == [[float(v) for v in _click(clip, 0, 2).split(",")]]
    assert info["per_frame"]["area"][3][1] > 0


def test_an_object_labelled_in_two_masks_is_an_error(tmp_path, clip_files, capsys):
    root, _ = clip_files
    assert main(["run", str(root / "clip.avi"), "--mask", str(root / "first.png"), "--mask",
                 f"frame=3:{root / 'clash.png'}", "-o", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "object 1 is labelled in both" in capsys.readouterr().err


def test_box_prompt(tmp_path, clip_files):
    root, clip = clip_files
    ys, xs = np.nonzero(clip.masks[0, 1])
    box = f"{xs.min() - 2},{ys.min() - 2},{xs.max() + 2},{ys.max() + 2}"
    out = tmp_path / "o"
    assert main(["run", str(root / "clip.avi"), "--box", box, "-o", str(out), "--no-progress", "-q", *FAST]) == 0
    info = json.loads((out / "result.json").read_text())
    prompt = info["objects"][0]["prompt"]
    assert prompt["kind"] == "box" and prompt["area"] > 0.5 * clip.masks[0, 1].sum()


def test_progress_bars_show_on_a_terminal_and_not_otherwise(tmp_path, clip_files, capsys, monkeypatch):
    import sampt.progress

    root, _ = clip_files
    args = ["run", str(root / "clip.avi"), "--mask", str(root / "first.png"), "-o", str(tmp_path / "o"), "--overlay",
            "mp4", *FAST[:3]]
    assert main(args) == 0  # stderr is no terminal under pytest: no bars
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sampt.progress, "stderr_is_terminal", lambda: True)
    assert main(args) == 0
    err = capsys.readouterr().err
    for step in ("reading frames", "tracking", "segmenting", "writing overlay.mp4"):
        assert step in err, step
    assert main([*args, "--no-progress"]) == 0
    assert capsys.readouterr().err == ""
