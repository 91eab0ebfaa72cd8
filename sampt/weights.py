"""The weights manager shared by every model plugin.

Each known checkpoint is a :class:`WeightsSpec` (official URL, file name, size, SHA-256) registered by its
plugin through the ``register_weights`` hook. A checkpoint is resolved in this order:

1. an existing local file path given by the user (``segmenter.checkpoint=/path/file.pth``): used as is;
2. the cache, ``$SAMPT_CACHE_DIR`` (default ``$XDG_CACHE_HOME/sampt/weights``, i.e.
   ``~/.cache/sampt/weights``), verified by size and SHA-256 (the digest is computed once per file and
   remembered in a ``.verified`` stamp beside it, keyed by size and modification time);
3. a download from the official URL (progress bar, resumable ``.part`` file continued with an HTTP
   ``Range`` request, verified, then moved into place atomically), unless ``SAMPT_OFFLINE=1``.

When all fail the error names the file, where it was looked for and the URL to fetch it by hand. A file
whose size or SHA-256 differs from the spec, or whose state-dict keys/shapes differ from the model's, is
rejected with a message saying so. Specs whose size/SHA-256 are not published facts leave them None; such
files are checked only by loading them strictly.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import urllib.error
import urllib.request
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional

from sampt.errors import SamptError

log = logging.getLogger(__name__)

CACHE_ENV = "SAMPT_CACHE_DIR"
OFFLINE_ENV = "SAMPT_OFFLINE"
_BLOCK = 1 << 20


NESTED_STATE_KEYS = ("model", "model_state_dict", "state_dict")
"""Keys under which released checkpoints nest their weights (CoTracker ``model``, PIPS ``model_state_dict``)."""


class WeightsError(SamptError, RuntimeError):
    """A checkpoint that is missing, corrupt or does not match its model."""


@dataclass(frozen=True)
class WeightsSpec:
    """A known checkpoint file: where it comes from and how to recognise it."""

    name: str
    url: str
    filename: str
    sha256: Optional[str] = None
    size: Optional[int] = None
    family: str = ""
    description: str = ""


def cache_dir() -> Path:
    """Where downloaded checkpoints live (``$SAMPT_CACHE_DIR`` or ``~/.cache/sampt/weights``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sampt" / "weights"


def offline() -> bool:
    """Whether ``$SAMPT_OFFLINE`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def sha256_of(path: Path, chunk: int = _BLOCK) -> str:
    """The hex SHA-256 digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _refetch_hint(spec: WeightsSpec) -> str:
    return f"Delete it and fetch it again (`sampt weights fetch {spec.name}` or {spec.url})."


def verify(path: Path, spec: WeightsSpec) -> None:
    """Raise :class:`WeightsError` when ``path`` does not have ``spec``'s size or SHA-256."""
    path = Path(path)
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        raise WeightsError(
            f"checkpoint {path} has {size} bytes but {spec.name} ({spec.filename}) has {spec.size}: "
            f"the file is incomplete or a different model. {_refetch_hint(spec)}"
        )
    if spec.sha256:
        digest = sha256_of(path)
        if digest != spec.sha256.lower():
            raise WeightsError(
                f"checkpoint {path} has SHA-256 {digest} but {spec.name} ({spec.filename}) has "
                f"{spec.sha256}: the file is corrupt or a different model. {_refetch_hint(spec)}"
            )


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_text(path: Path, spec: WeightsSpec) -> str:
    st = path.stat()
    return f"{st.st_size} {st.st_mtime_ns} {spec.sha256 or '-'}\n"


def verify_cached(path: Path, spec: WeightsSpec) -> None:
    """:func:`verify`, skipping the hash when a stamp says this very file (size, mtime) already passed."""
    stamp = _stamp_path(path)
    try:
        if stamp.read_text() == _stamp_text(path, spec):
            return
    except OSError:
        pass
    verify(path, spec)
    try:
        stamp.write_text(_stamp_text(path, spec))
    except OSError:  # a read-only cache still works, it just re-hashes
        pass


def cached_path(spec: WeightsSpec) -> Path:
    """Where ``spec`` lives in the cache (whether or not it is there)."""
    return cache_dir() / spec.filename


def is_present(spec: WeightsSpec) -> bool:
    """Whether ``spec``'s file is in the cache with the right size (the SHA-256 is checked on use)."""
    path = cached_path(spec)
    return path.is_file() and (spec.size is None or path.stat().st_size == spec.size)


def _not_available(spec: WeightsSpec, dest: Path, reason: str) -> WeightsError:
    return WeightsError(
        f"checkpoint {spec.filename} ({spec.name}) is not available: {reason}. Looked for it at {dest} "
        f"(the cache, {CACHE_ENV} overrides its folder). Download it by hand from {spec.url} and put it "
        f"there, or pass the file's path as the component's `checkpoint` option."
    )


def _content_range_start(value: Optional[str]) -> Optional[int]:
    m = re.match(r"\s*bytes\s+(\d+)-", value or "")
    return int(m.group(1)) if m else None


def download(spec: WeightsSpec, dest: Optional[Path] = None, progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``spec`` to ``dest`` (default: the cache) and return its path.

    A file already at ``dest`` that verifies is kept. Otherwise the bytes go to ``dest`` + ``.part``; a
    ``.part`` left by an interrupted transfer is continued with an HTTP ``Range`` request (restarted from
    zero when the server ignores it). The finished file is verified against ``spec`` (a mismatch deletes
    it and raises :class:`WeightsError`) and renamed into place atomically, so ``dest`` never holds a
    partial or corrupt file. An interrupted transfer raises :class:`WeightsError` and keeps the ``.part``.
    """
    from tqdm.auto import tqdm

    dest = Path(dest) if dest is not None else cached_path(spec)
    if dest.is_file():
        verify_cached(dest, spec)
        return dest
    if offline():
        raise _not_available(spec, dest, f"it is not in the cache and {OFFLINE_ENV} forbids downloading it")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    if spec.size is not None and have > spec.size:
        part.unlink()
        have = 0
    complete = spec.size is not None and have == spec.size and have > 0
    if not complete:
        request = urllib.request.Request(spec.url, headers={"User-Agent": "sampt"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to send: the .part is whole; verification decides
                response, complete = None, True
            else:
                raise _not_available(spec, dest, f"downloading {spec.url} failed (HTTP {exc.code} {exc.reason})") from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise _not_available(spec, dest, f"downloading {spec.url} failed ({reason})") from exc
        if response is not None:
            with response:
                status = getattr(response, "status", 200)
                if have and status == 206:
                    start = _content_range_start(response.headers.get("Content-Range"))
                    if start != have:
                        part.unlink(missing_ok=True)
                        raise WeightsError(
                            f"the server answered the request to resume {spec.filename} at byte {have} with "
                            f"Content-Range {response.headers.get('Content-Range')!r}; the partial file was "
                            f"deleted, run the command again to restart the download"
                        )
                else:
                    have = 0  # a full answer (the server ignored the range, or there was none)
                length = response.headers.get("Content-Length")
                expected = int(length) + have if length is not None else spec.size
                received = have
                with open(part, "ab" if have else "wb") as f, tqdm(
                    total=expected, initial=have, unit="B", unit_scale=True, desc=spec.filename,
                    disable=not progress,
                ) as bar:
                    try:
                        while True:
                            block = response.read(_BLOCK)
                            if not block:
                                break
                            f.write(block)
                            received += len(block)
                            bar.update(len(block))
                    except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
                        f.flush()
                        raise WeightsError(
                            f"download of {spec.filename} from {spec.url} was interrupted ({exc}) after "
                            f"{received} bytes; run the command again to resume from {part}"
                        ) from exc
                if expected is not None and received < expected:
                    raise WeightsError(
                        f"download of {spec.filename} from {spec.url} ended after {received} of {expected} "
                        f"bytes; run the command again to resume from {part}"
                    )
    try:
        verify(part, spec)
    except WeightsError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    try:
        _stamp_path(dest).write_text(_stamp_text(dest, spec))
    except OSError:
        pass
    log.info("saved %s to %s", spec.name, dest)
    return dest


def resolve(
    checkpoint: Optional[str],
    default: Optional[str],
    known: Mapping[str, WeightsSpec],
    progress: bool = True,
) -> tuple[Path, Optional[WeightsSpec]]:
    """Find the file for ``checkpoint`` (a path or a known name; None means ``default``).

    Returns the path and the :class:`WeightsSpec` it was matched to (None for a local file given by path).
    """
    name = checkpoint if checkpoint not in (None, "") else default
    if name is None:
        raise WeightsError("no checkpoint given and the component has no default; pass `checkpoint=/path/file`")
    name = str(name)
    path = Path(name).expanduser()
    if name not in known:
        if path.is_file():
            return path, None
        names = ", ".join(sorted(known)) or "(none)"
        raise WeightsError(
            f"checkpoint file {path} does not exist, and {name!r} is not a known checkpoint name "
            f"(known: {names}). Pass the path of an existing file."
        )
    spec = known[name]
    cached = cached_path(spec)
    if cached.is_file():
        verify_cached(cached, spec)
        return cached, spec
    if offline():
        raise _not_available(spec, cached, f"it is not in the cache and {OFFLINE_ENV} forbids downloading it")
    return download(spec, cached, progress=progress), spec


def _unreadable_message(path: Path, exc: Exception) -> str:
    """Why a checkpoint could not be read, on one line, without torch's advice to retry with
    ``weights_only=False`` (unpickling a file of unknown origin can run arbitrary code)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    unpickler = [ln for ln in lines if ln.startswith("WeightsUnpickler error")]
    if unpickler:
        detail = unpickler[0].split(":", 1)[1].strip()
        return (f"checkpoint {path} holds pickled Python objects, not only tensors ({detail}); sampt loads "
                f"tensors only, for safety. Use the official checkpoint, or re-save this one as a plain state "
                f"dict of tensors (torch.save(model.state_dict(), ...)) where you trust its origin")
    safe = [ln for ln in lines if "weights_only" not in ln and "arbitrary code" not in ln]
    detail = (safe[0] if safe else type(exc).__name__)[:200]
    return f"checkpoint {path} could not be read as a torch file of tensors ({detail}); it is corrupt, truncated or not a checkpoint"


def checkpoint_state_dict(path: Path, nested_keys: Iterable[str] = NESTED_STATE_KEYS) -> dict:
    """Read a torch checkpoint as a plain state dict (unwrapping ``{"model": ...}`` style nesting)."""
    import torch

    try:
        obj: Any = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise WeightsError(_unreadable_message(path, exc)) from exc
    for key in nested_keys:
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise WeightsError(f"checkpoint {path} does not hold a state dict (found {type(obj).__name__})")
    return obj


def load_into(model: Any, path: Path, what: str = "model", nested_keys: Iterable[str] = NESTED_STATE_KEYS,
              optional_prefixes: Iterable[str] = ()) -> None:
    """Load checkpoint ``path`` into torch ``model`` strictly; a mismatch names the keys.

    ``optional_prefixes``: model keys under these prefixes may be absent from the file (parameters the
    forward pass never uses, e.g. a backbone's classification head); they keep the model's values.
    """
    state = checkpoint_state_dict(path, nested_keys)
    expected = model.state_dict()
    optional = tuple(optional_prefixes)
    absent = [k for k in expected if k not in state]
    missing = [k for k in absent if not k.startswith(optional)] if optional else absent
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} shape mismatches (e.g. {k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)})")
        raise WeightsError(f"checkpoint {path} does not match {what}: " + "; ".join(parts) + ". Is it the right variant?")
    if len(absent) != len(missing):
        log.info("%s: %d unused keys (%s...) are not in %s; they are never used", what,
                 len(absent) - len(missing), ", ".join(optional), path)
    model.load_state_dict(state, strict=not absent)


