"""sampt hook implementations of the CoTracker plugin (registration only; torch is imported lazily)."""
from __future__ import annotations

from typing import Callable

import sampt
from sampt.weights import WeightsSpec

_HF3 = "https://huggingface.co/facebook/cotracker3/resolve/main/"
_HF = "https://huggingface.co/facebook/cotracker/resolve/main/"
_FB1 = "https://dl.fbaipublicfiles.com/cotracker/"  # CoTracker 1 (tag v1.0 README / hubconf)

CHECKPOINTS: dict[str, WeightsSpec] = {
    spec.name: spec
    for spec in (
        WeightsSpec("cotracker3_offline", _HF3 + "scaled_offline.pth", "scaled_offline.pth", None, None,
                    "cotracker3", "CoTracker 3 offline (scaled), window 60"),
        WeightsSpec("cotracker3_online", _HF3 + "scaled_online.pth", "scaled_online.pth", None, None,
                    "cotracker3", "CoTracker 3 online (scaled), window 16"),
        WeightsSpec("cotracker2", _HF + "cotracker2.pth", "cotracker2.pth", None, None,
                    "cotracker2", "CoTracker 2, window 8"),
        WeightsSpec("cotracker2v1", _HF + "cotracker2v1.pth", "cotracker2v1.pth", None, None,
                    "cotracker2", "CoTracker 2.1, window 16"),
        WeightsSpec("cotracker_stride_4_wind_8", _FB1 + "cotracker_stride_4_wind_8.pth",
                    "cotracker_stride_4_wind_8.pth", None, None, "cotracker1", "CoTracker 1, stride 4, window 8"),
        WeightsSpec("cotracker_stride_4_wind_12", _FB1 + "cotracker_stride_4_wind_12.pth",
                    "cotracker_stride_4_wind_12.pth", None, None, "cotracker1", "CoTracker 1, stride 4, window 12"),
        WeightsSpec("cotracker_stride_8_wind_16", _FB1 + "cotracker_stride_8_wind_16.pth",
                    "cotracker_stride_8_wind_16.pth", None, None, "cotracker1", "CoTracker 1, stride 8, window 16"),
    )
}
"""Every official CoTracker checkpoint, by name (URLs from the official repository's ``hubconf.py`` / README;
no published SHA-256 or size could be found, so they are None and files are not verified)."""


@sampt.hookimpl
def register_trackers(register: Callable) -> None:
    register("cotracker3_offline", "sampt_cotracker.tracker:CoTracker3OfflineTracker",
             description="CoTracker 3 offline (whole video in one window, bidirectional)")
    register("cotracker3_online", "sampt_cotracker.tracker:CoTracker3OnlineTracker",
             description="CoTracker 3 online (sliding windows, streaming, bounded memory)")
    register("cotracker2", "sampt_cotracker.tracker:CoTracker2Tracker", description="CoTracker 2 (sliding windows)")
    register("cotracker2v1", "sampt_cotracker.tracker:CoTracker2Tracker", description="CoTracker 2.1 (sliding windows of 16)",
             defaults={"variant": "cotracker2v1"})
    register("cotracker1", "sampt_cotracker.tracker:CoTracker1Tracker", description="CoTracker 1 (as used by SAM-PT)")


@sampt.hookimpl
def register_weights(register: Callable) -> None:
    for spec in CHECKPOINTS.values():
        register(spec)
