"""Make docs/ui-after-propagation.png, the README's picture of `sampt ui`: the page served as `sampt ui` serves
it, driven by headless chromium (Playwright) on a generated 480p clip: two positive and one negative click on
object 1, two positive clicks on object 2, propagate, then "next frame to check" (the slider jumps to a frame
the quality record flags, gold on the timeline under the frame), in a 1280x1000 window. Needs the test extras (gradio, playwright) and Debian's chromium:

    .venv/bin/python docs/make_ui_screenshot.py [--chromium /usr/bin/chromium]
"""
from __future__ import annotations

import argparse
import os
import socket
import tempfile
from pathlib import Path

import numpy as np

from sampt.data.synthetic import make_clip
from sampt.io import write_frames
from sampt.ui.app import build_app, launch

DOCS = Path(__file__).resolve().parent
# a strict collapse threshold, so that the short clip shows a flagged frame on the timeline
OVERRIDES = ["tracker=lk", "segmenter=grabcut", "pipeline.positive_points=6", "pipeline.quality_collapse_ratio=1.0"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _point(mask: np.ndarray, k: int, of: int = 4) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    i = np.lexsort((xs, ys))[len(ys) * k // of]
    return int(xs[i]), int(ys[i])


def _click(page, x: int, y: int, width: int, height: int, expect: str) -> None:
    box = page.locator("#frame img").first.bounding_box()
    scale = min(box["width"] / width, box["height"] / height)
    left = box["x"] + (box["width"] - width * scale) / 2
    top = box["y"] + (box["height"] - height * scale) / 2
    page.mouse.click(left + (x + 0.5) * scale, top + (y + 0.5) * scale)
    page.locator("#status").filter(has_text=expect).wait_for()


def make(out: Path = DOCS / "ui-after-propagation.png", chromium: str = "/usr/bin/chromium") -> Path:
    from playwright.sync_api import sync_playwright

    clip = make_clip(seed=0, num_frames=12, height=480, width=854, num_objects=2, max_speed=6.0)
    H, W = clip.video.height, clip.video.width
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_frames(tmp / "clip", clip.video, suffix=".png")
        demo = build_app(str(tmp / "clip"), OVERRIDES, root=str(tmp / "ui"))
        url = launch(demo, port=_free_port())
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(300_000)
                page.goto(url)
                page.locator("#status").filter(has_text="Opened").wait_for()
                first, second = clip.masks[0, 0], clip.masks[0, 1]  # frame 0: objects 1 and 2
                _click(page, *_point(first, 1), W, H, "Added object 1")
                _click(page, *_point(first, 3), W, H, "Added a positive point")
                page.locator("#mode").get_by_label("negative").check()
                background = ~(first | second)
                _click(page, *_point(background, 1, 3), W, H, "Added a negative point")
                page.locator("#mode").get_by_label("positive").check()
                page.locator("#object-id input").fill("2")
                page.locator("#object-id input").press("Enter")
                _click(page, *_point(second, 1), W, H, "Added object 2")
                _click(page, *_point(second, 3), W, H, "Added a positive point")
                page.click("#propagate")
                page.locator("#status").filter(has_text="Propagated").wait_for()
                page.click("#next-check")
                page.locator("#status").filter(has_text="flagged").wait_for()
                page.wait_for_timeout(3000)  # the frame's image and the timeline arrive
                part = out.with_name(f".{out.name}.{os.getpid()}.png")
                page.screenshot(path=str(part))
                os.replace(part, out)  # written whole or not at all
                browser.close()
        finally:
            demo.sampt_shutdown()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=os.environ.get("SAMPT_CHROMIUM", "/usr/bin/chromium"))
    print(make(chromium=parser.parse_args().chromium))
