"""A session file is checked whole at load (sampt.interactive.session_file): refused in one line naming the
file and the field, or loaded into a session that works; never an IndexError on first use, never numpy's
advice to unpickle. Includes the fuzz test of session files (the run's fuzz tests: test_reliability.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sampt.builtin.segmenters import GrabCutSegmenter
from sampt.builtin.trackers import LucasKanadeTracker
from sampt.interactive import EditError, Session, SessionOptions


def rewrite_meta(path: Path, out: Path, change) -> Path:
    """A copy of session file ``path`` at ``out`` whose JSON description went through ``change(meta)``
    (as in test_security.py: test modules do not import each other under --import-mode=importlib)."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    change(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(out, **arrays)
    return out


@pytest.fixture(scope="module")
def clip():
    from sampt.data.synthetic import make_clip

    return make_clip(seed=2, num_frames=8, height=40, width=56, num_objects=1)


@pytest.fixture(scope="module")
def saved(clip, tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved")
    session = Session(clip.video, LucasKanadeTracker(), GrabCutSegmenter(), SessionOptions(embedding_memory_mb=0))
    session.add_object(1, 0, mask=clip.masks[0, 0])
    session.add_point(1, 3, 20.0, 20.0)
    list(session.masks(range(len(clip.video))))
    path = session.save(str(folder / "s.sampt.npz"))
    session.close()
    return path


def _load(path, clip):
    return Session.load(str(path), clip.video, LucasKanadeTracker(), GrabCutSegmenter())


def _use(session, clip) -> None:
    """What a user does first: look at every frame, add a point, undo."""
    list(session.masks(range(len(clip.video))))
    if 1 in session.object_ids:  # a history position before the object was added has none
        session.add_point(1, 5, 22.0, 20.0)
        session.undo()
    list(session.masks(range(len(clip.video))))


def _refused(path, clip, field: str) -> str:
    with pytest.raises(EditError) as info:
        _load(path, clip)
    message = str(info.value)
    assert str(path) in message and field in message and "\n" not in message and "allow_pickle" not in message, message
    return message


def test_the_faults_of_issue_30_are_refused_naming_the_field(clip, saved, tmp_path):
    cases = {
        "video": lambda m: m.update(video=["not", "a", "dict"]),
        "options.seed": lambda m: m["options"].update(seed="zero"),
        "options.nope": lambda m: m["options"].update(nope=1),
        "position": lambda m: m.update(position=len(m["history"])),
        "points[0].frame": lambda m: m["points"][0].update(frame=99),
        "history[1].state[0].points[0]": lambda m: m["history"][1]["state"][0].update(points=[999]),
        "next_point_id": lambda m: m.update(next_point_id=0),
        "results": lambda m: m.update(results={"a": 1}),
    }
    for field, change in cases.items():
        _refused(rewrite_meta(saved, tmp_path / "bad.sampt.npz", change), clip, field)


def test_tracks_covering_fewer_frames_than_the_video_are_refused(clip, saved, tmp_path):
    with np.load(saved, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["tracks"] = arrays["tracks"][:, :3]
    np.savez(tmp_path / "short.sampt.npz", **arrays)
    _refused(tmp_path / "short.sampt.npz", clip, "array 'tracks'")


def test_a_json_text_or_a_pickle_is_not_a_session_and_no_unpickling_is_suggested(clip, tmp_path):
    text = tmp_path / "text.sampt.npz"
    text.write_text(json.dumps({"format": 1}))
    assert "not a sampt session file" in _refused(text, clip, "")
    import pickle

    pickled = tmp_path / "pickled.sampt.npz"
    pickled.write_bytes(pickle.dumps({"meta": 1}))
    assert "never unpickles" in _refused(pickled, clip, "")


def test_an_old_file_naming_a_cache_folder_loads_over_a_folder_of_the_loading_process(clip, saved, tmp_path):
    old = rewrite_meta(saved, tmp_path / "old.sampt.npz",
                       lambda m: (m.update(cache_dir=str(tmp_path / "theirs")), m["options"].update(cache_dir=str(tmp_path / "theirs"))))
    session = _load(old, clip)
    assert not (tmp_path / "theirs").exists() and Path(session.cache_dir) != tmp_path / "theirs"
    _use(session, clip)
    session.close()


# -- fuzz: a damaged session file is refused in one line or loads into a session that works -------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

FUZZ = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

FIELDS = ["position", "next_point_id", "dirty", "options.seed", "options.tracking", "options.embedding_memory_mb",
          "options.pipeline.positive_points", "video.frames", "points.0.frame", "points.0.x", "points.0.label",
          "points.0.start", "points.0.end", "history.1.frames", "history.1.state.0.mask", "history.1.state",
          "results.0.crop", "results.0.prompt", "results.0.iou", "counters.reused_pairs", "format", "config"]
VALUES = [None, 0, 1, -1, 3, 7, 8, 255, 10 ** 30, 0.5, float("nan"), "abc", True, [], [0], [0, 99], {},
          {"a": 1}, [3, 1, 2, 2]]


def _set(meta: dict, dotted: str, value) -> None:
    node, *path, last = [meta, *dotted.split(".")]
    for key in path:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        if int(last) < len(node):
            node[int(last)] = value
    else:
        node[last] = value


@FUZZ
@example(changes=[("position", 1)])
@example(changes=[("points.0.frame", 8)])
@given(changes=st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(VALUES)), min_size=1, max_size=3))
def test_fuzz_session_files(clip, saved, tmp_path_factory, changes):
    path = rewrite_meta(saved, tmp_path_factory.mktemp("fuzz") / "f.sampt.npz",
                        lambda m: [_set(m, field, value) for field, value in changes])
    try:
        session = _load(path, clip)
    except EditError as exc:
        message = str(exc)
        assert str(path) in message and "\n" not in message and "allow_pickle" not in message, message
        return
    try:
        _use(session, clip)
    finally:
        session.close()


ARRAY_NAMES = ["tracks", "visible", "masks", "crops", "result_keys", "prompt_points", "prompt_labels"]
DAMAGE = {
    "cut_first": lambda a: a[:max(len(a) - 1, 0)] if a.ndim else a,
    "cut_last": lambda a: a[..., :max(a.shape[-1] - 1, 0)] if a.ndim else a,
    "flatten": lambda a: a.reshape(-1),
    "scalar": lambda a: np.array(3),
    "float64": lambda a: a.astype(np.float64) if a.dtype.kind != "S" else a,
    "bytes": lambda a: np.array([b"x"] * max(len(a) if a.ndim else 1, 1)),
    "nan": lambda a: np.full(a.shape, np.nan, np.float32),
}


@FUZZ
@example(damage=[("tracks", "cut_last")])
@given(damage=st.lists(st.tuples(st.sampled_from(ARRAY_NAMES), st.sampled_from(sorted(DAMAGE))), min_size=1, max_size=2))
def test_fuzz_session_file_arrays(clip, saved, tmp_path_factory, damage):
    with np.load(saved, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for name, how in damage:
        arrays[name] = DAMAGE[how](arrays[name])
    path = tmp_path_factory.mktemp("fuzz") / "a.sampt.npz"
    np.savez(path, **arrays)
    try:
        session = _load(path, clip)
    except EditError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc), str(exc)
        return
    try:
        _use(session, clip)
    finally:
        session.close()


def test_an_unknown_load_option_is_refused_by_name(clip, saved):
    with pytest.raises(EditError, match="unknown session option 'cache_folder'"):
        Session.load(str(saved), clip.video, LucasKanadeTracker(), GrabCutSegmenter(), cache_folder="x")
