"""The components grid (``configs/bench/components.yaml``): keyed weights where a checkpoint is missing, the
benchmark-only ``force_visible`` tracks, the ``axes`` design with composed rows, the Pareto plot, and a 2x2
subset of the grid run end to end on tiny clips."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from sampt.cli import main
from sampt.errors import UsageError
from sampt.evaluation.bench import plan as bench_plan
from sampt.evaluation.bench import grid
from sampt.evaluation.bench import run as bench
from sampt.evaluation.bench import report as bench_report
from sampt.evaluation.bench import combination
from sampt.evaluation.measure import STAGES
from sampt.keyed import keyed_weights_if_missing

TINY = ["--dataset", "synthetic", "--repeats", "1", "--warmup", "0", "--no-progress"]


def _rows(path):
    with open(path / "runs.csv") as f:
        return list(csv.DictReader(f))


def test_components_config_lists_every_installed_tracker_and_sam_size():
    """Every installed tracker (aliases aside) is a row; every SAM-family size class a column; the axes
    design's combinations compose (checked by plan_bench) and its cross product is the whole grid."""
    from sampt.plugins import Registry

    cfg = bench_plan.load_bench_config("components")
    trackers, segmenters = cfg["grid"]["tracker"], cfg["grid"]["segmenter"]
    registry = Registry()
    assert set(trackers) <= set(registry.names("tracker"))  # each one installed
    assert {"lk", "flow", "pips", "pips2", "cotracker1", "cotracker2", "cotracker2v1", "cotracker3_offline",
            "cotracker3_online", "tapir", "bootstapir", "bootstapir_online", "raft"} <= set(trackers)
    assert {"mobile_sam", "light_hq_sam", "sam_vit_b", "hq_sam_vit_b", "sam2.1_hiera_tiny", "sam2.1_hiera_small",
            "sam2.1_hiera_base_plus", "sam2.1_hiera_large"} <= set(segmenters)
    assert cfg["weights"] == "keyed_if_missing" and cfg["force_visible"] is True and cfg["design"] == "cross"
    axes = bench_plan.plan_bench("components", design="axes")
    assert axes.anchor == ["tracker=lk", "segmenter=grabcut"]
    assert len(axes.combos) == len(trackers) + len(segmenters) - 1
    assert len(axes.cross) == len(trackers) * len(segmenters)


def test_axes_grid_varies_one_axis_at_a_time():
    anchor, combos = grid.axes_grid({"tracker": ["lk", "flow", "x"], "segmenter": ["a", "b"]}, {"segmenter": "b"})
    assert anchor == ["tracker=lk", "segmenter=b"]
    assert combos == [["tracker=lk", "segmenter=b"], ["tracker=flow", "segmenter=b"], ["tracker=x", "segmenter=b"],
                      ["tracker=lk", "segmenter=a"]]
    with pytest.raises(UsageError, match="not one of"):
        grid.axes_grid({"tracker": ["lk"]}, {"tracker": "flow"})
    with pytest.raises(UsageError, match="not a grid axis"):
        grid.axes_grid({"tracker": ["lk"]}, {"segmenter": "a"})


def test_composed_rows_add_stage_differences():
    def row(t, s, track, enc, rss):
        return {"name": f"{t}+{s}", "tracker": t, "segmenter": s, "method": "sampt", "options": "", "J&F": 0.5,
                "spf_min": track + enc, "spf_median": track + enc, "cpu_spf_median": track + enc,
                "spf_tracking": track, "spf_encoding": enc, "spf_decoding": 0.0, "spf_other": 0.0,
                "peak_rss_mib": rss, "rss_increase_mib": 0.0, "setup_s": 0.0, "keyed_models": []}

    rows = [row("lk", "g", 0.1, 0.0, 100.0), row("co", "g", 2.0, 0.0, 300.0), row("lk", "sam", 0.1, 5.0, 900.0)]
    cross = [["tracker=lk", "segmenter=g"], ["tracker=lk", "segmenter=sam"], ["tracker=co", "segmenter=g"],
             ["tracker=co", "segmenter=sam"]]
    out = bench.compose_axes_rows(rows, ["tracker=lk", "segmenter=g"], cross)
    assert [r["name"] for r in out] == ["lk+g", "lk+sam", "co+g", "co+sam"]
    assert [r["source"] for r in out] == ["measured", "measured", "measured", "composed"]
    composed = out[-1]
    assert composed["spf_tracking"] == pytest.approx(2.0) and composed["spf_encoding"] == pytest.approx(5.0)
    assert composed["spf_median"] == pytest.approx(7.0) and composed["fps_median"] == pytest.approx(1 / 7.0)
    assert composed["peak_rss_mib"] == pytest.approx(1100.0)
    assert composed["J&F"] == bench.COMPOSED_ACCURACY and composed["composed_from"] == ["lk+g", "co+g", "lk+sam"]


