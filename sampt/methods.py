"""Whole VOS methods: systems that take a video and first-frame object prompts and return every frame's masks.

SAM-PT (:class:`sampt.pipeline.SamPt`) is one; a plugin can register others (e.g. SAM 2's video predictor)
through the ``register_methods`` hook so ``sampt bench`` compares systems, not only components. A method is
any object with ``run(video, prompts, progress=False)`` returning a result with ``object_ids``,
``label_maps()`` and ``timings`` (seconds per stage, keys of :data:`sampt.evaluation.measure.STAGES`), as
:class:`VOSMethod` and :class:`MethodResult` spell out.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Sequence

from sampt.pipeline.store import MaskStore, StoredMasksView
from sampt.types import Video


@dataclass
class MethodResult(StoredMasksView):
    """A whole method's output: each object's logits per frame in ``store`` (objects in ``object_ids``
    order), ``timings`` seconds per stage, ``encoder_calls`` frames the method's image encoder ran on."""

    object_ids: list[int]
    store: MaskStore
    timings: dict[str, float] = field(default_factory=dict)
    encoder_calls: int = 0


class VOSMethod(ABC):
    """A semi-supervised VOS system: object prompts (``ObjectPrompt`` with a mask on its frame) in, masks out.

    ``seed`` drives every random choice the method makes (the bench reseeds OpenCV with it)."""

    seed: int = 0

    @abstractmethod
    def run(self, video: Video, prompts: Sequence[Any], progress: bool = False) -> MethodResult:
        """Segment every prompted object on every frame of ``video``."""
