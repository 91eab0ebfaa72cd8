"""``sampt ui`` under load (#30): a session limit and a memory budget refuse the next session with a message
on the page, and a closed session frees its place (handlers called directly; the loopback load test with N
browsers is benchmarks/bench_ui_load.py)."""
from __future__ import annotations

import os

import pytest

from sampt.cli import main
from sampt.errors import UsageError
from sampt.ui.admission import MB, Admission, SessionRefused, video_cost

OVERRIDES = ["tracker=lk", "segmenter=grabcut", "pipeline.positive_points=4", "pipeline.negative_points=1"]


class Token:
    """A stand-in workspace (admission only keeps its identity and sets ``admission`` on it)."""


def test_the_session_limit_refuses_the_next_and_a_closed_one_frees_its_place():
    admission = Admission(max_sessions=2, memory_budget_mb=100, measure=lambda: 0)
    a, b = admission.admit(Token), admission.admit(Token)
    assert a.admission is admission and admission.sessions == 2
    with pytest.raises(SessionRefused, match="2 sessions are open, its limit"):
        admission.admit(Token)
    admission.release(a)
    assert admission.admit(Token) is not None and admission.sessions == 2


def test_the_memory_budget_counts_reservations_and_measured_memory():
    measured = [0]
    admission = Admission(max_sessions=8, memory_budget_mb=100, measure=lambda: measured[0])
    a, b = admission.admit(Token), admission.admit(Token)
    admission.reserve(a, 60 * MB)
    with pytest.raises(SessionRefused, match="not enough memory"):
        admission.reserve(b, 50 * MB)
    admission.reserve(a, 10 * MB)  # a session replacing its own video frees what it held
    admission.reserve(b, 50 * MB)
    admission.release(b)
    measured[0] = 95 * MB  # the process holds more than reserved (an estimate too low): measured memory counts
    with pytest.raises(SessionRefused, match="not enough memory"):
        admission.reserve(admission.admit(Token), 10 * MB)


@pytest.mark.parametrize("kwargs", [{"max_sessions": 0}, {"max_sessions": True}, {"memory_budget_mb": float("nan")},
                                    {"memory_budget_mb": -1}])
def test_bad_limits_are_refused(kwargs):
    with pytest.raises(UsageError, match="--m"):
        Admission(**kwargs)


@pytest.fixture
def clip_folder(tmp_path):
    from sampt.data.synthetic import make_clip
    from sampt.io import write_frames

    clip = make_clip(seed=5, num_frames=4, height=40, width=56, num_objects=1)
    write_frames(tmp_path / "frames", clip.video, suffix=".png")
    return tmp_path / "frames", clip


def test_the_page_refuses_a_session_past_the_limit_and_takes_one_after_a_close(clip_folder, tmp_path):
    pytest.importorskip("gradio") if not os.environ.get("CI") else __import__("gradio")
    from sampt.ui.app import build_app

    demo = build_app(str(clip_folder[0]), OVERRIDES, root=str(tmp_path / "ui"), max_sessions=1)
    app = demo.sampt_handlers
    ws, _, status, *_ = app["on_start"](None)
    assert status.startswith("Opened"), status
    refused, image, status, *_ = app["on_start"](None)
    assert refused is None and image is None and status.startswith("**Refused:** the server is busy"), status
    app["on_delete"](ws)  # the first browser session expires
    ws2, _, status, *_ = app["on_start"](None)
    assert status.startswith("Opened") and demo.sampt_admission.sessions == 1
    app["on_delete"](ws2)


def test_the_page_refuses_a_video_past_the_memory_budget(clip_folder, tmp_path):
    pytest.importorskip("gradio") if not os.environ.get("CI") else __import__("gradio")
    from sampt.ui.app import build_app

    folder, clip = clip_folder
    cost = video_cost(clip.video)
    demo = build_app(str(folder), OVERRIDES, root=str(tmp_path / "ui"), memory_budget_mb=1.5 * cost / MB)
    demo.sampt_admission.measure = lambda: demo.sampt_admission.baseline  # reservations alone decide here
    app = demo.sampt_handlers
    ws, _, status, *_ = app["on_start"](None)
    assert status.startswith("Opened"), status
    other, _, status, *_ = app["on_start"](None)
    assert "not enough memory" in status and other.video is None and other.session is None
    app["on_delete"](ws)
    app["on_delete"](other)


def test_sampt_ui_refuses_bad_limits_in_one_line(capsys):
    pytest.importorskip("gradio") if not os.environ.get("CI") else __import__("gradio")
    assert main(["ui", "tracker=lk", "segmenter=grabcut", "--max-sessions", "0"]) == 2
    assert "--max-sessions" in capsys.readouterr().err
