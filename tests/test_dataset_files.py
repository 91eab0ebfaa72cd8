"""Dataset files are checked where they are read: a field of the wrong type is one UsageError naming the file
and the field, a path from a dataset file stays inside the dataset, an empty split and annotations of another
size are refused; a refused ``eval`` / ``interactive-bench`` writes nothing, and a resumed
``interactive-bench`` redoes an item whose history file is unusable."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sampt.cli import main
from sampt.data.fixtures import write_uvo_fixture
from sampt.data.synthetic import make_clip, write_davis
from sampt.errors import UsageError
from sampt.evaluation.datasets import open_dataset
from sampt.io import write_label_png

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def davis_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("davis")
    write_davis(root, [make_clip(seed=1, num_frames=3, height=24, width=32, num_objects=2, name="alpha")])
    return root


def _copy(root: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(root, tmp_path / "copy"))


def _youtube_root(tmp_path: Path, meta) -> Path:
    clip = make_clip(seed=3, num_frames=2, height=16, width=20, num_objects=1, name="vid1")
    write_davis(tmp_path / "davis", [clip])
    split = tmp_path / "yt" / "valid"
    shutil.copytree(tmp_path / "davis" / "JPEGImages" / "480p", split / "JPEGImages")
    shutil.copytree(tmp_path / "davis" / "Annotations" / "480p", split / "Annotations")
    (split / "meta.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return tmp_path / "yt"


GOOD_META = {"videos": {"vid1": {"objects": {"1": {"category": "a", "frames": ["00000", "00001"]}}}}}


@pytest.mark.parametrize("meta, field", [
    ({"videos": ["vid1"]}, "field videos must be an object"),
    ({"videos": {"vid1": None}}, "field videos.vid1 must be an object"),
    ({"videos": {"vid1": {"objects": {"one": {"frames": ["00000"]}}}}}, r"videos.vid1.objects.one \(the object id\)"),
    ({"videos": {"vid1": {"objects": {"1": {"frames": "00000"}}}}}, "videos.vid1.objects.1.frames must be a list"),
    ({"videos": {"vid1": {"objects": {"1": {"frames": [0]}}}}}, r"objects.1.frames\[0\] must be a string"),
    ({"videos": {"vid1": {"objects": {"1": {"frames": ["00000"], "category": 5}}}}}, "category must be a string"),
    ({"videos": {"../escape": {"objects": {}}}}, "'../escape' is not a folder name"),
    ({"videos": {}}, "lists no sequence"),
    ('{"videos": {"vid1"', "cannot be read as JSON"),
])
def test_youtube_vos_meta_of_another_shape_names_file_and_field(tmp_path, meta, field):
    root = _youtube_root(tmp_path, meta)
    with pytest.raises(UsageError, match=field) as info:
        open_dataset("youtubevos2019", root, "valid")
    assert "meta.json" in str(info.value) and "\n" not in str(info.value)


def test_a_valid_meta_still_opens(tmp_path):
    dataset = open_dataset("youtubevos2019", _youtube_root(tmp_path, GOOD_META), "valid")
    assert dataset.sequences == ["vid1"] and dataset.protocol == "youtubevos"


def test_davis_split_list_empty_or_escaping_is_refused(davis_root, tmp_path):
    root = _copy(davis_root, tmp_path)
    listing = root / "ImageSets" / "2017" / "val.txt"
    listing.write_text("\n\n")
    with pytest.raises(UsageError, match="lists no sequence"):
        open_dataset("davis2017", root)
    listing.write_text("alpha\n../../outside\n")
    with pytest.raises(UsageError, match=r"val.txt: sequence name '../../outside' is not a folder name"):
        open_dataset("davis2017", root)


def test_annotations_of_mixed_sizes_name_the_sequence_and_file(davis_root, tmp_path):
    root = _copy(davis_root, tmp_path)
    bad = root / "Annotations" / "480p" / "alpha" / "00002.png"
    write_label_png(bad, np.ones((10, 12), np.uint8))
    seq = open_dataset("davis2017", root)["alpha"]
    with pytest.raises(UsageError, match=r"sequence alpha: annotation .*00002.png is 12x10 but the sequence's "
                                         r"frames are 32x24"):
        seq.ground_truth()
    write_label_png(root / "Annotations" / "480p" / "alpha" / "00000.png", np.ones((10, 12), np.uint8))
    with pytest.raises(UsageError, match="sequence alpha: annotation .*00000.png is 12x10"):
        open_dataset("davis2017", root)["alpha"]


def _uvo(tmp_path: Path, edit) -> Path:
    root = write_uvo_fixture(tmp_path / "uvo")
    path = root / "VideoDenseSet" / "UVO_video_val_dense.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    return root


@pytest.mark.parametrize("edit, field", [
    (lambda d: d["videos"][0].update(height="abc"), r"videos\[0\].height must be an integer"),
    (lambda d: d["videos"][0].update(file_names=["../../etc/passwd"]), r"videos\[0\].file_names\[0\] must be a relative"),
    (lambda d: d["annotations"][0].update(video_id=None), r"annotations\[0\].video_id must be an integer"),
    (lambda d: d["annotations"][0]["segmentations"].__setitem__(0, {"counts": [1, 2], "size": [1, 1]}),
     r"segmentations\[0\].counts must be run lengths"),
    (lambda d: d["annotations"][0]["segmentations"].__setitem__(0, {"counts": 7}),
     r"segmentations\[0\].counts must be a string"),
    (lambda d: d["annotations"][0]["segmentations"].__setitem__(0, {"counts": "abc!!"}),
     r"segmentations\[0\].counts must be a COCO compressed RLE"),
    (lambda d: d.update(videos=[]), "lists no video"),
])
def test_uvo_fields_of_the_wrong_type_name_file_and_field(tmp_path, edit, field):
    pytest.importorskip("pycocotools")
    root = _uvo(tmp_path, edit)
    with pytest.raises(UsageError, match=field) as info:
        open_dataset("uvo", root)
    assert "UVO_video_val_dense.json" in str(info.value)


def test_uvo_results_with_a_word_for_a_score_are_refused_and_the_readme_score_form_works(tmp_path, capsys):
    pytest.importorskip("pycocotools")
    root = write_uvo_fixture(tmp_path / "uvo")
    assert main(["score", str(root / "results.json"), str(root), "--dataset", "uvo", "--no-progress"]) == 0
    assert "AP50" in capsys.readouterr().out
    results = json.loads((root / "results.json").read_text())
    results[0]["score"] = "high"
    (tmp_path / "bad.json").write_text(json.dumps(results))
    assert main(["score", str(tmp_path / "bad.json"), str(root), "--dataset", "uvo", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert r"bad.json: field [0].score must be a finite number" in err and len(err.strip().splitlines()) == 1


def test_interactive_bench_refuses_uvo_in_one_line_and_writes_nothing(tmp_path, capsys):
    pytest.importorskip("pycocotools")
    root = write_uvo_fixture(tmp_path / "uvo")
    out = tmp_path / "ib"
    assert main(["interactive-bench", str(root), "dataset=uvo", "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "dataset=uvo is a video instance segmentation set" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_refused_eval_writes_nothing(davis_root, tmp_path, capsys):
    root = _copy(davis_root, tmp_path)
    shutil.rmtree(root / "JPEGImages" / "480p" / "alpha")  # the split lists it, its frames are gone
    out = tmp_path / "eval"
    assert main(["eval", str(root), "tracker=lk", "segmenter=grabcut", "--output", str(out), "--no-progress"]) == 2
    assert "frame folder" in capsys.readouterr().err
    assert not out.exists()


IB = ["synthetic.num_clips=1", "synthetic.num_frames=5", "synthetic.height=40", "synthetic.width=48", "mode=online",
      "budget=20", "pipeline.positive_points=2", "pipeline.refinement_iterations=0", "segmenter.iterations=1",
      "--methods", "sam-pt", "--no-plot", "--no-progress"]


def test_resumed_interactive_bench_redoes_an_unusable_history(tmp_path, capsys):
    out = tmp_path / "ib"
    assert main(["interactive-bench", *IB, "-o", str(out)]) == 0
    first = capsys.readouterr().out
    histories = sorted((out / "histories" / "sam-pt").glob("*.json"))
    assert len(histories) >= 2 and f"{len(histories)} video(s) run" in first
    histories[0].write_text(histories[0].read_text()[:25])  # cut short, as by a crash mid-write of an old copy
    (out / "histories" / "sam-pt" / "notes.txt").write_text("mine")  # a stray file
    (out / "histories" / "sam-pt" / "synthetic_000_x.json").write_text("{}")
    assert main(["interactive-bench", *IB, "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert f"1 video(s) run, {len(histories) - 1} already done" in printed.out
    warned = printed.err  # the command line reports warnings on stderr
    assert f"{histories[0]} is unusable" in warned and "notes.txt is not a history file" in warned
    assert json.loads(histories[0].read_text())["sequence"] == "synthetic_000"  # redone, whole again


@FUZZ
@given(data=st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.text("01ab./", max_size=6),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                             st.sampled_from(["videos", "vid1", "objects", "1", "frames", "category", "x"]), inner,
                             max_size=3), max_leaves=12))
def test_fuzz_meta_json_opens_or_is_refused_in_one_line(tmp_path_factory, data):
    root = _youtube_root(tmp_path_factory.mktemp("fuzz"), {"videos": {"vid1": data}} if isinstance(data, dict)
                         and "objects" in data else data)
    try:
        dataset = open_dataset("youtubevos2019", root, "valid")
        for seq in dataset:
            seq.initial_masks()
    except UsageError as exc:
        assert "\n" not in str(exc) and str(exc)


UVO_FIELDS = [("videos", 0, "height"), ("videos", 0, "width"), ("videos", 0, "id"), ("videos", 0, "file_names"),
              ("annotations", 0, "video_id"), ("annotations", 0, "segmentations"), ("annotations", 0, "iscrowd")]


@FUZZ
@given(field=st.sampled_from(UVO_FIELDS),
       value=st.one_of(st.none(), st.booleans(), st.integers(-2, 70), st.text("0aZ!./", max_size=5),
                       st.lists(st.one_of(st.none(), st.integers(-1, 9), st.text("0a?", max_size=3),
                                          st.fixed_dictionaries({"counts": st.text("0aZ;", max_size=6)})),
                                max_size=4)))
def test_fuzz_uvo_annotation_file_opens_or_is_refused_in_one_line(tmp_path_factory, field, value):
    pytest.importorskip("pycocotools")
    group, index, key = field
    root = _uvo(tmp_path_factory.mktemp("fuzz"), lambda d: d[group][index].__setitem__(key, value))
    try:
        dataset = open_dataset("uvo", root)
        for video in dataset:
            for instance in video.instances:
                video.instance_masks(instance)
    except UsageError as exc:
        assert "\n" not in str(exc) and str(exc)
