"""Device choice shared by every model plugin (torch is imported only when a plugin asks)."""
from __future__ import annotations

from typing import Any, Optional, Sequence


def pick_device(device: Optional[str] = "auto") -> Any:
    """A ``torch.device``: ``"auto"`` (or empty) means CUDA when available, else CPU; anything else
    (``"cpu"``, ``"cuda:1"``) is passed to torch."""
    import torch

    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_precision(precision: str, choices: Sequence[str], device: Any, cuda_only: str = "") -> None:
    """Refuse a ``precision`` not among ``choices`` (a ``ValueError`` listing them) or, on a ``device`` that
    is not CUDA, the ``cuda_only`` one: the one check a segmenter's ``precision`` option gets."""
    if precision not in choices:
        raise ValueError(f"precision must be one of {', '.join(choices)}, got {precision!r}")
    if cuda_only and precision == cuda_only and device.type != "cuda":
        raise ValueError(f"precision={precision!r} needs a CUDA device (device is {device}); use 'float32' or 'auto'")