def test_pareto_front():
    pts = [(1.0, 0.9), (2.0, 0.8), (1.5, 0.7), (3.0, 0.1), (0.5, 0.95), (2.0, 0.5)]
    assert bench_report.pareto_front(pts) == [4, 0, 1, 3]


def test_forced_visible_tracker_reports_every_point_visible_inside_the_frame():
    from sampt.interfaces import Tracker
    from sampt.types import Tracks, Video

    class Lost(Tracker):
        def _track(self, video, queries):
            T, N = len(video), len(queries)
            return Tracks(np.full((T, N, 2), 500.0, np.float32), np.zeros((T, N), bool))

    video = Video(np.zeros((4, 20, 30, 3), np.uint8))
    tracks = combination.ForcedVisibleTracker(Lost()).track(video, np.array([[0, 5, 5], [0, 10, 10]], np.float32))
    assert tracks.visibility.all() and tracks.points.shape == (4, 2, 2)
    assert (tracks.points[..., 0] <= 29).all() and (tracks.points[..., 1] <= 19).all()


def test_keyed_weights_only_inside_the_block_and_only_for_missing_known_checkpoints(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from sampt import weights

    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(weights.OFFLINE_ENV, "1")
    known = {"m": weights.WeightsSpec("m", "https://example.invalid/m.pth", "m.pth")}
    model = torch.nn.Linear(3, 2)
    with pytest.raises(weights.WeightsError, match="not available"):
        weights.load_checkpoint(model, None, "m", known)
    with keyed_weights_if_missing(seed=0) as record:
        assert weights.load_checkpoint(model, None, "m", known, what="tiny") is None
        with pytest.raises(weights.WeightsError, match="does not exist"):  # an explicit path is never replaced
            weights.load_checkpoint(model, str(tmp_path / "nope.pth"), "m", known)
    assert record.used == ["tiny"]
    from sampt.testing import keyed_array

    np.testing.assert_array_equal(model.weight.detach().numpy(), keyed_array("weight", (2, 3)))
    with pytest.raises(weights.WeightsError):  # the block is over
        weights.load_checkpoint(model, None, "m", known)


def test_components_2x2_subset_with_stage_split(tmp_path):
    """lk/flow x grabcut with the components config's settings, on one tiny clip: every row measured, the
    table has its source, accuracy and stage columns, and the stages add up to the total."""
    out = tmp_path / "c"
    assert main(["bench", "--config", "components", "--trackers", "lk,flow", "--segmenters", "grabcut",
                 "--grid", "pipeline.positive_points=2,4", *TINY, "--output", str(out)]) == 0
    rows = _rows(out)
    assert [r["name"] for r in rows] == ["lk+grabcut (positive_points=2)", "lk+grabcut (positive_points=4)",
                                         "flow+grabcut (positive_points=2)", "flow+grabcut (positive_points=4)"]
    for r in rows:
        # weightless: scored, not "n/a (keyed weights)" (2 frames: the DAVIS protocol leaves none to score)
        assert r["weights"] == "checkpoint" and r["J&F"] != bench.KEYED_ACCURACY
        stages = sum(float(r[f"spf_{s}"]) for s in STAGES)
        assert float(r["spf_tracking"]) > 0 and float(r["spf_decoding"]) > 0
        assert stages == pytest.approx(float(r["spf_median"]), rel=0.5)
    md = (out / "results.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| name"))
    for column in ("J&F", "spf_tracking", "spf_encoding", "spf_decoding", "spf_other", "peak_rss_mib"):
        assert f"| {column} |" in header
    assert "force_visible" in md
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((out / "runs.json").read_text())["meta"]
    assert meta["weights"] == "keyed_if_missing" and meta["force_visible"] is True


