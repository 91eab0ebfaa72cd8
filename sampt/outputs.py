"""Atomic outputs: the one mechanism every sampt writer uses, so a run leaves either its whole new result
or the previous one, never a mix.

* :class:`OutputDir` is an output *unit* (a run's folder, one eval sequence, a benchmark): everything is
  written into a hidden temporary sibling ``.<name>.sampt-tmp-<pid>-<token>`` and swapped in whole by
  :meth:`OutputDir.commit`, on success only. The destination is checked (not a file, parent writable, no
  foreign files to clobber) when the unit is created, so a bad ``--output`` fails before any work.
* :func:`atomic_file` / :func:`atomic_files` write single files (or a set of files) the same way.
* A killed run cannot clean up, so every writer (each new unit, each atomic file) first removes the
  temporaries of dead processes (their pid is part of the name) in its parent folder, restoring a previous
  result a kill caught mid-swap.
* :func:`private_temp_dir` makes the working folders nobody asked to share (a session's embedding cache,
  the UI's uploads, a benchmark's scratch): mode 0700, removed by :func:`remove_private` or at exit, and
  those of dead processes removed by the next one made.
* Folders and files follow the process umask (``mkdtemp``/``mkstemp`` would make them private).
* SIGINT and SIGTERM are held back during a swap (:func:`sampt.signals.signals_held`), so a signal cannot
  split it.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import logging
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional, Sequence

from sampt.errors import OutputError
from sampt.signals import signals_held

log = logging.getLogger(__name__)

TMP_MARK = ".sampt-tmp-"
OLD_MARK = ".sampt-old-"
_STALE = re.compile(r"^\.(?P<name>.+?)(?P<mark>\.sampt-(?:tmp|old)-)(?P<pid>\d+)-[0-9a-f]+(?P<suffix>\.[^.]*)?$")


def umask() -> int:
    """The process umask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _token() -> str:
    return secrets.token_hex(4)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_stale(folder: str | os.PathLike) -> None:
    """Remove the temporaries that dead sampt processes left in ``folder``; a previous result that a kill
    caught in the middle of a swap (moved aside, the new one not yet in place) is put back."""
    folder = Path(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for entry in entries:
        m = _STALE.match(entry.name)
        if m is None or _pid_alive(int(m["pid"])):
            continue
        final = folder / m["name"]  # only folders are moved aside
        if m["mark"] == OLD_MARK and not final.exists():
            with contextlib.suppress(OSError):
                os.replace(entry, final)
                log.info("restored %s, left aside by an interrupted run", final)
                continue
        log.info("removing %s, left by an interrupted run (pid %s)", entry, m["pid"])
        _remove(entry)


_libc = None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            _libc.renameat2  # noqa: B018 - probe
        except (OSError, AttributeError):
            _libc = False
    if not _libc:
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    rc = _libc.renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(tmp: Path, final: Path) -> None:
    """Put ``tmp`` at ``final``; an existing ``final`` is replaced with no moment where neither exists
    whole (a kill between the two fallback renames is repaired by :func:`clean_stale`)."""
    with signals_held():
        if not final.exists() and not final.is_symlink():
            os.replace(tmp, final)
            return
        if _exchange(tmp, final):
            old = tmp  # the previous result now lies at the temporary name
        else:
            old = final.with_name(f".{final.name}{OLD_MARK}{os.getpid()}-{_token()}")
            os.replace(final, old)
            os.replace(tmp, final)
    _remove(old)


def nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_path(path: str | os.PathLike, what: str = "output", kind: str = "dir") -> Path:
    """Raise :class:`OutputError` unless ``path`` can be written as a folder (``kind="dir"``) or a file:
    not the wrong kind of thing already, every existing ancestor a folder, the nearest one writable."""
    path = Path(path)
    if path.exists():
        if kind == "dir" and not path.is_dir():
            raise OutputError(f"{what} {path} is an existing file, not a folder; give a folder path")
        if kind == "file" and path.is_dir():
            raise OutputError(f"{what} {path} is an existing folder; give a file path")
    base = nearest_existing(Path(os.path.abspath(path)).parent)  # where the temporary sibling goes
    if not base.is_dir():
        raise OutputError(f"{what} {path} cannot be created: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"{what} {path} cannot be written: no write permission in {base}")
    return path


class OutputDir:
    """One output unit: the folder ``final`` is written whole or not at all.

    Create it before any work (it checks the destination), write under :attr:`path` (the temporary
    sibling, made on first use), then :meth:`commit`; :meth:`discard` (or leaving the ``with`` block by an
    exception) throws the new files away and leaves the previous result as it was. ``owned`` names
    entries a previous sampt result holds; an existing non-empty folder holding none of them is refused
    rather than replaced, since replacing it would delete someone else's files.
    """

    def __init__(self, final: str | os.PathLike, what: str = "output folder",
                 owned: Optional[Sequence[str]] = None):
        self.final = Path(final)
        self.what = what
        check_output_path(self.final, what, "dir")
        if owned is not None and self.final.is_dir():
            entries = [e.name for e in self.final.iterdir() if not _STALE.match(e.name)]
            if entries and not any(name in entries for name in owned):
                raise OutputError(f"{what} {self.final} already holds files that are not a sampt result "
                                  f"({', '.join(sorted(entries)[:3])}{', ...' if len(entries) > 3 else ''}); "
                                  "give a new or empty folder")
        self._tmp: Optional[Path] = None
        self._created: list[Path] = []

    @property
    def path(self) -> Path:
        """The temporary folder to write into (created, with the umask's permissions, on first use)."""
        if self._tmp is None:
            parent = self.final.parent
            missing = []
            p = Path(os.path.abspath(parent))
            while not p.exists():
                missing.append(p)
                p = p.parent
            parent.mkdir(parents=True, exist_ok=True)
            self._created = missing  # removed again if nothing is committed
            clean_stale(parent)
            tmp = parent / f".{self.final.name}{TMP_MARK}{os.getpid()}-{_token()}"
            tmp.mkdir()  # mode 0777 & ~umask, unlike mkdtemp's 0700
            self._tmp = tmp
        return self._tmp

    def commit(self) -> Path:
        """Swap the new folder in whole (an empty one if nothing was written)."""
        tmp = self.path
        _swap_in(tmp, self.final)
        self._tmp, self._created = None, []
        return self.final

    def discard(self) -> None:
        """Throw the new files away; the destination keeps what it held before."""
        if self._tmp is not None:
            _remove(self._tmp)
            self._tmp = None
        for folder in self._created:  # parents this unit created, innermost first
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._created = []

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def _tmp_file(path: Path) -> Path:
    return path.with_name(f".{path.stem}{TMP_MARK}{os.getpid()}-{_token()}{path.suffix}")


@contextlib.contextmanager
def atomic_files(paths: Sequence[str | os.PathLike]) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``paths``; on success rename them all into place (signals held), on
    error delete them. Files get the umask's permissions."""
    finals = [Path(p) for p in paths]
    for p in finals:
        check_output_path(p, "output file", "file")
    tmps: list[Path] = []
    try:
        for final in finals:
            if not final.parent.is_dir():
                final.parent.mkdir(parents=True, exist_ok=True)
            clean_stale(final.parent)  # a killed writer's temporaries go with the next write beside them
            tmp = _tmp_file(final)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # & ~umask
            os.close(fd)
            tmps.append(tmp)
        yield list(tmps)
        with signals_held():
            for tmp, final in zip(tmps, finals):
                os.replace(tmp, final)
        tmps = []
    finally:
        for tmp in tmps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, on error delete it."""
    with atomic_files([path]) as (tmp,):
        yield tmp


# -- private working folders ----------------------------------------------------------------------------

PRIVATE_PREFIX = "sampt-"
_PRIVATE = re.compile(r"^sampt-(?P<kind>[a-z]+)-(?P<pid>\d+)-[0-9a-f]{8}$")
_private_made: set[Path] = set()
_atexit_registered = False


def clean_stale_private(root: str | os.PathLike) -> None:
    """Remove the private folders (:func:`private_temp_dir`) that dead processes of this user left in ``root``."""
    try:
        entries = list(Path(root).iterdir())
    except OSError:
        return
    for entry in entries:
        m = _PRIVATE.match(entry.name)
        if m is None or _pid_alive(int(m["pid"])):
            continue
        try:
            st = entry.lstat()
        except OSError:
            continue
        if st.st_uid == os.getuid() and entry.is_dir() and not entry.is_symlink():
            log.info("removing %s, left by an interrupted sampt process (pid %s)", entry, m["pid"])
            shutil.rmtree(entry, ignore_errors=True)


def private_temp_dir(kind: str, root: Optional[str | os.PathLike] = None) -> Path:
    """A new folder ``<root>/sampt-<kind>-<pid>-<token>`` (``root``: the system's temporary folder) that only
    this user can read (0700); removed by :func:`remove_private` or at exit at the latest, and, if this process
    is killed, by the next :func:`private_temp_dir` of any sampt process of the same user."""
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"kind must be lowercase letters, got {kind!r}")
    root = Path(root) if root is not None else Path(tempfile.gettempdir())
    clean_stale_private(root)
    path = root / f"{PRIVATE_PREFIX}{kind}-{os.getpid()}-{_token()}"
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)  # whatever the umask
    global _atexit_registered
    if not _atexit_registered:
        import atexit

        atexit.register(remove_all_private)
        _atexit_registered = True
    _private_made.add(path)
    return path


@contextlib.contextmanager
def private_work_dir(kind: str) -> Iterator[Path]:
    """A :func:`private_temp_dir` for the ``with`` block's duration."""
    path = private_temp_dir(kind)
    try:
        yield path
    finally:
        remove_private(path)


def remove_private(path: str | os.PathLike) -> None:
    """Remove a folder made by :func:`private_temp_dir` (nothing if it is gone already)."""
    path = Path(path)
    _private_made.discard(path)
    shutil.rmtree(path, ignore_errors=True)


def remove_all_private() -> None:
    """Remove every folder this process made with :func:`private_temp_dir` (done at exit)."""
    for path in list(_private_made):
        remove_private(path)
