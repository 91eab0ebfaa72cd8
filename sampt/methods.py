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

import numpy as np

from sampt.pipeline.store import MaskStore
from sampt.types import Video


@dataclass
class MethodResult:
    """A whole method's output: each object's logits per frame in ``store`` (objects in ``object_ids``
    order), ``timings`` seconds per stage, ``encoder_calls`` frames the method's image encoder ran on."""

    object_ids: list[int]
    store: MaskStore
    timings: dict[str, float] = field(default_factory=dict)
    encoder_calls: int = 0

    @property
    def num_frames(self) -> int:
        return self.store.num_frames

    def mask(self, t: int, object_index: int) -> np.ndarray:
        return self.store.mask(t, object_index)

    def label_map(self, t: int) -> np.ndarray:
        """Frame ``t``'s objects in one ``(H, W)`` uint8 map: highest positive logit wins, else 0."""
        return self.store.label_map(t, self.object_ids)

    def label_maps(self) -> np.ndarray:
        return np.stack([self.label_map(t) for t in range(self.num_frames)])


class VOSMethod(ABC):
    """A semi-supervised VOS system: object prompts (``ObjectPrompt`` with a mask on its frame) in, masks out.

    ``seed`` drives every random choice the method makes (the bench reseeds OpenCV with it)."""

    seed: int = 0

    @abstractmethod
    def run(self, video: Video, prompts: Sequence[Any], progress: bool = False) -> MethodResult:
        """Segment every prompted object on every frame of ``video``."""
