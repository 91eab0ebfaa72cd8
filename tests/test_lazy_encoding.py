"""A frame is encoded only when some object is prompted on it, and the masks do not change for it."""
from __future__ import annotations

import numpy as np

from sampt.builtin.samplers import KMedoidsSampler, MixedSampler
from sampt.pipeline import SamPt, SamPtOptions
from sampt.pipeline.context import RunContext
from sampt.pipeline.prompting import ObjectFramePoints, segment_frame
from sampt.pipeline.query_points import ObjectQueries
from sampt.types import Tracks


def _tracks(T: int) -> tuple[Tracks, Tracks]:
    """Two objects; object 0 hidden on frames 2 and 5, object 1 hidden on 5 and 7 and outside on 8."""
    a = np.zeros((T, 2, 2), np.float32)
    a[:, 0] = np.stack([20 + np.arange(T) * 2, np.full(T, 30)], axis=1)
    a[:, 1] = [40, 40]
    va = np.ones((T, 2), bool)
    va[[2, 5]] = False
    b = np.zeros((T, 1, 2), np.float32)
    b[:, 0] = [70, 50]
    b[8, 0] = [95.5, 50]  # on the border: not usable
    vb = np.ones((T, 1), bool)
    vb[[5, 7]] = False
    return Tracks(a, va), Tracks(b, vb)


def _components(seg):
    return dict(tracker=None, segmenter=seg, positive_sampler=KMedoidsSampler(), negative_sampler=MixedSampler())


def test_unprompted_frames_are_not_encoded_and_masks_match_eager_encoding(recording_segmenter, small_clip):
    video = small_clip.video
    T = len(video)
    options = SamPtOptions(negative_points=1, refinement_iterations=2)
    tracks = _tracks(T)
    labels = [np.array([1, 1]), np.array([1])]
    queries = [ObjectQueries(1, 0, tracks[0].points[0], labels[0]), ObjectQueries(2, 0, tracks[1].points[0], labels[1])]

    seg = recording_segmenter(radius=3)
    out = SamPt(**_components(seg), options=options).segment(video, queries, list(tracks))
    assert seg.encoder_calls == T - 1  # frame 5: nobody visible, so never encoded
    assert seg.encoded == [int(video.frames[t].sum()) for t in range(T) if t != 5]

    # the same steps, every frame encoded up front (as before): identical masks and IoUs
    eager_seg = recording_segmenter(radius=3)
    ctx = RunContext(video, None, eager_seg, KMedoidsSampler(), MixedSampler(), options=options)
    masks = out.store.masks()
    for t in range(T):
        points = [ObjectFramePoints(tr.points[t], lab, tr.visibility[t]) for tr, lab in zip(tracks, labels)]
        results = segment_frame(ctx, ctx.embedding(t), points, ctx.frame_rng(t))
        for o, r in enumerate(results):
            expected = np.zeros(video.size, bool) if r.logits is None else r.logits > 0
            np.testing.assert_array_equal(masks[t, o], expected)
            assert (np.isnan(out.iou[t, o]) and r.iou is None) or out.iou[t, o] == r.iou
    assert eager_seg.encoder_calls == T
    assert [len(c) for c in seg.calls] == [len(c) for c in eager_seg.calls]  # same decoder calls, same batches


def test_segment_frame_by_index_encodes_only_with_a_prompt(recording_segmenter, small_clip):
    seg = recording_segmenter()
    ctx = RunContext(small_clip.video, None, seg, KMedoidsSampler(), MixedSampler(),
                     options=SamPtOptions(negative_points=0, refinement_iterations=0))
    hidden = ObjectFramePoints(np.array([[10.0, 10.0]], np.float32), np.array([1]), np.array([False]))
    negatives_only = ObjectFramePoints(np.array([[10.0, 10.0]], np.float32), np.array([0]), np.array([True]))
    results = segment_frame(ctx, 3, [hidden, negatives_only], ctx.frame_rng(3))
    assert seg.encoder_calls == 0 and not seg.calls and all(r.logits is None and r.iou is None for r in results)
    shown = ObjectFramePoints(np.array([[10.0, 10.0]], np.float32), np.array([1]), np.array([True]))
    results = segment_frame(ctx, 3, [shown], ctx.frame_rng(3))
    assert seg.encoder_calls == 1 and results[0].logits is not None
