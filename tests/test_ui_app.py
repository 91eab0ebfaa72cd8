"""``sampt ui`` without a browser: the page's handlers and per-session workspaces called directly (fast).
The browser tests (tests/test_ui_browser.py) cover the wiring of the same handlers to the page."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

OVERRIDES = ["tracker=lk", "segmenter=grabcut", "pipeline.positive_points=4", "pipeline.negative_points=1"]


@pytest.fixture(scope="module")
def clip():
    from sampt.data.synthetic import make_clip

    return make_clip(seed=5, num_frames=4, height=40, width=56, num_objects=1)


@pytest.fixture(scope="module")
def clip_folder(clip, tmp_path_factory):
    from sampt.io import write_frames

    folder = tmp_path_factory.mktemp("clip") / "frames"
    write_frames(folder, clip.video, suffix=".png")
    return folder


@pytest.fixture
def workspace(clip_folder, tmp_path):
    from sampt.ui.workspace import Workspace

    ws = Workspace(tmp_path, OVERRIDES, max_upload_mb=1, upload_roots=[tmp_path / "gradio"])
    ws.open_video(clip_folder)
    yield ws
    ws.remove()


def _object_points(clip) -> list[tuple[float, float]]:
    ys, xs = np.nonzero(clip.masks[0, 0])
    order = np.lexsort((xs, ys))
    return [(float(xs[order[len(order) * k // 4]]), float(ys[order[len(order) * k // 4]])) for k in (1, 2, 3)]


def _labels(session) -> np.ndarray:
    return np.stack([m.label_map for m in session.masks()])


def _reference(clip_folder, edit) -> np.ndarray:
    """The Session API's label maps after ``edit(session)``."""
    from sampt.config import compose
    from sampt.interactive import Session
    from sampt.io import read_video

    with Session.from_config(compose(OVERRIDES), read_video(clip_folder)) as session:
        edit(session)
        return _labels(session)


def test_remove_and_move_a_point_by_clicking_equal_the_session_api(workspace, clip, clip_folder):
    (x1, y1), (x2, y2), (x3, y3) = _object_points(clip)
    workspace.click("positive", 1, 0, x1, y1)
    workspace.click("positive", 1, 0, x2, y2)
    workspace.click("positive", 1, 0, x3, y3)

    # remove: a click near (not exactly on) the second point
    k = workspace.scale
    assert "Removed point 2" in workspace.click("remove", 1, 0, x2 + 2 / k, y2)
    assert [p.point_id for p in workspace.session.points()] == [1, 3]
    removed = _labels(workspace.session)

    def add_three_remove_second(s):
        s.add_object(1, 0, points=[[x1, y1]], labels=[1])
        s.add_point(1, 0, x2, y2)
        s.add_point(1, 0, x3, y3)
        s.remove_point(2)

    np.testing.assert_array_equal(removed, _reference(clip_folder, add_three_remove_second))

    # move: the first click picks point 3, the second puts it on frame 1
    assert "picked" in workspace.click("move", 1, 1, *_on_frame(workspace, 3, 1))
    assert "Moved point 3" in workspace.click("move", 1, 1, x1 + 1, y1 + 1)
    assert _on_frame(workspace, 3, 1) == pytest.approx((x1 + 1, y1 + 1))
    moved = _labels(workspace.session)

    def then_move(s):
        add_three_remove_second(s)
        s.move_point(3, 1, x1 + 1, y1 + 1)

    np.testing.assert_array_equal(moved, _reference(clip_folder, then_move))

    # a click far from every point names the problem
    from sampt.errors import SamptError

    with pytest.raises(SamptError, match="no point within"):
        workspace.click("remove", 1, 0, 0.0, 0.0)

    # remove on a later frame than the point was placed on: it goes from there on, its earlier frames stay
    assert "from frame 2 on" in workspace.click("remove", 1, 2, *_on_frame(workspace, 1, 2))
    assert [v.point_id for v in workspace.session.points(frame=1)] == [1, 3]
    assert [v.point_id for v in workspace.session.points(frame=2)] == [3]

    def then_cut(s):
        then_move(s)
        s.remove_point(1, from_frame=2)

    np.testing.assert_array_equal(_labels(workspace.session), _reference(clip_folder, then_cut))


