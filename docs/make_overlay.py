"""Make docs/overlay.gif, the README's first image: `sampt run` on a generated clip (two moving objects),
with the default components (Lucas-Kanade tracker, GrabCut segmenter).

    .venv/bin/python docs/make_overlay.py
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from sampt.cli import main
from sampt.data.synthetic import make_clip
from sampt.io import write_frames, write_label_png

DOCS = Path(__file__).resolve().parent


def make(out: Path = DOCS / "overlay.gif") -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = make_clip(seed=0, num_frames=20, height=150, width=200, num_objects=2, max_speed=3.0)
        write_frames(tmp / "clip", clip.video)
        write_label_png(tmp / "first.png", clip.label_map(0))
        code = main(["run", str(tmp / "clip"), "--mask", str(tmp / "first.png"), "--overlay", "gif", "-o",
                     str(tmp / "out"), "pipeline.positive_points=6", "--no-progress"])
        if code:
            sys.exit(code)
        shutil.copyfile(tmp / "out" / "overlay.gif", out)
    return out


if __name__ == "__main__":
    print(make())
