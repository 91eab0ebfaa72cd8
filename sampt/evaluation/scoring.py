"""Score result PNGs against a dataset's annotations, as the official DAVIS 2017 evaluation does.

Results are ``RESULTS/<seq>/<frame>.png`` label maps (pixel value = object id). Per object and sequence:
J and F over the frames of the protocol (DAVIS: all but the first and last), then mean/recall/decay;
global scores average over all objects. Errors name what is wrong: a missing sequence folder, a missing
frame, a label that is no object of the sequence, an object no result PNG contains, a size mismatch.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.datasets import VOSDataset, VOSSequence, read_annotation
from sampt.evaluation.metrics import GLOBAL_COLUMNS, ObjectScore, global_scores, score_sequence
from sampt.evaluation.report import text_table, write_csv

log = logging.getLogger(__name__)

OBJECT_COLUMNS = ("Sequence", "Object", "J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall",
                  "F-Decay")
SEQUENCE_COLUMNS = ("Sequence", "Objects", "J&F-Mean", "J-Mean", "F-Mean")


@dataclass
class ScoreReport:
    """All object scores of a run and the dataset-level averages."""

    objects: list[ObjectScore]

    @property
    def global_scores(self) -> dict[str, float]:
        return global_scores(self.objects)

    def object_rows(self) -> list[dict]:
        return [o.row() for o in self.objects]

    def sequence_rows(self) -> list[dict]:
        rows: dict[str, list[ObjectScore]] = {}
        for o in self.objects:
            rows.setdefault(o.sequence, []).append(o)
        out = []
        for seq, objs in rows.items():
            j = float(np.mean([o.j_mean for o in objs]))
            f = float(np.mean([o.f_mean for o in objs]))
            out.append({"Sequence": seq, "Objects": len(objs), "J&F-Mean": (j + f) / 2, "J-Mean": j, "F-Mean": f})
        return out

    def format(self, title: str = "") -> str:
        """The printed report: global scores, then per object (``<seq>_<id>`` rows as the official tool)."""
        head = f"--------------------------- Global results{(' for ' + title) if title else ''} ---------------------------"
        g = self.global_scores
        parts = [head, text_table([g], GLOBAL_COLUMNS), "",
                 f"---------- Per sequence and object results{(' for ' + title) if title else ''} ----------",
                 text_table(self.object_rows(), OBJECT_COLUMNS)]
        return "\n".join(parts)

    def write_csvs(self, out_dir: str | os.PathLike, split: str) -> tuple[Path, Path]:
        """``global_results-<split>.csv`` and ``per-sequence_results-<split>.csv`` (the official names)."""
        out = Path(out_dir)
        g = write_csv(out / f"global_results-{split}.csv", [self.global_scores], GLOBAL_COLUMNS, digits=3)
        s = write_csv(out / f"per-sequence_results-{split}.csv", self.object_rows(), OBJECT_COLUMNS, digits=3)
        return g, s


def read_result_labels(results_dir: Path, seq: VOSSequence, frames: Sequence[int]) -> np.ndarray:
    """``(len(frames), H, W)`` uint8 result label maps of ``seq``; missing files are errors naming them."""
    folder = results_dir / seq.name
    if not folder.is_dir():
        raise UsageError(f"results for sequence {seq.name!r} are missing: {folder} does not exist")
    out = []
    for t in frames:
        path = folder / f"{seq.frame_names[t]}.png"
        if not path.is_file():
            raise UsageError(f"sequence {seq.name!r}: result frame {path.name} is missing from {folder}")
        out.append(read_annotation(path))
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise UsageError(f"sequence {seq.name!r}: result PNGs differ in size {sorted(shapes)}")
    return np.stack(out)


def score_results_sequence(results_dir: Path, seq: VOSSequence, exclude_first_last: bool = True) -> list[ObjectScore]:
    """Score one sequence's result PNGs against its annotations."""
    frames = seq.eval_frames
    scored = frames[1:-1] if exclude_first_last else frames
    if not scored:  # a sequence of at most two frames has nothing to score
        return score_sequence(seq.name, np.zeros((0, 1, 1), np.uint8), np.zeros((0, 1, 1), np.uint8),
                              seq.object_ids, exclude_first_last=False)
    gt = np.stack([seq.annotation(t) for t in scored])
    pred = read_result_labels(results_dir, seq, scored)
    if pred.shape[1:] != gt.shape[1:]:
        raise UsageError(f"sequence {seq.name!r}: results are {pred.shape[2]}x{pred.shape[1]} but the annotations "
                         f"are {gt.shape[2]}x{gt.shape[1]}")
    ids = set(seq.object_ids)
    labels = set(int(v) for v in np.unique(pred)) - {0}
    unknown = sorted(labels - ids)
    if unknown:
        raise UsageError(f"sequence {seq.name!r}: results contain label {unknown[0]}, which is no object of this "
                         f"sequence (objects: {', '.join(map(str, seq.object_ids))})")
    absent = sorted(ids - labels)
    if absent:
        # an object may be lost on every scored frame; but if no result PNG has it at all, the results
        # belong to something else (wrong ids, a wrong dataset): refuse rather than score it 0
        present_anywhere = set()
        folder = results_dir / seq.name
        for t in (frames[0], frames[-1]) if frames else ():
            p = folder / f"{seq.frame_names[t]}.png"
            if p.is_file():
                present_anywhere |= set(int(v) for v in np.unique(read_annotation(p)))
        missing = [i for i in absent if i not in present_anywhere]
        if missing:
            raise UsageError(f"sequence {seq.name!r}: object {missing[0]} is missing from every result PNG in "
                             f"{folder}")
    return score_sequence(seq.name, gt, pred, seq.object_ids, exclude_first_last=False)


def score_results(results_dir: str | os.PathLike, dataset: VOSDataset, sequences: Optional[Iterable[str]] = None,
                  progress: bool = False) -> ScoreReport:
    """Score the result PNGs under ``results_dir`` for every sequence of ``dataset`` (or ``sequences``)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UsageError(f"results folder {results_dir} does not exist")
    if not dataset.scored_locally:
        from sampt.evaluation.writers import SERVER_NOTE

        raise UsageError(f"{dataset.name} {dataset.split} has no public annotations to score against. {SERVER_NOTE}")
    names = list(sequences) if sequences else dataset.sequences
    it = names
    if progress:
        from tqdm import tqdm

        it = tqdm(names, desc="scoring", unit="seq")
    objects: list[ObjectScore] = []
    for name in it:
        objects.extend(score_results_sequence(results_dir, dataset.sequence(name), dataset.exclude_first_last))
    return ScoreReport(objects)
