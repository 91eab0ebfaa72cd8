"""The paper's other tasks: BDD100K VOS (visibility buckets), MOSE, UVO video instance segmentation.

Parity: the fixtures of ``sampt.data.fixtures`` were scored once by the official evaluations; their numbers
are in ``tests/data`` (see its README) and must be reproduced exactly.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sampt.data.fixtures import bdd100k_sequences, write_bdd100k_fixture, write_uvo_fixture
from sampt.errors import UsageError
from sampt.evaluation.datasets import open_dataset
from sampt.evaluation.bdd100k.metrics import score_object, visibility_bucket
from sampt.evaluation.scorers import score_dataset

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def bdd_root(tmp_path_factory):
    return write_bdd100k_fixture(tmp_path_factory.mktemp("bdd"))


@pytest.fixture(scope="module")
def uvo_root(tmp_path_factory):
    pytest.importorskip("pycocotools")
    return write_uvo_fixture(tmp_path_factory.mktemp("uvo"))


# -- BDD100K ------------------------------------------------------------------------------------------

def test_bdd100k_reader_prompts_each_object_where_it_appears(bdd_root):
    root, _ = bdd_root
    ds = open_dataset("bdd100k", root)
    assert ds.sequences == ["lane", "road"] and ds.exclude_first_last is False
    seq = ds["road"]
    assert seq.object_ids == [1, 2, 3, 4] and seq.first_frames == {1: 0, 2: 3, 3: 10, 4: 35}
    assert seq.eval_frames == list(range(36))
    gt = bdd100k_sequences()["road"][0]
    for m in seq.initial_masks():
        np.testing.assert_array_equal(m.mask, gt[m.frame] == m.object_id)
    # the split folder may be given directly
    assert open_dataset("bdd100k", root / "val").sequences == ["lane", "road"]


def test_bdd100k_parity_with_official_evaluation(bdd_root):
    root, results = bdd_root
    official = json.loads((DATA / "bdd100k_official.json").read_text())
    report = score_dataset(results, open_dataset("bdd100k", root))
    g = report.global_scores
    for key, value in g.items():
        assert value == official[key], key
    per_object = {f"{o.sequence}_{o.object_id}": o for o in report.objects}
    assert {k: o.j_mean for k, o in per_object.items()} == official["_per_object_J"]
    assert {k: o.f_mean for k, o in per_object.items()} == official["_per_object_F"]
    assert sorted(o.visible_frames for o in report.objects) == sorted(official["_visible_frames"])
    assert {o.bucket() for o in report.objects} == {"short", "medium", "long"}
    text = report.format("bdd100k val")
    assert "J&F-Mean-Short" in text and "road_4" in text


def test_bdd100k_buckets_and_edge_cases():
    # official thresholds: visible < 5 short, < 30 medium, else long
    assert [visibility_bucket(v) for v in (1, 4, 5, 29, 30)] == ["short", "short", "medium", "medium", "long"]
    assert visibility_bucket(5, short_max=6, long_min=31) == "short"  # the paper's wording's edges
    gt = np.zeros((4, 8, 8), bool)
    gt[3, 2:5, 2:5] = True
    last = score_object("s", 1, gt, np.zeros_like(gt))
    assert last.j_mean == last.f_mean == last.j_nonvis == 1.0 and last.visible_frames == 1
    gt = np.zeros((5, 8, 8), bool)
    gt[1:3, 2:6, 2:6] = True  # appears at 1, visible on 2, gone on 3-4
    pred = gt.copy()
    pred[4, 0:2, 0:2] = True  # a false positive after it left
    s = score_object("s", 1, gt, pred)
    assert s.n_frames == 4 and s.visible_frames == 2 and s.j_vis == 1.0
    np.testing.assert_allclose(s.j, [1.0, 1.0, 0.0])
    assert s.j_nonvis == 0.5
    with pytest.raises(ValueError, match="never appears"):
        score_object("s", 2, np.zeros((3, 4, 4), bool), np.zeros((3, 4, 4), bool))


def test_bdd100k_bad_layouts_are_named(bdd_root, tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        open_dataset("bdd100k", tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="JPEGImages"):
        open_dataset("bdd100k", tmp_path / "empty")
    root, results = bdd_root
    broken = tmp_path / "broken"
    shutil.copytree(root / "val", broken)
    (broken / "Annotations" / "lane" / "00004.png").unlink()
    with pytest.raises(UsageError, match="00004.png is missing"):
        open_dataset("bdd100k", broken)["lane"]
    bad = tmp_path / "results"
    shutil.copytree(results, bad)
    shutil.rmtree(bad / "lane")
    with pytest.raises(UsageError, match="lane"):
        score_dataset(bad, open_dataset("bdd100k", root))


# -- MOSE ---------------------------------------------------------------------------------------------

def test_mose_reads_its_split_file(tmp_path):
    from sampt.data.synthetic import make_clip
    from sampt.io import write_frames, write_label_png

    clip = make_clip(seed=3, num_frames=4, height=24, width=32, num_objects=2, name="m1")
    split = tmp_path / "valid"
    write_frames(split / "JPEGImages" / "m1", clip.video)
    write_label_png(split / "Annotations" / "m1" / "00000.png", clip.label_map(0))
    meta = {"videos": {"m1": {"objects": {"1": {"frames": ["00000", "00001", "00002", "00003"]},
                                          "2": {"frames": ["00001", "00002", "00003"]}}}}}
    (tmp_path / "meta_valid.json").write_text(json.dumps(meta))
    ds = open_dataset("mose", tmp_path)
    seq = ds["m1"]
    assert ds.name == "mose" and seq.object_ids == [1, 2] and seq.first_frames == {1: 0, 2: 1}
    (tmp_path / "meta_valid.json").write_text("{}")
    with pytest.raises(UsageError, match="meta"):
        open_dataset("mose", tmp_path)
    with pytest.raises(UsageError, match="split 'train'"):
        open_dataset("mose", tmp_path, split="train")


# -- UVO ----------------------------------------------------------------------------------------------

def test_uvo_reader(uvo_root):
    from sampt.evaluation.datasets.uvo import UVODataset

    ds = open_dataset("uvo", uvo_root)
    assert isinstance(ds, UVODataset) and ds.sequences == ["1", "2", "3"]
    v = ds["1"]
    assert len(v) == 4 and v.name == "video1" and len(v.instances) == 3
    video = v.video()
    assert video.frames.shape == (4, 20, 24, 3)
    masks = v.instance_masks(v.instances[1])  # uncompressed RLE, absent on frame 2
    assert masks.shape == (4, 20, 24) and masks[0].any() and not masks[2].any()
    assert ds.video("video2").id == 2 and [x.iscrowd for x in ds["2"].instances] == [True, False]


def test_uvo_parity_with_official_ytvis_evaluation(uvo_root):
    from sampt.evaluation.vis.scoring import load_results, score_vis_results
    from sampt.evaluation.datasets.uvo import UVODataset

    official = json.loads((DATA / "uvo_official.json").read_text())
    results = load_results(uvo_root / "results.json")
    scores = score_vis_results(UVODataset(uvo_root), results)
    for key in ("AP", "AP50", "AP75", "AR1", "AR10", "AR100"):
        assert scores[key] == official[key], key
    # a subset of videos scores only those; a result for a video the annotations lack is an error
    sub = score_vis_results(UVODataset(uvo_root).select(["2"]), results)
    assert sub == score_vis_results(UVODataset(uvo_root).select(["2"]), [r for r in results if r["video_id"] == 2])
    assert sub["AP"] != scores["AP"]
    with pytest.raises(UsageError, match="video 9"):
        score_vis_results(UVODataset(uvo_root), results + [dict(results[0], video_id=9)])


def test_uvo_bad_layouts_are_named(uvo_root, tmp_path):
    from sampt.evaluation.vis.scoring import load_results
    from sampt.evaluation.datasets.uvo import UVODataset

    with pytest.raises(UsageError, match="UVO_video_val_dense.json"):
        UVODataset(tmp_path)
    (tmp_path / "VideoDenseSet").mkdir()
    (tmp_path / "VideoDenseSet" / "UVO_video_val_dense.json").write_text('{"videos": [{"id": 1}]}')
    with pytest.raises(UsageError, match="frame folder"):
        UVODataset(tmp_path)
    (tmp_path / "uvo_videos_dense_frames").mkdir()
    with pytest.raises(UsageError, match="file_names"):
        UVODataset(tmp_path)
    (tmp_path / "r.json").write_text('{"video_id": 1}')
    with pytest.raises(UsageError, match="results list"):
        load_results(tmp_path / "r.json")
    ds = UVODataset(uvo_root)
    shutil.move(uvo_root / "uvo_videos_dense_frames" / "video3" / "2.png", tmp_path / "2.png")
    try:
        with pytest.raises(UsageError, match="2.png is missing"):
            ds["3"].video()
    finally:
        shutil.move(tmp_path / "2.png", uvo_root / "uvo_videos_dense_frames" / "video3" / "2.png")


# -- VIS mode -----------------------------------------------------------------------------------------

VIS_FAST = ["tracker=lk", "segmenter=grabcut", "pipeline=fast", "pipeline.refinement_iterations=1"]


@pytest.fixture()
def uvo_clips(tmp_path):
    pytest.importorskip("pycocotools")
    from sampt.data.fixtures import write_uvo_clips
    from sampt.data.synthetic import make_clip

    clips = [make_clip(seed=7, num_frames=4, height=40, width=56, num_objects=2, name="v1")]
    return write_uvo_clips(tmp_path / "uvo", clips), clips


def test_grid_points_box_nms_and_stability():
    from sampt.evaluation.vis.proposals import box_nms, grid_points, mask_box, stability_score

    m = np.zeros((8, 10), bool)
    m[2:5, 3:7] = True
    np.testing.assert_array_equal(mask_box(m), [3, 2, 6, 4])  # inclusive, as SAM's batched_mask_to_box

    pts = grid_points(2, 10, 20)
    np.testing.assert_allclose(pts, [[5, 2.5], [15, 2.5], [5, 7.5], [15, 7.5]])
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    assert box_nms(boxes, np.array([0.5, 0.9, 0.7, 0.9]), 0.7) == [1, 2]
    assert box_nms(boxes, np.array([0.5, 0.9, 0.7, 0.9]), 0.95) == [1, 3, 2]  # 0 is 3's double
    assert box_nms(boxes, np.array([0.5, 0.9, 0.7, 0.9]), 1.0) == [1, 3, 2, 0]
    logits = np.array([[-3.0, -0.5], [0.5, 3.0]])
    assert stability_score(logits, 1.0) == 1 / 3 and stability_score(np.full((2, 2), -5.0)) == 1.0


def test_automatic_proposals_through_the_segmenter_interface(uvo_clips):
    from sampt.builtin.segmenters import GrabCutSegmenter
    from sampt.evaluation.vis.proposals import ProposalOptions, propose

    _, clips = uvo_clips
    seg = GrabCutSegmenter()
    opts = ProposalOptions(points_per_side=4, points_per_batch=5, pred_iou_thresh=0.5, stability_score_thresh=0)
    props = propose(seg, clips[0].video.frames[0], opts)
    assert seg.encoder_calls == 1 and 0 < len(props) <= 16
    assert [p.score for p in props] == sorted((p.score for p in props), reverse=True)
    ious = [max((p.mask & m).sum() / (p.mask | m).sum() for p in props) for m in clips[0].masks[0]]
    assert max(ious) > 0.8  # the grid finds an object
    assert propose(GrabCutSegmenter(), clips[0].video.frames[0],
                   ProposalOptions(points_per_side=4, pred_iou_thresh=1.01)) == []


def test_proposals_consider_every_candidate_of_a_click():
    from sampt.evaluation.vis.proposals import ProposalOptions, propose
    from sampt.evaluation.vis.predict import VISOptions
    from sampt.interfaces import ImageEmbedding, Segmenter
    from sampt.types import Prediction

    class ThreeWay(Segmenter):  # three nested candidates per click, like SAM's multimask outputs
        def _encode(self, image):
            return ImageEmbedding(None, image.shape[:2])

        def decode_candidates(self, embedding, prompts):
            out = []
            for p in prompts:
                x, y = p.points[0]
                cands = []
                for k, (r, iou) in enumerate(((1, 0.95), (3, 0.5), (6, 0.9))):
                    logits = np.full(embedding.size, -10.0, np.float32)
                    logits[max(0, int(y) - r):int(y) + r + 1, max(0, int(x) - r):int(x) + r + 1] = 10.0
                    cands.append(Prediction(logits, np.zeros((256, 256), np.float32), iou))
                out.append(cands)
            return out

        def decode(self, embedding, prompts):
            return [c[1] for c in self.decode_candidates(embedding, prompts)]

    image = np.zeros((40, 40, 3), np.uint8)
    opts = dict(points_per_side=1, pred_iou_thresh=0.8, stability_score_thresh=0.9, box_nms_thresh=1.0)
    props = propose(ThreeWay(), image, ProposalOptions(**opts))
    assert [(p.score, int(p.mask.sum())) for p in props] == [(0.95, 9), (0.9, 169)]
    assert propose(ThreeWay(), image, ProposalOptions(**opts, multimask=False)) == []  # decode's 0.5 only
    assert VISOptions.from_overrides({"multimask": "false"}).proposals.multimask is False
    with pytest.raises(UsageError, match="true or false"):
        VISOptions.from_overrides({"multimask": "maybe"})


def test_track_nms_drops_duplicates():
    pytest.importorskip("pycocotools")
    from sampt.evaluation.datasets.uvo import encode_rle
    from sampt.evaluation.vis.predict import Track, track_ious, track_nms

    def track(score, masks):
        return Track(score, [encode_rle(m) for m in masks], np.array([m.sum() for m in masks]))

    a = [np.zeros((8, 8), bool) for _ in range(3)]
    for t, m in enumerate(a):
        m[1:5, t:t + 4] = True
    b = [m.copy() for m in a]
    b[2][:] = False  # the same object, lost on the last frame
    c = [np.roll(m, 4, axis=0) for m in a]
    tracks = [track(0.5, b), track(0.9, a), track(0.7, c), track(0.99, [np.zeros((8, 8), bool)] * 3)]
    ious = track_ious(tracks)
    np.testing.assert_allclose(ious[0, 1], 32 / 48)
    assert ious[1, 2] == 0
    kept = track_nms(tracks, 0.5)
    assert [t.score for t in kept] == [0.9, 0.7]  # the empty track and the duplicate are gone
    assert [t.score for t in track_nms(tracks, 0.7)] == [0.9, 0.7, 0.5]
    assert [t.score for t in track_nms(tracks, 0.7, max_tracks=1)] == [0.9]


def test_vis_eval_end_to_end_with_grid_proposals(uvo_clips, tmp_path, capsys):
    from sampt.cli import main

    root, _ = uvo_clips
    out = tmp_path / "out"
    args = ["eval", str(root), "dataset=uvo", *VIS_FAST, "vis.points_per_side=3", "vis.pred_iou_thresh=0.5",
            "vis.stability_score_thresh=0", "--output", str(out), "--no-progress"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert results and all(r["video_id"] == 1 and r["category_id"] == 1 and len(r["segmentations"]) == 4
                           for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores) >= {"AP", "AP50", "AP75", "AR1", "AR10"}
    assert "AP50" in capsys.readouterr().out
    # resumable: the finished video is skipped; a changed option is refused without --overwrite
    before = (out / "videos" / "1.json").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "videos" / "1.json").stat().st_mtime_ns == before
    assert "skipped" in capsys.readouterr().out
    assert main([*args[:-3], "vis.max_tracks=1", "--output", str(out), "--no-progress"]) == 2
    assert main(["eval", str(root), "dataset=uvo", "vis.bogus=1", "--output", str(tmp_path / "o2"),
                 "--no-progress"]) == 2
    assert "vis.bogus" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists()  # a bad option writes nothing
    for bad, message in (("task=vos", "task=vis"), ("task=seg", "vos or vis"), ("vis.points_per_side=0", ">= 1"),
                         ("vis.max_tracks=x", "number")):
        assert main(["eval", str(root), "dataset=uvo", bad, "--output", str(tmp_path / "o3"), "--no-progress"]) == 2
        assert message in capsys.readouterr().err, bad
        assert not (tmp_path / "o3").exists()
    assert main(["eval", str(root), "dataset=davis2017", "task=vis", "--no-progress"]) == 2
    assert "dataset=uvo" in capsys.readouterr().err
    assert main(["eval", str(root), "dataset=uvo", "proposals=/nonexistent.json", "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_vis_eval_with_given_proposals_scores_them(uvo_clips, tmp_path, capsys):
    from sampt.cli import main
    from sampt.evaluation.datasets.uvo import encode_rle

    root, clips = uvo_clips
    masks = clips[0].masks
    proposals = [{"video_id": 1, "segmentation": encode_rle(masks[0, o]), "score": 0.5} for o in range(2)]
    proposals.append({"video": "v1", "segmentation": encode_rle(masks[0, 0]), "score": 0.1})  # a duplicate
    (tmp_path / "proposals.json").write_text(json.dumps(proposals))
    out = tmp_path / "out"
    assert main(["eval", str(root), "dataset=uvo", "task=vis", *VIS_FAST, f"proposals={tmp_path / 'proposals.json'}",
                 "vis.track_nms_thresh=0.5", "--output", str(out), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results) == 2  # the duplicate track is suppressed
    scores = json.loads((out / "scores.json").read_text())
    assert scores["AP50"] > 0.9 and scores["AR10"] > 0.5
    # the same results through `sampt score`
    assert main(["score", str(out), str(root), "--dataset", "uvo", "--no-progress"]) == 0
    assert "AP50" in capsys.readouterr().out


# -- YouTube-VOS G ------------------------------------------------------------------------------------

def _ytvos_valid_with_annotations(root):
    """A valid split whose annotations cover every listed frame (a user's local copy), with categories."""
    from sampt.data.synthetic import make_clip
    from sampt.io import write_frames, write_label_png

    clip = make_clip(seed=5, num_frames=4, height=24, width=32, num_objects=2, name="vid1")
    write_frames(root / "valid" / "JPEGImages" / "vid1", clip.video)
    names = ["00000", "00001", "00002", "00003"]
    for t, n in enumerate(names):
        labels = clip.label_map(t)
        if t == 0:
            labels[labels == 2] = 0  # object 2 appears on frame 1
        write_label_png(root / "valid" / "Annotations" / "vid1" / f"{n}.png", labels)
    meta = {"videos": {"vid1": {"objects": {"1": {"category": "cat", "frames": names},
                                            "2": {"category": "zebra", "frames": names[1:]}}}}}
    (root / "valid" / "meta.json").write_text(json.dumps(meta))
    train = {"videos": {"x": {"objects": {"1": {"category": "cat", "frames": ["00000"]}}}}}
    (root / "train").mkdir()
    (root / "train" / "meta.json").write_text(json.dumps(train))
    return clip, names


def test_youtubevos_overall_g_over_seen_and_unseen(tmp_path):
    from sampt.evaluation.davis.metrics import ObjectScore
    from sampt.evaluation.youtubevos.metrics import overall_scores
    from sampt.evaluation.youtubevos.scoring import seen_categories
    from sampt.io import write_label_png

    clip, names = _ytvos_valid_with_annotations(tmp_path)
    ds = open_dataset("youtubevos2018", tmp_path, "valid")
    assert ds.scored_locally  # a full local copy of the valid annotations is scored here
    out = tmp_path / "res" / "Annotations" / "vid1"
    for t, n in enumerate(names):
        labels = clip.label_map(t)
        if t == 0:
            labels[labels == 2] = 0
        if t == 3:
            labels[labels == 2] = 0  # the unseen object is lost on the last frame
        write_label_png(out / f"{n}.png", labels)
    report = score_dataset(tmp_path / "res", ds)
    g = report.overall
    assert g["J-Seen"] == 1.0 and g["F-Seen"] == 1.0
    # object 2 is prompted on frame 1 and scored on frames 2 (right) and 3 (lost)
    assert g["J-Unseen"] == 0.5 and g["F-Unseen"] == 0.5 and g["G"] == 0.75
    assert "G" in report.format() and report.seen == [True, False]
    report.write_csvs(tmp_path / "res", "valid")
    assert (tmp_path / "res" / "overall_results-valid.csv").is_file()
    # definitions: per-object means, NaN for an empty group
    objs = [ObjectScore("s", 1, np.array([1.0, 0.0]), np.array([1.0, 1.0])),
            ObjectScore("s", 2, np.array([0.5]), np.array([0.25]))]
    assert overall_scores(objs, [True, True])["J-Seen"] == 0.5
    assert np.isnan(overall_scores(objs, [True, True])["G"])
    (tmp_path / "train" / "meta.json").unlink()  # without the training categories: J&F, no G, a warning
    with pytest.raises(UsageError, match="train"):
        seen_categories(tmp_path)
    plain = score_dataset(tmp_path / "res", ds)
    assert not hasattr(plain, "overall") and len(plain.objects) == 2


# -- eval / bench on the new datasets -----------------------------------------------------------------

def test_eval_and_bench_on_bdd100k(bdd_root, tmp_path, capsys):
    from sampt.cli import main

    root, _ = bdd_root
    out = tmp_path / "eval"
    assert main(["eval", str(root), "dataset=bdd100k", *VIS_FAST, "--sequences", "lane", "--output", str(out),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "J&F-Mean-Short" in text and "lane_2" in text
    assert sorted(p.name for p in (out / "lane").glob("*.png")) == [f"{t:05d}.png" for t in range(8)]
    rows = (out / "global_results-val.csv").read_text().splitlines()
    assert rows[0].startswith("J&F-Mean,J-Mean") and "J&F-Mean-Long" in rows[0]
    # the same PNGs scored by `sampt score`, and by the bench (overall J&F of the first pass)
    assert main(["score", str(out), str(root), "--dataset", "bdd100k", "--sequences", "lane", "--no-progress"]) == 0
    g = dict(zip(rows[0].split(","), rows[1].split(",")))
    bench_out = tmp_path / "bench"
    assert main(["bench", "--config", "ci", "--dataset", "bdd100k", "--dataset-root", str(root), "--sequences", "lane",
                 "--trackers", "lk", "--repeats", "1", "--warmup", "0", "--no-plot", "--no-progress",
                 "--output", str(bench_out), "pipeline.refinement_iterations=1"]) == 0
    run = json.loads((bench_out / "runs.json").read_text())["runs"][0]
    assert f"{run['J&F']:.3f}" == g["J&F-Mean"]


def test_bench_vis_on_uvo_with_given_proposals(uvo_clips, tmp_path, capsys):
    from sampt.cli import main
    from sampt.evaluation.datasets.uvo import encode_rle

    root, clips = uvo_clips
    proposals = [{"video_id": 1, "segmentation": encode_rle(m), "score": 0.5} for m in clips[0].masks[0]]
    (tmp_path / "p.json").write_text(json.dumps(proposals))
    out = tmp_path / "bench"
    assert main(["bench", "--config", "ci", "--dataset", "uvo", "--dataset-root", str(root), "--trackers", "lk",
                 "--repeats", "1", "--warmup", "1", "--no-plot", "--no-progress", "--output", str(out),
                 f"proposals={tmp_path / 'p.json'}", "vis.track_nms_thresh=0.5"]) == 0
    run = json.loads((out / "runs.json").read_text())["runs"][0]
    assert run["AP50"] > 0.9 and "J&F" not in run and run["objects"] == 2
    header = (out / "runs.csv").read_text().splitlines()[0].split(",")
    after_options = header.index("options") + 1  # the accuracy columns follow the combination's options
    assert header[after_options:after_options + 3] == ["AP", "AP50", "AR10"] and "J&F" not in header
    assert "AP50" in (out / "results.md").read_text()
    from sampt.evaluation.bench.plan import plan_bench

    assert plan_bench("ci", ["task=vis", "vis.max_tracks=5"], dataset="uvo").vis == {"max_tracks": "5"}
    with pytest.raises(UsageError, match="task=vis"):
        plan_bench("ci", ["task=vis"])
