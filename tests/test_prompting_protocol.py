"""The prompting protocol of SAM-PT's segmentation step, proven with a segmenter that records its calls."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.interfaces import ImageEmbedding
from sampt.pipeline.context import RunContext
from sampt.pipeline.options import SamPtOptions
from sampt.pipeline.prompting import ObjectFramePoints
from sampt.pipeline.prompting import segment_frame as _segment_frame
from sampt.types import Video

SIZE = (100, 200)  # H, W


def segment_frame(segmenter, embedding, objects, options, rng):
    """Step 3 on one frame, in a run context holding only what prompting uses."""
    ctx = RunContext(Video(np.zeros((1, *SIZE, 3), np.uint8)), None, segmenter, None, None, options)
    return _segment_frame(ctx, embedding, objects, rng)


def _embedding():
    return ImageEmbedding(None, SIZE)


def _obj(points, labels, visible=None):
    points = np.asarray(points, np.float32)
    return ObjectFramePoints(points, np.asarray(labels), np.ones(len(points), bool) if visible is None else np.asarray(visible))


def _rng():
    return np.random.default_rng(0)


def test_two_passes_then_refinement_with_box_and_previous_logits(recording_segmenter):
    seg = recording_segmenter()
    obj = _obj([[50, 50], [54, 50], [52, 54], [150, 20]], [1, 1, 1, 0])
    segment_frame(seg, _embedding(), [obj], SamPtOptions(refinement_iterations=2), _rng())
    assert len(seg.calls) == 4  # pass 1, pass 2, two refinement iterations
    p1, p2, r1, r2 = (c[0] for c in seg.calls)
    np.testing.assert_array_equal(p1.points, obj.points[:3])  # positives only
    np.testing.assert_array_equal(p1.labels, [1, 1, 1])
    assert p1.box is None and p1.mask_logits is None
    np.testing.assert_array_equal(p2.points, obj.points)  # all points ...
    np.testing.assert_array_equal(p2.labels, [1, 1, 1, 0])
    assert p2.box is None and p2.mask_logits[0, 0] == 1  # ... with pass 1's low-res logits
    for k, r in enumerate((r1, r2)):
        np.testing.assert_array_equal(r.points, obj.points)
        assert r.mask_logits[0, 0] == 2 + k  # the previous call's low-res logits
        # disc of radius 4 around the positives' mean (52, 51.33): its box in point coordinates
        np.testing.assert_array_equal(r.box, [49, 48, 55, 55])


def test_single_pass_without_negative_points(recording_segmenter):
    seg = recording_segmenter()
    obj = _obj([[50, 50], [60, 50]], [1, 1])
    segment_frame(seg, _embedding(), [obj], SamPtOptions(negative_points=0, refinement_iterations=3), _rng())
    assert len(seg.calls) == 4
    first = seg.calls[0][0]
    assert first.mask_logits is None and first.box is None
    np.testing.assert_array_equal(first.points, obj.points)
    assert all(c[0].box is not None for c in seg.calls[1:])


def test_refinement_stops_early_on_a_tiny_mask(recording_segmenter):
    seg = recording_segmenter(radius=0)  # single-pixel masks
    results = segment_frame(seg, _embedding(), [_obj([[50, 50], [150, 20]], [1, 0])], SamPtOptions(), _rng())
    assert len(seg.calls) == 2  # the two passes, no refinement
    assert results[0].logits is not None


def test_low_predicted_iou_empties_the_mask_but_is_recorded(recording_segmenter):
    seg = recording_segmenter(iou=0.5)
    results = segment_frame(seg, _embedding(), [_obj([[50, 50], [150, 20]], [1, 0])], SamPtOptions(iou_threshold=0.7), _rng())
    assert results[0].logits is None and results[0].iou == pytest.approx(0.5)
    results = segment_frame(seg, _embedding(), [_obj([[50, 50], [150, 20]], [1, 0])], SamPtOptions(iou_threshold=0.4), _rng())
    assert results[0].logits is not None


def test_nothing_visible_means_empty_mask_and_no_call(recording_segmenter):
    seg = recording_segmenter()
    hidden = _obj([[50, 50], [60, 60], [150, 20]], [1, 1, 0], visible=[False, False, True])
    results = segment_frame(seg, _embedding(), [hidden], SamPtOptions(), _rng())
    assert seg.calls == [] and results[0].logits is None and results[0].iou is None


def test_points_near_the_border_count_as_outside(recording_segmenter):
    seg = recording_segmenter()
    obj = _obj([[1.0, 50], [50, 50], [100, 99.5], [150, 20]], [1, 1, 1, 0])  # x/W = 0.005, y/H = 0.995
    segment_frame(seg, _embedding(), [obj], SamPtOptions(refinement_iterations=0), _rng())
    np.testing.assert_array_equal(seg.calls[0][0].points, [[50, 50]])


def test_other_objects_positive_points_become_negatives(recording_segmenter):
    seg = recording_segmenter()
    a = _obj([[20, 20], [24, 20], [180, 90]], [1, 1, 0])
    b = _obj([[100, 50], [104, 50], [108, 50], [5, 95]], [1, 1, 1, 0], visible=[True, False, True, True])
    segment_frame(seg, _embedding(), [a, b], SamPtOptions(refinement_iterations=0), _rng())
    assert len(seg.calls) == 2 and len(seg.calls[0]) == 2  # both objects batched in each pass
    pass2_a, pass2_b = seg.calls[1]
    np.testing.assert_array_equal(pass2_a.points, [[20, 20], [24, 20], [180, 90], [100, 50], [108, 50]])
    np.testing.assert_array_equal(pass2_a.labels, [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(pass2_b.points[-2:], [[20, 20], [24, 20]])
    np.testing.assert_array_equal(pass2_b.labels, [1, 1, 0, 0, 0])
    # pass 1 of each object still uses its own positives only
    np.testing.assert_array_equal(seg.calls[0][0].points, [[20, 20], [24, 20]])

    seg2 = recording_segmenter()
    segment_frame(seg2, _embedding(), [a, b], SamPtOptions(refinement_iterations=0, others_as_negatives=False), _rng())
    assert len(seg2.calls[1][0].points) == 3


def test_other_object_negatives_are_capped_with_the_seed(recording_segmenter):
    a = _obj([[20, 20], [180, 90]], [1, 0])
    b = _obj([[100 + 3 * i, 50] for i in range(8)], [1] * 8)
    chosen = []
    for seed in (1, 1, 2):
        seg = recording_segmenter()
        segment_frame(seg, _embedding(), [a, b], SamPtOptions(refinement_iterations=0, max_other_negatives=3),
                      np.random.default_rng(seed))
        prompt = seg.calls[1][0]
        assert len(prompt.points) == 2 + 3 and list(prompt.labels[-3:]) == [0, 0, 0]
        chosen.append(prompt.points[-3:].tolist())
    assert chosen[0] == chosen[1]
    assert chosen[0] != chosen[2]


@pytest.mark.parametrize("reference_box, expected", [(False, [49, 48, 55, 55]), (True, [24.5, 24, 27.5, 27.5])])
def test_reference_box_reproduces_the_unscaled_box_on_request(recording_segmenter, reference_box, expected):
    seg = recording_segmenter(scale=(2.0, 2.0))
    obj = _obj([[50, 50], [54, 50], [52, 54], [150, 20]], [1, 1, 1, 0])
    segment_frame(seg, _embedding(), [obj], SamPtOptions(refinement_iterations=1, reference_box=reference_box), _rng())
    np.testing.assert_allclose(seg.calls[2][0].box, expected)


def test_reference_box_lands_exactly_on_the_pixel_values_with_per_axis_factors(recording_segmenter):
    """SAM maps a 64x96 frame's x by 1024/96 and y by 683/64: the reference's box reaches SAM's model as
    the mask's pixel box itself, so sampt hands the segmenter the box its map sends exactly there."""
    from sampt.types import PointTransform

    scale = (1024 / 96, 683 / 64)
    seg = recording_segmenter(scale=scale)
    obj = _obj([[50, 50], [54, 50], [52, 54], [150, 20]], [1, 1, 1, 0])
    segment_frame(seg, _embedding(), [obj], SamPtOptions(refinement_iterations=2, reference_box=True), _rng())
    for call in seg.calls[2:]:
        box = call[0].box
        assert box.dtype == np.float64
        np.testing.assert_array_equal(PointTransform(*scale).to_model(box), [49, 48, 55, 55])
        assert box[1] != 48 / (1024 / 96)  # not one isotropic factor
