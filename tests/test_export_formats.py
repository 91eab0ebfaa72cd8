"""`sampt export` for annotation tools: CVAT gets one track per object with every component and hole of its
mask, COCO's `file_name` names files that exist."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import sampt
from sampt.cli import main
from sampt.data.synthetic import make_clip
from sampt.export import cvat_decode, cvat_rle
from sampt.io import write_label_png, write_video

FAST = ["tracker=lk", "pipeline.refinement_iterations=1", "pipeline.positive_points=4", "--overlay", "none",
        "--no-progress"]


def _ring_and_speck(size=(30, 40)):
    """A ring (a mask with a hole) plus a separate one-pixel speck: two components, one hole."""
    mask = np.zeros(size, bool)
    mask[5:20, 5:20] = True
    mask[9:15, 9:15] = False
    mask[25, 35] = True
    return mask


@pytest.mark.parametrize("mask", [_ring_and_speck(), np.ones((4, 6), bool), np.eye(5, dtype=bool)])
def test_cvat_rle_round_trips_every_component_and_hole(mask):
    encoded = cvat_rle(mask)
    np.testing.assert_array_equal(cvat_decode(*encoded, mask.shape), mask)
    assert encoded[0].split(", ")[0] == "0" if mask[encoded[2], encoded[1]] else True


def test_cvat_export_is_one_track_per_object_keeping_holes_and_specks(tmp_path):
    """A saved result whose object 1 is a ring plus a speck on some frames, absent on one: one track."""
    from sampt.export import cvat_xml
    from sampt.results import SavedResult

    T, size = 4, (30, 40)
    labels = np.zeros((T, *size), np.uint8)
    labels[0][_ring_and_speck(size)] = 1
    labels[1][_ring_and_speck(size)] = 1
    labels[3, 2:6, 2:6] = 1
    labels[:, 22:28, 2:8] = 2
    info = {"object_ids": [1, 2], "scores": [1.0, 1.0], "input": {"frame_names": [f"{t:05d}" for t in range(T)]}}
    root = ET.fromstring(cvat_xml(SavedResult(tmp_path, info, labels)))
    tracks = list(root.iter("track"))
    assert [t.get("label") for t in tracks] == ["object_1", "object_2"]
    shapes = {int(s.get("frame")): s for s in tracks[0]}
    assert sorted(shapes) == [0, 1, 2, 3] and shapes[2].get("outside") == "1"
    for t in (0, 1, 3):
        box = [int(shapes[t].get(k)) for k in ("left", "top", "width", "height")]
        np.testing.assert_array_equal(cvat_decode(shapes[t].get("rle"), *box, size), labels[t] == 1)
    assert root.find("meta/task/labels/label/type").text == "mask"


def _run(tmp_path: Path, video_arg: str, clip) -> Path:
    write_label_png(tmp_path / "first.png", clip.label_map(0))
    out = tmp_path / "out"
    assert main(["run", video_arg, "--mask", str(tmp_path / "first.png"), "-o", str(out), *FAST]) == 0
    return out


def test_coco_file_names_are_the_input_frame_files(tmp_path):
    pytest.importorskip("pycocotools")
    clip = make_clip(seed=3, num_frames=3, height=32, width=40, num_objects=1)
    frames = tmp_path / "shots"
    frames.mkdir()
    for t, frame in enumerate(clip.video):
        cv2.imwrite(str(frames / f"img_{t}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    out = _run(tmp_path, str(frames), clip)
    target = tmp_path / "exp" / "c.json"
    assert main(["export", str(out), "-f", "coco", "-o", str(target), "-q"]) == 0
    data = json.loads(target.read_text())
    files = [(target.parent / im["file_name"]).resolve() for im in data["images"]]
    assert [f.name for f in files] == ["img_0.png", "img_1.png", "img_2.png"] and all(f.is_file() for f in files)


def test_coco_export_of_a_video_file_writes_the_frames_it_names(tmp_path):
    pytest.importorskip("pycocotools")
    clip = make_clip(seed=3, num_frames=4, height=32, width=40, num_objects=1)
    write_video(tmp_path / "clip.avi", clip.video, fps=10)
    out = _run(tmp_path, str(tmp_path / "clip.avi"), clip)
    assert main(["export", str(out), "-f", "coco", "-q"]) == 0
    target = out / "export" / "coco.json"
    data = json.loads(target.read_text())
    saved = sampt.load_result(out)
    for im in data["images"]:
        image = cv2.imread(str(target.parent / im["file_name"]))
        assert image is not None and image.shape[:2] == (im["height"], im["width"]) == saved.label_maps.shape[1:]
    assert len({im["file_name"] for im in data["images"]}) == 4
