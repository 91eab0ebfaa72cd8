"""``sampt score``: scoring result PNGs as the official DAVIS evaluation, with errors naming what is missing."""
import csv
import shutil

import numpy as np
import pytest

from sampt.cli import main
from sampt.data.synthetic import make_clip, write_davis
from sampt.evaluation.datasets import open_dataset, read_annotation
from sampt.evaluation.davis.scoring import score_results
from sampt.io import write_label_png


@pytest.fixture()
def setup(tmp_path):
    clips = [make_clip(seed=5, num_frames=6, height=40, width=48, num_objects=2, name="one"),
             make_clip(seed=6, num_frames=5, height=40, width=48, num_objects=1, name="two")]
    root = tmp_path / "davis"
    write_davis(root, clips)
    results = tmp_path / "results"
    shutil.copytree(root / "Annotations" / "480p", results)  # perfect results
    return root, results, clips


def test_perfect_results_score_one(setup, capsys):
    root, results, _ = setup
    assert main(["score", str(results), str(root), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "J&F-Mean" in out and "one" in out and "two" in out
    with open(results / "global_results-val.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["J&F-Mean"] == "1.000" and rows[0]["J-Decay"] == "0.000"
    with open(results / "per-sequence_results-val.csv") as f:
        per = list(csv.DictReader(f))
    assert [(r["Sequence"], r["Object"]) for r in per] == [("one", "1"), ("one", "2"), ("two", "1")]
    assert not any(p.name.startswith(".") for p in results.iterdir())  # atomic writes left no temp file


def test_hand_computed_scores(setup):
    root, results, clips = setup
    # sequence "one": object 2 lost on frames 1 and 2 (of the scored frames 1..4); first/last frames blanked
    # entirely, which must not matter
    for t in (1, 2):
        p = results / "one" / f"{t:05d}.png"
        lab = read_annotation(p)
        lab[lab == 2] = 0
        write_label_png(p, lab)
    write_label_png(results / "one" / "00005.png", np.zeros((40, 48), np.uint8))
    report = score_results(results, open_dataset("davis2017", root))
    by_name = {o.name: o for o in report.objects}
    o2 = by_name["one_2"]
    np.testing.assert_array_equal(o2.j, [0, 0, 1, 1])
    np.testing.assert_array_equal(o2.f, [0, 0, 1, 1])
    assert o2.j_mean == 0.5 and o2.j_recall == 0.5
    # decay bins for 4 values: [0:2], [1:3], [2:3], [2:4] -> mean(0, 0) - mean(1, 1) = -1
    assert o2.j_decay == -1.0
    g = report.global_scores
    assert g["J-Mean"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert g["J&F-Mean"] == pytest.approx((g["J-Mean"] + g["F-Mean"]) / 2)


def test_missing_sequence_is_an_error(setup, capsys):
    root, results, _ = setup
    shutil.rmtree(results / "two")
    assert main(["score", str(results), str(root), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "'two'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_frame_is_an_error(setup, capsys):
    root, results, _ = setup
    (results / "one" / "00003.png").unlink()
    assert main(["score", str(results), str(root), "--no-progress"]) == 2
    assert "00003.png" in capsys.readouterr().err


def test_missing_object_is_an_error(setup, capsys):
    root, results, _ = setup
    for p in (results / "one").glob("*.png"):
        lab = read_annotation(p)
        lab[lab == 2] = 0
        write_label_png(p, lab)
    assert main(["score", str(results), str(root), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "object 2" in err and "'one'" in err


def test_unknown_label_is_an_error(setup, capsys):
    root, results, _ = setup
    p = results / "two" / "00002.png"
    lab = read_annotation(p)
    lab[0, 0] = 7
    write_label_png(p, lab)
    assert main(["score", str(results), str(root), "--no-progress"]) == 2
    assert "label 7" in capsys.readouterr().err


def test_sequence_selection_and_csv_dir(setup, tmp_path):
    root, results, _ = setup
    shutil.rmtree(results / "two")
    out = tmp_path / "csv"
    assert main(["score", str(results), str(root), "--sequences", "one", "--csv-dir", str(out), "--no-progress"]) == 0
    assert (out / "global_results-val.csv").is_file()


def test_missing_dataset_root(tmp_path, capsys):
    assert main(["score", str(tmp_path), str(tmp_path / "nope"), "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_youtube_vos_train_split_scored_from_first_appearance(tmp_path):
    """A fully annotated YouTube-VOS-layout split (train) can be scored locally: each object from the frame
    after the one it is prompted on, to the end; the submission layout (Annotations/) is found."""
    import json

    from sampt.evaluation.davis.scoring import scored_frames
    from sampt.io import write_frames

    clip = make_clip(seed=11, num_frames=5, height=32, width=40, num_objects=2, name="v")
    split = tmp_path / "yt" / "train"
    write_frames(split / "JPEGImages" / "v", clip.video)
    names = [f"{t:05d}" for t in range(5)]
    for t in range(5):
        lab = clip.label_map(t)
        if t < 2:
            lab[lab == 2] = 0  # object 2 appears at frame 2
        write_label_png(split / "Annotations" / "v" / f"{names[t]}.png", lab)
    meta = {"videos": {"v": {"objects": {"1": {"frames": names}, "2": {"frames": names[2:]}}}}}
    (split / "meta.json").write_text(json.dumps(meta))
    ds = open_dataset("youtubevos2019", tmp_path / "yt", "train")
    assert ds.scored_locally
    seq = ds["v"]
    assert scored_frames(seq, 1, ds.exclude_first_last) == [1, 2, 3, 4]
    assert scored_frames(seq, 2, ds.exclude_first_last) == [3, 4]
    results = tmp_path / "res"
    shutil.copytree(split / "Annotations", results / "Annotations")
    report = score_results(results, ds)
    assert [len(o.j) for o in report.objects] == [4, 2]
    assert report.global_scores["J&F-Mean"] == 1.0


def test_davis2016_binary_results(setup, capsys):
    """DAVIS 2016 is single-object: binary 0/255 result PNGs score against all objects merged."""
    from PIL import Image

    root, results, clips = setup
    (root / "ImageSets" / "2016").mkdir(parents=True)
    (root / "ImageSets" / "2016" / "val.txt").write_text("one\n")
    for t in range(6):
        fg = (clips[0].label_map(t) > 0).astype(np.uint8) * 255
        Image.fromarray(fg, mode="L").save(results / "one" / f"{t:05d}.png")
    assert main(["score", str(results), str(root), "--year", "2016", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "one" in out and "two" not in out
    with open(results / "global_results-val.csv") as f:
        assert next(csv.DictReader(f))["J&F-Mean"] == "1.000"
