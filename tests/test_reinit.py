"""Point re-initialisation: the choice of frame per variant, and whole runs on synthetic clips."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.config import build_pipeline, compose
from sampt.data.synthetic import make_clip
from sampt.pipeline import ObjectPrompt
from sampt.pipeline.options import SamPtOptions, canonical_reinit_variant
from sampt.pipeline.reinit import choose_reinit_offsets

H = 8  # horizon: areas cover horizon frames 1..7, the first 8 // 4 = 2 are never chosen


def test_horizon_sync_takes_the_last_frame_or_the_next_start_of_another_object():
    areas = np.full((2, H - 1), 100)
    assert list(choose_reinit_offsets("horizon_sync", areas, np.array([100, 100]), H, None, 25)) == [6, 6]
    assert list(choose_reinit_offsets("horizon_sync", areas, np.array([100, 100]), H, 3, 25)) == [3, 3]


def test_median_area_takes_the_frame_of_the_lower_median_ignoring_tiny_and_early_masks():
    areas = np.array([[999, 999, 300, 100, 20, 200, 400],
                      [0, 0, 0, 0, 0, 0, 0]])
    chosen = choose_reinit_offsets("median_area_diff", areas, np.array([100, 100]), H, None, 25)
    # object 0: usable areas 300, 100, 200, 400 (20 is tiny, the first two are too early): lower median 200
    assert list(chosen) == [5, -1]  # object 1 has no usable mask


def test_similar_area_picks_the_closest_area_to_the_first_mask():
    areas = np.array([[100, 100, 150, 90, 500, 30, 70], [50, 60, 70, 80, 90, 100, 110]])
    chosen = choose_reinit_offsets("similar_area", areas, np.array([95, 100]), H, None, 25)
    assert list(chosen) == [3, 5]


def test_similar_area_sync_shares_one_frame_and_prefers_the_sync_frame():
    areas = np.array([[100, 100, 150, 90, 500, 30, 70], [50, 60, 70, 80, 90, 100, 110]])
    first = np.array([95.0, 100.0])
    chosen = choose_reinit_offsets("similar_area_sync", areas, first, H, None, 25)
    rel = np.abs(areas - first[:, None]) / first[:, None]
    rel[:, :2] = 720
    assert chosen[0] == chosen[1] == int(rel.sum(0).argmin())
    synced = choose_reinit_offsets("similar_area_sync", areas, first, H, 2, 25)
    assert list(synced) == [2, 2]  # 36 of bonus beats the small difference


@pytest.mark.parametrize("name, letter", [("horizon_sync", "A"), ("median_area_diff", "B"), ("similar_area", "C"),
                                          ("similar_area_sync", "D")])
def test_variants_by_letter(name, letter):
    assert canonical_reinit_variant(letter) == name
    with pytest.raises(ValueError, match="known"):
        SamPtOptions(reinit_variant="Z").validate()


@pytest.mark.parametrize("variant", ["A", "B", "C", "D"])
def test_reinit_runs_on_rotating_leaving_and_returning_objects(variant):
    clip = make_clip(seed=3, num_frames=24, height=72, width=96, num_objects=2, max_rotation=3.0,
                     leave_and_return=True)
    pipeline = build_pipeline(compose([f"pipeline.reinit_variant={variant}", "pipeline.reinit_horizon=6",
                                       "pipeline.reinit_tracker_horizon=8", "pipeline.refinement_iterations=2"]))
    result = pipeline.run(clip.video, [ObjectPrompt(o + 1, 0, mask=clip.masks[0, o]) for o in range(2)])
    assert result.encoder_calls == 24  # frames revisited by overlapping horizons are not re-encoded
    masks = result.masks
    inter = (masks & clip.masks).sum((2, 3))
    union = (masks | clip.masks).sum((2, 3))
    jaccard = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    # object 2 stays in view, rotating: segmented well throughout, its points re-initialised on the way
    assert jaccard[:, 1].mean() > 0.7
    assert not np.allclose(result.tracks[1].points[-1], result.queries[1].points, atol=1.0)
    # object 1 leaves the frame mid-clip: no mask while it is entirely outside, none invented afterwards
    gone = ~clip.masks[:, 0].any(axis=(1, 2))
    assert gone.sum() >= 8 and not masks[gone, 0].any()
    assert len(result.tracks) == 2 and result.tracks[0].num_frames == 24


def test_reinit_with_later_query_frames_runs_both_directions_and_encodes_once():
    clip = make_clip(seed=8, num_frames=16, height=72, width=96, num_objects=2)
    objects = [ObjectPrompt(1, 9, mask=clip.masks[9, 0]), ObjectPrompt(2, 3, mask=clip.masks[3, 1])]
    pipeline = build_pipeline(compose(["pipeline.reinit_variant=similar_area", "pipeline.reinit_horizon=4",
                                       "pipeline.reinit_tracker_horizon=4", "pipeline.refinement_iterations=1"]))
    result = pipeline.run(clip.video, objects)
    assert result.encoder_calls == 16
    iou = result.iou
    assert not np.isnan(iou[:9, 0]).all() and not np.isnan(iou[:3, 1]).all()  # the halves before the query frames
    for o in range(2):
        inter = (result.masks[:, o] & clip.masks[:, o]).sum((1, 2))
        union = (result.masks[:, o] | clip.masks[:, o]).sum((1, 2))
        assert np.mean(inter / np.maximum(union, 1)) > 0.5


def test_object_without_usable_mask_is_absent_for_the_rest(recording_segmenter, small_clip):
    from sampt.builtin.samplers import KMedoidsSampler, MixedSampler
    from sampt.builtin.trackers import LucasKanadeTracker
    from sampt.pipeline import SamPt

    seg = recording_segmenter(radius=2)  # 13-pixel masks: never usable to re-initialise (<= 25 px)
    pipeline = SamPt(LucasKanadeTracker(), seg, KMedoidsSampler(), MixedSampler(),
                     SamPtOptions(reinit_variant="similar_area", reinit_horizon=4, reinit_tracker_horizon=4,
                                  refinement_iterations=0))
    result = pipeline.run(small_clip.video, [ObjectPrompt(1, 0, mask=small_clip.masks[0, 0])])
    has_mask = result.masks[:, 0].any(axis=(1, 2))
    assert has_mask[:4].all() and not has_mask[4:].any()
    assert seg.encoder_calls == 4


class _StillTracker:
    """Points stay at their query positions; visible on the query frame, then (``visible_after``) or not."""

    def __init__(self, visible_after: bool):
        from sampt.interfaces import TrackerCapabilities

        self.capabilities = TrackerCapabilities()
        self.visible_after, self.calls = visible_after, []

    def track(self, video, queries):
        from sampt.types import Tracks

        self.calls.append((len(video), np.asarray(queries).copy()))
        T, N = len(video), len(queries)
        visible = np.ones((T, N), bool) if self.visible_after else np.arange(T)[:, None] == queries[None, :, 0]
        return Tracks(np.broadcast_to(queries[:, 1:], (T, N, 2)).copy(), visible)


def _reinit_run(recording_segmenter, small_clip, variant, radius, visible_after, reference):
    from sampt.builtin.samplers import KMedoidsSampler, MixedSampler
    from sampt.pipeline import SamPt

    seg, tracker = recording_segmenter(radius=radius), _StillTracker(visible_after)
    mask = np.zeros(small_clip.video.size, bool)
    mask[30:40, 40:50] = True
    options = SamPtOptions(reinit_variant=variant, reinit_horizon=4, reinit_tracker_horizon=4, refinement_iterations=0,
                           negative_points=0, reference_reinit=reference)
    result = SamPt(tracker, seg, KMedoidsSampler(), MixedSampler(), options).run(
        small_clip.video, [ObjectPrompt(1, 0, mask=mask)])
    decoded = [int(np.round(c[0].points[:, 1].mean())) for c in seg.calls]  # one call per segmented frame
    return result, tracker.calls, seg, decoded


def test_reference_reinit_resamples_from_an_empty_mask(recording_segmenter, small_clip):
    """Hand-made call log of the reference (horizon 4, variant A, points lost after their query frame):
    masks on frames 1-3 are empty; the reference still re-initialises on the horizon's frame 3, where its
    samplers answer the empty mask with 16 points at (0, 0), tracks them from frame 3 and again from 6."""
    result, calls, seg, _ = _reinit_run(recording_segmenter, small_clip, "A", 4, False, reference=True)
    assert [length for length, _ in calls] == [4, 4, 4]
    first = calls[0][1]
    assert len(first) == 16 and np.all(first[:, 0] == 0) and np.all(first[:, 1] >= 40)
    for _, queries in calls[1:]:  # re-sampled from empty masks: every point at (0, 0), on the horizon's start
        np.testing.assert_array_equal(queries, np.zeros((16, 3), np.float32))
    assert len(seg.calls) == 1  # (0, 0) lies on the border: never a usable prompt, so no further decode
    assert result.masks[0, 0].any() and not result.masks[1:, 0].any()
    np.testing.assert_array_equal(np.isnan(result.iou[:, 0]), [False] + [True] * 9)

    # sampt's default: the object is absent after the horizon, nothing else is tracked
    result, calls, seg, _ = _reinit_run(recording_segmenter, small_clip, "A", 4, False, reference=False)
    assert [length for length, _ in calls] == [4] and len(seg.calls) == 1
    assert result.masks[0, 0].any() and not result.masks[1:, 0].any()


def test_reference_reinit_resamples_from_a_tiny_mask(recording_segmenter, small_clip):
    """Variant C with 13-pixel masks (never usable, <= 25 px): the reference takes the horizon's first
    frame after the query frame and re-samples there, so horizons start on frames 0, 1, 2, ..., 6."""
    result, calls, seg, decoded = _reinit_run(recording_segmenter, small_clip, "C", 2, True, reference=True)
    assert [length for length, _ in calls] == [4] * 7
    assert all(13 <= len(q) <= 14 for _, q in calls[1:])  # a 13-14 pixel disc gives one point per pixel
    assert len(seg.calls) == 7 * 4  # each horizon segments its 4 frames
    assert result.masks[:, 0].any(axis=(1, 2)).all()
    result, calls, seg, _ = _reinit_run(recording_segmenter, small_clip, "C", 2, True, reference=False)
    assert len(calls) == 1 and len(seg.calls) == 4 and not result.masks[4:, 0].any()


def test_reference_preset_turns_both_reference_behaviours_on():
    cfg = compose(["pipeline=reference"])
    assert cfg.pipeline.reference_box is True and cfg.pipeline.reference_reinit is True
    assert compose([]).pipeline.reference_reinit is False
