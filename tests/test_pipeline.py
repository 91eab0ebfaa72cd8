"""The SAM-PT pipeline end to end: steps callable alone, encoder calls, determinism, accuracy, clicks."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.builtin.samplers import KMedoidsSampler, MixedSampler
from sampt.config import build_pipeline, compose
from sampt.data.synthetic import make_clip
from sampt.errors import UsageError
from sampt.pipeline import ObjectPrompt, SamPt, SamPtOptions
from sampt.types import Tracks


def mean_jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    inter = (pred & gt).sum(axis=(-2, -1))
    union = (pred | gt).sum(axis=(-2, -1))
    return float(np.where(union > 0, inter / np.maximum(union, 1), 1.0).mean())


def _objects(clip, frame=0):
    return [ObjectPrompt(o + 1, frame, mask=clip.masks[frame, o]) for o in range(clip.masks.shape[1])]


@pytest.mark.parametrize("tracker", ["lk", "flow"])
def test_weightless_pipeline_segments_synthetic_clips(tracker):
    clip = make_clip(seed=11, num_frames=12, height=96, width=128, num_objects=2)
    pipeline = build_pipeline(compose([f"tracker={tracker}"]))
    result = pipeline.run(clip.video, _objects(clip))
    assert result.encoder_calls == len(clip.video)
    J = mean_jaccard(result.masks, clip.masks)
    assert J > 0.6, J
    labels = result.label_maps()
    assert set(np.unique(labels)) <= {0, 1, 2} and labels.shape == (12, 96, 128)
    assert result.scores.shape == (2,) and np.all(result.scores > 0)


def test_same_seed_same_masks_and_steps_compose_to_run():
    clip = make_clip(seed=5, num_frames=8, height=72, width=96, num_objects=2)
    cfg = compose(["seed=3", "pipeline.max_other_negatives=2"])
    first = build_pipeline(cfg).run(clip.video, _objects(clip))
    second = build_pipeline(cfg).run(clip.video, _objects(clip))
    np.testing.assert_array_equal(first.masks, second.masks)

    pipeline = build_pipeline(cfg)
    queries = pipeline.query_points(clip.video, _objects(clip))
    assert [len(q.points) for q in queries] == [17, 17] and list(queries[0].labels).count(0) == 1
    tracks = pipeline.track(clip.video, queries)
    output = pipeline.segment(clip.video, queries, tracks)
    np.testing.assert_array_equal(output.store.masks(), first.masks)


def test_segment_step_accepts_fixed_tracks(recording_segmenter, small_clip):
    seg = recording_segmenter(radius=3)
    pipeline = SamPt(tracker=None, segmenter=seg, positive_sampler=KMedoidsSampler(), negative_sampler=MixedSampler(),
                     options=SamPtOptions(negative_points=0, refinement_iterations=0))
    T = len(small_clip.video)
    points = np.zeros((T, 2, 2), np.float32)
    points[:, 0] = np.stack([20 + np.arange(T) * 2, np.full(T, 30)], axis=1)
    points[:, 1] = [60, 40]
    visible = np.ones((T, 2), bool)
    visible[4, :] = False
    from sampt.pipeline.query_points import ObjectQueries

    queries = [ObjectQueries(1, 0, points[0], np.array([1, 1]))]
    out = pipeline.segment(small_clip.video, queries, [Tracks(points, visible)])
    masks = out.store.masks()
    for t in range(T):
        if t == 4:
            assert not masks[t, 0].any() and np.isnan(out.iou[t, 0])
        else:  # a disc around the mean of the visible positives
            cx, cy = (20 + 2 * t + 60) / 2, 35
            assert masks[t, 0, int(cy), int(cx)] and masks[t, 0].sum() == np.pi * 9 // 1 + 1
    assert seg.encoder_calls == T


def test_queries_after_frame_zero_track_both_ways_and_encode_each_frame_once():
    clip = make_clip(seed=2, num_frames=10, height=72, width=96, num_objects=2)
    objects = [ObjectPrompt(1, 4, mask=clip.masks[4, 0]), ObjectPrompt(2, 0, mask=clip.masks[0, 1])]
    pipeline = build_pipeline(compose([]))
    result = pipeline.run(clip.video, objects)
    assert result.encoder_calls == 10
    assert result.masks[:4, 0].any(axis=(1, 2)).sum() >= 3  # object 1 found before its query frame
    assert mean_jaccard(result.masks[:, 0], clip.masks[:, 0]) > 0.5


def test_clicked_points_give_query_mask_then_track():
    clip = make_clip(seed=4, num_frames=6, height=72, width=96, num_objects=1)
    clicks = KMedoidsSampler().sample(clip.masks[0, 0], 6, seed=0)  # a user clicking over the object
    pipeline = build_pipeline(compose([]))
    result = pipeline.run(clip.video, [ObjectPrompt(1, 0, points=clicks)])
    np.testing.assert_array_equal(result.queries[0].points, clicks)
    assert result.encoder_calls == 6
    assert mean_jaccard(result.masks, clip.masks) > 0.5
    assert result.queries[0].mask is not None and result.queries[0].mask.any()


@pytest.mark.parametrize("bad, message", [
    (dict(mask=np.zeros((72, 96), bool)), "empty"),
    (dict(points=np.array([[500.0, 10.0]])), "outside"),
    (dict(mask=np.ones((10, 10), bool)), "resize"),
    (dict(points=np.array([[5.0, 5.0]]), labels=np.array([0])), "positive"),
])
def test_bad_object_prompts_are_usage_errors(bad, message, small_clip):
    pipeline = build_pipeline(compose([]))
    with pytest.raises(UsageError, match=message):
        pipeline.run(small_clip.video, [ObjectPrompt(1, 0, **bad)])
    with pytest.raises(UsageError, match="outside the video"):
        pipeline.run(small_clip.video, [ObjectPrompt(1, 99, mask=np.ones((72, 96), bool))])


def test_tracker_batches_objects(fixed_tracker, recording_segmenter, small_clip):
    from sampt.pipeline.context import RunContext
    from sampt.pipeline.query_points import ObjectQueries
    from sampt.pipeline.tracking import track_objects

    calls = []

    class Counting:
        capabilities = fixed_tracker(None).capabilities

        def track(self, video, queries):
            calls.append(len(queries))
            T = len(video)
            return Tracks(np.zeros((T, len(queries), 2)), np.ones((T, len(queries)), bool))

    objects = [ObjectQueries(i, 0, np.zeros((3, 2), np.float32), np.ones(3)) for i in range(7)]
    ctx = RunContext(small_clip.video, Counting(), recording_segmenter(), None, None,
                     SamPtOptions(tracker_batch_objects=5))
    tracks = track_objects(ctx, objects)
    assert calls == [15, 6] and len(tracks) == 7 and all(t.num_points == 3 for t in tracks)


def test_videos_larger_than_the_trackers_limit_are_shrunk_for_it(small_clip):
    from sampt.interfaces import Tracker, TrackerCapabilities
    from sampt.pipeline.tracking import track_points

    seen = {}

    class Small(Tracker):
        capabilities = TrackerCapabilities(max_side=48)

        def _track(self, video, queries):
            seen["size"], seen["queries"] = video.size, np.array(queries)
            T = len(video)
            return Tracks(np.broadcast_to(queries[:, 1:], (T, len(queries), 2)), np.ones((T, len(queries)), bool))

    queries = np.array([[0, 95.0, 71.0], [0, 0.0, 0.0]], np.float32)
    tracks = track_points(Small(), small_clip.video, queries)
    assert seen["size"] == (36, 48)
    np.testing.assert_allclose(seen["queries"][0, 1:], [47.25, 35.25])  # frame edges map to frame edges
    np.testing.assert_allclose(tracks.points[0], queries[:, 1:], atol=1e-4)


@pytest.mark.parametrize("any_query_frame", [True, False])
def test_trackers_without_backward_tracking_get_it_from_the_pipeline(any_query_frame, small_clip):
    from sampt.interfaces import Tracker, TrackerCapabilities
    from sampt.pipeline.tracking import track_points

    calls = []

    class Forward(Tracker):
        """Moves every point +1 px in x per frame after its query frame; invisible before it."""

        capabilities = TrackerCapabilities(any_query_frame=any_query_frame, bidirectional=False)

        def _track(self, video, queries):
            calls.append((len(video), queries[:, 0].tolist()))
            T = len(video)
            steps = np.arange(T)[:, None] - queries[None, :, 0]
            points = np.repeat(queries[None, :, 1:], T, axis=0).copy()
            points[..., 0] += np.maximum(steps, 0)
            return Tracks(points, steps >= 0)

    queries = np.array([[0, 10, 10], [4, 20, 20], [4, 30, 30]], np.float32)
    tracks = track_points(Forward(), small_clip.video, queries)
    T = len(small_clip.video)
    np.testing.assert_allclose(tracks.points[:, 1, 0], 20 + np.abs(np.arange(T) - 4))  # forward and backward
    assert tracks.visibility.all()
    expected = [(T, [0, 4, 4]), (5, [0, 0])] if any_query_frame else [(T, [0]), (T - 4, [0, 0]), (5, [0, 0])]
    assert calls == expected


@pytest.mark.parametrize("reinit", [False, True])
def test_results_stream_frame_by_frame_without_keeping_masks(reinit):
    clip = make_clip(seed=6, num_frames=8, height=64, width=80, num_objects=2)
    overrides = ["pipeline.refinement_iterations=1"] + (["pipeline=reinit", "pipeline.reinit_horizon=4",
                                                         "pipeline.reinit_tracker_horizon=4"] if reinit else [])
    kept = build_pipeline(compose(overrides)).run(clip.video, _objects(clip))
    streamed = []
    result = build_pipeline(compose(overrides)).run(clip.video, _objects(clip), keep_masks=False,
                                                    on_frame=lambda t, labels: streamed.append((t, labels)))
    assert [t for t, _ in streamed] == list(range(8))
    for t, labels in streamed:
        np.testing.assert_array_equal(labels, kept.label_map(t))
    assert not result.masks.any() and result.encoder_calls == 8  # nothing held back once streamed
    np.testing.assert_array_equal(result.iou, kept.iou)
