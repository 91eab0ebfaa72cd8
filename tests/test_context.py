"""The run context the pipeline steps share, and the segmentation output they fill."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.builtin.samplers import KMedoidsSampler, MixedSampler
from sampt.pipeline import ObjectPrompt, SamPt, SamPtOptions
from sampt.pipeline.context import RunContext
from sampt.pipeline.prompting import ObjectFrameResult
from sampt.pipeline.store import SegmentationOutput


def test_segmentation_output_starts_empty_and_records_results():
    out = SegmentationOutput.empty(3, 2, (8, 10))
    assert out.iou.shape == (3, 2) and np.isnan(out.iou).all()
    assert out.prompts == [[None, None]] * 3 and not out.store.masks().any()
    logits = np.full((8, 10), -1.0, np.float32)
    logits[2:4, 3:6] = 1.0
    points, labels = np.array([[4.0, 3.0]], np.float32), np.array([1])
    out.record(1, 0, ObjectFrameResult(logits, 0.8, points, labels))
    out.record(2, 1, ObjectFrameResult(None, 0.3, points, labels))  # rejected mask: IoU kept, mask empty
    out.record(0, 1, ObjectFrameResult(None, None))  # no prompt: NaN
    assert out.store.mask(1, 0).sum() == 6 and out.iou[1, 0] == pytest.approx(0.8)
    assert not out.store.mask(2, 1).any() and out.iou[2, 1] == pytest.approx(0.3)
    assert np.isnan(out.iou[0, 1]) and out.prompts[0][1][0].shape == (0, 2)
    np.testing.assert_array_equal(out.prompts[1][0][0], points)


def test_backward_context_shares_everything_but_the_seed(recording_segmenter, small_clip):
    ctx = RunContext(small_clip.video, None, recording_segmenter(), KMedoidsSampler(), MixedSampler(), seed=5)
    back = ctx.backward()
    assert back.seed == 6 and back.embeddings is ctx.embeddings and back.timings is ctx.timings
    assert back.segmenter is ctx.segmenter and back.options is ctx.options
    # every derived seed and generator follows the context's seed
    assert ctx.query_seed(0) != ctx.query_seed(1) and back.query_seed(0) != ctx.query_seed(0)
    assert ctx.frame_rng(3).random() == RunContext(small_clip.video, None, None, None, None, seed=5).frame_rng(3).random()
    assert ctx.frame_rng(3).random() != ctx.frame_rng(3, horizon_start=1).random()


def test_embedding_cache_is_sized_for_reinitialisation(recording_segmenter, small_clip):
    plain = RunContext(small_clip.video, None, recording_segmenter(), None, None)
    reinit = RunContext(small_clip.video, None, recording_segmenter(), None, None,
                        SamPtOptions(reinit_variant="A", reinit_horizon=4, reinit_tracker_horizon=4))
    assert plain.embeddings.capacity == 1 and reinit.embeddings.capacity == 5


def test_clicks_are_segmented_through_the_context_and_timed(recording_segmenter, fixed_tracker, small_clip):
    from sampt.types import Tracks

    T = len(small_clip.video)
    tracker = fixed_tracker(Tracks(np.full((T, 2, 2), 40.0, np.float32), np.ones((T, 2), bool)))
    seg = recording_segmenter(radius=6)
    pipeline = SamPt(tracker, seg, KMedoidsSampler(), MixedSampler(), SamPtOptions(refinement_iterations=1))
    clicks = np.array([[40.0, 40.0], [44.0, 40.0]], np.float32)
    result = pipeline.run(small_clip.video, [ObjectPrompt(1, 3, points=clicks)])
    # frame 3 is encoded once, for the clicks' query mask and again for step 3 (the cache keeps it)
    assert result.encoder_calls == T and seg.encoder_calls == T
    assert result.queries[0].mask.sum() == (np.hypot(*np.mgrid[-6:7, -6:7]) <= 6).sum()
    first = seg.calls[0][0]  # step 1 prompts with the clicks exactly as step 3 would: positives only first
    np.testing.assert_array_equal(first.points, clicks)
    assert set(result.timings) >= {"tracking", "encoding", "decoding", "other", "total", "query_points"}
    assert result.timings["decoding"] > 0 and result.timings["total"] >= result.timings["query_points"]
