"""Dataset readers (DAVIS 2016/2017, YouTube-VOS, MOSE) and result writers."""
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from sampt.data.synthetic import make_clip, write_davis
from sampt.errors import UsageError
from sampt.evaluation.datasets import DAVISDataset, open_dataset, read_annotation
from sampt.evaluation.writers import sequence_complete, sequence_dir, write_sequence, zip_submission
from sampt.io import write_frames, write_label_png


@pytest.fixture(scope="module")
def clips():
    return [make_clip(seed=1, num_frames=5, height=32, width=40, num_objects=2, name="alpha"),
            make_clip(seed=2, num_frames=4, height=32, width=40, num_objects=3, name="beta")]


@pytest.fixture(scope="module")
def davis_root(tmp_path_factory, clips):
    root = tmp_path_factory.mktemp("davis")
    write_davis(root, clips)
    (root / "ImageSets" / "2016").mkdir(parents=True)
    (root / "ImageSets" / "2016" / "val.txt").write_text("alpha\n")
    return root


def test_davis2017_sequences_objects_and_masks(davis_root, clips):
    ds = open_dataset("davis2017", davis_root, "val")
    assert ds.sequences == ["alpha", "beta"] and len(ds) == 2 and ds.kind == "davis"
    seq = ds["beta"]
    assert seq.object_ids == [1, 2, 3] and len(seq) == 4 and seq.frame_names == ["00000", "00001", "00002", "00003"]
    init = seq.initial_masks()
    assert [(i.object_id, i.frame) for i in init] == [(1, 0), (2, 0), (3, 0)]
    for i in init:
        np.testing.assert_array_equal(i.mask, clips[1].masks[0, i.object_id - 1])
    gt = seq.ground_truth()
    assert gt.shape == (4, 32, 40)
    for t in range(4):
        np.testing.assert_array_equal(gt[t], clips[1].label_map(t))
    video = seq.video()
    assert video.frames.shape == (4, 32, 40, 3) and video.name == "beta"
    assert seq.has_ground_truth


def test_davis_sequences_are_lazy(davis_root, tmp_path):
    ds = open_dataset("davis", davis_root, year=2017)
    assert isinstance(ds, DAVISDataset)
    # opening the dataset reads only the listing; a broken sequence fails when asked for, naming it
    import shutil

    root = tmp_path / "d"
    shutil.copytree(davis_root, root)
    shutil.rmtree(root / "JPEGImages" / "480p" / "beta")
    ds = open_dataset("davis2017", root, "val")
    assert ds["alpha"].object_ids == [1, 2]
    with pytest.raises(UsageError, match="beta"):
        ds["beta"]


def test_davis2016_merges_objects(davis_root, clips):
    ds = open_dataset("davis2016", davis_root, "val")
    assert ds.sequences == ["alpha"]
    seq = ds["alpha"]
    assert seq.object_ids == [1]
    np.testing.assert_array_equal(seq.initial_masks()[0].mask, clips[0].masks[0].any(axis=0))
    assert set(np.unique(seq.ground_truth())) <= {0, 1}