def _on_frame(ws, point_id: int, frame: int) -> tuple[float, float]:
    (view,) = [v for v in ws.session.points(frame=frame) if v.point_id == point_id]
    return view.x, view.y


def test_undo_then_redo_restores_the_masks(workspace, clip):
    (x1, y1), (x2, y2), _ = _object_points(clip)
    workspace.click("positive", 1, 0, x1, y1)
    one = _labels(workspace.session)
    workspace.click("negative", 1, 0, x2, y2)
    two = _labels(workspace.session)
    assert workspace.undo() == "Undone."
    np.testing.assert_array_equal(_labels(workspace.session), one)
    assert workspace.redo() == "Redone."
    np.testing.assert_array_equal(_labels(workspace.session), two)
    from sampt.errors import SamptError

    with pytest.raises(SamptError, match="nothing to redo"):
        workspace.redo()


def test_propagate_yields_each_frame(workspace, clip):
    from sampt.errors import SamptError

    with pytest.raises(SamptError, match="add an object first"):
        list(workspace.propagate())
    workspace.click("positive", 1, 0, *_object_points(clip)[1])
    assert list(workspace.propagate()) == list(range(len(clip.video)))


def test_one_browser_sessions_events_run_one_at_a_time(workspace, clip):
    """With --concurrency > 1 two events of one page may run in two threads: the second waits for the first."""
    import threading
    import time

    order = []
    started = threading.Event()
    encode = workspace.session.ctx.segmenter._encode

    def slow_encode(image):  # the first click's segmentation takes a while
        started.set()
        time.sleep(0.5)
        order.append("click done")
        return encode(image)

    workspace.session.ctx.segmenter._encode = slow_encode
    first = threading.Thread(target=workspace.click, args=("positive", 1, 0, *_object_points(clip)[1]))
    first.start()
    assert started.wait(30)
    try:
        workspace.undo()  # waits for the click to finish, then undoes it
        order.append("undo done")
    finally:
        first.join()
    assert order[:2] == ["click done", "undo done"]
    assert not workspace.session.object_ids


def test_small_frames_are_shown_enlarged_and_clicks_map_back(workspace, clip):
    k = workspace.scale
    assert k == 640 // max(clip.video.height, clip.video.width) and k > 1
    shown = workspace.render(0)
    assert shown.shape == (clip.video.height * k, clip.video.width * k, 3)
    # the centre of shown pixel block (x, y) is frame pixel (x, y)
    assert workspace.to_frame(3 * k + (k - 1) / 2, 5 * k + (k - 1) / 2) == pytest.approx((3, 5))


def test_occluded_points_are_drawn_red_and_hollow():
    """The issue's overlay: positive points as circles, negative as crosses, occluded points in red."""
    from sampt.overlay import OCCLUDED, draw_points

    out = np.zeros((40, 80, 3), np.uint8)
    draw_points(out, np.array([[10.0, 20.0], [30.0, 20.0], [50.0, 20.0], [70.0, 20.0]]), np.array([1, 1, 0, 0]),
                np.array([True, False, True, False]), (0, 128, 0), radius=4)
    r, g, b = (out[..., i].astype(int) for i in range(3))
    red = (r >= 180) & (g < 60) & (b < 60)  # lines are anti-aliased: near the pure colour
    assert OCCLUDED == (255, 0, 0)
    assert not red[:, :20].any() and red[:, 20:40].any() and not red[:, 40:60].any() and red[:, 60:].any()
    assert not red[20, 30] and not out[20, 30].any()  # the occluded ring is hollow
    assert np.array_equal(out[20, 10], [0, 128, 0])  # a visible point: solid, its object's colour


# -- files: uploads, limits, folders ------------------------------------------------------------------

