"""sampt hook implementations of the PIPS plugin (registration only; torch is imported lazily)."""
from __future__ import annotations

from typing import Callable

import sampt
from sampt.weights import WeightsSpec

SAMPT_PLUGIN_API = "2.0"
"""The sampt plugin interface this plugin is written for (:mod:`sampt.plugin_api`)."""

CHECKPOINTS: dict[str, WeightsSpec] = {
    spec.name: spec
    for spec in (
        # The HuggingFace copy of aharley/pips's 200k-step reference model (the same file the repo's
        # get_reference_model.sh extracts from reference_model.tar.gz on Dropbox). Neither the exact size
        # nor a SHA-256 is published, so both stay unset.
        WeightsSpec("pips_reference_model", "https://huggingface.co/aharley/pips/resolve/main/model-000200000.pth",
                    "pips_model-000200000.pth", None, None, "pips",
                    "PIPS reference model (200k steps, FlyingThings++), {'model_state_dict', "
                    "'optimizer_state_dict'} torch file; load with Pips(S=8, stride=4)"),
        # aharley/pips2's release: a Dropbox tarball holding reference_model/model-000200000.pth (the
        # tracker extracts it). dl=1 makes the official link a direct download. No SHA-256/size published.
        WeightsSpec("pips2_reference_model",
                    "https://www.dropbox.com/scl/fi/czdlt2zc2ji2b7zd0pvoe/reference_model.tar.gz"
                    "?rlkey=56ebq4g5dk01kyq8kuismev14&dl=1",
                    "pips2_reference_model.tar.gz", None, None, "pips2",
                    "PIPS++ reference model (PointOdyssey), tarball with reference_model/model-000200000.pth"),
    )
}
"""Every official PIPS / PIPS++ checkpoint, by name."""


@sampt.hookimpl
def register_trackers(register: Callable) -> None:
    register("pips", "sampt_pips.tracker:PipsTracker",
             description="PIPS (8-frame windows chained by the official visibility re-anchoring; "
                         "bidirectional; visibility head)")
    register("pips2", "sampt_pips.tracker:Pips2Tracker",
             description="PIPS++ (long windows, bidirectional). No visibility head: every point is "
                         "reported visible", aliases=("pips++", "pipsplusplus"))


@sampt.hookimpl
def register_weights(register: Callable) -> None:
    for spec in CHECKPOINTS.values():
        register(spec)
