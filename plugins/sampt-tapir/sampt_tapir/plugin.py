"""sampt hook implementations of the TAPIR plugin (registration only; torch is imported lazily)."""
from __future__ import annotations

from typing import Callable

import sampt
from sampt.weights import WeightsSpec

_BASE = "https://storage.googleapis.com/dm-tapnet"

# Official URLs from google-deepmind/tapnet's README and torch colabs. Neither a file size nor a
# SHA-256 is published for these files, so both stay None (files are checked by strict loading).
CHECKPOINTS: dict[str, WeightsSpec] = {
    spec.name: spec
    for spec in (
        WeightsSpec("tapir_checkpoint_panning", f"{_BASE}/tapir_checkpoint_panning.pt",
                    "tapir_checkpoint_panning.pt", None, None, "tapir",
                    "TAPIR (PyTorch, panning Kubric training), state dict for "
                    "TAPIR(pyramid_level=0, extra_convs=False)"),
        WeightsSpec("bootstapir_checkpoint_v2", f"{_BASE}/bootstap/bootstapir_checkpoint_v2.pt",
                    "bootstapir_checkpoint_v2.pt", None, None, "bootstapir",
                    "BootsTAPIR v2 (PyTorch), state dict for TAPIR(pyramid_level=1)"),
        WeightsSpec("causal_bootstapir_checkpoint", f"{_BASE}/bootstap/causal_bootstapir_checkpoint.pt",
                    "causal_bootstapir_checkpoint.pt", None, None, "bootstapir_online",
                    "online (causal) BootsTAPIR (PyTorch), state dict for "
                    "TAPIR(pyramid_level=1, use_casual_conv=True)"),
    )
}
"""Every official TAPIR-family PyTorch checkpoint, by name."""


@sampt.hookimpl
def register_trackers(register: Callable) -> None:
    register("tapir", "sampt_tapir.tracker:TapirTracker", defaults={"variant": "tapir"},
             description="TAPIR (cost-volume init + PIPs refinement at 256x256; any query frame, tracks "
                         "both directions in one pass; occlusion + uncertainty heads)")
    register("bootstapir", "sampt_tapir.tracker:TapirTracker", defaults={"variant": "bootstapir"},
             description="BootsTAPIR (self-supervised bootstrapped TAPIR; any query frame, both directions)")
    register("bootstapir_online", "sampt_tapir.tracker:OnlineBootsTapirTracker",
             defaults={"variant": "bootstapir_online"},
             description="online (causal) BootsTAPIR: streams frames one at a time, memory independent of "
                         "video length; forward only", aliases=("causal_bootstapir", "online_bootstapir"))


@sampt.hookimpl
def register_weights(register: Callable) -> None:
    for spec in CHECKPOINTS.values():
        register(spec)
