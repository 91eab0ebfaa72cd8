"""The interactive session: each edit changes exactly what it should, and nothing else."""
from __future__ import annotations

import numpy as np
import pytest

from sampt.builtin.trackers import LucasKanadeTracker
from sampt.interactive import EditError, Session, SessionOptions
from sampt.interfaces import ImageEmbedding
from sampt.pipeline import SamPtOptions

FrameSegmenter = None


@pytest.fixture(autouse=True)
def _frame_segmenter(recording_segmenter):
    global FrameSegmenter

    class Recording(recording_segmenter):
        """A recording segmenter whose embeddings name their image (by its pixel sum), and which records
        the frame of every decoded prompt, so a test knows which frames were segmented."""

        def __init__(self, video, **kw):
            super().__init__(**kw)
            self.frame_of = {int(f.astype(np.int64).sum()): t for t, f in enumerate(video)}
            self.decoded: list[int] = []  # frame of every prompt decoded

        def _encode(self, image):
            super()._encode(image)
            frame = self.frame_of[int(image.astype(np.int64).sum())]
            return ImageEmbedding(np.full(64, frame, np.float32), image.shape[:2])

        def decode(self, embedding, prompts):
            self.decoded.extend([int(embedding.data[0])] * len(prompts))
            return super().decode(embedding, prompts)

    FrameSegmenter = Recording


def _options(**kw):
    pipeline = SamPtOptions(positive_points=4, negative_points=1, refinement_iterations=1)
    return SessionOptions(pipeline=pipeline, **kw)


@pytest.fixture
def clip():
    from sampt.data.synthetic import make_clip

    return make_clip(seed=1, num_frames=12, height=48, width=64, num_objects=2)


def _session(clip, tmp_path, **kw):
    seg = FrameSegmenter(clip.video, radius=6)
    session = Session(clip.video, LucasKanadeTracker(), seg, _options(cache_dir=str(tmp_path / "cache"), **kw))
    return session, seg


def _all_masks(session):
    return np.stack([m.masks for m in session.masks()])


def test_interactive_add_point_tracks_it_alone_and_leaves_other_tracks_bit_equal(clip, tmp_path):
    session, seg = _session(clip, tmp_path)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    session.add_object(2, 0, mask=clip.masks[0, 1])
    before = {p.point_id: (p.track.copy(), p.visible.copy()) for o in session.state for p in o.points}
    calls = []
    original = session.ctx.tracker.track
    session.ctx.tracker.track = lambda video, queries: (calls.append((len(video), np.array(queries))), original(video, queries))[1]
    change = session.add_point(1, 5, 20.0, 20.0, positive=False)
    assert change.frames == range(5, 12) and 1 in change.objects and len(change.points) == 1
    assert len(calls) == 1 and calls[0][0] == 7 and calls[0][1].shape == (1, 3)  # alone, frames 5.. only
    after = {p.point_id: p for o in session.state for p in o.points}
    for pid, (track, visible) in before.items():
        np.testing.assert_array_equal(after[pid].track, track)
        np.testing.assert_array_equal(after[pid].visible, visible)
    new = after[change.points[0]]
    assert new.start == 5 and new.end == 12 and new.label == 0 and tuple(new.track[5]) == (20.0, 20.0)
    assert [p.point_id for p in session.points(1, frame=4)] == [p.point_id for p in session.points(1, frame=4)
                                                                 if p.point_id != new.point_id]


