"""What an interactive session is configured with (:class:`SessionOptions`) and the error an edit that
cannot be made raises (:class:`EditError`): shared by the session and its file format."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Optional

import numpy as np

from sampt.constraints import Range, check_coordinate, check_dataclass
from sampt.errors import ConfigError, InputError
from sampt.pipeline.options import SamPtOptions
from sampt.types import check_points_inside


class EditError(InputError):
    """An edit that cannot be made (the message says why and what to do); the session is unchanged."""


@dataclass
class SessionOptions:
    """How a session works, beyond the SAM-PT options (``pipeline``) and ``seed`` of a run."""

    pipeline: SamPtOptions = field(default_factory=SamPtOptions)
    seed: int = 0
    tracking: bool = True
    """Track points through the video. Off: a point lives on its own frame only (SAM per frame)."""
    backward: bool = False
    """Points added after the object also get tracked backward from their frame (default: forward only;
    each :meth:`Session.add_point` may say otherwise)."""
    embedding_memory_mb: Annotated[float, Range(0, None)] = 1024.0
    """Image embeddings kept in memory; the rest go to ``cache_dir`` as float16."""
    result_memory_mb: Annotated[float, Range(0, None)] = 256.0
    """Masks kept for prompts no longer in use (undo, redo and back-and-forth edits reuse them)."""
    cache_dir: Optional[str] = None
    """Where embeddings are spilled (default: a temporary folder removed by :meth:`Session.close`)."""

    def __post_init__(self) -> None:
        if self.pipeline.reinit_variant is not None:
            raise EditError("an interactive session edits points itself and does not re-initialise them; "
                            "set pipeline.reinit_variant=null")
        try:  # every field of its type (numbers finite) and in its declared range
            check_dataclass(self, "session")
        except ConfigError as exc:
            raise EditError(str(exc)) from None


def check_frame(frame: Any, num_frames: int) -> None:
    """Raise :class:`EditError` unless ``frame`` is an integer index into ``num_frames`` frames."""
    if not isinstance(frame, (int, np.integer)) or isinstance(frame, bool):
        raise EditError(f"frame must be an integer index, got {frame!r}")
    if not 0 <= frame < num_frames:
        raise EditError(f"frame {frame} is outside the video (0..{num_frames - 1})")


def check_inside(x: float, y: float, size: tuple[int, int]) -> None:
    """Raise :class:`EditError` unless ``(x, y)`` is a finite point inside an ``(H, W)`` frame."""
    x, y = check_coordinate("x", x, EditError), check_coordinate("y", y, EditError)
    try:
        check_points_inside(np.array([[x, y]], np.float64), size[0], size[1], "point")
    except (TypeError, ValueError) as exc:
        raise EditError(str(exc)) from None
