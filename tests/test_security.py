"""What sampt trusts (SECURITY.md): a session file runs nothing and chooses no folder, no module unpickles
outside :mod:`sampt.safe_load`, and private temporary folders go away (closed, at exit, after a kill)."""
from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from sampt.errors import InputError

OVERRIDES = ["tracker=lk", "segmenter=grabcut", "pipeline.positive_points=4", "pipeline.negative_points=1"]
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def clip():
    from sampt.data.synthetic import make_clip

    return make_clip(seed=5, num_frames=4, height=40, width=56, num_objects=1)


class RunsCode:
    """Unpickling this creates the folder ``marker``: proof that a file ran code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _session(clip, cache_dir=None):
    from sampt.config import compose
    from sampt.interactive import Session

    options = {"embedding_memory_mb": 0} if cache_dir is None else {"embedding_memory_mb": 0, "cache_dir": str(cache_dir)}
    session = Session.from_config(compose(OVERRIDES), clip.video, **options)
    session.add_object(1, 0, mask=clip.masks[0, 0])
    list(session.masks(range(len(clip.video))))
    return session


def rewrite_meta(path: Path, out: Path, change) -> Path:
    """A copy of session file ``path`` at ``out`` whose JSON description went through ``change(meta)``."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    change(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(out, **arrays)
    return out


def _crafted(clip, tmp_path) -> tuple[Path, Path, Path]:
    """The attack of issue #35: a session file pointing its cache folder at a folder holding the session's
    own ``cache.json`` (the format 1 one too) beside pickles that run code. Returns (file, folder, marker)."""
    session = _session(clip, tmp_path / "cache")
    saved = session.save(str(tmp_path / "s.sampt.npz"))
    session.close()
    evil = tmp_path / "evil"
    evil.mkdir()
    manifest = json.loads((tmp_path / "cache" / "cache.json").read_text())
    marker = tmp_path / "ran"
    (evil / "cache.json").write_text(json.dumps({**manifest, "format": 1}))
    for t in range(len(clip.video)):
        (evil / f"frame-{t:06d}.pkl").write_bytes(pickle.dumps(RunsCode(marker)))
        (evil / f"frame-{t:06d}.npz").write_bytes(pickle.dumps(RunsCode(marker)))

    def point_at_evil(meta):
        meta["cache_dir"] = str(evil)
        meta["options"]["cache_dir"] = str(evil)
    return rewrite_meta(saved, tmp_path / "crafted.sampt.npz", point_at_evil), evil, marker


def test_a_crafted_session_file_runs_nothing_and_its_cache_folder_is_ignored(clip, tmp_path):
    from sampt.interactive import Session

    crafted, evil, marker = _crafted(clip, tmp_path)
    before = sorted(p.name for p in evil.iterdir())
    loaded = Session.load(str(crafted), clip.video, embedding_memory_mb=0)
    loaded.add_point(1, 2, 20.0, 20.0)
    list(loaded.masks(range(len(clip.video))))
    assert not marker.exists()
    assert Path(loaded.cache_dir).resolve() != evil.resolve() and sorted(p.name for p in evil.iterdir()) == before
    assert oct(Path(loaded.cache_dir).stat().st_mode & 0o777) == oct(0o700)
    loaded.close()


def test_a_format_1_cache_folder_given_by_the_user_is_cleared_unread(clip, tmp_path):
    """Even a folder the loading process names itself is never unpickled: its .pkl files are removed."""
    from sampt.interactive import Session

    crafted, evil, marker = _crafted(clip, tmp_path)
    loaded = Session.load(str(crafted), clip.video, embedding_memory_mb=0, cache_dir=str(evil))
    list(loaded.masks(range(len(clip.video))))
    loaded.add_point(1, 2, 20.0, 20.0)
    assert not marker.exists() and not list(evil.glob("*.pkl"))
    assert json.loads((evil / "cache.json").read_text())["format"] == 2
    loaded.close()
    # a format 2 folder whose frame files are pickles: refused as unreadable and encoded again
    again = Session.load(str(crafted), clip.video, embedding_memory_mb=0, cache_dir=str(evil))
    for f in evil.glob("frame-*.npz"):
        f.write_bytes(pickle.dumps(RunsCode(marker)))
    again.ctx.embeddings._cache.clear()
    list(again.masks(range(len(clip.video))))
    again.add_point(1, 3, 21.0, 20.0)
    assert not marker.exists()
    again.close()


@pytest.fixture
def ui(tmp_path):
    pytest.importorskip("gradio") if not os.environ.get("CI") else __import__("gradio")
    from sampt.io import write_frames
    from sampt.ui.app import build_app

    from sampt.data.synthetic import make_clip

    clip = make_clip(seed=5, num_frames=4, height=40, width=56, num_objects=1)
    write_frames(tmp_path / "frames", clip.video, suffix=".png")
    return build_app(str(tmp_path / "frames"), OVERRIDES, root=str(tmp_path / "ui"), max_upload_mb=1).sampt_handlers, clip