def test_interactive_only_changed_frames_are_segmented(clip, tmp_path):
    session, seg = _session(clip, tmp_path)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    session.add_object(2, 0, mask=clip.masks[0, 1])
    session.propagate()
    assert sorted(set(seg.decoded)) == list(range(12))
    seg.decoded.clear()
    visible = [p for p in session.points(1, frame=6) if p.visible and p.label == 1][0]
    change = session.move_point(visible.point_id, 6, visible.x + 2, visible.y + 1)
    assert change.frames.start == 6
    session.propagate()
    assert seg.decoded and set(seg.decoded) <= set(change.frames) and min(seg.decoded) == 6
    # the moved point is object 1's: object 2 is re-segmented only where object 1's positives changed
    # (they are its negatives); nothing at all before frame 6
    seg.decoded.clear()
    change = session.remove_point(visible.point_id, from_frame=9)
    session.propagate()
    assert set(seg.decoded) <= set(range(9, 12)) and change.frames.start == 9


def test_interactive_encoder_runs_once_per_distinct_frame_shown(clip, tmp_path):
    session, seg = _session(clip, tmp_path)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    list(session.masks([3, 4, 5]))
    assert session.encoder_calls == 3 == seg.encoder_calls
    session.add_point(1, 4, 30.0, 20.0)
    list(session.masks([2, 3, 4, 5, 6]))
    session.undo()
    list(session.masks(range(0, 7)))
    session.redo()
    session.propagate()
    assert seg.encoder_calls == session.encoder_calls == 12  # every frame shown once, none twice


def test_interactive_long_video_over_the_memory_budget_encodes_each_frame_once(clip, tmp_path):
    per_frame = 64 * 4  # FrameSegmenter's embeddings
    session, seg = _session(clip, tmp_path, embedding_memory_mb=3 * per_frame / (1 << 20))
    session.add_object(1, 0, mask=clip.masks[0, 0])
    session.propagate()
    cache = session.ctx.embeddings
    assert cache.memory_bytes <= 3 * per_frame and cache.disk_writes >= 9
    session.add_point(1, 0, 30.0, 20.0, backward=True)  # every frame again, from disk
    session.propagate()
    assert seg.encoder_calls == 12 and cache.disk_reads >= 9
    assert sorted(int(p.stem.split("-")[1]) for p in (tmp_path / "cache").glob("frame-*.npz")) == list(range(12))


def test_interactive_undo_redo_restore_masks_exactly(clip, tmp_path):
    session, seg = _session(clip, tmp_path)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    m0 = _all_masks(session)
    change = session.add_point(1, 3, 40.0, 30.0)
    m1 = _all_masks(session)
    assert not np.array_equal(m0, m1)
    decoded = len(seg.decoded)
    undo = session.undo()
    assert undo.frames == change.frames and undo.objects == change.objects
    np.testing.assert_array_equal(_all_masks(session), m0)
    session.redo()
    np.testing.assert_array_equal(_all_masks(session), m1)
    assert len(seg.decoded) == decoded  # both came back from the memo, nothing segmented again
    session.undo()
    session.undo()
    assert session.object_ids == () and not _all_masks(session).any()
    with pytest.raises(EditError, match="nothing to undo"):
        session.undo()
    session.redo()
    np.testing.assert_array_equal(_all_masks(session), m0)
    session.add_point(1, 2, 10.0, 10.0, positive=False)  # a new edit drops the redo branch
    assert not session.can_redo


def test_interactive_save_load_gives_identical_masks_and_history(clip, tmp_path):
    session, seg = _session(clip, tmp_path)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    session.add_object(2, 0, points=np.array([[20.0, 20.0], [5.0, 5.0]]), labels=np.array([1, 0]))
    pid = session.add_point(1, 4, 30.0, 25.0).points[0]
    session.move_point(pid, 7, 31.0, 24.0)
    list(session.masks(range(6)))  # frames 6.. stay to do: they are saved as such
    path = session.save(str(tmp_path / "s.sampt.npz"))
    expected = _all_masks(session)
    loaded = Session.load(str(path), clip.video, LucasKanadeTracker(), FrameSegmenter(clip.video, radius=6))
    assert loaded.history == session.history and loaded.object_ids == (1, 2)
    np.testing.assert_array_equal(_all_masks(loaded), expected)
    # frames 0..5 and 7 (answered at once by move_point) came from the cache folder; the other 5 were never shown
    assert loaded.encoder_calls == 5
    loaded.undo()
    session.undo()
    np.testing.assert_array_equal(_all_masks(loaded), _all_masks(session))
    with pytest.raises(EditError, match="another video"):
        Session.load(str(path), Session.__init__ and _other_video(clip), LucasKanadeTracker(), FrameSegmenter(clip.video))


