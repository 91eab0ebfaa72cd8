"""The per-(frame, object) quality record: measures, flags with their thresholds, and where it shows
(SamPtResult, result.json, sampt.load_result, the CLI summary, the session)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import sampt
from sampt.cli import main
from sampt.data.synthetic import make_clip
from sampt.io import write_label_png
from sampt.pipeline.options import SamPtOptions
from sampt.pipeline.quality import FrameQuality, QualityMeter, QualityThresholds, frame_ranges
from sampt.pipeline.store import MaskStore
from sampt.types import NEGATIVE, POSITIVE


def _prompt(positives: int, negatives: int = 0):
    labels = np.array([POSITIVE] * positives + [NEGATIVE] * negatives, np.int64)
    return np.zeros((len(labels), 2), np.float32), labels


def _square(size, y0, x0, side):
    mask = np.zeros(size, np.float32) - 1
    mask[y0:y0 + side, x0:x0 + side] = 1
    return mask


def _meter_over(frames):
    """A meter over frames given as (logits or None, positives used), one object with 4 positive points."""
    store = MaskStore(len(frames), 1, (40, 40))
    meter = QualityMeter(len(frames), [4])
    for t, (logits, used) in enumerate(frames):
        store.set(t, 0, logits)
        meter.measure(t, store, [_prompt(used, 1) if used else None])
    return meter


def test_each_flag_fires_on_its_own_fault_and_not_on_a_healthy_frame():
    size = (40, 40)
    pieces = np.full(size, -1, np.float32)
    for k in range(4):  # four separate specks
        pieces[2 + 9 * k: 4 + 9 * k, 2:4] = 1
    frames = [(_square(size, 5, 5, 10), 4), (_square(size, 6, 6, 10), 4), (_square(size, 5, 5, 10), 4),
              (_square(size, 5, 5, 3), 4),  # collapsed: 9 px against a median of 100
              (None, 4),  # vanished: prompted, nothing found
              (pieces, 4),  # fragmented: four components
              (_square(size, 5, 5, 10), 1)]  # few points: 1 of 4 visible
    q = _meter_over(frames).report([7], np.full((7, 1), 0.9), True, QualityThresholds())
    flagged = {f: np.flatnonzero(q.flags[f][:, 0]).tolist() for f in q.flags}
    # the specks (16 px) are also far below the median area (100 px)
    assert flagged == {"vanished": [4], "collapsed": [3, 5], "fragmented": [5], "few_points": [6]}
    assert q.components[:, 0].tolist() == [1, 1, 1, 1, 0, 4, 1]
    assert q.area[0, 0] == 100 and q.area_ratio[3, 0] == pytest.approx(0.09)
    assert q.visible_points[6, 0] == 0.25 and q.visible_points[0, 0] == 1.0
    assert not q.flagged[0, 0] and not q.flagged[2, 0]


def test_thresholds_are_pipeline_options_and_change_the_flags():
    size = (40, 40)
    frames = [(_square(size, 5, 5, 10), 4), (_square(size, 5, 5, 10), 4), (_square(size, 5, 5, 6), 4)]  # 36 px
    meter = _meter_over(frames)
    default = meter.report([1], np.full((3, 1), 0.9), True, QualityThresholds.from_options(SamPtOptions()))
    strict = meter.report([1], np.full((3, 1), 0.9), True,
                          QualityThresholds.from_options(SamPtOptions(quality_collapse_ratio=0.5)))
    assert not default.flags["collapsed"][2, 0] and strict.flags["collapsed"][2, 0]
    with pytest.raises(ValueError, match="quality_collapse_ratio"):
        SamPtOptions(quality_collapse_ratio=2.0)


def test_predicted_iou_is_nan_for_a_segmenter_without_one():
    meter = _meter_over([(_square((40, 40), 5, 5, 10), 4)])
    assert np.isnan(meter.report([1], np.ones((1, 1)), False, QualityThresholds()).predicted_iou).all()
    assert meter.report([1], np.full((1, 1), 0.8), True, QualityThresholds()).predicted_iou[0, 0] == pytest.approx(0.8)


def test_summary_names_flagged_frames_in_ranges_and_json_round_trips():
    T = 120
    flags = {f: np.zeros((T, 2), bool) for f in ("vanished", "collapsed", "fragmented", "few_points")}
    flags["collapsed"][85:105, 0] = True
    flags["collapsed"][117:120, 0] = True
    zeros = np.zeros((T, 2))
    q = FrameQuality([1, 2], np.ones((T, 2), np.int64), zeros + 1, np.ones((T, 2), np.int64), zeros + 1,
                     zeros + np.nan, flags)
    assert q.summary_lines() == ["object 1: 23 of 120 frames flagged: collapsed 85-104, 117-119",
                                 "object 2: no frame flagged"]
    back = FrameQuality.from_json(json.loads(json.dumps(q.to_json())))
    assert back.summary_lines() == q.summary_lines() and np.isnan(back.predicted_iou).all()
    assert frame_ranges([3, 1, 2, 9]) == "1-3, 9"


def test_a_run_records_quality_in_the_result_json_load_result_and_cli_summary(tmp_path, capsys):
    clip = make_clip(seed=3, num_frames=5, height=48, width=64, num_objects=2)
    frames = tmp_path / "frames"
    frames.mkdir()
    import cv2

    for t, frame in enumerate(clip.video):
        cv2.imwrite(str(frames / f"{t:05d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    write_label_png(tmp_path / "first.png", clip.label_map(0))
    out = tmp_path / "out"
    assert main(["run", str(frames), "--mask", str(tmp_path / "first.png"), "-o", str(out), "--no-progress",
                 "--overlay", "none", "tracker=lk", "pipeline.refinement_iterations=1", "pipeline.positive_points=4"]) == 0
    text = capsys.readouterr().out
    assert "object 1:" in text and "object 2:" in text and "n/a" in text  # GrabCut predicts no IoU
    info = json.loads((out / "result.json").read_text())
    assert info["quality"]["object_ids"] == [1, 2]
    saved = sampt.load_result(out)
    quality = saved.quality
    assert quality.area.shape == (5, 2) and np.isnan(quality.predicted_iou).all()
    assert (quality.area[0] > 0).all() and quality.flagged.shape == (5, 2)
