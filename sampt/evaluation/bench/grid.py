"""``sampt bench``'s grid expansion: ``KEY=V1,V2`` axes into combinations (the cross product, or one axis at a
time around an anchor), and whole-method rows."""
from __future__ import annotations

import itertools
from typing import Any, Optional, Sequence

from sampt.errors import UsageError
from sampt.evaluation.bench.combination import METHOD_KEY, is_whole_method, split_method


def as_list(value: Any) -> list:
    """A list as given, a comma-separated string split, or one value in a list."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value]


def parse_grid_item(item: str) -> tuple[str, list[str]]:
    """``KEY=V1,V2`` -> ``(KEY, [V1, V2])``."""
    key, sep, values = item.partition("=")
    if not sep or not key.strip() or not values.strip():
        raise UsageError(f"grid axis {item!r} is not KEY=V1,V2,... (e.g. tracker=lk,flow)")
    return key.strip(), as_list(values)


def grid_value(v: Any) -> str:
    """A grid value as an override writes it (``null``, ``true``/``false``, else ``str``)."""
    return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


def expand_grid(grid: dict[str, list]) -> list[list[str]]:
    """All combinations of the grid as lists of ``key=value`` overrides (in the grid's key order)."""
    if not grid:
        return [[]]
    keys = list(grid)
    values = [[grid_value(v) for v in as_list(grid[k])] for k in keys]
    for k, vs in zip(keys, values):
        if not vs:
            raise UsageError(f"grid axis {k!r} has no values")
    return [[f"{k}={v}" for k, v in zip(keys, combo)] for combo in itertools.product(*values)]


def axes_grid(grid: dict[str, list], anchor: Optional[dict] = None) -> tuple[list[str], list[list[str]]]:
    """The ``axes`` design: ``(anchor combination, combinations to run)``: the anchor (each axis at
    ``anchor[axis]``, default its first value) and, for each axis in turn, each of its other values with
    the anchor's values on the other axes."""
    anchor = dict(anchor or {})
    unknown = set(anchor) - set(grid)
    if unknown:
        raise UsageError(f"anchor names {sorted(unknown)[0]!r}, which is not a grid axis ({', '.join(grid)})")
    if METHOD_KEY in grid:
        raise UsageError("design=axes composes SAM-PT stage times; it cannot vary whole methods (method=)")
    values = {k: [grid_value(v) for v in as_list(vs)] for k, vs in grid.items()}
    base = {}
    for k, vs in values.items():
        if not vs:
            raise UsageError(f"grid axis {k!r} has no values")
        base[k] = grid_value(anchor[k]) if k in anchor else vs[0]
        if base[k] not in vs:
            raise UsageError(f"anchor {k}={base[k]} is not one of the axis's values ({', '.join(vs)})")
    first = [f"{k}={v}" for k, v in base.items()]
    combos = [first]
    for k, vs in values.items():
        for v in vs:
            if v != base[k]:
                combos.append([f"{key}={v if key == k else b}" for key, b in base.items()])
    return first, combos


def method_combos(combos: Sequence[list[str]], common: Sequence[str] = ()) -> list[list[str]]:
    """The grid's combinations with whole methods separated from SAM-PT: a whole method's combination keeps
    only ``method=`` and its ``method.*`` options (the component axes do not apply to it; duplicates go),
    a SAM-PT combination drops them."""
    common_name = split_method(common)[0]
    out, seen = [], set()
    for combo in combos:
        name, options, rest = split_method(combo)
        name = name if name is not None else common_name
        if is_whole_method(name):
            combo = [f"{METHOD_KEY}={name}"] + [o for o in combo if o.strip().startswith(METHOD_KEY + ".")]
        else:
            combo = rest
        if tuple(combo) not in seen:
            seen.add(tuple(combo))
            out.append(combo)
    return out
