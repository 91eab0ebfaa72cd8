"""Keyed weights: implementation-independent weights for checking a model against a reference without a
checkpoint, and for timing a model whose checkpoint is not in the cache (:func:`keyed_weights_if_missing`).

Every tensor is drawn from NumPy's legacy ``RandomState`` seeded by the CRC-32 of its state-dict key XOR-ed with
a run seed, then shaped by a fixed rule on the key's last name part. Two implementations that agree on key
names and shapes therefore get bit-identical weights. (:mod:`sampt.testing` offers these to tests with the
reference manifests; :mod:`sampt.weights` uses them for the fallback.)
"""
from __future__ import annotations

import math
import operator
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Optional

_INTEGER_DTYPES = frozenset({"bool", "uint8", "int8", "int16", "int32", "int64"})
_FLOAT_DTYPES = frozenset({"float16", "float32", "float64"})
_UNIT_NAMES = frozenset({"weight", "gamma", "scale"})


def keyed_array(key: str, shape: Any, dtype: str = "float32", seed: int = 0) -> Any:
    """The keyed value of one tensor as a NumPy array of exactly ``shape`` (0-d stays 0-d) and ``dtype``.

    Integer and boolean tensors (``num_batches_tracked``...) are zero. Otherwise ``z`` is ``shape`` standard
    normals from ``RandomState((crc32(key) ^ seed) mod 2**32)``, computed in float64 and then cast, by the
    key's last dotted part: ``running_var`` 1 + 0.1|z|; ``running_mean`` 0.1z; a 1-D ``weight``/``gamma``/
    ``scale`` 1 + 0.1z; ``bias`` or any other tensor of at most one dimension 0.02z; anything else
    z / sqrt(fan_in) with fan_in = max(1, numel // shape[0]).
    """
    import numpy as np

    dims = _check_shape(key, shape)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"keyed weights need an integer seed, got {seed!r}")
    if dtype in _INTEGER_DTYPES:
        return np.zeros(dims, dtype=dtype)
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"keyed weights for {key!r}: dtype {dtype!r} is not supported; "
                         f"use one of {sorted(_FLOAT_DTYPES | _INTEGER_DTYPES)}")
    stream = np.random.RandomState((zlib.crc32(key.encode("utf-8")) ^ seed) & 0xFFFFFFFF)
    z = np.asarray(stream.standard_normal(size=dims), dtype=np.float64)
    name = key.rpartition(".")[2]
    if name == "running_var":
        values = 1.0 + 0.1 * np.abs(z)
    elif name == "running_mean":
        values = 0.1 * z
    elif name in _UNIT_NAMES and len(dims) == 1:
        values = 1.0 + 0.1 * z
    elif name == "bias" or len(dims) <= 1:
        values = 0.02 * z
    else:
        numel = math.prod(dims)
        fan_in = max(1, numel // dims[0]) if dims[0] else 1
        values = z / math.sqrt(fan_in)
    return np.asarray(values, dtype=dtype).reshape(dims)


def keyed_state(manifest: Mapping[str, Any], seed: int = 0) -> dict:
    """Keyed weights for ``manifest`` (``{key: {"shape": [...], "dtype": "float32"}}``, dtype optional,
    float32 by default) as a torch state dict in the manifest's order, every tensor in its manifest shape,
    ready for ``model.load_state_dict(..., strict=True)``. Needs torch."""
    import torch

    if not isinstance(manifest, Mapping):
        raise TypeError(f"a manifest is a mapping of state-dict keys to {{'shape': ..., 'dtype': ...}}, "
                        f"not {type(manifest).__name__}")
    state = {}
    for key, entry in manifest.items():
        if not isinstance(entry, Mapping) or "shape" not in entry:
            raise ValueError(f"manifest entry {key!r} must be a mapping with a 'shape' (and optional 'dtype'), "
                             f"got {entry!r}")
        state[key] = torch.from_numpy(keyed_array(key, entry["shape"], entry.get("dtype", "float32"), seed))
    return state


def manifest_of(model: Any) -> dict[str, dict[str, Any]]:
    """The manifest of a torch module: its state-dict keys in order, with shapes and dtype names."""
    return {k: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
            for k, t in model.state_dict().items()}


def _check_shape(key: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise ValueError(f"shape of {key!r} must be a list of non-negative integers, got {shape!r}")
    try:
        dims = tuple(operator.index(d) for d in shape if not isinstance(d, bool))
    except TypeError:
        dims = ()
    if len(dims) != len(tuple(shape)) or any(d < 0 for d in dims):
        raise ValueError(f"shape of {key!r} must be a list of non-negative integers, got {list(shape)!r}")
    return dims


@dataclass
class KeyedFallback:
    """The models that :func:`keyed_weights_if_missing` filled with keyed weights (their ``what``), in order."""

    seed: int = 0
    used: list[str] = field(default_factory=list)


_KEYED_FALLBACK: ContextVar[Optional[KeyedFallback]] = ContextVar("sampt_keyed_fallback", default=None)


@contextmanager
def keyed_weights_if_missing(seed: int = 0) -> Iterator[KeyedFallback]:
    """Within this block, :func:`sampt.weights.load_checkpoint` fills a model whose checkpoint is a known name missing
    from the cache with keyed weights (:func:`keyed_state` of the model's own keys and
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


def active_keyed_fallback() -> Optional[KeyedFallback]:
    """The record of the enclosing :func:`keyed_weights_if_missing` block, or None outside one."""
    return _KEYED_FALLBACK.get()
