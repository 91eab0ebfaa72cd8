"""``sampt eval`` (resumable dataset runs) and ``sampt bench`` (the speed/accuracy grid) end to end, with the
weightless components on tiny synthetic clips."""
import csv
import json
import sys
import time

import numpy as np
import pytest

from sampt.cli import main
from sampt.data.synthetic import make_clip, write_davis
from sampt.errors import UsageError
from sampt.evaluation.bench import grid
from sampt.evaluation.bench import combination
from sampt.evaluation.bench import run as bench
from sampt.evaluation.bench import report as bench_report
from sampt.evaluation import measure
from sampt import provenance
from sampt.evaluation.datasets import open_dataset, read_annotation
from sampt.evaluation.davis.scoring import score_results
from sampt.io import write_frames, write_label_png

FAST = ["tracker=lk", "segmenter=grabcut", "pipeline=fast", "pipeline.refinement_iterations=1"]


@pytest.fixture()
def davis(tmp_path):
    clips = [make_clip(seed=7, num_frames=5, height=40, width=56, num_objects=2, name="s1"),
             make_clip(seed=8, num_frames=4, height=40, width=56, num_objects=1, name="s2")]
    return write_davis(tmp_path / "davis", clips)


def test_eval_writes_scores_and_resumes(davis, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["eval", str(davis), "dataset=davis2017", "split=val", *FAST, "--output", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "s1" in printed and "s2" in printed and "J&F-Mean" in printed
    assert sorted(p.name for p in (out / "s1").iterdir()) == [f"{t:05d}.png" for t in range(5)]
    with open(out / "global_results-val.csv") as f:
        jf = float(next(csv.DictReader(f))["J&F-Mean"])
    assert 0 <= jf <= 1
    # the written PNGs score the same through `sampt score`'s code path
    again = score_results(out, open_dataset("davis2017", davis)).global_scores["J&F-Mean"]
    assert round(again, 3) == jf
    # the prompt frame holds the given mask
    np.testing.assert_array_equal(read_annotation(out / "s1" / "00000.png"),
                                  read_annotation(davis / "Annotations" / "480p" / "s1" / "00000.png"))

    # resume: complete sequences are skipped, an incomplete one is redone
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    time.sleep(0.01)
    (out / "s2" / "00003.png").unlink()
    assert main(["eval", str(davis), *FAST, "--output", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "skipped" in printed
    for p, t in stamp.items():
        if p.parent.name == "s1":
            assert p.stat().st_mtime_ns == t
    assert (out / "s2" / "00003.png").is_file()

    # a different configuration into the same folder is refused
    assert main(["eval", str(davis), "tracker=flow", "segmenter=grabcut", "--output", str(out),
                 "--no-progress"]) == 2
    assert "different configuration" in capsys.readouterr().err


def test_eval_unknown_sequence(davis, tmp_path, capsys):
    assert main(["eval", str(davis), *FAST, "--sequences", "zzz", "--output", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    assert "'zzz'" in capsys.readouterr().err


def test_eval_youtube_vos_layout(tmp_path, capsys):
    clip = make_clip(seed=9, num_frames=5, height=40, width=56, num_objects=2)
    names = ["00000", "00005", "00010", "00015", "00020"]
    split = tmp_path / "ytvos" / "valid"
    img = split / "JPEGImages" / "v"
    write_frames(img, clip.video)
    for i, n in reversed(list(enumerate(names))):
        (img / f"{i:05d}.jpg").rename(img / f"{n}.jpg")
    first = clip.label_map(0)
    first[first == 2] = 0
    write_label_png(split / "Annotations" / "v" / "00000.png", first)
    later = clip.label_map(2)
    later[later == 1] = 0
    write_label_png(split / "Annotations" / "v" / "00010.png", later)
    meta = {"videos": {"v": {"objects": {"1": {"frames": names[:4]}, "2": {"frames": names[2:4]}}}}}
    (split / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / "sub"
    assert main(["eval", str(tmp_path / "ytvos"), "dataset=youtubevos2019", *FAST, "--output", str(out), "--zip",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "server" in printed
    written = sorted(p.stem for p in (out / "Annotations" / "v").glob("*.png"))
    assert written == names[:4]  # only the frames meta.json lists
    assert (out / "submission.zip").is_file()
    for n in names[:2]:  # object 2 does not exist before its first frame
        assert 2 not in np.unique(read_annotation(out / "Annotations" / "v" / f"{n}.png"))
    np.testing.assert_array_equal(read_annotation(out / "Annotations" / "v" / "00010.png") == 2, later == 2)


def test_bench_ci_grid_writes_everything(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["bench", "--config", "ci", "--output", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "lk+grabcut" in printed and "flow+grabcut" in printed
    with open(out / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["lk+grabcut", "flow+grabcut"]
    for r in rows:
        assert 0 <= float(r["J&F"]) <= 1 and float(r["fps_median"]) > 0
        assert float(r["fps_best"]) >= float(r["fps_median"])
        assert float(r["spf_min"]) <= float(r["spf_median"])
        assert float(r["peak_rss_mib"]) > 10 and 0 <= float(r["rss_increase_mib"]) < float(r["peak_rss_mib"])
        assert r["repeats"] == "2" and r["sequences"] == "2"
        stages = sum(float(r[f"spf_{s}"]) for s in measure.STAGES)
        assert stages == pytest.approx(float(r["spf_median"]), rel=0.5)
    data = json.loads((out / "runs.json").read_text())
    meta = data["meta"]
    assert meta["seed"] == 0 and meta["warmup"] == 1 and meta["repeats"] == 2
    assert meta["machine"]["cpu"] and "numpy" in meta["versions"] and "commit" in meta["git"]
    assert set(meta["configs"]) == {"lk+grabcut", "flow+grabcut"}
    assert meta["configs"]["flow+grabcut"]["tracker"]["name"] == "flow"
    assert {p["sequence"] for p in data["per_sequence"]} == {"synthetic_000", "synthetic_001"}
    md = (out / "results.md").read_text()
    assert "| lk+grabcut |" in md and "Machine:" in md
    png = (out / "speed_accuracy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_command_line_grid(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["bench", "--config", "ci", "--trackers", "lk", "--grid", "pipeline.positive_points=2,4",
                 "--repeats", "1", "--warmup", "0", "--sequences", "synthetic_000", "--no-plot", "--output",
                 str(out), "--no-progress"]) == 0
    with open(out / "runs.csv") as f:
        names = [r["name"] for r in csv.DictReader(f)]
    assert names == ["lk+grabcut (positive_points=2)", "lk+grabcut (positive_points=4)"]
    assert not (out / "speed_accuracy.png").exists()


def test_bench_errors(tmp_path, capsys):
    assert main(["bench", "--config", "nope", "--output", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "bench config 'nope' not found" in capsys.readouterr().err
    assert main(["bench", "--config", "ci", "--grid", "pipeline.bogus_key=1", "--output", str(tmp_path / "x"),
                 "--no-progress"]) == 2
    assert "bogus_key" in capsys.readouterr().err
    with pytest.raises(UsageError, match="KEY=V1"):
        grid.parse_grid_item("tracker")


def test_expand_grid():
    assert grid.expand_grid({"tracker": ["lk", "flow"], "pipeline.x": [1, None, True]}) == [
        ["tracker=lk", "pipeline.x=1"], ["tracker=lk", "pipeline.x=null"], ["tracker=lk", "pipeline.x=true"],
        ["tracker=flow", "pipeline.x=1"], ["tracker=flow", "pipeline.x=null"], ["tracker=flow", "pipeline.x=true"]]
    assert grid.expand_grid({}) == [[]]
    assert bench.combination_name(["tracker=lk", "segmenter=grabcut", "pipeline.positive_points=8"]) == (
        "lk+grabcut (positive_points=8)", "lk", "grabcut", "positive_points=8")


def test_plot_needs_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError, match="matplotlib.*--no-plot"):
        bench_report.plot_speed_accuracy([{"name": "a", "fps_median": 1.0, "J&F": 0.5}], tmp_path / "p.png", "t")


def test_peak_memory_sees_a_transient_allocation():
    before = measure.rss_bytes()
    with measure.PeakMemory(interval=0.001) as mem:
        block = np.ones(80 * 2**20, np.uint8)  # 80 MiB, touched
        time.sleep(0.05)
        del block
    assert mem.peak - before > 60 * 2**20
    assert mem.peak - mem.start > 60 * 2**20
    assert mem.gpu_peak is None  # no torch in use


def test_peak_memory_reads_cuda_peak_through_torch(monkeypatch):
    """Without importing torch: a stand-in module records the calls the CUDA path makes."""
    import types

    calls = []
    cuda = types.SimpleNamespace(is_available=lambda: True, synchronize=lambda: calls.append("sync"),
                                 reset_peak_memory_stats=lambda: calls.append("reset"),
                                 max_memory_allocated=lambda: 123 * 2**20, get_device_name=lambda i: "Fake GPU")
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    with measure.PeakMemory() as mem:
        pass
    assert calls[:2] == ["sync", "reset"] and mem.gpu_peak == 123 * 2**20
    assert provenance.gpu_name() == "Fake GPU"
    assert "GPU: Fake GPU" in provenance.machine_label(provenance.machine_info())


def test_bench_interleaved_passes(tmp_path):
    out = tmp_path / "i"
    assert main(["bench", "--config", "ci", "--interleave", "--repeats", "2", "--warmup", "0", "--sequences",
                 "synthetic_000", "--no-plot", "--output", str(out), "--no-progress"]) == 0
    data = json.loads((out / "runs.json").read_text())
    assert data["meta"]["interleave"] is True
    assert [len(r["seconds_per_pass"]) for r in data["runs"]] == [2, 2]
    assert "interleaved" in (out / "results.md").read_text()


def test_predict_sequence_is_reproducible_whatever_ran_before(davis):
    """GrabCut draws from OpenCV's global RNG; a sequence's result must not depend on earlier runs."""
    from sampt.config import build_pipeline, compose
    from sampt.evaluation.inference import object_prompts, predict_sequence

    ds = open_dataset("davis2017", davis)
    seqs = [(s, s.video(), object_prompts(s)) for s in ds]
    pipe = build_pipeline(compose(FAST))
    first = [predict_sequence(pipe, *s).labels for s in seqs]
    again = [predict_sequence(pipe, *s).labels for s in reversed(seqs)][::-1]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_bench_without_matplotlib_fails_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["bench", "--config", "ci", "--output", str(tmp_path / "m"), "--no-progress"]) == 2
    assert "--no-plot" in capsys.readouterr().err
    assert not (tmp_path / "m" / "runs.csv").exists()


def test_whole_methods_in_the_grid():
    combos = grid.method_combos(grid.expand_grid({"method": ["sampt", "other"], "tracker": ["lk", "flow"],
                                                    "method.model": ["a"]}))
    assert combos == [["tracker=lk"], ["tracker=flow"], ["method=other", "method.model=a"]]
    assert bench.combination_name(["method=other", "method.model=a"]) == ("other (model=a)", "", "", "model=a")
    assert combination.split_method(["method=x", "method.n=3", "tracker=lk"]) == ("x", {"n": 3}, ["tracker=lk"])


def test_unknown_method_is_a_usage_error(tmp_path, capsys):
    assert main(["bench", "--config", "ci", "--grid", "method=sampt,no_such_method", "--output",
                 str(tmp_path / "x"), "--no-progress"]) == 2
    assert "unknown method 'no_such_method'" in capsys.readouterr().err