def test_davis_errors(davis_root, tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        open_dataset("davis2017", tmp_path / "nowhere")
    with pytest.raises(UsageError, match="split 'test-dev'.*available: val"):
        open_dataset("davis2017", davis_root, "test-dev")
    ds = open_dataset("davis2017", davis_root)
    with pytest.raises(UsageError, match="'gamma'"):
        ds["gamma"]
    with pytest.raises(UsageError, match="'gamma'"):
        ds.select(["alpha", "gamma"])
    with pytest.raises(UsageError, match="unknown dataset"):
        open_dataset("kitti", davis_root)


def test_void_label_is_ignored(tmp_path, clips):
    root = tmp_path / "v"
    write_davis(root, clips[:1])
    ann = root / "Annotations" / "480p" / "alpha" / "00001.png"
    labels = read_annotation(ann)
    labels[0, :] = 255
    write_label_png(ann, labels)
    seq = open_dataset("davis2017", root)["alpha"]
    assert seq.annotation(1)[0].max() == 0
    assert seq.void(1)[0].all()


def test_read_annotation_modes(tmp_path):
    arr = np.array([[0, 1], [2, 3]], np.uint8)
    Image.fromarray(arr, mode="L").save(tmp_path / "grey.png")
    np.testing.assert_array_equal(read_annotation(tmp_path / "grey.png"), arr)
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(UsageError, match="indexed"):
        read_annotation(tmp_path / "rgb.png")
    with pytest.raises(UsageError, match="does not exist"):
        read_annotation(tmp_path / "none.png")


def _youtube_layout(root, with_meta=True):
    """A YouTube-VOS-like split: frames every 5, object 2 appears at frame 00010, annotations only on the
    frames an object first appears (as the valid split)."""
    clip = make_clip(seed=4, num_frames=5, height=24, width=32, num_objects=2)
    names = ["00000", "00005", "00010", "00015", "00020"]
    split = root / "valid"
    img = split / "JPEGImages" / "vid1"
    write_frames(img, clip.video)
    for i, n in enumerate(names):
        (img / f"{i:05d}.jpg").rename(img / f"{n}.jpg.tmp")
    for n in names:
        (img / f"{n}.jpg.tmp").rename(img / f"{n}.jpg")
    ann = split / "Annotations" / "vid1"
    first = clip.label_map(0)
    first[first == 2] = 0
    write_label_png(ann / "00000.png", first)
    second = clip.label_map(2)
    second[second == 1] = 0
    write_label_png(ann / "00010.png", second)
    if with_meta:
        meta = {"videos": {"vid1": {"objects": {"1": {"category": "a", "frames": names[:4]},
                                                "2": {"category": "b", "frames": names[2:4]}}}}}
        (split / "meta.json").write_text(json.dumps(meta))
    return clip


def test_youtube_vos_objects_appearing_later(tmp_path):
    clip = _youtube_layout(tmp_path)
    ds = open_dataset("youtubevos2019", tmp_path, "valid")
    assert ds.kind == "youtubevos" and not ds.scored_locally and ds.sequences == ["vid1"]
    seq = ds["vid1"]
    assert seq.object_ids == [1, 2] and seq.first_frames == {1: 0, 2: 2}
    assert [seq.frame_names[t] for t in seq.eval_frames] == ["00000", "00005", "00010", "00015"]  # listed only
    init = seq.initial_masks()
    assert init[1].frame == 2
    np.testing.assert_array_equal(init[1].mask, clip.masks[2, 1])
    assert not seq.has_ground_truth
    bare = tmp_path / "bare"
    (bare / "valid" / "JPEGImages").mkdir(parents=True)
    (bare / "valid" / "Annotations").mkdir()
    with pytest.raises(UsageError, match="meta.json"):
        open_dataset("youtubevos2018", bare, "valid")


def test_mose_without_meta_scans_annotations(tmp_path):
    _youtube_layout(tmp_path, with_meta=False)
    seq = open_dataset("mose", tmp_path, "valid")["vid1"]
    assert seq.first_frames == {1: 0, 2: 2}
    assert seq.eval_frames == [0, 1, 2, 3, 4]


def test_youtube_vos_errors(tmp_path):
    _youtube_layout(tmp_path)
    with pytest.raises(UsageError, match="split 'test'.*available: valid"):
        open_dataset("youtubevos2019", tmp_path, "test")
    with pytest.raises(UsageError, match="'vid9'"):
        open_dataset("youtubevos2019", tmp_path, "valid")["vid9"]


# -- writers ----------------------------------------------------------------------------------------

def test_write_sequence_davis_and_completeness(tmp_path):
    labels = np.zeros((3, 8, 10), np.uint8)
    labels[1, 2:4, 2:4] = 2
    names = ["00000", "00001", "00002"]
    assert not sequence_complete(tmp_path, "davis", "s", names)
    folder = write_sequence(tmp_path, "davis", "s", names, labels)
    assert folder == tmp_path / "s"
    assert sequence_complete(tmp_path, "davis", "s", names)
    with Image.open(folder / "00001.png") as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.array(im), labels[1])
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary folder left
    (folder / "00002.png").unlink()
    assert not sequence_complete(tmp_path, "davis", "s", names)
    write_sequence(tmp_path, "davis", "s", names, labels)  # replaces the incomplete folder
    assert sequence_complete(tmp_path, "davis", "s", names)


def test_write_sequence_failure_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_sequence(tmp_path, "davis", "s", ["00000", "00001"], [np.zeros((4, 4), np.uint8), np.zeros(4)])
    assert not (tmp_path / "s").exists()
    assert list(tmp_path.iterdir()) == []


def test_youtube_vos_submission_layout_and_zip(tmp_path):
    labels = np.ones((2, 6, 6), np.uint8)
    write_sequence(tmp_path, "youtubevos", "vid1", ["00000", "00005"], labels)
    assert sequence_dir(tmp_path, "youtubevos", "vid1") == tmp_path / "Annotations" / "vid1"
    z = zip_submission(tmp_path)
    with zipfile.ZipFile(z) as zf:
        assert sorted(zf.namelist()) == ["Annotations/vid1/00000.png", "Annotations/vid1/00005.png"]


def test_davis_test_dev_is_not_scored_locally(davis_root):
    import shutil

    listing = davis_root / "ImageSets" / "2017"
    shutil.copy(listing / "val.txt", listing / "test-dev.txt")
    try:
        ds = open_dataset("davis2017", davis_root, "test-dev")
        assert not ds.scored_locally and ds["alpha"].object_ids == [1, 2]
    finally:
        (listing / "test-dev.txt").unlink()
