"""What a run leaves behind, used directly: masks named after the input's frames in the layout `sampt score`
reads, tracks.npz, a compact result.json, an H.264/GIF overlay, exports, and `sampt.load_result`."""
from __future__ import annotations

import json
import signal
import zipfile

import numpy as np
import pytest

import sampt
from sampt.cli import main
from sampt.data.synthetic import make_clip, write_davis
from sampt.io import read_label_png, read_video, write_label_png, write_video

FAST = ["tracker=lk", "pipeline.refinement_iterations=1", "pipeline.positive_points=4"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One `sampt run` on a frame folder whose frames are 00000.jpg, 00005.jpg, ... (every 5th frame)."""
    import cv2

    root = tmp_path_factory.mktemp("run")
    clip = make_clip(seed=3, num_frames=5, height=48, width=64, num_objects=2)
    frames = root / "dance"
    frames.mkdir()
    for t, frame in enumerate(clip.video):
        cv2.imwrite(str(frames / f"{5 * t:05d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 98])
    write_label_png(root / "first.png", clip.label_map(0))
    out = root / "out"
    assert main(["run", str(frames), "--mask", str(root / "first.png"), "-o", str(out), "--no-progress", *FAST]) == 0
    return out, clip


def test_masks_keep_the_frame_names_in_the_sequence_layout(run_dir):
    out, clip = run_dir
    names = sorted(p.name for p in (out / "masks" / "dance").iterdir())
    assert names == ["00000.png", "00005.png", "00010.png", "00015.png", "00020.png"]
    assert [p.name for p in (out / "masks").iterdir()] == ["dance"]
    labels = read_label_png(out / "masks" / "dance" / "00000.png")  # the prompt frame
    truth = clip.label_map(0)
    assert ((labels == 1) & (truth == 1)).sum() / ((labels == 1) | (truth == 1)).sum() > 0.5


def test_video_frame_names_follow_the_stride(tmp_path):
    clip = make_clip(seed=0, num_frames=7, height=32, width=48, num_objects=1)
    write_video(tmp_path / "v.avi", clip.video, fps=10)
    video = read_video(tmp_path / "v.avi", stride=2)
    assert video.frame_names == ["00000", "00002", "00004", "00006"] and video.fps == 5


def test_result_json_is_complete_and_compact(run_dir):
    out, clip = run_dir
    text = (out / "result.json").read_text()
    info = json.loads(text)
    assert info["sampt_version"] == sampt.__version__ and "commit" in info["git"]
    assert info["input"]["frame_names"] == ["00000", "00005", "00010", "00015", "00020"]
    assert (info["input"]["width"], info["input"]["height"], info["input"]["num_frames"]) == (64, 48, 5)
    assert info["input"]["path"].endswith("dance") and info["input"]["fps"] > 0
    assert [o["id"] for o in info["objects"]] == [1, 2]
    prompt = info["objects"][0]["prompt"]
    assert prompt["kind"] == "mask" and prompt["frame"] == 0 and prompt["source"].endswith("first.png")
    assert prompt["area"] == int(clip.masks[0, 0].sum())
    areas = np.array(info["per_frame"]["area"])
    assert areas.shape == (5, 2)
    for t, name in enumerate(info["input"]["frame_names"]):
        labels = read_label_png(out / "masks" / "dance" / f"{name}.png")
        assert list(areas[t]) == [int((labels == 1).sum()), int((labels == 2).sum())]
        ys, xs = np.nonzero(labels == 2)
        assert info["per_frame"]["box"][t][1] == [xs.min(), ys.min(), xs.max(), ys.max()]
    assert info["config"]["tracker"]["name"] == "lk" and info["timings_seconds"]["total"] > 0
    # compact: per-frame arrays one line per frame, never one number per line
    lines = text.splitlines()
    assert not [line for line in lines if line.strip().rstrip(",").lstrip("-").replace(".", "").isdigit()]
    start = next(i for i, line in enumerate(lines) if '"area": [' in line)
    assert [json.loads(line.strip().rstrip(",")) for line in lines[start + 1:start + 6]] == areas.tolist()
    assert lines[start + 6].strip().startswith("]")
    assert any(line.strip().startswith('"frame_names": ["00000", "00005"') for line in lines)


def test_tracks_npz_holds_points_visibility_queries_and_owners(run_dir):
    out, _ = run_dir
    with np.load(out / "tracks.npz") as z:
        points, vis, queries, owners, labels = (z[k] for k in ("points", "visibility", "query_points", "object_ids", "labels"))
    N = points.shape[1]
    assert points.shape == (5, N, 2) and vis.shape == (5, N) and queries.shape == (N, 3)
    assert set(owners.tolist()) == {1, 2} and set(labels.tolist()) <= {0, 1}
    first = queries[:, 0] == 0
    np.testing.assert_allclose(points[0, first], queries[first, 1:], atol=1e-4)  # tracks start at their queries


def test_overlay_is_h264_and_decodes_with_pyav(run_dir):
    av = pytest.importorskip("av")
    from sampt.media import h264_available

    out, _ = run_dir
    with av.open(str(out / "overlay.mp4")) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        codec = stream.codec_context.name
    assert len(frames) == 5 and frames[0].shape == (48, 64, 3)
    if h264_available():
        assert codec == "h264"


def test_mp4v_fallback_without_pyav(tmp_path, monkeypatch, small_frames):
    import sampt.media as media

    monkeypatch.setattr(media, "h264_available", lambda: False)
    media.write_video(tmp_path / "o.mp4", small_frames, fps=5)
    assert len(read_video(tmp_path / "o.mp4")) == len(small_frames)
    if media.video_codec(tmp_path / "o.mp4") is not None:
        assert media.video_codec(tmp_path / "o.mp4") == "mpeg4"


@pytest.fixture
def small_frames():
    return list(make_clip(seed=1, num_frames=3, height=31, width=45, num_objects=1).video)


def test_odd_sized_frames_encode_as_h264(tmp_path, small_frames):
    from sampt.media import h264_available, video_codec, write_video

    write_video(tmp_path / "odd.mp4", small_frames, fps=5)
    video = read_video(tmp_path / "odd.mp4")
    assert len(video) == 3 and video.size in {(31, 45), (32, 46)}
    if h264_available():
        assert video_codec(tmp_path / "odd.mp4") == "h264"


def test_gif_overlay(tmp_path):
    from PIL import Image

    clip = make_clip(seed=2, num_frames=3, height=32, width=48, num_objects=1)
    write_video(tmp_path / "clip.avi", clip.video, fps=6)
    write_label_png(tmp_path / "m.png", clip.label_map(0))
    assert main(["run", str(tmp_path / "clip.avi"), "--mask", str(tmp_path / "m.png"), "--overlay", "gif",
                 "-o", str(tmp_path / "o"), "--no-progress", "-q", *FAST]) == 0
    assert not (tmp_path / "o" / "overlay.mp4").exists()
    with Image.open(tmp_path / "o" / "overlay.gif") as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.size == (48, 32)
    assert json.loads((tmp_path / "o" / "result.json").read_text())["files"]["overlay"] == "overlay.gif"


def test_overlay_drawing_marks_objects_points_occlusion_and_frame():
    from sampt.overlay import draw_frame, object_colour

    frame = np.full((100, 120, 3), 128, np.uint8)
    labels = np.zeros((100, 120), np.uint8)
    labels[20:60, 20:60] = 1
    labels[20:60, 70:110] = 2
    points = np.array([[40.0, 40.0], [30.0, 50.0]])
    out = draw_frame(frame, labels, [(1, points[:1], np.array([1]), np.array([True])),
                                     (2, np.array([[90.0, 40.0], [80.0, 50.0]]), np.array([1, 1]), np.array([True, False]))],
                     text="frame 00007")
    c1, c2 = np.array(object_colour(1)), np.array(object_colour(2))
    assert not np.array_equal(c1, c2)
    assert np.abs(out[40, 40].astype(int) - c1).sum() < 10  # a visible point: solid in its object's colour
    assert np.abs(out[40, 90].astype(int) - c2).sum() < 10
    fill = out[55, 100].astype(int)  # inside object 2, away from points and contour: a lighter fill
    assert np.abs(fill - c2).sum() > 60 and np.abs(fill - 128).sum() > 10
    assert np.abs(out[20, 90].astype(int) - c2).sum() < 60  # the contour: close to full colour
    assert np.abs(out[50, 80].astype(int) - c2).sum() > 60  # an occluded point is hollow (centre not filled)
    assert out[2:10, 2:40].min() == 0 and out[2:10, 2:40].max() == 255  # the frame label: white on black


def test_load_result_reads_masks_tracks_and_scores(run_dir):
    out, _ = run_dir
    saved = sampt.load_result(out)
    assert saved.object_ids == [1, 2] and saved.num_frames == 5 and saved.label_maps.shape == (5, 48, 64)
    assert saved.frame_names[-1] == "00020"
    np.testing.assert_array_equal(saved.label_map(4), read_label_png(out / "masks" / "dance" / "00020.png"))
    assert saved.masks.shape == (5, 2, 48, 64) and saved.mask(0, 1).sum() == saved.areas[0, 1]
    assert saved.scores.shape == (2,) and saved.tracks.num_frames == 5
    assert saved.object_tracks(2).num_points == int((saved.point_object_ids == 2).sum()) > 0


def test_load_result_of_a_folder_that_is_no_result(tmp_path):
    from sampt.errors import UsageError

    with pytest.raises(UsageError, match="result.json"):
        sampt.load_result(tmp_path)


def test_export_coco_rle_decodes_to_the_masks(run_dir, tmp_path):
    mask_utils = pytest.importorskip("pycocotools.mask")
    out, _ = run_dir
    assert main(["export", str(out), "--format", "coco", "-o", str(tmp_path / "c.json"), "-q"]) == 0
    data = json.loads((tmp_path / "c.json").read_text())
    saved = sampt.load_result(out)
    assert [c["id"] for c in data["categories"]] == [1, 2] and len(data["images"]) == 5
    assert data["images"][1]["frame_name"] == "00005"
    for ann in data["annotations"]:
        t = ann["image_id"] - 1
        rle = dict(ann["segmentation"], counts=ann["segmentation"]["counts"].encode())
        np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), saved.label_maps[t] == ann["category_id"])
        assert ann["area"] == saved.areas[t, saved.object_ids.index(ann["category_id"])]
    assert len(data["annotations"]) == int((saved.areas > 0).sum())


def test_export_ytvos_zip_layout(run_dir, tmp_path):
    out, _ = run_dir
    assert main(["export", str(out), "-f", "ytvos", "-o", str(tmp_path / "s.zip"), "-q"]) == 0
    with zipfile.ZipFile(tmp_path / "s.zip") as zf:
        names = sorted(zf.namelist())
    assert names == [f"Annotations/dance/{5 * t:05d}.png" for t in range(5)]


def test_export_cvat_masks_are_the_masks(run_dir):
    import xml.etree.ElementTree as ET

    from sampt.export import cvat_decode

    out, _ = run_dir
    assert main(["export", str(out), "-f", "cvat", "-q"]) == 0
    with zipfile.ZipFile(out / "export" / "cvat.zip") as zf:
        root = ET.fromstring(zf.read("annotations.xml"))
    assert root.findtext("version") == "1.1" and root.find("meta/task/size").text == "5"
    saved = sampt.load_result(out)
    assert sorted(t.get("label") for t in root.iter("track")) == ["object_1", "object_2"]  # one track per object
    for track in root.iter("track"):
        oid = int(track.get("label").split("_")[1])
        for shape in track:
            t = int(shape.get("frame"))
            if shape.get("outside") == "1":
                assert not (saved.label_maps[t] == oid).any()
                continue
            box = [int(shape.get(k)) for k in ("left", "top", "width", "height")]
            np.testing.assert_array_equal(cvat_decode(shape.get("rle"), *box, (48, 64)), saved.label_maps[t] == oid)


def test_sampt_score_reads_a_run_output_directly(tmp_path, capsys):
    clip = make_clip(seed=4, num_frames=4, height=40, width=56, num_objects=1, name="tiny")
    davis = write_davis(tmp_path / "DAVIS", [clip])
    seq_frames = davis / "JPEGImages" / "480p" / "tiny"
    first = davis / "Annotations" / "480p" / "tiny" / "00000.png"
    out = tmp_path / "out"
    assert main(["run", str(seq_frames), "--mask", str(first), "-o", str(out), "--no-progress", "-q", *FAST]) == 0
    capsys.readouterr()
    assert main(["score", str(out), str(davis), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "J&F-Mean" in printed and "tiny" in printed
    assert (out / "global_results-val.csv").is_file()


def test_save_result_of_a_python_run_reads_back(tmp_path):
    from sampt.results import save_result

    clip = make_clip(seed=8, num_frames=3, height=32, width=40, num_objects=1)
    result = sampt.segment(clip.video, mask=clip.label_map(0), overrides=FAST)
    save_result(result, clip.video, tmp_path / "o", overlay=None)
    saved = sampt.load_result(tmp_path / "o")
    np.testing.assert_array_equal(saved.label_maps, result.label_maps())
    assert saved.areas[:, 0].tolist() == [int((result.label_map(t) == 1).sum()) for t in range(3)]
    assert (tmp_path / "o" / "masks" / "synthetic_008").is_dir()


def test_load_result_of_an_older_flat_folder(tmp_path):
    (tmp_path / "masks").mkdir()
    for t in (0, 1, 10, 2):
        write_label_png(tmp_path / "masks" / f"{t}.png", np.full((4, 5), t % 2, np.uint8))
    (tmp_path / "result.json").write_text(json.dumps({"object_ids": [1], "scores": [0.5], "num_frames": 4}))
    saved = sampt.load_result(tmp_path)
    assert saved.frame_names == ["0", "1", "2", "10"] and saved.label_maps[:, 0, 0].tolist() == [0, 1, 0, 0]
    assert saved.tracks is None and saved.object_ids == [1]


def test_a_signal_during_a_held_unit_is_delivered_after_it_whole():
    from sampt.signals import signals_held

    steps = []
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            signal.raise_signal(signal.SIGINT)  # delivered to this thread before raise_signal returns
            for k in range(1000):
                steps.append(k)
        steps.append("after")  # not reached: the interrupt comes as the unit ends
    assert steps == list(range(1000))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.fixture
def term_handler():
    """A SIGTERM handler that records (or, with ``raising``, raises); the previous one is put back."""
    calls: list[int] = []
    state = {"raising": False}

    def handler(signum, frame):
        calls.append(signum)
        if state["raising"]:
            raise RuntimeError("SIGTERM handler")

    old = signal.signal(signal.SIGTERM, handler)
    yield handler, calls, state
    signal.signal(signal.SIGTERM, old)


def _swaps_with(monkeypatch, before=None, after=None):
    """Make ``signal.signal`` call ``before(sig, handler)`` / ``after(sig, handler)`` around each swap: a
    signal sent in there arrives at exactly that moment."""
    real = signal.signal

    def swap(sig, handler):
        if before:
            before(sig, handler)
        old = real(sig, handler)
        if after:
            after(sig, handler)
        return old

    monkeypatch.setattr(signal, "signal", swap)


def test_every_held_signal_is_delivered_not_only_the_first(term_handler):
    from sampt.signals import signals_held

    handler, calls, _ = term_handler
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGINT)
            assert calls == []  # held
    assert calls == [signal.SIGTERM]  # the SIGINT raised; SIGTERM was not lost behind it
    assert signal.getsignal(signal.SIGTERM) is handler


def test_a_signal_arriving_while_the_handlers_are_put_back_loses_none(monkeypatch, term_handler):
    from sampt.signals import signals_held

    handler, calls, _ = term_handler
    sent = []

    def ctrl_c_just_after_its_handler_is_back(sig, new):
        if sig == signal.SIGINT and new is signal.default_int_handler and not sent:
            sent.append(sig)
            signal.raise_signal(signal.SIGINT)  # the real handler again: KeyboardInterrupt, mid put-back

    _swaps_with(monkeypatch, after=ctrl_c_just_after_its_handler_is_back)
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            pass
    monkeypatch.undo()
    assert sent and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # the handlers swapped after SIGINT's are back too, not left as recorders that swallow signals
    assert signal.getsignal(signal.SIGTERM) is handler
    signal.raise_signal(signal.SIGTERM)
    assert calls == [signal.SIGTERM]


def test_a_raising_handler_while_the_recorders_are_installed_leaves_none_behind(monkeypatch, term_handler):
    from sampt.signals import signals_held

    handler, calls, state = term_handler
    state["raising"] = True

    def sigterm_just_before_its_recorder(sig, new):
        if sig == signal.SIGTERM and new is not handler and not calls:
            signal.raise_signal(signal.SIGTERM)  # its own handler runs, and raises, before the swap

    _swaps_with(monkeypatch, before=sigterm_just_before_its_recorder)
    with pytest.raises(RuntimeError, match="SIGTERM handler"):
        with signals_held():
            pytest.fail("the unit must not start")
    monkeypatch.undo()
    assert calls == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # SIGINT's recorder was removed
    assert signal.getsignal(signal.SIGTERM) is handler