def test_uploads_come_only_from_the_upload_folder_and_are_size_limited(workspace, tmp_path):
    from sampt.errors import InputError
    from sampt.ui.workspace import VIDEO_UPLOADS

    upload_dir = tmp_path / "gradio"
    upload_dir.mkdir()
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"x" * 10)
    with pytest.raises(InputError, match="not an upload of this page"):
        workspace.take_upload(str(outside), VIDEO_UPLOADS)
    link = upload_dir / "link.mp4"  # a link inside the upload folder to a file outside it
    link.symlink_to(outside)
    with pytest.raises(InputError, match="not an upload of this page"):
        workspace.take_upload(str(link), VIDEO_UPLOADS)
    with pytest.raises(InputError, match="not an upload of this page"):
        workspace.take_upload(str(upload_dir / ".." / "secret.mp4"), VIDEO_UPLOADS)
    big = upload_dir / "big.mp4"
    big.write_bytes(b"\0" * (2 << 20))
    with pytest.raises(InputError, match="over the 1 MB upload limit"):
        workspace.take_upload(str(big), VIDEO_UPLOADS)
    text = upload_dir / "notes.txt"
    text.write_text("hello")
    with pytest.raises(InputError, match="not one of"):
        workspace.take_upload(str(text), VIDEO_UPLOADS)
    small = upload_dir / "ok.mp4"
    small.write_bytes(b"x")
    copied = workspace.take_upload(str(small), VIDEO_UPLOADS)
    assert copied.parent == workspace.uploads and copied.name != "ok.mp4"


def test_a_video_or_options_refused_leave_the_open_video_and_session_as_they_were(workspace, clip, tmp_path):
    from sampt.data.synthetic import make_clip
    from sampt.errors import SamptError
    from sampt.io import write_frames

    workspace.click("positive", 1, 0, *_object_points(clip)[1])
    video, session, overrides = workspace.video, workspace.session, list(workspace.overrides)
    other = tmp_path / "other"
    write_frames(other, make_clip(seed=1, num_frames=3, height=30, width=30).video, suffix=".png")
    with pytest.raises(SamptError, match="window_size"):
        workspace.open_video(other, ["tracker=lk", "tracker.window_size=1"])
    with pytest.raises(SamptError, match="window_size"):
        workspace.new_session(["tracker=lk", "tracker.window_size=1"])
    assert workspace.video is video and workspace.session is session and workspace.overrides == overrides
    assert workspace.render(0).shape[:2] == (clip.video.height * workspace.scale, clip.video.width * workspace.scale)
    workspace.open_video(other)  # with the kept options
    assert len(workspace.video) == 3 and workspace.session is not session and not workspace.session.object_ids


def test_each_workspace_has_its_own_folder_and_removes_it(tmp_path, clip_folder):
    from sampt.ui.workspace import Workspace

    a, b = Workspace(tmp_path, OVERRIDES), Workspace(tmp_path, OVERRIDES)
    assert a.folder != b.folder and a.folder.parent == b.folder.parent == tmp_path
    a.open_video(clip_folder)
    out, again = a.output_path("x.txt"), a.output_path("x.txt")
    assert out.parent.parent == a.outputs and out.name == "x.txt" != again.parent.name  # plain names, own folders
    assert out.parent != again.parent
    a.remove()
    assert not a.folder.exists() and b.folder.exists()
    b.remove()


# -- the page's handlers ------------------------------------------------------------------------------

@pytest.fixture
def gradio():
    """Gradio (a test extra): skipped where it is missing, except in CI, where these tests must run."""
    return pytest.importorskip("gradio") if not os.environ.get("CI") else __import__("gradio")


@pytest.fixture
def app(gradio, clip_folder, tmp_path):
    from sampt.ui.app import build_app

    demo = build_app(str(clip_folder), OVERRIDES, root=str(tmp_path / "ui"), max_upload_mb=1)
    return demo.sampt_handlers


def _click(handlers, ws, frame, mode, x, y):
    """The image's select event at frame pixel (x, y), as the browser sends it (shown-image pixels)."""
    k = ws.scale
    evt = SimpleNamespace(index=[round((x + 0.5) * k - 0.5), round((y + 0.5) * k - 0.5)])
    return handlers["on_click"](ws, frame, mode, 1, evt)


