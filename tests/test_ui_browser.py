"""``sampt ui`` driven in a real headless browser (Debian's chromium through Playwright): the masks the page
exports equal the Session API's for the same clicks, undo restores them; a corrupt or too-large upload shows
an error in the page while the server keeps serving; two browser sessions do not share state; a long
propagation shows progress and cancel stops it; the options form reaches the component; an idle session
expires with its folder. The handlers' logic is tested without a browser in tests/test_ui_app.py."""
from __future__ import annotations

import os
import re
import socket
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.serial  # a browser and a web server: not beside another serial test

CHROMIUM = os.environ.get("SAMPT_CHROMIUM", "/usr/bin/chromium")
OVERRIDES = ["tracker=lk", "segmenter=grabcut", "pipeline.positive_points=4", "pipeline.negative_points=1"]
TIMEOUT_MS = 30_000
MAX_MB = 1

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip(f"no chromium at {CHROMIUM} (apt-get install -y chromium; in CI these tests must run)",
                allow_module_level=True)
gr = pytest.importorskip("gradio") if not os.environ.get("CI") else __import__("gradio")
playwright_sync = (pytest.importorskip("playwright.sync_api") if not os.environ.get("CI")
                   else __import__("playwright.sync_api", fromlist=["sync_playwright"]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from sampt.data.synthetic import make_clip
    from sampt.io import write_frames

    clip = make_clip(seed=3, num_frames=5, height=48, width=64, num_objects=1)
    folder = tmp_path_factory.mktemp("clip") / "frames"
    write_frames(folder, clip.video, suffix=".png")
    return folder, clip


ENCODED: list[int] = []  # frames the slow segmenter encoded, in order


class SlowGrabCut:
    """A test plugin: GrabCut that takes ``delay`` seconds to encode a frame (a long propagation)."""

    @staticmethod
    def factory(delay: float = 0.0, **options):
        from sampt.builtin.segmenters import GrabCutSegmenter

        class Slow(GrabCutSegmenter):
            def _encode(self, image):
                time.sleep(delay)
                ENCODED.append(1)
                return super()._encode(image)

        return Slow(**options)

    def __init__(self):
        import sampt

        @sampt.hookimpl
        def register_segmenters(register):
            register("slow_grabcut", SlowGrabCut.factory, description="GrabCut with a delay (tests)")

        self.register_segmenters = register_segmenters


@pytest.fixture(scope="module")
def server(clip_dir, tmp_path_factory):
    from sampt.plugins import Registry, plugin_manager
    from sampt.ui.app import build_app, launch

    registry = Registry(plugin_manager(extra_plugins=[SlowGrabCut()]))
    demo = build_app(str(clip_dir[0]), OVERRIDES, root=str(tmp_path_factory.mktemp("ui")), max_upload_mb=MAX_MB,
                     registry=registry)
    url = launch(demo, port=_free_port(), max_upload_mb=MAX_MB)  # as `sampt ui` serves it
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def _open(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(url)
    _wait_status(pg, "Opened")
    return context, pg


@pytest.fixture
def page(browser, server):
    context, pg = _open(browser, server)
    yield pg
    context.close()


def _wait_status(page, text: str) -> str:
    status = page.locator("#status")
    try:  # case-sensitive: not the progress overlay's text
        status.filter(has_text=re.compile(re.escape(text))).wait_for()
    except playwright_sync.TimeoutError:
        raise AssertionError(f"the page never said {text!r}; its status: {status.inner_text()!r}") from None
    return status.inner_text()


def _click_pixel(page, x: float, y: float, width: int, height: int, expect: str) -> tuple[float, float]:
    """Click frame pixel (x, y) of the shown image; returns the position the page reports it used."""
    sx, sy = _screen(page, x, y, width, height)
    page.mouse.click(sx, sy)
    text = _wait_status(page, expect)
    m = re.search(r"at \(([-\d.e]+), ([-\d.e]+)\)", text)
    assert m, text
    used = float(m.group(1)), float(m.group(2))
    assert abs(used[0] - x) <= 1.5 and abs(used[1] - y) <= 1.5, (used, (x, y))
    return used


def _screen(page, x: float, y: float, width: int, height: int) -> tuple[float, float]:
    """Where frame pixel (x, y) is on the screen: the image is drawn scaled to fit ('contain') its box."""
    img = page.locator("#frame img").first
    img.scroll_into_view_if_needed()  # a control below it may have scrolled the page
    box = img.bounding_box()
    scale = min(box["width"] / width, box["height"] / height)
    left = box["x"] + (box["width"] - width * scale) / 2
    top = box["y"] + (box["height"] - height * scale) / 2
    return left + (x + 0.5) * scale, top + (y + 0.5) * scale


def _export(page, tmp_path: Path, name: str) -> np.ndarray:
    """Click export, download the masks archive through the browser and read its label PNGs."""
    from sampt.io import read_label_png

    page.click("#export")
    _wait_status(page, "Exported")
    link = page.locator('#exported a[download$="masks.zip"]').last
    href = link.get_attribute("href")
    archive = tmp_path / f"{name}.zip"
    archive.write_bytes(page.request.get(href).body())
    out = tmp_path / name
    with zipfile.ZipFile(archive) as z:
        z.extractall(out)
    return np.stack([read_label_png(p) for p in sorted((out / "masks").glob("*.png"))])


def _reference(folder: Path, clicks) -> np.ndarray:
    """The Session API's label maps for the same clicks (object 1 on frame 0)."""
    from sampt.config import compose
    from sampt.interactive import Session
    from sampt.io import read_video

    video = read_video(folder)
    with Session.from_config(compose(OVERRIDES), video) as session:
        (x, y), _ = clicks[0]
        session.add_object(1, 0, points=[[x, y]], labels=[1])
        for (x, y), positive in clicks[1:]:
            session.add_point(1, 0, x, y, positive=positive)
        return np.stack([m.label_map for m in session.masks()])


def _inside(mask: np.ndarray, k: int) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    order = np.lexsort((xs, ys))
    i = order[len(order) * k // 4]
    return int(xs[i]), int(ys[i])


def test_clicks_propagate_export_and_undo_match_the_session_api(page, clip_dir, tmp_path):
    folder, clip = clip_dir
    H, W = clip.video.height, clip.video.width
    obj = clip.masks[0, 0]
    p1, p2 = _inside(obj, 1), _inside(obj, 3)
    bg = np.argwhere(~obj)
    n1 = int(bg[len(bg) // 2][1]), int(bg[len(bg) // 2][0])

    c1 = _click_pixel(page, *p1, W, H, "Added object 1")
    c2 = _click_pixel(page, *p2, W, H, "Added a positive point")
    page.locator("#mode").get_by_label("negative").check()
    c3 = _click_pixel(page, *n1, W, H, "Added a negative point")

    page.click("#propagate")
    _wait_status(page, f"Propagated through {len(clip.video)} frames")
    three = _export(page, tmp_path, "three")
    expected = _reference(folder, [(c1, True), (c2, True), (c3, False)])
    assert three.shape == expected.shape == (len(clip.video), H, W)
    np.testing.assert_array_equal(three, expected)
    assert (three == 1).any()

    page.click("#undo")
    _wait_status(page, "Undone")
    two = _export(page, tmp_path, "two")
    np.testing.assert_array_equal(two, _reference(folder, [(c1, True), (c2, True)]))


def test_corrupt_upload_shows_an_error_and_the_page_keeps_working(page, clip_dir, tmp_path):
    _, clip = clip_dir
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00not a video at all" * 64)
    page.locator("#video-upload input[type=file]").set_input_files(str(bad))
    text = _wait_status(page, "Error")
    assert "broken" in text or "decod" in text or "video" in text, text
    assert "not an upload of this page" not in text, text  # the page's own upload folder is accepted
    assert "Traceback" not in page.content()
    x, y = _inside(clip.masks[0, 0], 2)
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")
    # a good upload after the bad one opens
    from sampt.io import write_video

    good = tmp_path / "good.mp4"
    write_video(good, list(clip.video.frames), fps=5)
    page.locator("#video-upload input[type=file]").set_input_files(str(good))
    assert f"{len(clip.video)} frames" in _wait_status(page, "Opened the upload")


def test_too_large_upload_is_refused_in_the_page_and_the_server_keeps_serving(page, clip_dir, tmp_path):
    _, clip = clip_dir
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * int((MAX_MB + 1) * (1 << 20)))
    page.locator("#video-upload input[type=file]").set_input_files(str(big))
    page.get_by_text(re.compile(r"exceed the maximum allowed size of 1(\.0)? ?mb", re.I)).first.wait_for()
    assert "Traceback" not in page.content()
    x, y = _inside(clip.masks[0, 0], 2)
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")  # the video still open


def test_two_browser_sessions_have_their_own_state_and_files(browser, server, clip_dir):
    _, clip = clip_dir
    (ca, a), (cb, b) = _open(browser, server), _open(browser, server)
    try:
        x, y = _inside(clip.masks[0, 0], 1)
        _click_pixel(a, x, y, clip.video.width, clip.video.height, "Added object 1")
        b.click("#propagate")  # b has no object: a's click is not in b's session
        assert "add an object first" in _wait_status(b, "Error")
        _click_pixel(b, x, y, clip.video.width, clip.video.height, "Added object 1")
        b.click("#undo")
        _wait_status(b, "Undone")
        a.click("#propagate")  # b's undo did not touch a's object
        _wait_status(a, f"Propagated through {len(clip.video)} frames")
        # the server hands out no file outside its upload and output folders
        for path in ("/etc/passwd", str(clip_dir[0] / "00000.png")):
            assert a.request.get(f"{server}gradio_api/file={path}").status >= 400, path
    finally:
        ca.close()
        cb.close()


def test_long_propagation_shows_progress_and_cancel_stops_it(page, clip_dir):
    _, clip = clip_dir
    delay, n = 1.5, len(clip.video)
    # pick the slow segmenter in the dropdown and set its delay in the options form
    page.locator("#segmenter input").click()
    page.get_by_role("option", name="slow_grabcut").click()
    form = page.locator("#segmenter-options")
    row = form.get_by_role("row").filter(has=page.get_by_text("delay", exact=True))
    row.get_by_role("gridcell").nth(1).dblclick()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(delay))
    page.keyboard.press("Enter")
    page.click("#apply")
    _wait_status(page, "New session with tracker lk and segmenter slow_grabcut")
    x, y = _inside(clip.masks[0, 0], 2)
    ENCODED.clear()
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")
    assert len(ENCODED) == 1  # frame 0, to show its mask: the delay reached the segmenter
    page.click("#propagate")
    assert re.search(rf"Propagating: frame \d of {n}", _wait_status(page, "Propagating: frame"))
    page.click("#cancel")
    _wait_status(page, "Cancelled")
    done = len(ENCODED)
    time.sleep(delay * (n - done) + 1)  # time enough to finish, had it kept going
    assert len(ENCODED) - done <= 1 and len(ENCODED) < n, (done, len(ENCODED))  # at most the frame under way
    assert "Propagated" not in page.locator("#status").inner_text()
    page.click("#undo")
    _wait_status(page, "Undone")


def test_an_idle_session_expires_and_its_folder_is_removed(browser, clip_dir, tmp_path):
    from sampt.ui.app import build_app, launch

    root = tmp_path / "ui"
    demo = build_app(str(clip_dir[0]), OVERRIDES, root=str(root), session_ttl_s=2)
    try:
        context, pg = _open(browser, launch(demo, port=_free_port()))
        _, clip = clip_dir
        x, y = _inside(clip.masks[0, 0], 2)
        _click_pixel(pg, x, y, clip.video.width, clip.video.height, "Added object 1")
        (folder,) = [p for p in root.iterdir() if p.is_dir()]
        assert (folder / "uploads").is_dir() and (folder / "outputs").is_dir()
        deadline = time.monotonic() + 20
        while folder.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not folder.exists(), "an idle session's folder outlived its time to live"
        context.close()
    finally:
        demo.close()


# -- issue #29's bugs, each seen in the browser ---------------------------------------------------------

def _slow_session(page, delay: float) -> None:
    """Switch the page to the slow segmenter with ``delay`` seconds per encoded frame."""
    page.locator("#segmenter input").click()
    page.get_by_role("option", name="slow_grabcut").click()
    row = page.locator("#segmenter-options").get_by_role("row").filter(has=page.get_by_text("delay", exact=True))
    row.get_by_role("gridcell").nth(1).dblclick()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(delay))
    page.keyboard.press("Enter")
    page.click("#apply")
    _wait_status(page, "New session with tracker lk and segmenter slow_grabcut")


def _set_slider(page, value: int) -> None:
    box = page.locator("#frame-slider input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def _shown(page) -> np.ndarray:
    """The frame image the page shows now, as RGB."""
    import cv2

    src = page.locator("#frame img").first.get_attribute("src")
    data = page.request.get(src).body() if not src.startswith("data:") else __import__("base64").b64decode(src.split(",", 1)[1])
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_bug1_slider_moved_during_propagation_keeps_its_frame_shown(page, clip_dir):
    _, clip = clip_dir
    _slow_session(page, 0.8)
    x, y = _inside(clip.masks[0, 0], 2)
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")
    first = _shown(page)
    page.click("#propagate")
    _wait_status(page, "Propagating: frame")
    _set_slider(page, 3)  # usable while it runs
    _wait_status(page, f"Propagated through {len(clip.video)} frames")
    assert page.locator("#frame-slider input[type=number]").input_value() == "3"
    assert not np.array_equal(_shown(page), first)  # frame 3 shown at the end, not frame 0


def test_bug2_cancel_after_propagation_finished_keeps_the_message(page, clip_dir):
    _, clip = clip_dir
    x, y = _inside(clip.masks[0, 0], 2)
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")
    page.click("#propagate")
    _wait_status(page, "Propagated through")
    page.click("#cancel")
    text = _wait_status(page, "nothing to cancel")
    assert text.startswith(f"Propagated through {len(clip.video)} frames") and "Cancelled" not in text, text


def test_bug3_an_object_id_out_of_range_is_a_message_and_the_next_click_works(page, clip_dir):
    _, clip = clip_dir
    box = page.locator("#object-id input")
    box.fill("300")
    box.press("Enter")
    x, y = _inside(clip.masks[0, 0], 2)
    sx, sy = _screen(page, x, y, clip.video.width, clip.video.height)
    page.mouse.click(sx, sy)
    assert "1..255" in _wait_status(page, "Error")
    assert page.locator("#frame img").count() == 1  # the frame is still shown, no error badge instead
    box.fill("2")
    box.press("Enter")
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 2")


def test_bug4_a_refused_session_file_is_named_as_the_user_named_it_and_leaves_the_box(page, tmp_path):
    bad = tmp_path / "my-edits.npz"
    bad.write_bytes(b"not a session")
    page.locator("#session-upload input[type=file]").set_input_files(str(bad))
    text = _wait_status(page, "Error")
    assert "my-edits.npz" in text and "/uploads/" not in text, text
    page.wait_for_function("() => !document.querySelector('#session-upload').innerText.includes('my-edits')")


def test_bug5_the_video_box_names_the_video_opened_from_the_command_line(page, clip_dir):
    folder, clip = clip_dir
    page.locator("#video-upload").get_by_text(f"{folder.name} is open").wait_for()


def test_bug6_exports_are_all_listed_with_plain_names(page, clip_dir):
    _, clip = clip_dir
    x, y = _inside(clip.masks[0, 0], 2)
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")
    page.click("#export")
    _wait_status(page, "Exported")
    names = sorted(a.get_attribute("download") for a in page.locator("#exported a[download]").all())
    assert names == ["masks.zip", "overlay.mp4", "result.json", "session.npz"], names
    for a in page.locator("#exported a[download]").all():
        assert a.is_visible()


def test_bug7_removing_the_only_point_removes_the_object(page, clip_dir):
    _, clip = clip_dir
    x, y = _inside(clip.masks[0, 0], 2)
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")
    page.locator("#mode").get_by_label("remove").check()
    sx, sy = _screen(page, x, y, clip.video.width, clip.video.height)
    page.mouse.click(sx, sy)
    _wait_status(page, "Removed point")
    page.click("#propagate")
    assert "add an object first" in _wait_status(page, "Error")


def test_bug8_every_session_folder_goes_when_the_server_stops(browser, clip_dir, tmp_path):
    from sampt.ui.app import build_app, launch

    workdir = tmp_path / "work"
    demo = build_app(str(clip_dir[0]), OVERRIDES, root=str(workdir))
    context, pg = _open(browser, launch(demo, port=_free_port()))
    try:
        _, clip = clip_dir
        x, y = _inside(clip.masks[0, 0], 2)
        _click_pixel(pg, x, y, clip.video.width, clip.video.height, "Added object 1")
        assert [p for p in workdir.iterdir() if p.is_dir()]
    finally:
        context.close()
        demo.sampt_shutdown()
    assert workdir.is_dir() and not list(workdir.iterdir())  # the folder given stays, emptied


def test_timeline_jumps_on_click_and_next_frame_to_check_answers(page, clip_dir):
    _, clip = clip_dir
    n = len(clip.video)
    x, y = _inside(clip.masks[0, 0], 2)
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")
    page.click("#propagate")
    _wait_status(page, f"Propagated through {n} frames")
    page.locator("#timeline img").first.wait_for()
    box = page.locator("#timeline img").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * (3.5 / n), box["y"] + box["height"] / 2)  # frame 3 of the strip
    page.wait_for_function("() => document.querySelector('#frame-slider input[type=number]').value === '3'")
    page.click("#next-check")
    text = _wait_status(page, "flagged")  # a flagged frame to jump to, or none left
    m = re.search(r"Frame (\d+) is flagged", text)
    if m:
        page.wait_for_function(
            f"() => document.querySelector('#frame-slider input[type=number]').value === '{m.group(1)}'")


def test_keyboard_shortcuts_step_frames_switch_modes_and_undo(page, clip_dir):
    _, clip = clip_dir
    page.locator("#help").get_by_text("help").first.click()
    page.get_by_text("Ctrl+Z / Ctrl+Shift+Z").wait_for()  # the help panel lists the shortcuts
    page.locator("h2").first.click()  # focus on the page, not a field
    page.keyboard.press("n")
    assert page.locator("#mode").get_by_label("negative").is_checked()
    page.keyboard.press("p")
    page.wait_for_function("() => document.querySelector('#mode input[value=positive]').checked")
    # the click before any frame step: a click landing while a stepped frame is being redrawn is lost
    x, y = _inside(clip.masks[0, 0], 2)
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")
    page.keyboard.press("Control+z")
    _wait_status(page, "Undone")
    page.keyboard.press("Control+Shift+z")
    _wait_status(page, "Redone")
    page.locator("h2").first.click()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#frame-slider input[type=number]').value === '1'")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => document.querySelector('#frame-slider input[type=number]').value === '0'")
