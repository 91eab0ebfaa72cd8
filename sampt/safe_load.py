"""Reading published checkpoint formats that are pickles, without running code from them.

Some models publish their parameters only as a pickled object (TAP-Net's NumPy parameter file is a ``.npy``
holding a pickled dict of arrays). ``pickle.load`` or ``np.load(..., allow_pickle=True)`` on such a file
would run whatever it names. :func:`restricted_load` admits only NumPy arrays, NumPy scalars and dtypes and
plain containers (dict, list, tuple, OrderedDict, str, bytes, numbers); any other global the file asks for
is refused with :class:`~sampt.weights.WeightsError` before it is looked up. :func:`load_pickled_arrays`
reads a ``.npy`` / ``.npz`` file whose arrays may hold such objects, or a bare pickle file, through it.

This module is the only place in sampt that unpickles (the structure test checks that).
"""
from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

# (module, name) a checkpoint may reference: how NumPy pickles arrays, scalars and dtypes (NumPy 1 and 2
# module names), the OrderedDict of state dicts, and _codecs.encode (protocol 2 writes bytes through it)
ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"), ("_codecs", "encode"),
})


def _weights_error(message: str) -> Exception:
    from sampt.weights import WeightsError

    return WeightsError(message)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: BinaryIO, what: str):
        super().__init__(file)
        self.what = what

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise _weights_error(f"{self.what} asks for {module}.{name}, which is not a NumPy array or a plain "
                                 "container; sampt does not read it (a file that names other Python objects can "
                                 "run code). Use the official checkpoint")
        return super().find_class(module, name)


def restricted_load(file: BinaryIO, what: str = "checkpoint") -> Any:
    """Unpickle ``file`` admitting NumPy arrays and plain containers only (``what`` names it in errors)."""
    try:
        return _RestrictedUnpickler(file, what).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise _weights_error(f"{what} could not be read ({type(exc).__name__}: {exc}); it is corrupt or truncated") from None


def _read_npy(file: BinaryIO, what: str) -> Any:
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(file)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(file)
    if not dtype.hasobject:
        file.seek(0)
        return np.load(file, allow_pickle=False)
    array = restricted_load(file, what)  # an object array is stored as the pickle of the array itself
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise _weights_error(f"{what} does not hold the {shape} array its header announces")
    return array


def load_pickled_arrays(path: str | os.PathLike) -> Any:
    """The content of ``path``: a ``.npy`` (an array; an object array such as ``np.save(path, dict)`` writes
    is unpickled restrictedly, ``.item()`` gives the dict back), a ``.npz`` (a dict of its arrays) or a bare
    pickle file, admitting NumPy arrays and plain containers only. Raises
    :class:`~sampt.weights.WeightsError` for anything else, a missing or a damaged file."""
    path = Path(path)
    what = f"checkpoint {path}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _weights_error(f"{what} cannot be read ({exc.strerror or exc})") from None
    try:
        if data.startswith(np.lib.format.MAGIC_PREFIX):
            return _read_npy(io.BytesIO(data), what)
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return {name[:-4] if name.endswith(".npy") else name: _read_npy(io.BytesIO(z.read(name)), f"{what} ({name})")
                        for name in z.namelist()}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise _weights_error(f"{what} could not be read ({type(exc).__name__}: {exc}); it is corrupt or truncated") from None
    return restricted_load(io.BytesIO(data), what)
