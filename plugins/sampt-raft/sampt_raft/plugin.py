"""sampt hook implementations of the RAFT plugin (registration only; torch is imported lazily)."""
from __future__ import annotations

from typing import Callable

import sampt
from sampt.weights import WeightsSpec

SAMPT_PLUGIN_API = "2.0"
"""The sampt plugin interface this plugin is written for (:mod:`sampt.plugin_api`)."""

MODELS_ZIP_URL = "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip"
"""princeton-vl/RAFT's download_models.sh: one zip holding every published checkpoint under ``models/``."""

VARIANTS: dict[str, dict] = {
    # name -> architecture and default checkpoint; ``raft`` is SAM-PT's RaftPointTracker (raft-things.pth)
    "raft": {"small": False, "checkpoint": "raft_things"},
    "raft_small": {"small": True, "checkpoint": "raft_small"},
}
"""The variant table: each registered tracker name, its architecture and its default checkpoint."""

ZIP_MEMBERS: dict[str, str] = {
    "raft_things": "models/raft-things.pth",
    "raft_sintel": "models/raft-sintel.pth",
    "raft_kitti": "models/raft-kitti.pth",
    "raft_chairs": "models/raft-chairs.pth",
    "raft_small": "models/raft-small.pth",
}
"""Each known checkpoint's member in the official ``models.zip``."""

_MD5 = {  # of the extracted members, from SAM-PT's checkpoint guide (docs/03-prepare-checkpoints.md)
    "raft_things": "55b58de5d9022eb37893916d246e14a3",
    "raft_sintel": "cc69e5da1f38673ab10d1849859ebe91",
    "raft_kitti": "e5882fe9b35e1a7cb80537f6f859179f",
    "raft_chairs": "37d7c11dccc199c915580562651d85dd",
    "raft_small": "925642262acc623b3996690eac7d14c9",
}

CHECKPOINTS: dict[str, WeightsSpec] = {
    # All five names share one download, the official models.zip (no SHA-256 or size published: unset);
    # the tracker extracts the named member from it.
    name: WeightsSpec(name, MODELS_ZIP_URL, "raft_models.zip", None, None,
                      "raft_small" if name == "raft_small" else "raft",
                      f"RAFT {member.rsplit('/', 1)[1]} (nn.DataParallel state dict, keys 'module.*') from the "
                      f"official models.zip; member MD5 {_MD5[name]}")
    for name, member in ZIP_MEMBERS.items()
}
"""Every published RAFT checkpoint, by name."""


@sampt.hookimpl
def register_trackers(register: Callable) -> None:
    register("raft", "sampt_raft.tracker:RaftTracker",
             description="RAFT optical flow chained frame to frame from each query frame, forwards and "
                         "backwards (SAM-PT's baseline; raft-things.pth). Visible = inside the frame")
    register("raft_small", "sampt_raft.tracker:RaftTracker", defaults={"variant": "raft_small"},
             description="RAFT-small (raft-small.pth), chained like raft")


@sampt.hookimpl
def register_weights(register: Callable) -> None:
    for spec in CHECKPOINTS.values():
        register(spec)
