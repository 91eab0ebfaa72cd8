"""The interactive benchmark's protocol (SAM-PT §4.6), checked against sequences of interactions worked
out by hand with a fake tracker (points never move, always visible) and a fake segmenter (squares)."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.interactive import Session, SessionOptions
from sampt.evaluation.interactive_bench.benchmark import curve_area, representative_point, simulate, step_values, summary_row
from sampt.interfaces import ImageEmbedding, PointSampler, Segmenter, Tracker
from sampt.pipeline import SamPtOptions
from sampt.types import Prediction, Tracks, Video

H = W = 20


class StillTracker(Tracker):
    """Every point stays where it was put, visible on every frame."""

    def _track(self, video, queries):
        q = np.asarray(queries, np.float32)
        return Tracks(np.broadcast_to(q[None, :, 1:], (len(video), len(q), 2)).copy(), np.ones((len(video), len(q)), bool))


class SquareSegmenter(Segmenter):
    """The union of squares of half-side ``r`` around the positive points, minus squares of half-side
    ``r_neg`` around the negative ones (``constant``: always that mask instead); predicted IoU 1."""

    def __init__(self, r=2, r_neg=2, constant=None):
        super().__init__()
        self.r, self.r_neg, self.constant = r, r_neg, constant

    def _encode(self, image):
        return ImageEmbedding(None, image.shape[:2])

    def decode(self, embedding, prompts):
        out = []
        for p in prompts:
            mask = np.zeros(embedding.size, bool)
            for (x, y), lab in zip(p.points, p.labels):
                x, y = int(round(x)), int(round(y))
                r = self.r if lab == 1 else self.r_neg
                mask[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1] = lab == 1
            if self.constant is not None:
                mask = self.constant
            out.append(Prediction(np.where(mask, 1.0, -1.0).astype(np.float32), np.zeros((256, 256), np.float32), 1.0))
        return out


class FixedSampler(PointSampler):
    def __init__(self, points):
        self.points = np.asarray(points, np.float32).reshape(-1, 2)

    def sample(self, mask, n, seed=0, image=None):
        return self.points[:n]


def square(y0, y1, x0, x1):
    m = np.zeros((H, W), bool)
    m[y0:y1 + 1, x0:x1 + 1] = True
    return m


def run(gt, positives, negatives=(), mode="online", tracking=True, budget=300, **segmenter):
    gt = np.asarray(gt, bool)
    video = Video(np.zeros((len(gt), H, W, 3), np.uint8))
    options = SessionOptions(pipeline=SamPtOptions(positive_points=len(positives), negative_points=len(negatives),
                                                   refinement_iterations=0, iou_threshold=0.0, border_margin=0.0),
                             tracking=tracking)
    session = Session(video, StillTracker(), SquareSegmenter(**segmenter), options, FixedSampler(positives),
                      FixedSampler(negatives) if negatives else None)
    with session:
        return simulate(session, gt, mode=mode, budget=budget)


def steps(sim):
    return [(h["action"], h["frame"], [round(v) for v in h["point"]]) for h in sim.history]


GT = square(5, 9, 5, 9)  # a 5x5 object, centre (7, 7)


def test_interactive_protocol_rule1_removes_a_negative_inside_the_object():
    # negative (6, 6) inside the object carves it: 25 - 16 = 9 pixels left, IoU 0.36; removing it fixes all
    sim = run([GT], positives=[(7, 7)], negatives=[(6, 6)])
    assert steps(sim) == [("remove_negative", 0, [6, 6])]
    assert sim.history[0]["iou_before"] == pytest.approx(9 / 25) and sim.history[0]["iou_after"] == 1.0
    assert sim.initial_points == 2 and sim.curve[0][0] == 2 and sim.curve[-1] == (3, 1.0)


def test_interactive_protocol_rule2_removes_a_positive_outside_the_object():
    # positives (7, 7) and (15, 15): the second adds a 25-pixel square outside, IoU 0.5
    sim = run([GT], positives=[(7, 7), (15, 15)])
    assert steps(sim) == [("remove_positive", 0, [15, 15])]
    assert sim.history[0]["iou_before"] == pytest.approx(0.5) and sim.history[0]["iou_after"] == 1.0


def test_interactive_protocol_rule3_adds_a_positive_at_the_centre_of_the_missed_part():
    # the object is two 5x5 squares; the mask covers the left one: FN (25) > FP (0), centre of the right
    gt = GT | square(5, 9, 13, 17)
    sim = run([gt], positives=[(7, 7)])
    assert steps(sim) == [("add_positive", 0, [15, 7])]
    assert sim.history[0]["iou_after"] == 1.0


def test_interactive_protocol_rule3_adds_negatives_and_stops_at_the_target():
    # the object lacks column 9 of the mask: FP is that 1x5 column (all pixels 1 from its border: the first
    # in raster order wins); each negative removes one pixel: IoU 20/24, 20/23, 20/22 = 0.909 >= 0.9
    gt = square(5, 9, 5, 8)
    sim = run([gt], positives=[(7, 7)], r_neg=0)
    assert steps(sim) == [("add_negative", 0, [9, 5]), ("add_negative", 0, [9, 6]), ("add_negative", 0, [9, 7])]
    assert [h["iou_after"] for h in sim.history] == pytest.approx([20 / 24, 20 / 23, 20 / 22])


def test_interactive_protocol_caps_three_interactions_per_frame_and_moves_on():
    # a segmenter that never changes its (empty) mask: 3 interactions on each frame, then the next frame
    sim = run([GT, GT], positives=[(7, 7)], constant=np.zeros((H, W), bool))
    assert steps(sim) == [("add_positive", 0, [7, 7])] * 3 + [("add_positive", 1, [7, 7])] * 3
    assert sim.curve[-1][0] == 1 + 6


def test_interactive_protocol_stops_when_the_budget_is_spent():
    sim = run([GT, GT], positives=[(7, 7)], constant=np.zeros((H, W), bool), budget=5)
    assert steps(sim) == [("add_positive", 0, [7, 7])] * 3 + [("add_positive", 1, [7, 7])]
    assert sim.curve[-1][0] == 5
    offline = run([GT, GT], positives=[(7, 7)], constant=np.zeros((H, W), bool), budget=5, mode="offline")
    assert [h["target"] for h in offline.history] == [0.1] * 4  # the first pass spends it all


def test_interactive_protocol_offline_raises_the_target_pass_by_pass():
    # IoU 0.5 passes the targets 0.1 .. 0.5; the interaction comes with target 0.6
    sim = run([GT], positives=[(7, 7), (15, 15)], mode="offline")
    assert steps(sim) == [("remove_positive", 0, [15, 15])] and sim.history[0]["target"] == 0.6


def test_interactive_protocol_baseline_points_live_on_their_frame_only():
    gt = [GT, GT, GT]
    tracked = run(gt, positives=[(7, 7)])
    assert steps(tracked) == []  # the tracked point gives every frame its mask
    baseline = run(gt, positives=[(7, 7)], tracking=False)
    assert steps(baseline) == [("add_positive", 1, [7, 7]), ("add_positive", 2, [7, 7])]
    assert baseline.curve[0] == (1, pytest.approx(1 / 3)) and baseline.curve[-1] == (3, 1.0)


def test_interactive_representative_point_and_curve_summary():
    region = square(2, 6, 10, 14) | square(15, 15, 0, 0)
    assert representative_point(region) == (12, 4) and representative_point(np.zeros((4, 4), bool)) is None
    curve = [(2, 0.5), (4, 1.0)]  # 20 frames: 1 and 2 interactions per 10 frames
    np.testing.assert_allclose(step_values(curve, 20, np.array([0.5, 1.0, 1.5, 2.0, 10.0])), [0, 0.5, 0.5, 1.0, 1.0])
    assert curve_area(curve, 20) == pytest.approx((0.5 * 1 + 1.0 * 8) / 10)
    from sampt.evaluation.interactive_bench.benchmark import Simulation

    row = summary_row("x", [Simulation(20, 2, curve=curve)])
    assert row["J&F@1"] == 0.5 and row["J&F@2"] == 1.0 and row["AUC"] == pytest.approx(0.85)
