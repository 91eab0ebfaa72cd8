"""``sampt ui`` driven in a real headless browser (Debian's chromium through Playwright): the masks the page
exports equal the Session API's for the same clicks, undo restores them, and a corrupt upload shows an
error in the page while the server keeps serving."""
from __future__ import annotations

import os
import re
import shutil
import socket
import zipfile
from pathlib import Path

import numpy as np
import pytest

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


@pytest.fixture(scope="module")
def server(clip_dir, tmp_path_factory):
    from sampt.ui.app import build_app, launch

    demo = build_app(str(clip_dir[0]), OVERRIDES, root=str(tmp_path_factory.mktemp("ui")), max_upload_mb=MAX_MB)
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


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    pg.goto(server)
    _wait_status(pg, "Opened")
    yield pg
    context.close()


def _wait_status(page, text: str) -> str:
    status = page.locator("#status")
    status.filter(has_text=text).wait_for()
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
    shot = os.environ.get("SAMPT_UI_SCREENSHOT")
    if shot:
        page.screenshot(path=shot, full_page=True)
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
    assert "Traceback" not in page.content()
    x, y = _inside(clip.masks[0, 0], 2)
    _click_pixel(page, x, y, clip.video.width, clip.video.height, "Added object 1")