def test_the_ui_load_handler_runs_nothing_and_keeps_no_copy_of_the_upload(ui, tmp_path):
    handlers, clip = ui
    crafted, evil, marker = _crafted(clip, tmp_path)
    ws, *_ = handlers["on_start"](None)
    ws.upload_roots = [tmp_path]
    ws, _, status, *_ = handlers["on_load_session"](ws, str(crafted), 0)
    assert status.startswith("Loaded the session"), status
    assert not marker.exists() and Path(ws.session.cache_dir).resolve() != evil.resolve()
    assert not list(ws.uploads.iterdir())  # read into memory: the copy is gone
    # a refused file: an error message, nothing run, no copy kept
    refused = rewrite_meta(crafted, tmp_path / "refused.sampt.npz", lambda m: m.update(position=99))
    ws, _, status, *_ = handlers["on_load_session"](ws, str(refused), 0)
    assert status.startswith("**Error:**") and "position" in status, status
    assert not list(ws.uploads.iterdir()) and not marker.exists()
    ws.remove()


# -- no unpickling outside sampt.safe_load ------------------------------------------------------------------

UNSAFE = re.compile(r"\bpickle\.loads?\(|\bUnpickler\b|allow_pickle\s*=\s*True|weights_only\s*=\s*False|\bdill\b|\bjoblib\.load\(")
ALLOWED = {REPO / "sampt" / "safe_load.py"}


def unsafe_calls(text: str) -> list[str]:
    """The lines of ``text`` that could unpickle a file (comments and docstring prose included: cheap and strict)."""
    return [line.strip() for line in text.splitlines() if UNSAFE.search(line)
            and not line.lstrip().startswith("#") and "``" not in line]


def test_no_module_of_sampt_or_its_plugins_unpickles_outside_the_restricted_unpickler():
    assert unsafe_calls("x = np.load(p, allow_pickle=True)\nobj = pickle.load(f)\ntorch.load(p, weights_only=False)") \
        == ["x = np.load(p, allow_pickle=True)", "obj = pickle.load(f)", "torch.load(p, weights_only=False)"]
    files = [*(REPO / "sampt").rglob("*.py"), *(p for p in (REPO / "plugins").rglob("*.py") if "tests" not in p.parts)]
    assert len(files) > 50
    found = {str(f.relative_to(REPO)): hits for f in files if f not in ALLOWED
             and (hits := unsafe_calls(f.read_text(encoding="utf-8")))}
    assert found == {}
    torch_loads = [(str(f.relative_to(REPO)), line.strip()) for f in files for line in f.read_text(encoding="utf-8").splitlines()
                   if "torch.load(" in line and "weights_only=True" not in line and "``" not in line]
    assert torch_loads == []  # every torch.load says weights_only=True (on its line)


def test_the_restricted_unpickler_reads_arrays_and_containers_only(tmp_path):
    from sampt.safe_load import load_pickled_arrays
    from sampt.weights import WeightsError

    params = {"tapnet": {"w": np.arange(6.0).reshape(2, 3), "b": np.float32(0.5)}, "names": ["a", 1, None]}
    np.save(tmp_path / "params.npy", np.array(params, dtype=object), allow_pickle=True)
    back = load_pickled_arrays(tmp_path / "params.npy").item()
    np.testing.assert_array_equal(back["tapnet"]["w"], params["tapnet"]["w"])
    assert back["names"] == ["a", 1, None] and back["tapnet"]["b"] == np.float32(0.5)
    marker = tmp_path / "ran"
    np.save(tmp_path / "evil.npy", np.array([RunsCode(marker)], dtype=object), allow_pickle=True)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"w": RunsCode(marker)}))
    for name in ("evil.npy", "evil.pkl"):
        with pytest.raises(WeightsError, match="posix.mkdir|os.mkdir|nt.mkdir"):
            load_pickled_arrays(tmp_path / name)
    (tmp_path / "cut.npy").write_bytes((tmp_path / "params.npy").read_bytes()[:-7])
    with pytest.raises(WeightsError, match="corrupt or truncated"):
        load_pickled_arrays(tmp_path / "cut.npy")
    assert not marker.exists()


# -- private temporary folders --------------------------------------------------------------------------

def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("sampt-"))