def unpack_archive(path: Path) -> Path:
    """The torch file for ``path``: the file itself, or for a tar archive (PIPS++ ships
    ``reference_model.tar.gz``) its largest ``.pth`` / ``.pt`` member, extracted once next to the archive
    (atomically: a ``.part`` file renamed into place)."""
    import tarfile

    path = Path(path)
    if not tarfile.is_tarfile(path):
        return path
    with tarfile.open(path) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith((".pth", ".pt"))]
        if not members:
            raise WeightsError(f"archive {path} holds no .pth checkpoint")
        member = max(members, key=lambda m: m.size)
        target = path.with_name(path.name + "." + Path(member.name).name)
        if not target.is_file() or target.stat().st_size != member.size:
            log.info("extracting %s from %s", member.name, path)
            src = tar.extractfile(member)
            if src is None:
                raise WeightsError(f"archive {path}: member {member.name} cannot be read")
            tmp = target.with_name(target.name + ".part")
            with open(tmp, "wb") as f:
                while block := src.read(_BLOCK):
                    f.write(block)
            os.replace(tmp, target)
    return target


@dataclass
class KeyedFallback:
    """The models that :func:`keyed_weights_if_missing` filled with keyed weights (their ``what``), in order."""

    seed: int = 0
    used: list[str] = field(default_factory=list)