def test_components_axes_design_composes_the_missing_cell(tmp_path):
    out = tmp_path / "a"
    assert main(["bench", "--config", "components", "--design", "axes", "--trackers", "lk,flow", "--segmenters",
                 "grabcut", "--grid", "pipeline.positive_points=2,4", *TINY, "--no-plot", "--output", str(out)]) == 0
    rows = {r["name"]: r for r in _rows(out)}
    assert len(rows) == 4
    composed = rows.pop("flow+grabcut (positive_points=4)")
    assert composed["source"] == "composed" and composed["J&F"] == bench.COMPOSED_ACCURACY
    assert {r["source"] for r in rows.values()} == {"measured"}
    a, t, p = (rows[n] for n in ("lk+grabcut (positive_points=2)", "flow+grabcut (positive_points=2)",
                                 "lk+grabcut (positive_points=4)"))
    for key in ("spf_tracking", "spf_decoding", "peak_rss_mib"):
        expected = max(0.0, float(t[key]) + float(p[key]) - float(a[key]))
        assert float(composed[key]) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert "composed" in (out / "results.md").read_text()


def test_keyed_rows_read_na_and_the_plot_is_speed_vs_memory(tmp_path):
    rows = [{"name": "a+b", "J&F": bench.KEYED_ACCURACY, "fps_median": 2.0, "peak_rss_mib": 500.0, "weights": "keyed"},
            {"name": "c+d", "J&F": bench.KEYED_ACCURACY, "fps_median": 1.0, "peak_rss_mib": 900.0, "weights": "keyed"},
            {"name": "e+f", "J&F": bench.KEYED_ACCURACY, "fps_median": 0.5, "peak_rss_mib": 300.0, "weights": "keyed"}]
    assert not bench_report.has_accuracy(rows[0], "J&F")
    path = bench_report.plot_pareto(rows, tmp_path / "p.png", "t")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_bad_weights_and_design_are_usage_errors(tmp_path, capsys):
    assert main(["bench", "--config", "ci", "--design", "axes", "--grid", "method=sampt,x", "--output",
                 str(tmp_path / "x"), "--no-progress"]) == 2
    assert "whole methods" in capsys.readouterr().err
    with pytest.raises(UsageError, match="weights='random'"):
        bench_plan.plan_bench("ci", weights="random")


def test_paper_config_rows_each_build_a_valid_config():
    """configs/bench/davis2017_paper.yaml parses, every row composes into a valid config (nothing is run), and
    each row carries the paper's columns (null where not filled in)."""
    plan = bench_plan.plan_bench("davis2017_paper")
    assert len(plan.combos) >= 20 and plan.dataset["name"] == "davis2017"
    names = [bench.combination_name(c)[0] for c in plan.combos]
    assert len(set(names)) == len(names) and set(plan.reference) == set(names)
    for name in names:
        assert {"paper_J&F", "paper_J", "paper_F"} <= set(plan.reference[name])
    trackers = {dict(o.split("=", 1) for o in c)["tracker"] for c in plan.combos}
    segmenters = {dict(o.split("=", 1) for o in c)["segmenter"] for c in plan.combos}
    assert {"pips", "cotracker1"} <= trackers and {"sam_vit_h", "hq_sam_vit_h", "mobile_sam"} <= segmenters
    columns = bench_report.table_columns([{"name": "x", "J&F": 0.5, "J": 0.5, "F": 0.5, **plan.reference[names[0]]}])
    assert columns[columns.index("F") + 1:columns.index("F") + 4] == ("paper_J&F", "paper_J", "paper_F")


def test_bad_rows_are_usage_errors(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("rows:\n  - {overrides: [tracker=lk], paper: {J&F: high}}\n")
    with pytest.raises(UsageError, match="numbers"):
        bench_plan.plan_bench(str(path))
    path.write_text("rows:\n  - {overrides: [tracker=lk]}\n  - {overrides: [tracker=lk]}\n")
    with pytest.raises(UsageError, match="repeats"):
        bench_plan.plan_bench(str(path))
    path.write_text("grid: {tracker: [lk]}\nrows:\n  - {overrides: [tracker=lk]}\n")
    with pytest.raises(UsageError, match="not both"):
        bench_plan.plan_bench(str(path))
