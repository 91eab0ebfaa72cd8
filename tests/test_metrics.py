"""DAVIS metrics against hand-computed cases and the official corner cases."""
import math

import numpy as np
import pytest

from sampt.evaluation.davis import metrics as m


def box(h, w, y0, y1, x0, x1):
    a = np.zeros((h, w), bool)
    a[y0:y1, x0:x1] = True
    return a


# -- J ----------------------------------------------------------------------------------------------

def test_jaccard_hand_computed():
    gt = box(6, 6, 1, 3, 1, 3)  # 4 pixels
    pred = box(6, 6, 1, 3, 2, 4)  # 4 pixels, 2 shared
    assert m.jaccard(gt, pred) == pytest.approx(2 / 6)
    assert m.jaccard(gt, gt) == 1.0


def test_jaccard_empty_cases():
    empty = np.zeros((5, 5), bool)
    full = box(5, 5, 0, 2, 0, 2)
    assert m.jaccard(empty, empty) == 1.0  # both empty
    assert m.jaccard(full, empty) == 0.0  # empty prediction
    assert m.jaccard(empty, full) == 0.0  # empty ground truth


def test_jaccard_stack_and_void():
    gt = np.stack([box(4, 4, 0, 2, 0, 2), np.zeros((4, 4), bool)])
    pred = np.stack([box(4, 4, 0, 2, 0, 1), np.zeros((4, 4), bool)])
    np.testing.assert_allclose(m.jaccard(gt, pred), [0.5, 1.0])
    void = box(4, 4, 0, 4, 1, 2)  # hides the one column they disagree on
    assert m.jaccard(gt[0], pred[0], void) == 1.0


# -- boundaries -------------------------------------------------------------------------------------

