"""The SAM-PT method's options, with the paper's defaults. This dataclass is also the schema of the
``pipeline`` config group, so a misspelt or mistyped key is caught when the config is composed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Optional

from sampt.constraints import Range, check_dataclass
from sampt.errors import ConfigError

REINIT_VARIANTS = {
    # name: (letter, what it does)
    "horizon_sync": ("A", "re-initialise on the horizon, masks synchronised across objects"),
    "median_area_diff": ("B", "re-initialise at the frame whose mask area is the median of the area differences"),
    "similar_area": ("C", "re-initialise where the mask area is closest to the horizon's first mask"),
    "similar_area_sync": ("D", "as similar_area, one frame shared by all objects (synchronised masks)"),
}


@dataclass
class SamPtOptions:
    """SAM-PT's knobs. Defaults are the paper's (re-initialisation off, as in the reference)."""

    positive_points: Annotated[int, Range(1, None)] = 16
    """Positive query points sampled in each object's mask (positive sampler)."""
    negative_points: Annotated[int, Range(0, None)] = 1
    """Negative query points sampled in each mask's complement (negative sampler); 0 disables two-pass prompting."""
    others_as_negatives: bool = True
    """Use other objects' visible positive points as negatives."""
    max_other_negatives: Annotated[Optional[int], Range(0, None)] = None
    """Cap on those extra negatives (a random subset, drawn with the run's seed)."""
    tracker_batch_objects: Annotated[int, Range(1, None)] = 5
    """Objects sent to the tracker per call (bounds the tracker's memory)."""
    refinement_iterations: Annotated[int, Range(0, None)] = 12
    """Iterative refinement passes with the mask's box and previous low-resolution logits."""
    iou_threshold: Annotated[float, Range(0, 1)] = 0.7
    """Masks whose predicted IoU is below this are dropped (the object is absent on that frame)."""
    border_margin: Annotated[float, Range(0, 0.5, high_open=True)] = 0.01
    """Points with x/W or y/H below this or above 1 - this count as outside the frame."""
    reference_box: bool = False
    """Reproduce the SAM-PT reference's refinement box exactly: it skips the resize applied to points, so
    SAM sees the box shrunk toward the origin by the segmenter's input scale. Off: the box is right."""
    reference_reinit: bool = False
    """Reproduce the SAM-PT reference's re-initialisation when the chosen frame's mask is unusable (empty or
    at most ``min_reinit_area`` pixels): it re-samples the points from that mask anyway (from an empty mask
    every positive point lands at (0, 0), as its samplers return). Off: the object is marked absent."""
    reinit_variant: Optional[str] = None
    """Point re-initialisation: None (off), or one of horizon_sync (A), median_area_diff (B), similar_area (C),
    similar_area_sync (D)."""
    reinit_horizon: Annotated[int, Range(2, None)] = 8
    """Frames between re-initialisations."""
    reinit_tracker_horizon: Annotated[int, Range(2, None)] = 8
    """Frames the tracker looks ahead in each horizon (>= reinit_horizon)."""
    min_reinit_area: Annotated[int, Range(0, None)] = 25
    """Masks of at most this many pixels are not used to re-initialise."""
    stream_chunk_length: Annotated[int, Range(2, None)] = 16
    """Streaming with an offline tracker: frames tracked per chunk (the latency, in frames, is this minus one)."""
    stream_chunk_overlap: Annotated[int, Range(1, None)] = 4
    """Streaming with an offline tracker: frames a chunk tracks beyond those it emits (look-ahead; the next chunk starts
    from the points on the first of them), >= 1 and < the length."""
    quality_collapse_ratio: Annotated[float, Range(0, 1)] = 0.25
    """Quality flag ``collapsed``: a non-empty mask smaller than this fraction of the object's median area."""
    quality_max_components: Annotated[int, Range(1, None)] = 3
    """Quality flag ``fragmented``: a mask with more connected components than this."""
    quality_min_visible_points: Annotated[float, Range(0, 1)] = 0.5
    """Quality flag ``few_points``: fewer than this fraction of the object's positive points visible on the frame."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> "SamPtOptions":
        """Check value ranges (declared on the fields) and how options combine (done on creation; call
        again after changing a field); return self. Raises ``ConfigError`` (a ``ValueError``) naming the option."""
        check_dataclass(self, "pipeline")
        if self.stream_chunk_overlap >= self.stream_chunk_length:
            raise ConfigError("pipeline.stream_chunk_overlap must be < pipeline.stream_chunk_length "
                              f"({self.stream_chunk_overlap} >= {self.stream_chunk_length})")
        if self.reinit_variant is not None:
            self.reinit_variant = canonical_reinit_variant(self.reinit_variant)
            if self.reinit_tracker_horizon < self.reinit_horizon:
                raise ConfigError("pipeline.reinit_tracker_horizon must be >= pipeline.reinit_horizon "
                                 f"({self.reinit_tracker_horizon} < {self.reinit_horizon})")
        return self


def canonical_reinit_variant(name: str) -> str:
    """Map a variant name or letter (A-D) to its canonical name; unknown names list the known ones."""
    if name in REINIT_VARIANTS:
        return name
    for key, (letter, _) in REINIT_VARIANTS.items():
        if str(name).upper() == letter:
            return key
    known = ", ".join(f"{k} ({v[0]})" for k, v in REINIT_VARIANTS.items())
    raise ConfigError(f"unknown pipeline.reinit_variant {name!r}; known: {known}, or null to turn it off")
