"""sampt hook implementations of the TAPIR plugin, and its one variant table (torch is imported lazily).

Every network this plugin provides is a :class:`Variant` in :data:`VARIANTS`: the tracker class that runs
it, the constructor arguments of ``sampt_tapir.model.TAPIR`` that build it, and its official checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import sampt
from sampt.weights import WeightsSpec

SAMPT_PLUGIN_API = "2.0"
"""The sampt plugin interface this plugin is written for (:mod:`sampt.plugin_api`)."""

_BASE = "https://storage.googleapis.com/dm-tapnet"


@dataclass(frozen=True)
class Variant:
    """One released TAPIR-family network, registered as a tracker of its own name."""

    name: str
    tracker: str
    """The ``module:class`` that runs it."""
    network: dict[str, Any]
    """Constructor arguments of ``sampt_tapir.model.TAPIR``."""
    weights: WeightsSpec
    """Its official checkpoint (loaded when no ``checkpoint`` option is given)."""
    description: str
    aliases: tuple[str, ...] = ()


# Official URLs from google-deepmind/tapnet's README and torch colabs. Neither a file size nor a
# SHA-256 is published for these files, so both stay None (files are checked by strict loading).
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("tapir", "sampt_tapir.tracker:TapirTracker", dict(pyramid_level=0, extra_convs=False, causal=False),
                WeightsSpec("tapir_checkpoint_panning", f"{_BASE}/tapir_checkpoint_panning.pt",
                            "tapir_checkpoint_panning.pt", None, None, "tapir",
                            "TAPIR (PyTorch, panning Kubric training), state dict for "
                            "TAPIR(pyramid_level=0, extra_convs=False)"),
                "TAPIR (cost-volume init + PIPs refinement at 256x256; any query frame, tracks both directions "
                "in one pass; occlusion + uncertainty heads)"),
        Variant("bootstapir", "sampt_tapir.tracker:TapirTracker", dict(pyramid_level=1, extra_convs=True, causal=False),
                WeightsSpec("bootstapir_checkpoint_v2", f"{_BASE}/bootstap/bootstapir_checkpoint_v2.pt",
                            "bootstapir_checkpoint_v2.pt", None, None, "bootstapir",
                            "BootsTAPIR v2 (PyTorch), state dict for TAPIR(pyramid_level=1)"),
                "BootsTAPIR (self-supervised bootstrapped TAPIR; any query frame, both directions)"),
        Variant("bootstapir_online", "sampt_tapir.tracker:OnlineBootsTapirTracker",
                dict(pyramid_level=1, extra_convs=True, causal=True),
                WeightsSpec("causal_bootstapir_checkpoint", f"{_BASE}/bootstap/causal_bootstapir_checkpoint.pt",
                            "causal_bootstapir_checkpoint.pt", None, None, "bootstapir_online",
                            "online (causal) BootsTAPIR (PyTorch), state dict for "
                            "TAPIR(pyramid_level=1, use_casual_conv=True)"),
                "online (causal) BootsTAPIR: streams frames one at a time, memory independent of video length; "
                "forward only", aliases=("causal_bootstapir", "online_bootstapir")),
    )
}
"""Every TAPIR-family network this plugin provides, by tracker name."""

CHECKPOINTS: dict[str, WeightsSpec] = {v.weights.name: v.weights for v in VARIANTS.values()}
"""Every official TAPIR-family PyTorch checkpoint, by name."""


@sampt.hookimpl
def register_trackers(register: Callable) -> None:
    for v in VARIANTS.values():
        register(v.name, v.tracker, defaults={"variant": v.name}, description=v.description, aliases=v.aliases)


@sampt.hookimpl
def register_weights(register: Callable) -> None:
    for spec in CHECKPOINTS.values():
        register(spec)