def _other_video(clip):
    from sampt.types import Video

    return Video(clip.video.frames[::-1].copy())


def test_interactive_bad_edits_raise_and_leave_the_session_unchanged(clip, tmp_path):
    session, seg = _session(clip, tmp_path)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    state, history = session.state, session.history
    pid = session.state[0].points[0].point_id
    bad = [
        (lambda: session.add_point(1, 3, 500.0, 10.0), "outside"),
        (lambda: session.add_point(9, 3, 10.0, 10.0), "unknown object 9"),
        (lambda: session.add_point(1, 12, 10.0, 10.0), "outside the video"),
        (lambda: session.add_point(1, -1, 10.0, 10.0), "outside the video"),
        (lambda: session.remove_point(999), "point 999"),
        (lambda: session.move_point(999, 2, 1.0, 1.0), "point 999"),
        (lambda: session.add_object(1, 0, mask=clip.masks[0, 1]), "already exists"),
        (lambda: session.add_object(2, 0, mask=np.zeros((48, 64), bool)), "empty"),
        (lambda: session.add_object(2, 0, mask=np.ones((10, 10), bool)), "resize"),
        (lambda: session.add_object(300, 0, mask=clip.masks[0, 1]), "1..255"),
        (lambda: session.add_point(1, 2.5, 10.0, 10.0), "integer"),
        (lambda: session.add_point(1, 2, float("nan"), 10.0), "not finite"),
        (lambda: session.redo(), "nothing to redo"),
    ]
    for call, message in bad:
        with pytest.raises(EditError, match=message):
            call()
        assert session.state is state and session.history == history
    session.remove_point(pid, from_frame=5)
    with pytest.raises(EditError, match="not there on frame 7"):
        session.remove_point(pid, from_frame=7)
    with pytest.raises(EditError, match="reinit"):
        SessionOptions(pipeline=SamPtOptions(reinit_variant="A"))


def test_interactive_tracking_off_keeps_points_on_their_frame(clip, tmp_path):
    session, seg = _session(clip, tmp_path, tracking=False)
    change = session.add_object(1, 3, mask=clip.masks[3, 0])
    assert change.frames == range(3, 4)
    session.propagate()
    assert set(seg.decoded) == {3} and seg.encoder_calls == 1
    masks = _all_masks(session)
    assert masks[3].any() and not np.delete(masks, 3, axis=0).any()
    change = session.add_point(1, 7, 30.0, 20.0)
    assert change.frames == range(7, 8)


def test_interactive_export_writes_what_sampt_run_writes(clip, tmp_path):
    import json

    from sampt.io import read_label_png

    session, _ = _session(clip, tmp_path)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    session.add_point(1, 2, 30.0, 20.0, positive=False)
    out = session.export(str(tmp_path / "out"), overlay=True)
    assert (out / "overlay.mp4").is_file()
    summary = json.loads((out / "result.json").read_text())
    assert summary["object_ids"] == [1] and summary["num_frames"] == 12
    assert [h["action"] for h in summary["session"]["history"]] == ["add_object", "add_point"]
    folder = out / summary["files"]["masks"]  # masks/<sequence>/
    for t in (0, 5, 11):
        np.testing.assert_array_equal(read_label_png(folder / f"{t:05d}.png"), session.label_map(t))