_KEYED_FALLBACK: ContextVar[Optional[KeyedFallback]] = ContextVar("sampt_keyed_fallback", default=None)


@contextmanager
def keyed_weights_if_missing(seed: int = 0) -> Iterator[KeyedFallback]:
    """Within this block, :func:`load_checkpoint` fills a model whose checkpoint is a known name missing
    from the cache with keyed weights (:func:`sampt.testing.keyed_state` of the model's own keys and
    shapes) instead of downloading it or failing; the returned record lists the models so filled.

    For speed and memory benchmarks only (``sampt bench`` with ``weights: keyed_if_missing``): the model
    runs the same operations on the same shapes, so time and memory are valid, but its outputs are
    meaningless. A checkpoint given as a file path is never replaced (a missing file stays an error)."""
    record = KeyedFallback(seed)
    token = _KEYED_FALLBACK.set(record)
    try:
        yield record
    finally:
        _KEYED_FALLBACK.reset(token)


def keyed_fallback_active() -> bool:
    """Whether a :func:`keyed_weights_if_missing` block is active, for a plugin that resolves a known
    checkpoint itself (e.g. to extract it from an archive) and must leave a missing one to the fallback."""
    return _KEYED_FALLBACK.get() is not None


def _checkpoint_missing(checkpoint: Optional[str], default: Optional[str], known: Mapping[str, WeightsSpec]) -> bool:
    """Whether ``checkpoint`` (None: ``default``) is a known checkpoint name whose file is not in the cache."""
    name = checkpoint if checkpoint not in (None, "") else default
    return name is not None and str(name) in known and not cached_path(known[str(name)]).is_file()


