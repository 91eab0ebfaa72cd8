"""Valid ranges of options, declared beside the option itself.

A component (or :class:`~sampt.pipeline.options.SamPtOptions`) states an option's range in its type::

    def __init__(self, window_size: Annotated[int, Range(3, None)] = 15,
                 preset: Annotated[str, Choices("fast", "medium")] = "medium"): ...

and the registry checks every component's options with :func:`check_options` when it builds it (when the
config is composed, too), so a bad value is one clear error naming the key and its range, before any work,
for built-in and third-party components alike. Plain annotations (no ``Annotated``) are not checked.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import math
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional

import numpy as np

from sampt.errors import ConfigError, shown


@dataclass(frozen=True)
class Range:
    """Numbers from ``low`` to ``high`` (None: unbounded), ends included unless ``*_open``. Also applies
    to each element of a list/tuple value. NaN is never in range."""

    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False

    def allows(self, value: Any) -> bool:
        if isinstance(value, (list, tuple)):
            return all(self.allows(v) for v in value)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return True  # types are checked elsewhere; None is for Optional options
        if isinstance(value, float) and not math.isfinite(value):
            return False  # NaN and infinities are never in range (ints are compared exactly: no overflow)
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False
        return True

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {low}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {high}"
        return "any number"


def _number(value: Optional[float]) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True, init=False)
class Choices:
    """One of the listed values (None passes: it is for Optional options)."""

    values: tuple

    def __init__(self, *values: Any):
        object.__setattr__(self, "values", tuple(values))

    def allows(self, value: Any) -> bool:
        return value is None or value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(map(str, self.values))


Constraint = typing.Union[Range, Choices]

INT_LIMIT = 2**63 - 1
"""The largest magnitude an integer option or coordinate may have (what NumPy and OpenCV can hold)."""


def is_whole(value: Any) -> bool:
    """An integer that fits 64 bits (``bool`` is not a number here; NumPy integers are)."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return False
    return isinstance(value, (int, np.integer)) and -INT_LIMIT <= int(value) <= INT_LIMIT


def is_real(value: Any) -> bool:
    """A finite real number: a 64-bit integer or a finite float (not bool, not a string, not NaN/inf)."""
    if is_whole(value):
        return True
    return isinstance(value, (float, np.floating)) and math.isfinite(value)


def check_coordinate(name: str, value: Any, error: type = ConfigError) -> float:
    """``value`` as a float, or ``error`` naming ``name`` when it is not a finite real number."""
    if not is_real(value):
        raise error(f"{name} must be a finite number; {shown(value)} is not finite or not a number")
    return float(value)


def constraints_of(annotation: Any) -> list:
    """The :class:`Range`/:class:`Choices` markers of an annotation (also inside ``Optional[...]``)."""
    found = []
    if typing.get_origin(annotation) is typing.Annotated:
        found.extend(m for m in annotation.__metadata__ if hasattr(m, "allows"))
    for arg in typing.get_args(annotation):
        if typing.get_origin(annotation) is not typing.Annotated:
            found.extend(constraints_of(arg))
    return found


def _annotations(target: Any) -> dict:
    fn = target.__init__ if inspect.isclass(target) and not dataclasses.is_dataclass(target) else target
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        return dict(getattr(fn, "__annotations__", {}) or {})


def option_constraints(target: Any) -> dict[str, list]:
    """``{option: [constraints]}`` of a factory's keyword parameters (or a dataclass's fields)."""
    return {name: c for name, ann in _annotations(target).items() if (c := constraints_of(ann))}


def check_value(key: str, value: Any, constraints: Iterable) -> None:
    """Raise :class:`ConfigError` naming ``key`` when ``value`` breaks one of ``constraints``."""
    for c in constraints:
        if not c.allows(value):
            raise ConfigError(f"{key}={shown(value)} is out of range: it must be {c}")


def check_options(target: Callable[..., Any] | type, options: Mapping[str, Any], prefix: str = "") -> None:
    """Check ``options`` (keyword arguments of ``target``) against the ranges declared on ``target``."""
    declared = option_constraints(target)
    for key, value in options.items():
        if key in declared:
            check_value(f"{prefix}.{key}" if prefix else key, value, declared[key])


def check_dataclass(obj: Any, prefix: str = "") -> None:
    """Check every field of a dataclass instance against its type (a number finite and within 64 bits)
    and its declared range."""
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    hints = _annotations(type(obj))
    for name, value in values.items():
        hint = hints.get(name)
        if typing.get_origin(hint) is typing.Annotated:
            hint = typing.get_args(hint)[0]
        if hint is not None and not isinstance(hint, str) and not type_ok(value, hint):
            key = f"{prefix}.{name}" if prefix else name
            raise ConfigError(f"{key}={shown(value)} has the wrong type; expected {expected_type(hint)}")
    check_options(type(obj), values, prefix)


def type_ok(value: Any, annotation: Any) -> bool:
    """Whether a config value (plain or OmegaConf) fits a parameter's annotation."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Union or str(origin) == "types.UnionType":
        return any(type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is float:
        return is_real(value)
    if annotation is int:
        return is_whole(value)
    if annotation in (tuple, list) or origin in (tuple, list, collections.abc.Sequence):
        if not isinstance(value, (list, tuple)) and not _is_config_list(value):
            return False
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        if origin is tuple and len(args) > 1 and Ellipsis not in typing.get_args(annotation):
            return len(value) == len(args) and all(type_ok(v, a) for v, a in zip(value, args))
        return not args or all(type_ok(v, args[0]) for v in value)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def expected_type(annotation: Any) -> str:
    """What a value of ``annotation`` must be, for error messages (numbers: finite, within 64 bits)."""
    return {float: "float (a finite number)", int: "int (a whole number within 64 bits)"}.get(
        annotation, type_name(annotation))


def type_name(annotation: Any) -> str:
    """A readable name of an annotation, for error messages."""
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _is_config_list(value: Any) -> bool:
    try:
        from omegaconf import OmegaConf
    except ImportError:  # pragma: no cover - omegaconf is a core dependency
        return False
    return OmegaConf.is_list(value)
