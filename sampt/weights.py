"""The weights manager shared by every model plugin.

Each known checkpoint is a :class:`WeightsSpec` (official URL, file name, size, SHA-256) registered by its
plugin through the ``register_weights`` hook. A checkpoint is resolved in this order:

1. an existing local file path given by the user (``tracker.checkpoint=/path/file.pth``): used as is;
2. the cache, ``$SAMPT_CACHE_DIR`` (default ``~/.cache/sampt/weights``), verified by size and SHA-256;
3. a download from the official URL (progress bar, resumable ``.part`` file, verified, moved into place
   atomically), unless ``SAMPT_OFFLINE=1``.

When all fail the error names the file, where it was looked for and the URL to fetch it by hand.
"""
from __future__ import annotations

import hashlib
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

log = logging.getLogger(__name__)

CACHE_ENV = "SAMPT_CACHE_DIR"
OFFLINE_ENV = "SAMPT_OFFLINE"


class WeightsError(RuntimeError):
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


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, spec: WeightsSpec) -> None:
    """Raise :class:`WeightsError` when ``path`` does not have ``spec``'s size or SHA-256."""
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        raise WeightsError(
            f"checkpoint {path} has {size} bytes but {spec.name} ({spec.filename}) has {spec.size}: "
            f"the file is incomplete or a different model. Delete it and fetch it again "
            f"(`sampt weights fetch {spec.name}` or {spec.url})."
        )
    if spec.sha256:
        digest = sha256_of(path)
        if digest != spec.sha256:
            raise WeightsError(
                f"checkpoint {path} has SHA-256 {digest[:16]}… but {spec.name} ({spec.filename}) has "
                f"{spec.sha256[:16]}…: the file is corrupt or a different model. Delete it and fetch it again "
                f"(`sampt weights fetch {spec.name}` or {spec.url})."
            )


def cached_path(spec: WeightsSpec) -> Path:
    return cache_dir() / spec.filename


def is_present(spec: WeightsSpec) -> bool:
    path = cached_path(spec)
    return path.is_file() and (spec.size is None or path.stat().st_size == spec.size)


def download(spec: WeightsSpec, dest: Optional[Path] = None, progress: bool = True, timeout: float = 30.0) -> Path:
    """Download ``spec`` to ``dest`` (default: the cache), resuming a ``.part`` file, then verify and
    rename it into place atomically. A transfer that fails leaves no file at ``dest``."""
    from tqdm.auto import tqdm

    dest = Path(dest) if dest is not None else cached_path(spec)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(spec.url, headers={"User-Agent": "sampt"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (urllib.error.URLError, OSError) as exc:
        raise WeightsError(
            f"could not download {spec.filename} for {spec.name} from {spec.url} ({exc}). "
            f"Fetch it by hand and put it at {dest}, or pass its path as the component's `checkpoint` option."
        ) from exc
    with response:
        resumed = have > 0 and getattr(response, "status", 200) == 206
        if not resumed:
            have = 0  # the server ignored the range request: restart cleanly
        total = response.headers.get("Content-Length")
        total_bytes = int(total) + have if total is not None else spec.size
        with open(part, "ab" if resumed else "wb") as f, tqdm(
            total=total_bytes, initial=have, unit="B", unit_scale=True, desc=spec.filename, disable=not progress
        ) as bar:
            try:
                while True:
                    block = response.read(1 << 20)
                    if not block:
                        break
                    f.write(block)
                    bar.update(len(block))
            except (OSError, urllib.error.URLError) as exc:
                raise WeightsError(
                    f"download of {spec.filename} from {spec.url} was interrupted ({exc}); "
                    f"run the command again to resume from {part.stat().st_size} bytes"
                ) from exc
    try:
        verify(part, spec)
    except WeightsError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    log.info("saved %s to %s", spec.name, dest)
    return dest


def resolve(
    checkpoint: Optional[str],
    default: Optional[str],
    known: Mapping[str, WeightsSpec],
    progress: bool = True,
) -> tuple[Path, Optional[WeightsSpec]]:
    """Find the file for ``checkpoint`` (a path or a known name; None means ``default``).

    Returns the path and the :class:`WeightsSpec` it was matched to (None for an unknown local file).
    """
    name = checkpoint if checkpoint not in (None, "") else default
    if name is None:
        raise WeightsError("no checkpoint given and the component has no default; pass `checkpoint=/path/file`")
    path = Path(str(name)).expanduser()
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
        verify(cached, spec)
        return cached, spec
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise WeightsError(
            f"checkpoint {spec.filename} ({spec.name}) is not in the cache ({cached}) and {OFFLINE_ENV} is set. "
            f"Download it by hand from {spec.url} into {cache_dir()}, or pass its path as `checkpoint`."
        )
    return download(spec, cached, progress=progress), spec


def checkpoint_state_dict(path: Path, nested_keys: Iterable[str] = ("model", "state_dict")) -> dict:
    """Read a torch checkpoint as a plain state dict (unwrapping ``{"model": ...}`` style nesting)."""
    import torch

    try:
        obj: Any = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise WeightsError(f"checkpoint {path} could not be read as a torch file ({exc}); it is corrupt or not a checkpoint") from exc
    for key in nested_keys:
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise WeightsError(f"checkpoint {path} does not hold a state dict (found {type(obj).__name__})")
    return obj


def load_into(model: Any, path: Path, what: str = "model", nested_keys: Iterable[str] = ("model", "state_dict")) -> None:
    """Load checkpoint ``path`` into torch ``model`` with ``strict=True``; a mismatch names the keys."""
    state = checkpoint_state_dict(path, nested_keys)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
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
    model.load_state_dict(state, strict=True)
