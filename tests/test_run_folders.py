"""Run folders read back (#30 class 1): ``result.json`` validated once against a versioned schema, masks
checked before any export writes, paths read from the file kept inside the folder, ``tracks.npz`` read
without pickle and checked when used, and ``export -o`` never overwriting the run. Every damaged folder
gives one :class:`~sampt.run_folder.RunFolderError` naming the file (and field), and the CLI one line and
exit 2 with nothing written; a seeded fuzz test damages folders at random."""
from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

import sampt
from sampt.cli import main
from sampt.data.synthetic import make_clip
from sampt.errors import OutputError, UsageError
from sampt.io import write_label_png
from sampt.run_folder import SCHEMA_VERSION, RunFolderError

FAST = ["tracker=lk", "segmenter=grabcut", "pipeline=fast", "pipeline.refinement_iterations=0",
        "segmenter.iterations=1", "pipeline.positive_points=4"]


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    """One small run folder (3 frames, 2 objects), written once and copied by each test."""
    clip = make_clip(seed=5, num_frames=3, height=32, width=40, num_objects=2, name="clip")
    out = tmp_path_factory.mktemp("orig") / "run"
    sampt.segment(clip.video, mask=clip.label_map(0), overrides=FAST, output=out, overlay=None)
    return out


@pytest.fixture
def run(original, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(original, out)
    return out


def edit_json(run: Path, change) -> None:
    info = json.loads((run / "result.json").read_text())
    change(info)
    (run / "result.json").write_text(json.dumps(info))


def one_line_exit_2(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_written_run_carries_the_schema_version_and_reads_back(run):
    info = json.loads((run / "result.json").read_text())
    assert info["schema_version"] == SCHEMA_VERSION
    saved = sampt.load_result(run)
    assert saved.label_maps.shape == (3, 32, 40) and saved.object_ids == [1, 2]
    assert saved.tracks.num_frames == 3 and saved.object_tracks(1).num_points > 0


@pytest.mark.parametrize("content, match", [
    ('{"object_ids": [1, 2], "scores": [0.5', "not valid JSON"),
    ("[1, 2, 3]", "must hold a JSON object, not a list"),
    ('{"scores": [0.5]}', "field 'object_ids' is missing"),
    ('{"object_ids": "1"}', "field 'object_ids' must be a list"),
    ('{"object_ids": [true]}', "field 'object_ids' must be a list"),
    ('{"object_ids": [1, 2], "scores": [NaN, 1]}', "field 'scores'"),
    ('{"object_ids": [1, 2], "scores": [1]}', "field 'scores' has 1 entries for 2 objects"),
    ('{"object_ids": [1, 2], "input": []}', "field 'input' must be an object"),
    ('{"object_ids": [1, 2], "input": {"frame_names": ["../../x"]}}', "field 'input.frame_names'"),
    ('{"object_ids": [1, 2], "files": {"masks": "../elsewhere"}}', "field 'files.masks'"),
    ('{"object_ids": [1, 2], "files": {"masks": "/etc"}}', "field 'files.masks'"),
    ('{"object_ids": [1, 2], "num_frames": "3"}', "field 'num_frames'"),
    ('{"schema_version": 99, "object_ids": [1]}', "newer sampt .* upgrade sampt"),
    ("\xff\xfe", "not valid JSON"),
])
def test_a_damaged_result_json_is_refused_naming_the_file_and_field(run, capsys, tmp_path, content, match):
    (run / "result.json").write_bytes(content.encode("latin-1"))
    with pytest.raises(RunFolderError, match=match) as caught:
        sampt.load_result(run)
    assert str(run / "result.json") in str(caught.value)
    for fmt in ("coco", "ytvos", "cvat"):
        err = one_line_exit_2(["export", str(run), "-f", fmt, "-o", str(tmp_path / f"e.{fmt}")], capsys)
        assert "result.json" in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("e.")]


def test_unknown_top_level_keys_of_the_current_version_are_kept(run):
    edit_json(run, lambda info: info.update(notes={"anything": [1, 2]}))
    assert sampt.load_result(run).info["notes"] == {"anything": [1, 2]}


def test_a_folder_written_before_schema_versions_reads_as_version_1(run):
    edit_json(run, lambda info: info.pop("schema_version"))
    assert sampt.load_result(run).num_frames == 3


@pytest.mark.parametrize("fmt", ["coco", "ytvos", "cvat"])
@pytest.mark.parametrize("damage", ["deleted", "wrong size", "not a png"])
def test_a_damaged_mask_is_found_before_any_export_writes(run, capsys, tmp_path, fmt, damage):
    if fmt == "coco":
        pytest.importorskip("pycocotools")
    png = sorted((run / "masks" / "clip").glob("*.png"))[1]
    if damage == "deleted":
        png.unlink()
    elif damage == "wrong size":
        write_label_png(png, np.zeros((7, 9), np.uint8))
    else:
        png.write_bytes(b"junk")
    out = tmp_path / f"export.{fmt}"
    err = one_line_exit_2(["export", str(run), "-f", fmt, "-o", str(out)], capsys)
    assert png.name in err and not out.exists()


def test_a_frame_name_cannot_read_a_png_outside_the_run(run, tmp_path):
    write_label_png(tmp_path / "secret.png", np.ones((32, 40), np.uint8))
    edit_json(run, lambda info: info["input"].update(frame_names=["00000", "../../secret", "00002"]))
    with pytest.raises(RunFolderError, match="input.frame_names"):
        sampt.load_result(run)


def test_a_masks_folder_linked_outside_the_run_is_refused(run, tmp_path):
    outside = tmp_path / "outside"
    shutil.move(run / "masks", outside)
    (run / "masks").symlink_to(outside)
    with pytest.raises(RunFolderError, match="outside the run folder"):
        sampt.load_result(run)


@pytest.mark.parametrize("target", ["result.json", "tracks.npz", "masks/clip/00000.png", "."])
def test_export_never_overwrites_the_runs_own_files(run, capsys, target):
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    err = one_line_exit_2(["export", str(run), "-f", "cvat", "-o", str(run / target)], capsys)
    assert "export file" in err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    with pytest.raises(OutputError):
        from sampt.export import export_result

        export_result(run, "cvat", run / target)


def test_export_into_the_runs_export_folder_still_works(run):
    assert main(["export", str(run), "-f", "ytvos", "-q"]) == 0
    with zipfile.ZipFile(run / "export" / "ytvos.zip") as zf:
        assert sorted(zf.namelist()) == [f"Annotations/clip/{t:05d}.png" for t in range(3)]


@pytest.mark.parametrize("content", [b"junk", b"PK\x03\x04 not really a zip"])
def test_a_junk_tracks_file_fails_only_where_tracks_are_used(run, tmp_path, capsys, content):
    (run / "tracks.npz").write_bytes(content)
    saved = sampt.load_result(run)  # masks and result.json are fine: loading works
    assert saved.num_frames == 3
    with pytest.raises(RunFolderError, match="tracks.npz"):
        saved.tracks
    assert main(["export", str(run), "-f", "ytvos", "-o", str(tmp_path / "y.zip"), "-q"]) == 0  # no tracks used


def test_tracks_holding_objects_are_not_unpickled(run):
    arrays = dict(np.load(run / "tracks.npz"))
    arrays["labels"] = np.array([{"a": 1}], dtype=object)
    np.savez(run / "tracks.npz", **arrays)
    with pytest.raises(RunFolderError, match="tracks.npz"):
        sampt.load_result(run).point_labels


def test_tracks_of_the_wrong_shape_name_the_array(run):
    arrays = dict(np.load(run / "tracks.npz"))
    arrays["points"] = arrays["points"][:2]
    np.savez(run / "tracks.npz", **arrays)
    with pytest.raises(RunFolderError, match="'points'"):
        sampt.load_result(run).tracks


def test_load_result_of_something_that_is_no_path():
    for bad in (5, None, ["a"]):
        with pytest.raises(UsageError, match="result_dir must be the path"):
            sampt.load_result(bad)


# -- fuzz: a damaged run folder loads and exports completely, or is refused in one line, nothing written ------
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-3, 300) | st.floats(allow_nan=True)
                           | st.text(max_size=8) | st.sampled_from(["..", "../x", "/", "masks/clip"]),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                                     max_size=3), max_leaves=8)
