"""One spilled embedding as one ``.npz`` file: arrays only, read back with ``allow_pickle=False``.

An embedding's ``data`` is the segmenter's own object (an array, a tensor, a dataclass of tensors, a tuple,
a dict ...). :func:`write_embedding` walks it: every floating array or tensor is stored as float16, other
arrays as they are, and the structure around them (containers, plain scalars, the dtype and torch device to
restore) as a JSON description stored beside the arrays. :func:`read_embedding` rebuilds the same
structure. Nothing in the file is unpickled and nothing it names is imported: a dataclass is rebuilt only
when its class is already loaded in this process (the segmenter's own module defines it), without calling
its ``__init__``. A file that cannot be read that way raises :class:`EmbeddingFileError`, and the cache
encodes the frame again.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

EMBEDDING_FORMAT = 2
"""Version of the file layout (1 was a pickle, never read again)."""

_SCALARS = (type(None), bool, int, float, str)


class EmbeddingFileError(ValueError):
    """A spilled embedding that cannot be stored or read back safely (the reason is the message)."""


def is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach") and hasattr(value, "dtype")


def _describe(data: Any, arrays: list[np.ndarray]) -> Any:
    """The JSON description of ``data``; its arrays are appended to ``arrays`` (float16 when floating)."""
    if isinstance(data, np.ndarray):
        if data.dtype.hasobject:
            raise EmbeddingFileError("an embedding array of Python objects cannot be stored")
        arrays.append(data.astype(np.float16) if np.issubdtype(data.dtype, np.floating) else data)
        return {"array": len(arrays) - 1, "dtype": data.dtype.str}
    if is_tensor(data):
        cpu = data.detach().cpu()
        arrays.append((cpu.half() if cpu.is_floating_point() else cpu).numpy())
        return {"array": len(arrays) - 1, "dtype": str(data.dtype).replace("torch.", ""), "device": str(data.device)}
    if isinstance(data, _SCALARS):
        return {"value": data}
    if isinstance(data, (list, tuple)):
        return {type(data).__name__: [_describe(v, arrays) for v in data]}
    if isinstance(data, dict):
        if not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in data):
            raise EmbeddingFileError("an embedding dict with keys other than strings or integers cannot be stored")
        return {"dict": [[k, _describe(v, arrays)] for k, v in data.items()]}
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        cls = type(data)
        return {"dataclass": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f.name: _describe(getattr(data, f.name), arrays) for f in dataclasses.fields(data)}}
    raise EmbeddingFileError(f"an embedding holding a {type(data).__name__} cannot be stored")


def _loaded_dataclass(name: Any) -> type:
    """The dataclass ``module:qualname`` if this process has already loaded it (nothing is imported)."""
    module_name, _, qualname = str(name).partition(":")
    obj: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part, None) if obj is not None and not part.startswith("__") else None
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise EmbeddingFileError(f"the dataclass {name!r} is not loaded in this process")
    return obj


def _rebuild(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if not isinstance(node, dict) or len(node) not in (1, 2, 3):
        raise EmbeddingFileError("the structure description is malformed")
    if "array" in node:
        stored = arrays.get(f"a{node['array']}")
        if stored is None:
            raise EmbeddingFileError(f"array {node['array']!r} is missing")
        if "device" not in node:
            dtype = np.dtype(str(node["dtype"]))
            if dtype.hasobject:
                raise EmbeddingFileError("an array of Python objects is not read")
            return stored.astype(dtype, copy=False)
        torch = sys.modules.get("torch") or __import__("torch")
        dtype = getattr(torch, str(node["dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise EmbeddingFileError(f"{node['dtype']!r} is not a torch dtype")
        return torch.from_numpy(np.ascontiguousarray(stored)).to(dtype=dtype, device=str(node["device"]))
    if "value" in node:
        if not isinstance(node["value"], _SCALARS):
            raise EmbeddingFileError("a stored value is not a plain scalar")
        return node["value"]
    if "list" in node or "tuple" in node:
        items = [_rebuild(v, arrays) for v in node.get("list", node.get("tuple"))]
        return items if "list" in node else tuple(items)
    if "dict" in node:
        return {k: _rebuild(v, arrays) for k, v in node["dict"]}
    if "dataclass" in node:
        cls = _loaded_dataclass(node["dataclass"])
        fields = node["fields"]
        if not isinstance(fields, dict) or set(fields) != {f.name for f in dataclasses.fields(cls)}:
            raise EmbeddingFileError(f"the fields stored for {node['dataclass']} do not match the class")
        obj = cls.__new__(cls)  # the stored values, as they were: no __init__ / __post_init__ runs
        for name, value in fields.items():
            object.__setattr__(obj, name, _rebuild(value, arrays))
        return obj
    raise EmbeddingFileError("the structure description is malformed")


def write_embedding(path: str | os.PathLike, size: tuple, data: Any) -> None:
    """Write ``data`` (an embedding's data) and its image ``size`` to the ``.npz`` file ``path``."""
    arrays: list[np.ndarray] = []
    head = {"format": EMBEDDING_FORMAT, "size": [int(v) for v in size], "data": _describe(data, arrays)}
    with open(path, "wb") as f:
        np.savez(f, head=np.frombuffer(json.dumps(head).encode(), np.uint8),
                 **{f"a{i}": a for i, a in enumerate(arrays)})


def read_embedding(path: str | os.PathLike) -> tuple[tuple, Any]:
    """``(size, data)`` as written by :func:`write_embedding`; :class:`EmbeddingFileError` if it cannot be."""
    import zipfile

    try:
        with np.load(Path(path), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        head = json.loads(arrays.pop("head").tobytes().decode())
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise EmbeddingFileError(f"not an embedding file ({type(exc).__name__}: {exc})") from None
    if not isinstance(head, dict) or head.get("format") != EMBEDDING_FORMAT:
        raise EmbeddingFileError(f"embedding file format {head.get('format') if isinstance(head, dict) else None!r} "
                                 f"is not {EMBEDDING_FORMAT}")
    try:
        size = tuple(int(v) for v in head["size"])
        return size, _rebuild(head["data"], arrays)
    except EmbeddingFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, ImportError) as exc:
        raise EmbeddingFileError(f"the embedding cannot be rebuilt ({type(exc).__name__}: {exc})") from None
