"""Streaming SAM-PT (SamPt.stream): same masks as offline, declared latency, results while frames arrive."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.builtin.samplers import KMedoidsSampler, MixedSampler
from sampt.builtin.trackers import LucasKanadeTracker
from sampt.errors import InputError, UsageError
from sampt.interfaces import Tracker, TrackerCapabilities, TrackStream
from sampt.io import write_frames
from sampt.pipeline import ObjectPrompt, SamPt, SamPtOptions
from sampt.testing import FakeCamera
from sampt.types import Tracks


class DriftStream(TrackStream):
    """Points drift by (t - query frame) * velocity; each frame is final ``window`` frames after it arrives."""

    def __init__(self, queries, velocity, window):
        self.queries, self.velocity, self.window = queries, np.asarray(velocity, np.float32), window
        self.pushed = self.returned = 0

    def _frames(self, stop):
        T = np.arange(self.returned, stop, dtype=np.float32)[:, None]
        age = T - self.queries[None, :, 0]
        points = self.queries[None, :, 1:] + np.maximum(age, 0)[..., None] * self.velocity
        self.returned = stop
        return Tracks(points.astype(np.float32), age >= 0)

    def push(self, frame):
        self.pushed += 1
        return self._frames(max(self.returned, self.pushed - self.window))

    def finish(self):
        return self._frames(self.pushed)


class DriftOnlineTracker(Tracker):
    """A deterministic online tracker whose stream equals its track()."""

    def __init__(self, window=3, velocity=(1.0, 0.5)):
        self.window, self.velocity = window, velocity
        self.capabilities = TrackerCapabilities(online=True, bidirectional=False, latency=window)

    def open_stream(self, queries, height, width):
        return DriftStream(self.check_queries(queries, height, width), self.velocity, self.window)

    def _track(self, video, queries):
        stream = DriftStream(queries, self.velocity, self.window)
        parts = [stream.push(f) for f in video] + [stream.finish()]
        return Tracks.concatenate(parts, axis=0)


def _pipeline(tracker, recording_segmenter, **options):
    opts = SamPtOptions(positive_points=6, negative_points=1, refinement_iterations=1, **options)
    return SamPt(tracker, recording_segmenter(radius=6), KMedoidsSampler(), MixedSampler(), opts, seed=2)


def _objects(clip, frame=0):
    return [ObjectPrompt(o + 1, frame, mask=clip.masks[frame, o]) for o in range(clip.masks.shape[1])]


@pytest.mark.parametrize("length,overlap", [(4, 1), (5, 3)])
def test_chunked_stream_of_a_deterministic_offline_tracker_equals_the_offline_run(small_clip, recording_segmenter,
                                                                                  length, overlap, caplog):
    pipeline = _pipeline(LucasKanadeTracker(), recording_segmenter, stream_chunk_length=length,
                         stream_chunk_overlap=overlap)
    offline = pipeline.run(small_clip.video, _objects(small_clip))
    with caplog.at_level("INFO", logger="sampt.pipeline.streaming"):
        frames = list(pipeline.stream(small_clip.video, _objects(small_clip)))
    assert "offline" in caplog.text and f"chunks of {length} frames" in caplog.text
    assert [f.t for f in frames] == list(range(len(small_clip.video)))
    np.testing.assert_array_equal(np.stack([f.label_map for f in frames]), offline.label_maps())
    assert max(f.latency for f in frames) == length - 1 == pipeline.stream_latency(size=small_clip.video.size)
    t, labels, info = frames[3]
    assert t == 3 and set(info) == {1, 2}
    assert info[1].area >= int((labels == 1).sum()) > 0  # overlapped pixels go to one object in the label map
    np.testing.assert_allclose([info[o].iou for o in (1, 2)], offline.iou[3], rtol=1e-6)


@pytest.mark.parametrize("window", [0, 3])
def test_online_stream_equals_offline_and_has_the_declared_latency(small_clip, recording_segmenter, window):
    pipeline = _pipeline(DriftOnlineTracker(window), recording_segmenter)
    offline = pipeline.run(small_clip.video, _objects(small_clip))
    frames = list(pipeline.stream(small_clip.video, _objects(small_clip)))
    np.testing.assert_array_equal(np.stack([f.label_map for f in frames]), offline.label_maps())
    latencies = [f.latency for f in frames]
    assert max(latencies) == window == pipeline.stream_latency()
    assert latencies[: len(frames) - window] == [window] * (len(frames) - window)  # the end is flushed sooner


def test_objects_marked_later_wait_for_their_frame(small_clip, recording_segmenter):
    pipeline = _pipeline(DriftOnlineTracker(1), recording_segmenter)
    frames = list(pipeline.stream(small_clip.video, _objects(small_clip, frame=4)))
    assert frames[0].latency == 4 == pipeline.stream_latency(query_frame=4)
    assert all(not f.label_map.any() for f in frames[:4]) and frames[4].label_map.any()


def test_masks_come_out_while_the_camera_still_delivers_frames(small_clip, recording_segmenter):
    camera = FakeCamera(small_clip.video.frames, fps=200.0, num_frames=24)
    pipeline = _pipeline(DriftOnlineTracker(2), recording_segmenter)
    delivered_at_output = [camera.delivered for _ in pipeline.stream(camera, _objects(small_clip))]
    assert len(delivered_at_output) == 24
    assert delivered_at_output[0] == 3 and delivered_at_output[10] == 13  # latency 2: output t after frame t + 2


def test_sources_files_folders_and_iterators_give_the_same_stream(tmp_path, small_clip, recording_segmenter):
    pipeline = _pipeline(DriftOnlineTracker(1), recording_segmenter)
    write_frames(tmp_path / "frames", small_clip.video, suffix=".png")
    expected = np.stack([f.label_map for f in pipeline.stream(small_clip.video, _objects(small_clip))])
    for source in (str(tmp_path / "frames"), iter(list(small_clip.video.frames)), small_clip.video.frames):
        got = np.stack([f.label_map for f in pipeline.stream(source, _objects(small_clip))])
        np.testing.assert_array_equal(got, expected)


def test_bad_streams_fail_clearly(small_clip, recording_segmenter):
    pipeline = _pipeline(DriftOnlineTracker(1), recording_segmenter)
    frames = list(small_clip.video.frames[:3]) + [np.zeros((10, 10, 3), np.uint8)]
    with pytest.raises(InputError, match="same size"):
        list(pipeline.stream(iter(frames), _objects(small_clip)))
    with pytest.raises(InputError, match="no frames"):
        list(pipeline.stream(iter([]), _objects(small_clip)))
    with pytest.raises(UsageError, match="frame 5.*ended after 3"):
        list(pipeline.stream(iter(small_clip.video.frames[:3]), _objects(small_clip, frame=5)))
    with pytest.raises(InputError, match="uint8"):
        list(pipeline.stream(iter([np.zeros((72, 96, 3), np.float32)]), _objects(small_clip)))
    with pytest.raises(InputError, match="cannot stream"):
        list(pipeline.stream(3.5, _objects(small_clip)))


@pytest.fixture(scope="module")
def reinit_clip():
    from sampt.data.synthetic import make_clip

    return make_clip(seed=3, num_frames=20, height=72, width=96, num_objects=2, max_rotation=3.0)


@pytest.mark.parametrize("variant,horizon,tracker_horizon", [("A", 4, 4), ("C", 4, 6), ("D", 5, 5)])
def test_reinit_stream_equals_the_offline_reinit_run_holding_one_horizon(reinit_clip, recording_segmenter, variant,
                                                                         horizon, tracker_horizon):
    pipeline = _pipeline(LucasKanadeTracker(), recording_segmenter, reinit_variant=variant, reinit_horizon=horizon,
                         reinit_tracker_horizon=tracker_horizon, min_reinit_area=5)
    offline = pipeline.run(reinit_clip.video, _objects(reinit_clip))
    camera = FakeCamera(reinit_clip.video.frames, fps=None)
    frames = list(pipeline.stream(camera, _objects(reinit_clip)))
    assert [f.t for f in frames] == list(range(len(reinit_clip.video)))
    np.testing.assert_array_equal(np.stack([f.label_map for f in frames]), offline.label_maps())
    iou = np.array([[np.nan if f.objects[o].iou is None else f.objects[o].iou for o in (1, 2)] for f in frames])
    np.testing.assert_allclose(iou, offline.iou, rtol=1e-6)
    # held frames are bounded by one tracker horizon (+1 to see whether the stream goes on), not the video
    lookahead = max(tracker_horizon, horizon + 1)
    assert max(f.latency for f in frames) == lookahead - 1 == pipeline.stream_latency()
    assert offline.label_maps()[-1].any()  # the objects are still tracked at the end: re-initialisation worked


def test_reinit_stream_with_objects_marked_later_runs_their_backward_half_first(reinit_clip, recording_segmenter):
    pipeline = _pipeline(LucasKanadeTracker(), recording_segmenter, reinit_variant="A", reinit_horizon=4,
                         reinit_tracker_horizon=4, min_reinit_area=5)
    objects = [ObjectPrompt(1, 0, mask=reinit_clip.masks[0, 0]), ObjectPrompt(2, 6, mask=reinit_clip.masks[6, 1])]
    frames = list(pipeline.stream(reinit_clip.video, objects))
    labels = np.stack([f.label_map for f in frames])
    assert len(frames) == 20 and (labels[:6] == 2).any() and (labels[6:] == 2).any() and (labels == 1).any()
    assert max(f.latency for f in frames) == 6 == pipeline.stream_latency(query_frame=6)
