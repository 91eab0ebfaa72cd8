"""The version of sampt's plugin interface, and whether a plugin written for some version works with this one.

A plugin declares the interface it was written for with a module attribute next to its hooks::

    SAMPT_PLUGIN_API = "2.0"

``major.minor``: a minor step only adds (a new hook, a new optional method), so a plugin written for
``2.0`` works with every ``2.x``; a major step changes what a plugin must write. Plugins written for an
older major that sampt still adapts (see :data:`ADAPTED_MAJORS`) load with a deprecation note; any other
version is refused before any run, and ``sampt plugins`` lists the plugin with the reason and the fix.

History: ``1`` a tracker overrides ``Tracker.track``; ``2.0`` a tracker implements ``_track`` (the base
class validates the queries first) and a segmenter ``_decode_batch`` (the base class groups and chunks).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional

PLUGIN_API_VERSION = "2.0"
"""The plugin interface this sampt provides (``major.minor``)."""
DECLARATION = "SAMPT_PLUGIN_API"
"""The module attribute (or plugin object attribute) a plugin declares its interface version with."""
ADAPTED_MAJORS = (1,)
"""Older majors whose plugins still work, through adapters, with a DeprecationWarning."""


@dataclass(frozen=True)
class ApiCheck:
    """The outcome of checking one plugin's declaration: ``compatible`` (else it is not loaded) and, when
    there is something to say, a one-line ``reason`` with the fix."""

    compatible: bool
    reason: str = ""


def parse_version(text: str) -> tuple[int, int]:
    """``"2.0"`` as ``(2, 0)``; anything else raises ``ValueError``."""
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a 'major.minor' plugin API version")
    return int(match.group(1)), int(match.group(2))


def declared_version(plugin: Any) -> Optional[str]:
    """The plugin API version ``plugin`` (a module or object registered with the plugin manager) declares."""
    value = getattr(plugin, DECLARATION, None)
    return None if value is None else str(value)


def check_declared(declared: Optional[str], provided: str = PLUGIN_API_VERSION) -> ApiCheck:
    """Whether a plugin declaring ``declared`` (None: nothing declared) works with plugin API ``provided``."""
    if declared is None:
        return ApiCheck(True)
    major, minor = parse_version(provided)
    try:
        want_major, want_minor = parse_version(declared)
    except ValueError:
        return ApiCheck(False, f"declares {DECLARATION} = {declared!r}, not a 'major.minor' version; "
                               f"fix the plugin: sampt {provided} expects e.g. {DECLARATION} = \"{provided}\"")
    if (want_major, want_minor) > (major, minor):
        return ApiCheck(False, f"written for sampt plugin API {declared}, this sampt provides {provided}; "
                               f"upgrade sampt (pip install -U sampt) or install an older release of the plugin")
    if want_major == major:
        return ApiCheck(True)
    if want_major in ADAPTED_MAJORS:
        return ApiCheck(True, f"written for sampt plugin API {declared} (deprecated, adapted): port it to "
                              f"{provided} (trackers implement _track instead of overriding track) and declare "
                              f"{DECLARATION} = \"{provided}\"")
    return ApiCheck(False, f"written for sampt plugin API {declared}, which sampt {provided} no longer supports; "
                           f"install a plugin release written for {major}.x or an older sampt")
