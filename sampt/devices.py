"""Device choice shared by every model plugin (torch is imported only when a plugin asks)."""
from __future__ import annotations

from typing import Any, Optional


def pick_device(device: Optional[str] = "auto") -> Any:
    """A ``torch.device``: ``"auto"`` (or empty) means CUDA when available, else CPU; anything else
    (``"cpu"``, ``"cuda:1"``) is passed to torch."""
    import torch

    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
