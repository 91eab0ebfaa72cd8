"""Plain-text and Markdown tables and atomic CSV/JSON output for scores and benchmarks."""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from sampt.outputs import atomic_file


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{digits}f}"
    return str(value)


def _digits(digits: int | Mapping[str, int], column: str) -> int:
    return digits.get(column, 3) if isinstance(digits, Mapping) else digits


def _numeric(rows: Sequence[Mapping[str, Any]], column: str) -> bool:
    values = [r.get(column) for r in rows if r.get(column) is not None]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def text_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], digits: int | Mapping[str, int] = 3) -> str:
    """A fixed-width table (numbers right-aligned), like the official DAVIS tool prints. ``digits``: decimals
    for floats, one number or per column."""
    cells = [[_fmt(r.get(c, ""), _digits(digits, c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    numeric = [_numeric(rows, c) for c in columns]
    lines = [" ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(columns, widths, numeric))]
    for row in cells:
        lines.append(" ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(row, widths, numeric)))
    return "\n".join(line.rstrip() for line in lines)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
                   digits: int | Mapping[str, int] = 3) -> str:
    """A GitHub-flavoured Markdown table (numeric columns right-aligned)."""
    out = ["| " + " | ".join(columns) + " |",
           "|" + "|".join("---:" if _numeric(rows, c) else "---" for c in columns) + "|"]
    for r in rows:
        out.append("| " + " | ".join(_fmt(r.get(c, ""), _digits(digits, c)) for c in columns) + " |")
    return "\n".join(out)


def write_csv(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
              digits: int | None = None) -> Path:
    """Write rows as CSV, atomically. ``digits`` rounds floats (None keeps full precision)."""
    path = Path(path)
    with atomic_file(path) as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(columns)
            for r in rows:
                w.writerow([(_fmt(r.get(c), digits) if digits is not None and isinstance(r.get(c), float)
                             else r.get(c, "")) for c in columns])
    return path


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write JSON (NaN as null), atomically."""
    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        if hasattr(x, "item") and callable(x.item):  # numpy scalar
            return clean(x.item())
        return x

    path = Path(path)
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(clean(data), indent=2) + "\n")
    return path
