"""The one-line Python API: `sampt.segment` on paths, frame folders, arrays and Videos, with masks, clicks and
boxes on any frame; `sampt.load_result` reading a run back."""
from __future__ import annotations

import numpy as np
import pytest

import sampt
from sampt.data.synthetic import make_clip
from sampt.errors import UsageError
from sampt.io import write_frames, write_label_png, write_video

FAST = ["pipeline.refinement_iterations=1", "pipeline.positive_points=4"]


@pytest.fixture(scope="module")
def clip():
    return make_clip(seed=6, num_frames=4, height=48, width=64, num_objects=2)


def _iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_segment_an_array_with_a_mask_array(clip):
    result = sampt.segment(clip.video.frames, mask=clip.label_map(0), tracker="lk", segmenter="grabcut",
                           overrides=FAST)
    assert result.object_ids == [1, 2] and result.num_frames == 4
    assert _iou(result.mask(0, 0), clip.masks[0, 0]) > 0.7
    assert len(result.tracks) == 2 and result.tracks[0].num_frames == 4


def test_segment_a_video_file_with_a_mask_path(clip, tmp_path):
    write_video(tmp_path / "v.mp4", clip.video, fps=8)
    write_label_png(tmp_path / "m.png", clip.label_map(0))
    result = sampt.segment(str(tmp_path / "v.mp4"), mask=tmp_path / "m.png", tracker="flow", overrides=FAST)
    assert result.object_ids == [1, 2] and result.label_map(3).shape == (48, 64)


def test_segment_a_frame_folder_with_clicks_and_a_box_on_other_frames(clip, tmp_path):
    write_frames(tmp_path / "frames", clip.video)
    ys, xs = np.nonzero(clip.masks[1, 0])
    clicks = np.array([[xs[len(xs) // 2], ys[len(ys) // 2]]])
    ys, xs = np.nonzero(clip.masks[2, 1])
    box = [xs.min() - 2, ys.min() - 2, xs.max() + 2, ys.max() + 2]
    result = sampt.segment(tmp_path / "frames", points={1: clicks}, box={2: box}, overrides=FAST,
                           output=tmp_path / "out", overlay=None)
    assert result.object_ids == [1, 2]
    assert [q.frame for q in result.queries] == [1, 2]
    assert _iou(result.mask(2, 1), clip.masks[2, 1]) > 0.5
    saved = sampt.load_result(tmp_path / "out")
    assert [o["prompt"]["kind"] for o in saved.info["objects"]] == ["points", "box"]
    np.testing.assert_array_equal(saved.label_map(2), result.label_map(2))
    assert saved.tracks.num_points == sum(t.num_points for t in result.tracks)
    assert not (tmp_path / "out" / "overlay.mp4").exists()


def test_segment_a_video_object_with_several_click_objects(clip):
    points = []
    for o in range(2):
        ys, xs = np.nonzero(clip.masks[0, o])
        points.append(np.array([[xs[0], ys[0], 1], [xs[-1], ys[-1], 1], [0, 0, 0]]))
    result = sampt.segment(clip.video, points=points, overrides=FAST)
    assert result.object_ids == [1, 2]
    assert [list(q.labels) for q in result.queries] == [[1, 1, 0], [1, 1, 0]]


@pytest.mark.parametrize("kwargs, message", [
    ({}, "no object to segment"),
    ({"mask": np.zeros((48, 64), bool)}, "empty"),
    ({"mask": np.ones((3, 3, 3))}, "(H, W)"),
    ({"points": np.ones((2, 4))}, "(K, 2)"),
    ({"box": [10, 10, 5, 5]}, "empty"),
    ({"box": [1, 2, 3]}, "(x0, y0, x1, y1)"),
    ({"mask": {9: np.ones((48, 64), bool)}}, "outside the video"),
])
def test_bad_prompts_are_clear_errors(clip, kwargs, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sampt.segment(clip.video.frames, overrides=FAST, **kwargs)


def test_a_bad_video_array_is_a_clear_error():
    with pytest.raises(UsageError, match="uint8"):
        sampt.segment(np.zeros((2, 8, 8, 3), np.float32), mask=np.ones((8, 8), bool))