def load_checkpoint(model: Any, checkpoint: Optional[str], default: Optional[str], known: Mapping[str, WeightsSpec],
                    what: str = "model", family: Optional[str] = None,
                    nested_keys: Iterable[str] = NESTED_STATE_KEYS, optional_prefixes: Iterable[str] = (),
                    progress: bool = True) -> Optional[Path]:
    """Find ``checkpoint`` and load it into torch ``model`` strictly: the one checkpoint loader of every plugin.

    ``checkpoint`` is a file path or a name in ``known`` (the plugin's :class:`WeightsSpec` s; None means
    ``default``), resolved by :func:`resolve` (cache, download, verification). A tar archive is unpacked
    (:func:`unpack_archive`). With ``family``, a file known to belong to another family (by name, or by
    its official file name) is rejected before loading: variants that share parameter names and shapes
    would otherwise load each other's weights silently. ``nested_keys`` / ``optional_prefixes`` as
    :func:`load_into`. Returns the file loaded; None when, inside :func:`keyed_weights_if_missing`, the
    checkpoint was missing and the model got keyed weights instead.
    """
    fallback = _KEYED_FALLBACK.get()
    if fallback is not None and _checkpoint_missing(checkpoint, default, known):
        from sampt.testing import keyed_state, manifest_of

        model.load_state_dict(keyed_state(manifest_of(model), seed=fallback.seed), strict=True)
        fallback.used.append(what)
        log.warning("%s: checkpoint %s is not in the cache; using keyed (random) weights: speed and memory "
                    "are valid, outputs are not", what, checkpoint or default)
        return None
    path, spec = resolve(checkpoint, default, known, progress=progress)
    if family is not None:
        if spec is None:
            spec = next((s for s in known.values() if s.filename == Path(path).name), None)
        if spec is not None and spec.family and spec.family != family:
            raise WeightsError(
                f"checkpoint {path} is {spec.name} ({spec.family}), not a {family} checkpoint; "
                f"use the component for {spec.family}, or pass a {family} checkpoint")
    path = unpack_archive(path)
    load_into(model, path, what=what, nested_keys=nested_keys, optional_prefixes=optional_prefixes)
    log.info("%s: loaded %s", what, path)
    return path
