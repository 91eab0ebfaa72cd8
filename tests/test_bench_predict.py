"""``sampt bench --predict``: FPS estimated from per-component timings measured once, and compared with the
measured FPS (``--check-prediction``) on a tiny 2x2 grid."""
from __future__ import annotations

import csv
import json

import pytest

from sampt.cli import main
from sampt.config import compose
from sampt.evaluation.bench import predict


def test_predicted_seconds_follow_the_cost_model():
    timings = predict.ComponentTimings((64, 80), 8, trackers={"lk": {"per_frame": 0.01, "per_frame_per_point": 0.001}},
                                       segmenters={"grabcut": {"encode_per_frame": 0.002, "decode_per_call": 0.003,
                                                               "decode_per_prompt": 0.004}})
    cfg = compose(["tracker=lk", "segmenter=grabcut", "pipeline.positive_points=8", "pipeline.negative_points=1",
                   "pipeline.refinement_iterations=3", "pipeline.tracker_batch_objects=2"])
    cfg.tracker = {"name": "lk"}
    cfg.segmenter = {"name": "grabcut"}
    got = predict.predict_seconds(timings, cfg, frames=10, objects=3)
    assert got["tracking"] == pytest.approx(10 * (2 * 0.01 + 0.001 * 9 * 3))  # 2 calls, 9 points per object
    assert got["encoding"] == pytest.approx(10 * 0.002)
    assert got["decoding"] == pytest.approx(10 * (2 + 3) * (0.003 + 0.004 * 3))  # 2 passes + 3 refinements
    assert got["total"] == pytest.approx(got["tracking"] + got["encoding"] + got["decoding"])


def test_predict_measures_components_once(tmp_path, capsys, monkeypatch):
    out = tmp_path / "p"
    args = ["bench", "--config", "ci", "--predict", "--sequences", "synthetic_000", "--no-progress"]
    assert main([*args, "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lk+grabcut" in printed and "flow+grabcut" in printed
    with open(out / "predicted.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["lk+grabcut", "flow+grabcut"] and all(float(r["fps_predicted"]) > 0 for r in rows)
    timings = json.loads((out / "component_timings.json").read_text())
    assert {k.split()[0] for k in timings["trackers"]} == {"lk", "flow"}  # name + options
    assert [k.split()[0] for k in timings["segmenters"]] == ["grabcut"]
    assert not (out / "runs.csv").exists()  # nothing was run

    # measured once: a second estimate (another grid axis) reuses the file and measures nothing
    def no_measuring(*a, **k):
        raise AssertionError("measured again")

    monkeypatch.setattr(predict, "measure_tracker", no_measuring)
    monkeypatch.setattr(predict, "measure_segmenter", no_measuring)
    assert main([*args, "--grid", "pipeline.positive_points=2,4", "--timings", str(out / "component_timings.json"),
                 "--output", str(tmp_path / "q")]) == 0
    with open(tmp_path / "q" / "predicted.csv") as f:
        fps = {r["name"]: float(r["fps_predicted"]) for r in csv.DictReader(f)}
    assert fps["lk+grabcut (positive_points=2)"] > fps["lk+grabcut (positive_points=4)"]  # more points, more time


def test_check_prediction_on_a_2x2_grid(tmp_path):
    out = tmp_path / "c"
    assert main(["bench", "--config", "ci", "--trackers", "lk,flow", "--grid", "pipeline.refinement_iterations=0,2",
                 "--check-prediction", "--repeats", "1", "--warmup", "0", "--sequences", "synthetic_000",
                 "--no-plot", "--no-progress", "--output", str(out)]) == 0
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for r in rows:
        predicted, measured = float(r["fps_predicted"]), float(r["fps_median"])
        assert predicted > 0
        assert float(r["prediction_error_pct"]) == pytest.approx(100 * (predicted - measured) / measured, rel=1e-6)
    assert "prediction_error_pct" in (out / "results.md").read_text()


def test_predict_and_check_are_exclusive(tmp_path, capsys):
    assert main(["bench", "--config", "ci", "--predict", "--check-prediction", "--output", str(tmp_path / "x"),
                 "--no-progress"]) == 2
    assert "give one" in capsys.readouterr().err