def test_disk_matches_skimage_definition():
    np.testing.assert_array_equal(m.disk(1), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    np.testing.assert_array_equal(m.disk(2), [[0, 0, 1, 0, 0], [0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0],
                                              [0, 0, 1, 0, 0]])
    d8 = m.disk(8.0)
    assert d8.shape == (17, 17) and d8[8, 0] == 1 and d8[0, 0] == 0 and d8.sum() == 197
    assert m.disk(0).tolist() == [[1]]


def test_seg2bmap_one_pixel_object():
    seg = np.zeros((5, 5), bool)
    seg[2, 2] = True
    expected = np.zeros((5, 5), bool)
    expected[1:3, 1:3] = True  # the pixel and its N, W, NW neighbours: boundaries sit half a pixel up-left
    np.testing.assert_array_equal(m.seg2bmap(seg), expected)


def test_seg2bmap_border_rules():
    full = np.ones((3, 4), bool)
    assert not m.seg2bmap(full).any()  # the image border is no boundary
    seg = np.zeros((3, 4), bool)
    seg[2, 3] = True  # bottom-right pixel: never a boundary itself
    b = m.seg2bmap(seg)
    expected = np.zeros((3, 4), bool)
    expected[1, 2] = expected[1, 3] = expected[2, 2] = True
    np.testing.assert_array_equal(b, expected)
    seg = np.zeros((3, 4), bool)
    seg[:, 0] = True  # a column touching the left border: boundary on that column's pixels
    np.testing.assert_array_equal(m.seg2bmap(seg), seg)


def test_f_measure_corner_cases():
    empty = np.zeros((20, 20), bool)
    obj = box(20, 20, 5, 10, 5, 10)
    assert m.f_measure(empty, empty) == 1.0  # both empty: P = R = 1
    assert m.f_measure(obj, empty) == 0.0  # empty prediction: P = 1, R = 0
    assert m.f_measure(empty, obj) == 0.0  # empty ground truth: P = 0, R = 1
    assert m.f_measure(obj, obj) == 1.0
    full = np.ones((20, 20), bool)
    assert m.f_measure(full, full) == 1.0  # masks covering the frame have no boundary at all
    assert m.f_measure(full, obj) == 0.0


def test_f_measure_tolerance():
    # 100x100: radius ceil(0.008 * 141.4) = 2 pixels
    gt = box(100, 100, 20, 60, 20, 60)
    assert m.f_measure(gt, box(100, 100, 22, 62, 20, 60)) == 1.0  # 2 px shift: within tolerance
    shifted = box(100, 100, 50, 90, 20, 60)  # 30 px down: only the shared vertical edges match
    gb, pb = m.seg2bmap(gt), m.seg2bmap(shifted)
    # the boundary of a 40x40 box is its outline moved up-left by one pixel: 4 * 40 pixels
    assert gb.sum() == 160 and pb.sum() == 160
    precision = np.sum(pb & _dilate(gb, 2)) / pb.sum()  # brute-force dilation, independent of cv2
    recall = np.sum(gb & _dilate(pb, 2)) / gb.sum()
    f = 2 * precision * recall / (precision + recall)
    assert m.f_measure(gt, shifted) == pytest.approx(f)
    assert 0 < f < 0.5
    # hand count: pred side columns 19 and 59 on rows 49..61 (13 each, within 2 px of gt's sides and bottom),
    # plus pred's top row 49 at columns 20, 21, 57, 58 (within 2 px of gt's sides): 30 of 160
    assert precision == pytest.approx(30 / 160)
    assert recall == pytest.approx(30 / 160)  # symmetric situation


def _dilate(b, r):
    out = np.zeros_like(b)
    ys, xs = np.nonzero(b)
    k = m.disk(r) > 0
    for y, x in zip(ys, xs):
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                yy, xx = y + dy, x + dx
                if k[dy + r, dx + r] and 0 <= yy < b.shape[0] and 0 <= xx < b.shape[1]:
                    out[yy, xx] = True
    return out


def test_f_measure_one_pixel_objects():
    a = np.zeros((50, 50), bool)
    a[10, 10] = True
    b = np.zeros((50, 50), bool)
    b[10, 11] = True  # 1 px apart: within the 1 px tolerance (ceil(0.008 * 70.7) = 1)
    assert m.f_measure(a, b) == 1.0
    c = np.zeros((50, 50), bool)
    c[30, 30] = True
    assert m.f_measure(a, c) == 0.0


def test_f_measure_touching_border_dilation_does_not_wrap():
    # an object along the right border and one along the left: dilation must not wrap around
    a = box(40, 40, 10, 30, 38, 40)
    b = box(40, 40, 10, 30, 0, 2)
    assert m.f_measure(a, b) == 0.0
    assert m.f_measure(a, a) == 1.0


def test_bound_th_in_pixels():
    gt = box(100, 100, 20, 60, 20, 60)
    pred = box(100, 100, 25, 65, 20, 60)  # 5 px shift
    assert m.f_measure(gt, pred, bound_th=5) == 1.0
    assert m.f_measure(gt, pred) < 1.0  # default tolerance is 2 px here


def test_boundary_f_stack():
    gt = np.stack([box(30, 30, 5, 15, 5, 15), np.zeros((30, 30), bool)])
    pred = np.stack([box(30, 30, 5, 15, 5, 15), box(30, 30, 1, 3, 1, 3)])
    np.testing.assert_array_equal(m.boundary_f(gt, pred), [1.0, 0.0])


# -- statistics -------------------------------------------------------------------------------------

def test_decay_bins_official_edges():
    # linspace(1, 10, 5) = 1, 3.25, 5.5, 7.75, 10 -> rounded (half up) 1, 3, 6, 8, 10 -> minus 1
    assert m.decay_bins(10) == [slice(0, 3), slice(2, 6), slice(5, 8), slice(7, 10)]
    assert m.decay_bins(1) == [slice(0, 1)] * 4


def test_statistics_hand_computed():
    v = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    mean, recall, decay = m.statistics(v)
    assert mean == pytest.approx(0.55)
    assert recall == pytest.approx(0.5)  # strictly above 0.5: 1.0 .. 0.6
    assert decay == pytest.approx(np.mean([1.0, 0.9, 0.8]) - np.mean([0.3, 0.2, 0.1]))
    assert all(math.isnan(x) for x in m.statistics([]))
    assert m.statistics([0.7]) == (0.7, 1.0, 0.0)


def test_long_sequences_do_not_wrap():
    # the official code keeps bin edges in uint8; here a 300-frame sequence still splits into quarters
    bins = m.decay_bins(300)
    assert bins[0] == slice(0, 76) and bins[3].stop == 300


def test_score_sequence_excludes_first_and_last():
    T, H, W = 5, 20, 20
    gt = np.zeros((T, H, W), np.uint8)
    gt[:, 5:10, 5:10] = 1
    gt[:, 12:16, 12:16] = 2
    pred = gt.copy()
    pred[0] = 0  # first and last frames are not scored
    pred[-1] = 0
    pred[2][pred[2] == 2] = 0  # object 2 lost on frame 2
    scores = m.score_sequence("seq", gt, pred, [1, 2])
    assert [s.name for s in scores] == ["seq_1", "seq_2"]
    np.testing.assert_array_equal(scores[0].j, [1, 1, 1])
    np.testing.assert_array_equal(scores[1].j, [1, 0, 1])
    np.testing.assert_array_equal(scores[1].f, [1, 0, 1])
    assert scores[1].j_mean == pytest.approx(2 / 3) and scores[1].j_recall == pytest.approx(2 / 3)
    g = m.global_scores(scores)
    assert g["J-Mean"] == pytest.approx((1 + 2 / 3) / 2)
    assert g["J&F-Mean"] == pytest.approx((g["J-Mean"] + g["F-Mean"]) / 2)
    assert list(g) == list(m.GLOBAL_COLUMNS)
