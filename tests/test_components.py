"""The weightless components: samplers, LK and dense-flow trackers, GrabCut segmenter."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.builtin.samplers import KMedoidsSampler, MixedSampler, RandomSampler, ShiTomasiSampler
from sampt.builtin.segmenters import GrabCutSegmenter
from sampt.builtin.trackers import DenseFlowTracker, LucasKanadeTracker
from sampt.data.synthetic import make_clip
from sampt.types import Prompt

SAMPLERS = [RandomSampler, KMedoidsSampler, ShiTomasiSampler, MixedSampler]


@pytest.mark.parametrize("sampler_cls", SAMPLERS)
def test_samplers_pick_distinct_mask_pixels_deterministically(sampler_cls, small_clip):
    mask, image = small_clip.masks[0, 0], small_clip.video[0]
    sampler = sampler_cls()
    a = sampler.sample(mask, 16, seed=1, image=image)
    b = sampler.sample(mask, 16, seed=1, image=image)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (16, 2) and a.dtype == np.float32
    xi, yi = np.round(a[:, 0]).astype(int), np.round(a[:, 1]).astype(int)
    assert mask[yi, xi].all()


@pytest.mark.parametrize("sampler_cls", SAMPLERS)
def test_samplers_on_tiny_and_empty_masks(sampler_cls):
    mask = np.zeros((20, 30), bool)
    mask[5, 7] = mask[6, 8] = mask[12, 20] = True
    points = sampler_cls().sample(mask, 16, seed=0)
    assert sorted(map(tuple, points.tolist())) == [(7.0, 5.0), (8.0, 6.0), (20.0, 12.0)]
    with pytest.raises(ValueError, match="empty mask"):
        sampler_cls().sample(np.zeros((20, 30), bool), 4)


def test_random_sampler_depends_on_the_seed(small_clip):
    mask = small_clip.masks[0, 0]
    assert not np.array_equal(RandomSampler().sample(mask, 8, seed=0), RandomSampler().sample(mask, 8, seed=1))


def test_kmedoids_spreads_points_over_the_object():
    mask = np.zeros((60, 200), bool)
    mask[20:40, 10:190] = True
    points = KMedoidsSampler().sample(mask, 4, seed=0)
    xs = np.sort(points[:, 0])
    assert xs[0] < 60 and xs[-1] > 140 and np.all(np.diff(xs) > 20)


def test_shi_tomasi_keeps_away_from_the_edges():
    mask = np.zeros((100, 100), bool)
    mask[10:90, 10:90] = True
    image = (np.random.default_rng(0).random((100, 100, 3)) * 255).astype(np.uint8)
    points = ShiTomasiSampler().sample(mask, 10, seed=0, image=image)
    assert points.min() >= 10 + 2 and points.max() <= 89 - 2  # eroded by 6% of the 113 px diameter


@pytest.mark.parametrize("tracker_cls", [LucasKanadeTracker, DenseFlowTracker])
def test_trackers_follow_a_moving_object(tracker_cls):
    errors = []
    for seed in range(3):
        clip = make_clip(seed=seed, num_frames=16, height=96, width=128, num_objects=1)
        points = KMedoidsSampler().sample(clip.masks[0, 0], 8, seed=1)
        tracks = tracker_cls().track(clip.video, np.concatenate([np.zeros((8, 1)), points], axis=1))
        truth = clip.true_positions(0, points)
        errors.append(np.linalg.norm(tracks.points - truth, axis=2)[tracks.visibility])
        assert tracks.visibility.mean() > 0.8
    assert np.median(np.concatenate(errors)) <= 2.0


@pytest.mark.parametrize("tracker_cls", [LucasKanadeTracker, DenseFlowTracker])
def test_trackers_mark_points_under_an_occluder(tracker_cls):
    clip = make_clip(seed=1, num_frames=16, height=96, width=128, num_objects=1, occluder=True, max_speed=0.5)
    points = KMedoidsSampler().sample(clip.masks[0, 0], 8, seed=1)
    tracks = tracker_cls().track(clip.video, np.concatenate([np.zeros((8, 1)), points], axis=1))
    truth = clip.true_positions(0, points)
    xi = np.clip(np.round(truth[..., 0]).astype(int), 0, 127)
    yi = np.clip(np.round(truth[..., 1]).astype(int), 0, 95)
    covered = ~clip.masks[np.arange(16)[:, None], 0, yi, xi]  # the point's pixel no longer shows the object
    assert covered.any()
    assert not tracks.visibility[covered].any()  # never reported visible while hidden
    assert tracks.visibility[1].mean() > 0.5  # visible before the occluder comes near


@pytest.mark.parametrize("tracker_cls", [LucasKanadeTracker, DenseFlowTracker])
def test_trackers_track_backward_from_later_query_frames(tracker_cls):
    clip = make_clip(seed=2, num_frames=12, height=96, width=128, num_objects=1)
    points = KMedoidsSampler().sample(clip.masks[6, 0], 6, seed=0)
    tracks = tracker_cls().track(clip.video, np.concatenate([np.full((6, 1), 6), points], axis=1))
    np.testing.assert_allclose(tracks.points[6], points)
    assert tracks.visibility[6].all()
    inv = np.linalg.inv(np.vstack([clip.transforms[6, 0], [0, 0, 1]]))[:2]
    local = points @ inv[:, :2].T + inv[:, 2]
    truth0 = local @ clip.transforms[0, 0, :, :2].T + clip.transforms[0, 0, :, 2]
    visible0 = tracks.visibility[0]
    assert visible0.any() and np.median(np.linalg.norm(tracks.points[0] - truth0, axis=1)[visible0]) < 2.0


def test_trackers_reject_queries_outside_the_video(small_clip):
    with pytest.raises(ValueError, match="outside"):
        LucasKanadeTracker().track(small_clip.video, [[0, 500, 5]])
    with pytest.raises(ValueError, match="frames"):
        LucasKanadeTracker().track(small_clip.video, [[50, 5, 5]])


def test_grabcut_segments_from_points_box_and_mask(small_clip):
    seg = GrabCutSegmenter()
    truth = small_clip.masks[0, 1]
    embedding = seg.encode(small_clip.video[0])
    points = KMedoidsSampler().sample(truth, 12, seed=0)
    first = seg.predict(embedding, Prompt(points, np.ones(12)))
    iou = (first.mask & truth).sum() / (first.mask | truth).sum()
    assert iou > 0.7 and first.logits.shape == truth.shape and first.low_res_logits.shape == (256, 256)
    ys, xs = np.nonzero(first.mask)
    refined = seg.predict(embedding, Prompt(points, np.ones(12), box=[xs.min(), ys.min(), xs.max(), ys.max()],
                                            mask_logits=first.low_res_logits))
    assert (refined.mask & truth).sum() / (refined.mask | truth).sum() > 0.7
    assert not refined.mask[:, : xs.min()].any()  # nothing outside the box
    assert seg.encoder_calls == 1
    assert 0 <= refined.iou <= 1


def test_grabcut_negative_point_is_background(small_clip):
    seg = GrabCutSegmenter()
    embedding = seg.encode(small_clip.video[0])
    truth = small_clip.masks[0, 0]
    points = KMedoidsSampler().sample(truth, 8, seed=0)
    prediction = seg.predict(embedding, Prompt(np.vstack([points, points[:1]]), [1] * 8 + [0]))
    assert prediction.iou < 1.0  # the contradicting negative point lowers the agreement score


def test_grabcut_is_reproducible_whatever_ran_before(small_clip):
    import cv2

    seg = GrabCutSegmenter()
    embedding = seg.encode(small_clip.video[0])
    points = KMedoidsSampler().sample(small_clip.masks[0, 1], 6, seed=0)
    first = seg.predict(embedding, Prompt(points, np.ones(6))).logits
    cv2.setRNGSeed(12345)
    cv2.randu(np.zeros((100, 100)), 0, 1)  # disturb OpenCV's global RNG
    np.testing.assert_array_equal(seg.predict(embedding, Prompt(points, np.ones(6))).logits, first)


def test_grabcut_from_three_clicks_gives_the_object_not_discs(small_clip):
    """Clicks alone: the rectangle around them grown by a margin is GrabCut's rectangle, so the mask is
    the object's shape, far larger than seed discs around the clicks."""
    truth = small_clip.masks[0, 1]
    points = KMedoidsSampler().sample(truth, 3, seed=0)
    seg = GrabCutSegmenter()
    mask = seg.predict(seg.encode(small_clip.video[0]), Prompt(points, np.ones(3))).mask
    assert (mask & truth).sum() / (mask | truth).sum() > 0.8


def test_grabcut_from_clicks_keeps_only_components_holding_a_click():
    """Two blobs of the same colour inside the clicks' rectangle: only the clicked one is kept."""
    image = np.full((60, 80, 3), 40, np.uint8)
    rng = np.random.default_rng(0)
    image += rng.integers(0, 20, image.shape, dtype=np.uint8)
    image[20:40, 10:30] = (200, 60, 60)
    image[20:40, 36:46] = (200, 60, 60)
    seg = GrabCutSegmenter(click_margin=2.5)  # the rectangle holds both blobs
    mask = seg.predict(seg.encode(image), Prompt([[15, 25], [25, 35], [20, 30]], np.ones(3))).mask
    assert mask[30, 20] and not mask[30, 40]
    discs = GrabCutSegmenter(from_clicks="discs")
    assert discs.predict(discs.encode(image), Prompt([[15, 25], [25, 35], [20, 30]], np.ones(3))).mask[30, 20]
