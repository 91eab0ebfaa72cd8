"""sampt hook implementations of the CoTracker plugin, and its one variant table (torch is imported lazily).

Every network this plugin provides is a :class:`Variant` in :data:`VARIANTS`: its CoTracker version, the
window and stride it was trained with, and its official checkpoint. The trackers (``tracker_v1`` /
``tracker_v2`` / ``tracker_v3``) and the checkpoint registration read it from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sampt
from sampt.weights import WeightsSpec

SAMPT_PLUGIN_API = "2.0"
"""The sampt plugin interface this plugin is written for (:mod:`sampt.plugin_api`)."""

_HF3 = "https://huggingface.co/facebook/cotracker3/resolve/main/"
_HF = "https://huggingface.co/facebook/cotracker/resolve/main/"
_FB1 = "https://dl.fbaipublicfiles.com/cotracker/"  # CoTracker 1 (tag v1.0 README / hubconf)


@dataclass(frozen=True)
class Variant:
    """One released CoTracker network: ``name`` (a tracker's ``variant`` option), its ``version`` (1, 2, 3),
    the ``window`` length (CoTracker 3 offline: the time embedding's length) and ``stride`` it was trained
    with, and its official checkpoint."""

    name: str
    version: int
    window: int
    weights: WeightsSpec
    stride: int = 4


def _variant(name: str, version: int, window: int, url: str, filename: str, about: str, stride: int = 4,
             checkpoint: str = "") -> Variant:
    spec = WeightsSpec(checkpoint or name, url + filename, filename, None, None, f"cotracker{version}", about)
    return Variant(name, version, window, spec, stride)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        _variant("stride_4_wind_8", 1, 8, _FB1, "cotracker_stride_4_wind_8.pth", "CoTracker 1, stride 4, window 8",
                 checkpoint="cotracker_stride_4_wind_8"),
        _variant("stride_4_wind_12", 1, 12, _FB1, "cotracker_stride_4_wind_12.pth",
                 "CoTracker 1, stride 4, window 12", checkpoint="cotracker_stride_4_wind_12"),
        _variant("stride_8_wind_16", 1, 16, _FB1, "cotracker_stride_8_wind_16.pth",
                 "CoTracker 1, stride 8, window 16", stride=8, checkpoint="cotracker_stride_8_wind_16"),
        _variant("cotracker2", 2, 8, _HF, "cotracker2.pth", "CoTracker 2, window 8"),
        _variant("cotracker2v1", 2, 16, _HF, "cotracker2v1.pth", "CoTracker 2.1, window 16"),
        _variant("cotracker3_offline", 3, 60, _HF3, "scaled_offline.pth", "CoTracker 3 offline (scaled), window 60"),
        _variant("cotracker3_online", 3, 16, _HF3, "scaled_online.pth", "CoTracker 3 online (scaled), window 16"),
    )
}
"""Every released CoTracker network by variant name (URLs from the official repository's ``hubconf.py`` /
README; no published SHA-256 or size could be found, so they are None and files are not verified).
``stride_4_wind_8`` is CoTracker 1's paper model."""

CHECKPOINTS: dict[str, WeightsSpec] = {v.weights.name: v.weights for v in VARIANTS.values()}
"""Every official CoTracker checkpoint, by name."""


def variant_of(name: str, version: int) -> Variant:
    """The CoTracker ``version`` variant called ``name``; another name raises ``ValueError`` listing them."""
    fitting = [n for n, v in VARIANTS.items() if v.version == version]
    if name not in fitting:
        raise ValueError(f"unknown CoTracker {version} variant {name!r}; choose one of {', '.join(fitting)}")
    return VARIANTS[name]


@sampt.hookimpl
def register_trackers(register: Callable) -> None:
    register("cotracker3_offline", "sampt_cotracker.tracker_v3:CoTracker3OfflineTracker",
             description="CoTracker 3 offline (whole video in one window, bidirectional)")
    register("cotracker3_online", "sampt_cotracker.tracker_v3:CoTracker3OnlineTracker",
             description="CoTracker 3 online (sliding windows, streaming, bounded memory)")
    register("cotracker2", "sampt_cotracker.tracker_v2:CoTracker2Tracker", description="CoTracker 2 (sliding windows)")
    register("cotracker2v1", "sampt_cotracker.tracker_v2:CoTracker2Tracker",
             description="CoTracker 2.1 (sliding windows of 16)", defaults={"variant": "cotracker2v1"})
    register("cotracker1", "sampt_cotracker.tracker_v1:CoTracker1Tracker", description="CoTracker 1 (as used by SAM-PT)")


@sampt.hookimpl
def register_weights(register: Callable) -> None:
    for spec in CHECKPOINTS.values():
        register(spec)
