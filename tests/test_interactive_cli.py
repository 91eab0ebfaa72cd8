"""``sampt interactive-bench``: runs on the synthetic set, writes its report, resumes, refuses mixed configs."""
from __future__ import annotations

import csv
import json

from sampt.cli import main

ARGS = ["synthetic.num_clips=1", "synthetic.num_frames=6", "synthetic.height=48", "synthetic.width=64", "mode=online",
        "budget=40", "pipeline.positive_points=2", "pipeline.refinement_iterations=0", "segmenter.iterations=1"]


def test_interactive_bench_help(capsys):
    assert main(["interactive-bench", "--help"]) == 0
    assert "mode=offline|online" in capsys.readouterr().out


def test_interactive_bench_runs_resumes_and_guards_its_folder(tmp_path, capsys):
    out = tmp_path / "ib"
    assert main(["interactive-bench", *ARGS, "-o", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "SAM-PT" in printed and "per frame" in printed and "4 video(s) run" in printed
    for name in ("curves.csv", "videos.csv", "summary.csv", "summary.md", "curves.png"):
        assert (out / name).is_file(), name
    record = json.loads((out / "histories" / "sam-pt" / "synthetic_000_1.json").read_text())
    assert record["curve"][0][0] == record["initial_points"] == 3 and record["mode"] == "online"
    for step in record["history"]:
        assert step["action"] in ("remove_negative", "remove_positive", "add_positive", "add_negative")
        assert {"frame", "point", "iou_before", "iou_after", "jf_before", "jf_after"} <= set(step)
    with open(out / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["method"] for r in rows] == ["SAM-PT", "SAM per frame (tracking off)"]
    assert all(0 <= float(r["AUC"]) <= 1 for r in rows)
    # a rerun skips every video; another configuration is refused unless --overwrite
    assert main(["interactive-bench", *ARGS, "-o", str(out), "--no-progress"]) == 0
    assert "0 video(s) run, 4 already done" in capsys.readouterr().out
    assert main(["interactive-bench", *ARGS, "budget=41", "-o", str(out), "--no-progress"]) == 2
    assert "different configuration" in capsys.readouterr().err
    assert main(["interactive-bench", *ARGS, "mode=sideways", "-o", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "mode=offline or mode=online" in capsys.readouterr().err
