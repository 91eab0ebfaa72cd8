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
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.datasets import VOSDataset, VOSSequence, read_annotation
from sampt.evaluation.davis.metrics import GLOBAL_COLUMNS, ObjectScore, global_scores, score_sequence
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


def scored_frames(seq: VOSSequence, object_id: int, exclude_first_last: bool = True) -> list[int]:
    """The frames an object is scored on: after the frame it is prompted on (DAVIS: frame 0, which the
    official protocol leaves out), and without the sequence's last frame when ``exclude_first_last``."""
    last = seq.eval_frames[-1] if seq.eval_frames else None
    return [t for t in seq.eval_frames
            if t > seq.first_frames[object_id] and not (exclude_first_last and t == last)]


def score_label_maps(seq: VOSSequence, prediction: Callable[[int], np.ndarray], exclude_first_last: bool = True,
                     check_missing: Optional[Callable[[], set]] = None) -> list[ObjectScore]:
    """Score one sequence given ``prediction(t)``, the ``(H, W)`` label map of frame index ``t``.

    Each object is scored on :func:`scored_frames` (for DAVIS every object on frames 1..T-2, as the
    official evaluation). Labels that are no object of the sequence are errors, and so is an object that
    ``check_missing()`` (the labels present anywhere in the results) does not contain.
    """
    per_object = {oid: scored_frames(seq, oid, exclude_first_last) for oid in seq.object_ids}
    needed = sorted(set().union(*per_object.values())) if per_object else []
    gt = {t: seq.annotation(t) for t in needed}
    pred = {t: prediction(t) for t in needed}
    for t in needed:
        if pred[t].shape != gt[t].shape:
            raise UsageError(f"sequence {seq.name!r}: the result of frame {seq.frame_names[t]} is "
                             f"{pred[t].shape[1]}x{pred[t].shape[0]} but the annotation is "
                             f"{gt[t].shape[1]}x{gt[t].shape[0]}")
    ids = set(seq.object_ids)
    labels = set()
    for t in needed:
        labels |= set(int(v) for v in np.unique(pred[t]))
    labels.discard(0)
    unknown = sorted(labels - ids)
    if unknown:
        raise UsageError(f"sequence {seq.name!r}: results contain label {unknown[0]}, which is no object of this "
                         f"sequence (objects: {', '.join(map(str, seq.object_ids))})")
    absent = sorted(ids - labels)
    if absent and check_missing is not None:
        # an object may be lost on every scored frame; but if no result has it at all, the results belong
        # to something else (wrong ids, a wrong dataset): refuse rather than score it 0
        present = labels | check_missing()
        missing = [i for i in absent if i not in present]
        if missing:
            raise UsageError(f"sequence {seq.name!r}: object {missing[0]} is missing from every result PNG")
    scores = []
    for oid, frames in per_object.items():
        g = np.stack([gt[t] == oid for t in frames])[None] if frames else np.zeros((1, 0, 1, 1), bool)
        p = np.stack([pred[t] == oid for t in frames])[None] if frames else np.zeros((1, 0, 1, 1), bool)
        scores.extend(score_sequence(seq.name, g, p, [oid], exclude_first_last=False))
    return scores


def score_results_sequence(results_dir: Path, seq: VOSSequence, exclude_first_last: bool = True) -> list[ObjectScore]:
    """Score one sequence's result PNGs (``results_dir/<seq>/<frame>.png``) against its annotations."""
    folder = results_dir / seq.name
    if not folder.is_dir():
        raise UsageError(f"results for sequence {seq.name!r} are missing: {folder} does not exist")

    def prediction(t: int) -> np.ndarray:
        labels = read_result_labels(results_dir, seq, [t])[0]
        # DAVIS 2016 is single-object: any foreground (e.g. 0/255 binary PNGs) is the object
        return (labels > 0).astype(np.uint8) if seq.merge_objects else labels

    def present_anywhere() -> set:
        found: set = set()
        for p in folder.glob("*.png"):
            found |= set(int(v) for v in np.unique(read_annotation(p)))
        return found

    return score_label_maps(seq, prediction, exclude_first_last, check_missing=present_anywhere)


def run_folder_sequences(results_dir: str | os.PathLike) -> Optional[tuple[Path, list[str]]]:
    """For the folder of a ``sampt run`` (it holds result.json and ``masks/<sequence>/``): its ``masks``
    folder and the sequences in it; None for any other folder."""
    folder = Path(results_dir)
    if not ((folder / "result.json").is_file() and (folder / "masks").is_dir()):
        return None
    names = sorted(p.name for p in (folder / "masks").iterdir() if p.is_dir() and not p.name.startswith("."))
    return folder / "masks", names


def score_results(results_dir: str | os.PathLike, dataset: VOSDataset, sequences: Optional[Iterable[str]] = None,
                  progress: bool = False) -> ScoreReport:
    """Score the result PNGs under ``results_dir`` for every sequence of ``dataset`` (or ``sequences``)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UsageError(f"results folder {results_dir} does not exist")
    if dataset.kind == "youtubevos" and (results_dir / "Annotations").is_dir():
        results_dir = results_dir / "Annotations"  # the submission layout
    if not dataset.scored_locally:
        from sampt.evaluation.writers import SERVER_NOTE

        note = SERVER_NOTE if dataset.kind == "youtubevos" else "It is scored by the DAVIS challenge server."
        raise UsageError(f"{dataset.name} {dataset.split} has no public annotations to score against. {note}")
    names = list(sequences) if sequences else dataset.sequences
    from sampt.progress import progress_bar

    it = progress_bar(names, desc="scoring", unit="seq", enabled=progress)
    objects: list[ObjectScore] = []
    for name in it:
        objects.extend(score_results_sequence(results_dir, dataset.sequence(name), dataset.exclude_first_last))
    return ScoreReport(objects)