FIELDS = ["object_ids", "scores", "num_frames", "input", "files", "per_frame", "objects", "schema_version",
          "input.frame_names", "input.width", "files.masks", "quality"]


@settings(max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(edits=st.lists(st.tuples(st.sampled_from(FIELDS), JSON_VALUES), min_size=1, max_size=3),
       mask_damage=st.sampled_from([None, "delete", "resize", "junk"]), tracks_junk=st.booleans())
def test_fuzz_run_folders(original, tmp_path_factory, capsys, edits, mask_damage, tracks_junk):
    work = tmp_path_factory.mktemp("fuzz")
    run = work / "run"
    shutil.copytree(original, run)
    info = json.loads((run / "result.json").read_text())
    for key, value in edits:
        node = info
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node.get(p), dict) or p not in node else {}
        node[last] = value
    (run / "result.json").write_text(json.dumps(info))
    png = run / "masks" / "clip" / "00001.png"
    if mask_damage == "delete":
        png.unlink()
    elif mask_damage == "resize":
        write_label_png(png, np.zeros((5, 5), np.uint8))
    elif mask_damage == "junk":
        png.write_bytes(b"\x89PNG junk")
    if tracks_junk:
        (run / "tracks.npz").write_bytes(b"junk")
    try:
        saved = sampt.load_result(run)
        saved.tracks
    except RunFolderError as exc:
        assert str(run) in str(exc)
    for fmt in ("ytvos", "cvat"):
        out = work / f"e.{fmt}"
        code = main(["export", str(run), "-f", fmt, "-o", str(out), "-q"])
        err = capsys.readouterr().err.strip()
        if code == 0:
            assert zipfile.ZipFile(out).testzip() is None
        else:
            assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
            assert not out.exists()
