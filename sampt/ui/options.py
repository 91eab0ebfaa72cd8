"""The page's per-component options form: one row per keyword option of the picked tracker or segmenter
(name, value, type, allowed values), read from the registry (the component's constructor signature and the
ranges it declares, :mod:`sampt.constraints`), and turned back into the same ``tracker.<option>=<value>``
overrides the command line takes, so :func:`sampt.config.compose` checks them in its one place."""
from __future__ import annotations

import inspect
import json
from typing import Any, Mapping, Optional, Sequence

from sampt.constraints import option_constraints
from sampt.plugins import type_name

HEADERS = ["option", "value", "type", "allowed"]


def format_value(value: Any) -> str:
    """A value as it would be typed in an override (``None`` -> ``null``, ``True`` -> ``true``)."""
    if value is inspect.Parameter.empty:
        return ""
    if value is None or isinstance(value, (bool, int, float, list, tuple, dict)):
        try:
            return json.dumps(list(value) if isinstance(value, tuple) else value)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def option_rows(registry: Any, kind: str, name: Optional[str], current: Mapping[str, Any] = ()) -> list[list[str]]:
    """``[option, value, type, allowed]`` rows of component ``name``'s options: the value is ``current``'s
    (options set on the command line) or the constructor's default; empty for a required option."""
    if not name:
        return []
    entry = registry.entry(kind, name)
    params = entry.parameters()
    annotations = entry.annotations()
    declared = option_constraints(entry.resolve())
    current = dict(current or {})
    rows = []
    for key, p in params.items():
        annotation = annotations[key]
        kind_text = "" if annotation is inspect.Parameter.empty else type_name(annotation)
        allowed = "; ".join(str(c) for c in declared.get(key, []))
        value = current[key] if key in current else p.default
        rows.append([key, format_value(value), kind_text, allowed])
    return rows


def _table(rows: Any) -> list[list[Any]]:
    """Rows from what the page sends: a list of lists, or a pandas DataFrame."""
    if rows is None:
        return []
    if hasattr(rows, "values") and hasattr(rows, "columns"):
        return rows.values.tolist()
    return [list(r) for r in rows]


def option_overrides(node: str, registry: Any, kind: str, name: Optional[str], rows: Any) -> list[str]:
    """``node.option=value`` overrides for the rows whose value differs from the constructor's default
    (an emptied value means the default); the values are parsed and checked by the config, as typed."""
    if not name:
        return []
    defaults = {r[0]: r[1] for r in option_rows(registry, kind, name)}
    out = []
    for row in _table(rows):
        if not row or not str(row[0]).strip():
            continue
        key, value = str(row[0]).strip(), "" if len(row) < 2 or row[1] is None else str(row[1]).strip()
        if value == "" or (key in defaults and value == defaults[key]):
            continue
        out.append(f"{node}.{key}={value}")
    return out


def split_component_overrides(overrides: Sequence[str]) -> tuple[dict[str, str], dict[str, dict[str, str]], list[str]]:
    """Command-line overrides split into the picked components (``{"tracker": "lk"}``), the components'
    options (``{"tracker": {"window_size": "21"}}``, shown in their forms) and the rest (pipeline, seed...)."""
    picked: dict[str, str] = {}
    options: dict[str, dict[str, str]] = {"tracker": {}, "segmenter": {}}
    rest = []
    for o in overrides:
        key, _, value = o.partition("=")
        node, dot, option = key.partition(".")
        if node in options and not dot:
            picked[node] = value
            options[node] = {}  # a new pick drops the options given for the previous one
        elif node in options and dot and "." not in option:
            options[node][option] = value
        else:
            rest.append(o)
    return picked, options, rest
