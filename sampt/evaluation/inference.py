"""Running the pipeline on one dataset sequence: the objects' prompts, the run, and the label maps of the
frames the dataset scores. Shared by ``sampt eval``, ``sampt bench`` and every executor's workers.

Protocol (semi-supervised VOS): each object is prompted with its annotated mask on the frame where it first
appears. The output label map of a frame gives each pixel to the object with the highest positive logit;
an object is absent before its prompt frame, and on its prompt frame it is exactly its given mask (the usual
convention; DAVIS never scores that frame).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from sampt.evaluation.datasets import VOSSequence
from sampt.evaluation.measure import Stopwatch
from sampt.evaluation.writers import resize_labels


@dataclass
class SequenceInput:
    """Everything a worker needs to run one sequence (it travels through Ray's object store): the decoded
    video, the objects' prompts and which frames to return labels for."""

    name: str
    video: Any
    prompts: list
    eval_frames: list[int]


@dataclass
class SequencePrediction:
    """Label maps of a sequence's scored frames (``labels`` ``(len(eval_frames), H, W)`` uint8), the
    pipeline's result, and the wall-clock and process CPU seconds of ``SamPt.run``."""

    labels: np.ndarray
    result: Any
    seconds: float
    cpu_seconds: float = float("nan")


def object_prompts(seq: VOSSequence) -> list:
    """Each object's :class:`~sampt.pipeline.ObjectPrompt`: its mask on its first-appearance frame."""
    from sampt.pipeline import ObjectPrompt

    return [ObjectPrompt(object_id=m.object_id, frame=m.frame, mask=m.mask) for m in seq.initial_masks()]


def predict_sequence(pipeline: Any, seq: VOSSequence, video: Any = None, prompts: Optional[list] = None,
                     progress: bool = False) -> SequencePrediction:
    """Run ``pipeline`` on one sequence and return the label maps of its scored frames."""
    import cv2

    video = seq.video() if video is None else video
    prompts = object_prompts(seq) if prompts is None else prompts
    # OpenCV's global RNG (e.g. GrabCut's k-means initialisation) would make a sequence's result depend on
    # what ran before it; reseed it so every sequence is reproducible whatever the order (resumed runs,
    # benchmark passes)
    cv2.setRNGSeed(int(getattr(pipeline, "seed", 0) or 0))
    with Stopwatch() as sw:
        result = pipeline.run(video, prompts, progress=progress)
    labels = result.label_maps()
    ids = list(result.object_ids)
    H, W = prompts[0].mask.shape
    out = np.zeros((len(seq.eval_frames), H, W), np.uint8)
    first = {p.object_id: p.frame for p in prompts}
    for k, t in enumerate(seq.eval_frames):
        lab = resize_labels(labels[t], H, W)
        for oid in ids:  # no object before it appears
            if t < first[oid]:
                lab = np.where(lab == oid, 0, lab).astype(np.uint8)
        for p in prompts:  # on its prompt frame an object is exactly its given mask
            if p.frame == t:
                lab = np.where(lab == p.object_id, 0, lab)
                lab = np.where(p.mask, np.uint8(p.object_id), lab).astype(np.uint8)
        out[k] = lab
    return SequencePrediction(out, result, sw.seconds, sw.cpu_seconds)


def sequence_input(seq: VOSSequence) -> SequenceInput:
    """What a worker needs to run ``seq`` (decoded video, prompts, scored frames), read from disk."""
    return SequenceInput(seq.name, seq.video(), object_prompts(seq), list(seq.eval_frames))