def test_interactive_session_from_config_matches_a_run_on_the_same_prompt(clip, tmp_path):
    from sampt.config import build_pipeline, compose
    from sampt.pipeline import ObjectPrompt

    cfg = compose(["pipeline.positive_points=4", "pipeline.refinement_iterations=1"])
    session = Session.from_config(cfg, clip.video, cache_dir=str(tmp_path / "c"))
    session.add_object(1, 0, mask=clip.masks[0, 0])
    session.add_object(2, 0, mask=clip.masks[0, 1])
    result = build_pipeline(cfg).run(clip.video, [ObjectPrompt(1, 0, mask=clip.masks[0, 0]),
                                                  ObjectPrompt(2, 0, mask=clip.masks[0, 1])])
    np.testing.assert_array_equal(_all_masks(session), result.masks)
    with pytest.raises(EditError, match="unknown session option"):
        Session.from_config(cfg, clip.video, trackin=False)


def test_interactive_load_refuses_damaged_or_foreign_files(clip, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(EditError, match="not a sampt session file"):
        Session.load(str(bad), clip.video, LucasKanadeTracker(), FrameSegmenter(clip.video))
    with pytest.raises(EditError, match="does not exist"):
        Session.load(str(tmp_path / "missing.npz"), clip.video, LucasKanadeTracker(), FrameSegmenter(clip.video))
    session, _ = _session(clip, tmp_path)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    path = session.save(str(tmp_path / "s.npz"))
    with pytest.raises(EditError, match="pass tracker= and segmenter="):
        Session.load(str(path), clip.video)
    data = dict(np.load(path))
    np.savez(tmp_path / "truncated.npz", **{k: v for k, v in data.items() if k != "tracks"})
    with pytest.raises(EditError, match="damaged"):
        Session.load(str(tmp_path / "truncated.npz"), clip.video, LucasKanadeTracker(), FrameSegmenter(clip.video))


def test_interactive_edit_of_one_object_resegments_only_it_without_shared_negatives(clip, tmp_path):
    seg = FrameSegmenter(clip.video, radius=6)
    pipeline = SamPtOptions(positive_points=4, negative_points=1, refinement_iterations=1, others_as_negatives=False)
    session = Session(clip.video, LucasKanadeTracker(), seg, SessionOptions(pipeline=pipeline, cache_dir=str(tmp_path)))
    session.add_object(1, 0, mask=clip.masks[0, 0])
    session.add_object(2, 0, mask=clip.masks[0, 1])
    session.propagate()
    before = session.stats()["segmented_pairs"]
    change = session.add_point(1, 5, 30.0, 20.0)
    assert change.objects == (1,) and change.frames == range(5, 12)
    assert change.masks.frame == 5 and change.masks.object_ids == (1, 2)  # the edited frame, answered at once
    assert session.propagate() == list(range(6, 12))
    assert session.stats()["segmented_pairs"] - before == 7  # object 1 on frames 5..11, object 2 nowhere


def test_interactive_edits_answer_with_the_edited_frames_masks(clip, tmp_path):
    session, _ = _session(clip, tmp_path)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    change = session.add_point(1, 3, 30.0, 20.0)
    assert change.masks.frame == 3 and 3 not in session.propagate()  # already up to date
    np.testing.assert_array_equal(change.masks.label_map, session.label_map(3))
    moved = session.move_point(change.points[0], 6, 32.0, 21.0)
    assert moved.masks.frame == 6
    np.testing.assert_array_equal(moved.masks.masks[0], session.mask(6, 1))


def test_removing_an_objects_last_point_removes_the_object(clip, tmp_path):
    session, _ = _session(clip, tmp_path)
    change = session.add_object(1, 0, points=np.array([[20.0, 20.0]]))
    assert change.masks is not None and change.masks.frame == 0
    session.remove_point(change.points[0])
    assert session.object_ids == () and session.history[-1]["object_removed"] is True
    assert session.propagate() == [] or all(not session.label_map(t).any() for t in range(session.num_frames))
    session.undo()
    assert session.object_ids == (1,)
    session.remove_object(1)
    assert session.object_ids == ()