def test_a_saved_session_loads_into_a_new_page_and_continues(app, clip, tmp_path):
    ws, _, status, *_ = app["on_start"](None)
    assert status.startswith("Opened"), status
    (x1, y1), (x2, y2), (x3, y3) = _object_points(clip)
    _click(app, ws, 0, "positive", x1, y1)
    _click(app, ws, 0, "negative", x2, y2)
    *_, status = list(app["on_propagate"](ws, 0))[-1]
    assert status.startswith("Propagated"), status
    ws, _, status, files = app["on_export"](ws, 0)
    assert status.startswith("Exported"), status
    saved = next(f for f in files if f.endswith(".npz"))
    expected = _labels(ws.session)

    # a second browser session: its own workspace; the file comes back through the page's upload folder
    other, *_ = app["on_start"](None)
    assert other is not ws and other.folder != ws.folder and not other.session.object_ids
    other.upload_roots = [Path(saved).parent]
    other, image, status, _ = app["on_load_session"](other, saved, 0)
    assert status.startswith("Loaded the session session.npz: objects 1"), status
    assert image.shape[:2] == (clip.video.height * other.scale, clip.video.width * other.scale)
    np.testing.assert_array_equal(_labels(other.session), expected)
    _click(app, other, 0, "positive", x3, y3)  # continue editing the loaded session
    assert len(other.session.points()) == 3 and other.session.can_undo
    other, _, status = app["on_undo"](other, 0)
    np.testing.assert_array_equal(_labels(other.session), expected)
    ws.remove()
    other.remove()


def test_loading_a_session_file_that_is_not_one_shows_an_error(app, tmp_path):
    ws, *_ = app["on_start"](None)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a session")
    ws.upload_roots = [tmp_path]
    ws, image, status, box = app["on_load_session"](ws, str(bad), 0)
    assert status.startswith("**Error:**") and image is not None, status
    assert "bad.npz" in status and str(ws.uploads) not in status, status  # the user's name, not our copy's path
    assert box is None  # the refused file leaves the drop box
    ws.remove()


def test_nothing_to_undo_and_an_unknown_object_are_messages_not_exceptions(app, clip):
    for name, args in [("on_undo", (0,)), ("on_redo", (0,)), ("on_export", (0,)),
                       ("on_click", (0, "positive", 1, SimpleNamespace(index=[1, 1])))]:
        early = app[name](None, *args)  # before the page's load event gave the browser session a workspace
        assert early[2] == "**Error:** open a video first", (name, early)
        early[0].remove()
    *_, (early, _, status) = app["on_propagate"](None, 0)
    assert status == "**Error:** open a video first"
    early.remove()
    ws, *_ = app["on_start"](None)
    _, _, status = app["on_undo"](ws, 0)
    assert status == "**Error:** nothing to undo"
    _, _, status = _click(app, ws, 0, "negative", *_object_points(clip)[0])
    assert "object 1 does not exist yet" in status
    ws.remove()


def test_launch_serves_with_the_default_float_upload_limit(gradio, clip_folder, tmp_path):
    """`sampt ui` passes --max-upload-mb (200.0 by default, a float) to the web server as a byte count."""
    import urllib.request

    from sampt.ui.app import build_app, launch

    demo = build_app(str(clip_folder), OVERRIDES, root=str(tmp_path / "ui"), max_upload_mb=200.0)
    try:
        url = launch(demo, port=None, max_upload_mb=200.0)
        assert demo.max_file_size == 200 * (1 << 20)
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200
    finally:
        demo.close()


# -- the options form ---------------------------------------------------------------------------------

def test_options_form_lists_the_components_options_with_types_and_ranges():
    from sampt.plugins import Registry
    from sampt.ui.options import option_rows

    rows = {r[0]: r for r in option_rows(Registry(), "tracker", "lk")}
    assert rows["window_size"] == ["window_size", "15", "int", ">= 3"]
    assert rows["pyramid_levels"][3] == "in [0, 10]"
    rows = {r[0]: r for r in option_rows(Registry(), "tracker", "lk", {"window_size": "21"})}
    assert rows["window_size"][1] == "21"


