"""Checking a dataset's own files (``meta.json``, UVO / YouTube-VIS JSON, split lists) as they are read: each
reader declares the fields it needs through :class:`FileFields`, and a field of the wrong type is one
:class:`~sampt.errors.UsageError` naming the file and the field's path (``videos[3].height``)."""
from __future__ import annotations

import json
import math
from pathlib import Path, PurePosixPath
from typing import Any

from sampt.errors import UsageError


def _shown(value: Any) -> str:
    if value is None:
        return "null (or the field is missing)"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


class FileFields:
    """The parsed content of one dataset file and typed reads of its fields, errors naming ``path``."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def load_json(self) -> Any:
        """The file's JSON content; a file that is not JSON is refused naming it."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UsageError(f"{self.path} cannot be read as JSON ({exc}); restore the dataset's original file") \
                from None

    def fail(self, where: str, expected: str, value: Any) -> UsageError:
        return UsageError(f"{self.path}: field {where} must be {expected}, got {_shown(value)}")

    def mapping(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, "an object", value)
        return value

    def items(self, value: Any, where: str) -> list:
        if not isinstance(value, list):
            raise self.fail(where, "a list", value)
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, "a string", value)
        return value

    def integer(self, value: Any, where: str, minimum: int | None = None, key: bool = False) -> int:
        """An integer (a JSON integer; a string of digits only for a ``key``, as JSON writes object keys)."""
        if key and isinstance(value, str) and value.isdigit() and len(value) < 19:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2 ** 63:
            raise self.fail(where, "an integer", value)
        if minimum is not None and value < minimum:
            raise self.fail(where, f"an integer >= {minimum}", value)
        return value

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, "a finite number", value)
        return float(value)

    def relative_path(self, value: Any, where: str) -> str:
        """A path inside the dataset's folders: relative, with no ``..`` (a file may not point outside)."""
        text = self.text(value, where)
        parts = PurePosixPath(text.replace("\\", "/")).parts
        if not parts or text.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise self.fail(where, "a relative path inside the dataset (no '..', not absolute)", value)
        return text


def check_folder_name(name: Any, source: str) -> str:
    """A sequence name read from a dataset file: one folder name, so ``ROOT/.../<name>`` stays inside ROOT."""
    if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name
            or "\x00" in name):
        raise UsageError(f"{source}: sequence name {name!r} is not a folder name inside the dataset "
                         "(no '/', '\\', '..'); fix the dataset file")
    return name