def test_a_closed_session_leaves_no_folder_and_its_folder_is_private(clip, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    session = _session(clip)
    folder = Path(session.cache_dir)
    assert folder.parent == tmp_path and oct(folder.stat().st_mode & 0o777) == oct(0o700)
    assert list(folder.glob("frame-*.npz"))  # embedding_memory_mb=0: spilled
    session.close()
    assert _leftovers(tmp_path) == []


CHILD_SESSION = """
import sys
from sampt.config import compose
from sampt.data.synthetic import make_clip
from sampt.interactive import Session
clip = make_clip(seed=5, num_frames=4, height=40, width=56, num_objects=1)
session = Session.from_config(compose(["tracker=lk", "segmenter=grabcut"]), clip.video, embedding_memory_mb=0)
session.add_object(1, 0, mask=clip.masks[0, 0])
list(session.masks(range(4)))
print(session.cache_dir, flush=True)
sys.stdin.readline()  # held here until killed
"""


def _child(code: str, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)


def _kill(child: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    child.send_signal(sig)
    child.wait(timeout=60)


def test_a_killed_session_process_leaves_a_folder_the_next_session_removes(clip, tmp_path, monkeypatch):
    child = _child(CHILD_SESSION, tmp_path)
    try:
        folder = Path(child.stdout.readline().strip())  # the handshake: the session is open and has spilled
        assert folder.parent == tmp_path and list(folder.glob("frame-*.npz"))
        _kill(child)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert folder.is_dir()  # SIGKILL: nothing could clean up
    someone_elses = tmp_path / f"sampt-session-{os.getpid()}-0123abcd"  # a live process's folder stays
    someone_elses.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    session = _session(clip)
    assert not folder.exists() and someone_elses.is_dir()
    session.close()
    someone_elses.rmdir()
    assert _leftovers(tmp_path) == []


def test_a_session_never_closed_leaves_no_folder_once_its_process_exits(tmp_path):
    child = _child(CHILD_SESSION.replace("sys.stdin.readline()  # held here until killed", "held = session  # exits"),
                   tmp_path)
    try:
        out, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0 and Path(out.strip()).parent == tmp_path
    assert not Path(out.strip()).exists() and _leftovers(tmp_path) == []


CHILD_SAVE = """
import sys
from pathlib import Path
from sampt.outputs import atomic_file
with atomic_file(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half a session")
    print(tmp, flush=True)
    sys.stdin.readline()  # held mid-write until killed
"""


CHILD_EXPORT = """
import sys
from pathlib import Path
from sampt.outputs import OutputDir
unit = OutputDir(Path(sys.argv[1]))
(unit.path / "result.json").write_text("{")
print(unit.path, flush=True)
sys.stdin.readline()  # held mid-export until killed
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_an_export_killed_midway_leaves_a_folder_the_next_export_removes(clip, tmp_path, sig):
    target = tmp_path / "out" / "run"
    target.parent.mkdir()
    child = subprocess.Popen([sys.executable, "-c", CHILD_EXPORT, str(target)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        tmp = Path(child.stdout.readline().strip())
        assert tmp.is_dir() and ".sampt-tmp-" in tmp.name
        _kill(child, sig)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert tmp.is_dir() and not target.exists()
    session = _session(clip, tmp_path / "cache")
    session.export(str(tmp_path / "out" / "other"), overlay=False)
    session.close()
    assert sorted(p.name for p in target.parent.iterdir()) == ["other"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_write_killed_midway_leaves_a_temporary_the_next_save_removes(clip, tmp_path, sig):
    target = tmp_path / "out" / "s.sampt.npz"
    target.parent.mkdir()
    child = subprocess.Popen([sys.executable, "-c", CHILD_SAVE, str(target)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        tmp = Path(child.stdout.readline().strip())
        assert tmp.is_file() and ".sampt-tmp-" in tmp.name
        _kill(child, sig)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert tmp.is_file() and not target.exists()
    session = _session(clip, tmp_path / "cache")
    session.save(str(tmp_path / "out" / "other.sampt.npz"))  # another file, same folder: every writer cleans
    session.close()
    assert sorted(p.name for p in target.parent.iterdir()) == ["other.sampt.npz"]


def test_a_session_file_that_names_a_path_in_its_config_is_refused(clip, tmp_path):
    from sampt.interactive import Session

    session = _session(clip, tmp_path / "cache")
    saved = session.save(str(tmp_path / "s.sampt.npz"))
    session.close()
    cases = {
        "config.segmenter.checkpoint": lambda m: m["config"]["segmenter"].update(checkpoint="/etc/passwd"),
        "config.tracker.window_size": lambda m: m["config"]["tracker"].update(window_size=10 ** 400),
        "config.nope": lambda m: m["config"].update(nope=1),
        "config.tracker.name": lambda m: m["config"]["tracker"].update(name="${oc.env:HOME}"),
        "options.embedding_memory_mb": lambda m: m["options"].update(embedding_memory_mb="lots"),
        "options.pipeline.nope": lambda m: m["options"]["pipeline"].update(nope=3),
    }
    for field, change in cases.items():
        bad = rewrite_meta(saved, tmp_path / "bad.sampt.npz", change)
        with pytest.raises(InputError, match=re.escape(field)) as info:
            Session.load(str(bad), clip.video)
        assert str(bad) in str(info.value) and "\n" not in str(info.value), str(info.value)
