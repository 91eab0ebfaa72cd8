"""Video and mask I/O, atomic writes, synthetic clips."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sampt.data.synthetic import make_clip, make_synthetic_set, write_davis
from sampt.errors import UsageError
from sampt.outputs import atomic_file
from sampt.io import (VideoReader, davis_palette, read_label_png, read_video, write_label_png,
                      write_video)
from sampt.types import Tracks, Video, as_queries


def test_video_file_roundtrip_with_stride_max_frames_and_resize(tmp_path, small_clip):
    path = tmp_path / "clip.avi"
    write_video(path, small_clip.video, fps=10)
    video = read_video(path)
    assert video.frames.shape == small_clip.video.frames.shape and video.fps == pytest.approx(10)
    assert np.abs(video.frames.astype(int) - small_clip.video.frames).mean() < 12  # lossy codec
    assert len(read_video(path, stride=3)) == 4 and read_video(path, stride=3).fps == pytest.approx(10 / 3)
    assert len(read_video(path, max_frames=4)) == 4
    assert read_video(path, max_side=48).frames.shape[1:3] == (36, 48)


def test_mp4_is_written_and_read(tmp_path, small_clip):
    write_video(tmp_path / "clip.mp4", small_clip.video, fps=12)
    assert len(read_video(tmp_path / "clip.mp4")) == len(small_clip.video)


def test_frame_folder_in_davis_layout(tmp_path):
    clips = make_synthetic_set(2, seed=0, num_frames=4, height=48, width=64)
    root = write_davis(tmp_path / "DAVIS", clips)
    seq = root / "JPEGImages" / "480p" / clips[0].name
    assert sorted(p.name for p in seq.iterdir()) == [f"{i:05d}.jpg" for i in range(4)]
    video = read_video(seq)
    assert video.frames.shape == (4, 48, 64, 3)
    labels = read_label_png(root / "Annotations" / "480p" / clips[0].name / "00000.png")
    np.testing.assert_array_equal(labels, clips[0].label_map(0))
    assert (root / "ImageSets" / "2017" / "val.txt").read_text().split() == [c.name for c in clips]


def test_label_png_is_indexed_with_the_davis_palette(tmp_path):
    labels = np.zeros((10, 12), np.uint8)
    labels[2:5, 3:6] = 1
    labels[6:8, 1:3] = 2
    write_label_png(tmp_path / "m.png", labels)
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode == "P" and im.getpalette()[3:9] == [128, 0, 0, 0, 128, 0]
    np.testing.assert_array_equal(read_label_png(tmp_path / "m.png"), labels)
    assert davis_palette()[3].tolist() == [128, 128, 0]


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_file(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with atomic_file(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize("name, content, message", [
    ("missing.mp4", None, "does not exist"),
    ("broken.mp4", b"not a video at all", "cannot be decoded"),
    ("notes.txt", b"hello", "not a video"),
])
def test_bad_videos_are_usage_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        read_video(path)


def test_empty_frame_folder_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no JPEG/PNG"):
        VideoReader(tmp_path)


def test_synthetic_clips_are_seeded_and_exact():
    a = make_clip(seed=7, num_frames=5, num_objects=3, occluder=True)
    b = make_clip(seed=7, num_frames=5, num_objects=3, occluder=True)
    np.testing.assert_array_equal(a.video.frames, b.video.frames)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert not np.array_equal(a.video.frames, make_clip(seed=8, num_frames=5, num_objects=3).video.frames)
    assert not (a.masks.sum(axis=1) > 1).any()  # visible parts never overlap
    np.testing.assert_allclose(a.true_positions(0, [[30.0, 40.0]])[0], [[30.0, 40.0]], atol=1e-4)


def test_leaving_object_leaves_and_returns():
    clip = make_clip(seed=3, num_frames=24, num_objects=1, leave_and_return=True)
    area = clip.masks[:, 0].sum(axis=(1, 2))
    assert area[0] > 0 and area[-1] > 0 and (area == 0).any()


def test_data_contract_validation():
    with pytest.raises(ValueError, match="uint8"):
        Video(np.zeros((2, 4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        Video(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="visibility"):
        Tracks(np.zeros((3, 2, 2)), np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="non-negative integers"):
        as_queries([[0.5, 1, 1]])
    assert as_queries([]).shape == (0, 3)


def test_atomic_outputs_follow_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_label_png(tmp_path / "m.png", np.zeros((4, 4), np.uint8))
    finally:
        os.umask(old)
    assert (tmp_path / "m.png").stat().st_mode & 0o777 == 0o644


def test_streamed_masks_appear_only_when_the_run_completes(tmp_path):
    from sampt.results import RunOutput

    out = tmp_path / "out"
    failed = RunOutput(out)
    failed(0, np.ones((4, 4), np.uint8))
    failed.discard()  # the run raised after one frame
    assert not out.exists() and list(tmp_path.iterdir()) == []
    writer = RunOutput(out)
    for t in range(3):
        writer(t, np.full((4, 4), t, np.uint8))
    assert not out.exists()
    writer.unit.commit()
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["00000.png", "00001.png", "00002.png"]
    assert [p.name for p in out.iterdir()] == ["masks"]

def test_json_record_files_name_each_fault(tmp_path):
    from sampt.io import read_json_records

    def read(text):
        path = tmp_path / "r.json"
        path.write_text(text)
        return read_json_records(path, "results file", [{"video_id", "video"}, {"score"}], "a list of {video_id, score}")

    with pytest.raises(UsageError, match="does not exist"):
        read_json_records(tmp_path / "missing.json", "results file", [], "a list")
    with pytest.raises(UsageError, match="is not JSON"):
        read("[{")
    with pytest.raises(UsageError, match=r"must be a list of \{video_id, score\}"):
        read('{"video_id": 1, "score": 1}')
    with pytest.raises(UsageError, match="entry 1 does not fit"):
        read('[{"video_id": 1, "score": 1}, {"video": "a"}]')
    assert read('[{"video": "a", "score": 0.5}]') == [{"video": "a", "score": 0.5}]