def test_options_form_values_go_through_the_config_like_the_cli(app):
    from sampt.plugins import Registry
    from sampt.ui.options import option_rows

    ws, *_ = app["on_start"](None)
    rows = option_rows(Registry(), "tracker", "lk")
    for r in rows:
        if r[0] == "window_size":
            r[1] = "9"
    seg_rows = option_rows(Registry(), "segmenter", "grabcut")
    _, _, status = app["on_components"](ws, "lk", "grabcut", "pipeline.positive_points=4", 0, rows, seg_rows)
    assert status.startswith("New session"), status
    assert ws.overrides == ["tracker=lk", "segmenter=grabcut", "tracker.window_size=9", "pipeline.positive_points=4"]
    assert ws.session.ctx.tracker.window_size == 9

    for r in rows:
        if r[0] == "window_size":
            r[1] = "1"
    _, _, status = app["on_components"](ws, "lk", "grabcut", "", 0, rows, seg_rows)
    assert status.startswith("**Error:**") and "tracker.window_size=1" in status and ">= 3" in status, status
    assert ws.session.ctx.tracker.window_size == 9  # the previous session is kept
    for r in rows:
        if r[0] == "window_size":
            r[1] = "big"
    _, _, status = app["on_components"](ws, "lk", "grabcut", "", 0, rows, seg_rows)
    assert status.startswith("**Error:**") and "window_size" in status and "int" in status, status
    ws.remove()


def test_command_line_component_options_split_into_picks_forms_and_the_rest():
    from sampt.ui.options import split_component_overrides

    picked, options, rest = split_component_overrides(
        ["tracker=lk", "tracker.window_size=21", "segmenter=grabcut", "pipeline.positive_points=4", "seed=3"])
    assert picked == {"tracker": "lk", "segmenter": "grabcut"}
    assert options == {"tracker": {"window_size": "21"}, "segmenter": {}}
    assert rest == ["pipeline.positive_points=4", "seed=3"]


# -- gradio missing -----------------------------------------------------------------------------------

def test_sampt_ui_without_gradio_says_how_to_install_it(monkeypatch, capsys):
    from sampt.cli import main

    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` now raises ImportError
    code = main(["ui", "tracker=lk"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "pip install 'sampt[ui]'" in err and "Traceback" not in err, err


def test_cancel_after_a_finished_propagation_keeps_its_message(app, clip):
    ws, *_ = app["on_start"](None)
    (x1, y1), *_ = _object_points(clip)
    _click(app, ws, 0, "positive", x1, y1)
    *_, status = list(app["on_propagate"](ws, 0))[-1]
    assert status.startswith("Propagated")
    assert app["on_cancel"](ws) == "Propagated through 4 frames; nothing to cancel."
    ws.remove()


def test_an_object_id_out_of_range_is_one_message(app, clip):
    ws, *_ = app["on_start"](None)
    (x1, y1), *_ = _object_points(clip)
    for bad in (300, 0, 2.5, None):
        ws, image, status = app["on_click"](ws, 0, "positive", bad, SimpleNamespace(index=[int(x1), int(y1)]))
        assert status.startswith("**Error:** object id must be a whole number in 1..255"), status
        assert image is not None and not ws.session.object_ids
    ws.remove()


def _quality(T=10, flagged=((4, 0),)):
    from sampt.pipeline.quality import FLAGS, FrameQuality

    area = np.full((T, 1), 100)
    area[7, 0] = 0
    flags = {f: np.zeros((T, 1), bool) for f in FLAGS}
    for t, o in flagged:
        flags["collapsed"][t, o] = True
    return FrameQuality([1], area, area / 100.0, (area > 0).astype(int), np.ones((T, 1)), np.full((T, 1), np.nan), flags)


def test_timeline_shows_present_flagged_absent_and_not_computed_frames():
    from sampt.overlay import object_colour
    from sampt.ui.timeline import FLAGGED, NOT_YET, ABSENT, frame_at, timeline_image

    image = timeline_image(_quality(), computed=range(9), current=0, width=100)  # frame 9 not computed
    row = image[5]
    assert tuple(row[45]) == FLAGGED and tuple(row[75]) == ABSENT and tuple(row[95]) == NOT_YET
    assert tuple(row[25]) == object_colour(1)
    assert frame_at(45, 100, 10) == 4


def test_next_frame_to_check_is_the_most_doubtful_not_visited():
    from sampt.ui.timeline import next_to_check

    q = _quality(flagged=((4, 0), (6, 0)))
    q.flags["few_points"][6, 0] = True  # two flags on frame 6
    assert next_to_check(q, visited={0}, computed=range(10)) == 6
    assert next_to_check(q, visited={6}, computed=range(10)) == 4
    assert next_to_check(q, visited={4, 6}, computed=range(10)) is None
