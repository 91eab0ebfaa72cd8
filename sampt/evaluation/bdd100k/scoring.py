"""Score BDD100K VOS result PNGs (``RESULTS/<seq>/<frame>.png``, every frame) with the visibility-duration
buckets of :mod:`sampt.evaluation.bdd100k.metrics`; writes the official ``global_results.csv`` and
``per-sequence_results.csv`` (one row per object, ``<seq>_<id>``) with the split appended to the names."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.datasets import VOSDataset, VOSSequence
from sampt.evaluation.bdd100k.metrics import (GLOBAL_COLUMNS, LONG_MIN, OBJECT_COLUMNS, SHORT_MAX, VisibilityScore,
                                              global_scores, score_object)
from sampt.evaluation.report import text_table, write_csv
from sampt.evaluation.davis.scoring import ScoreReport, read_result_labels

SUMMARY_COLUMNS = ("J&F-Mean", "J-Mean", "F-Mean", "J&F-Mean-Short", "J&F-Mean-Medium", "J&F-Mean-Long",
                   "J&F-Mean-Vis", "J&F-Mean-NonVis")


@dataclass
class BDD100KReport(ScoreReport):
    """A :class:`~sampt.evaluation.davis.scoring.ScoreReport` of :class:`VisibilityScore` objects, with the
    bucketed dataset-level averages."""

    objects: list[VisibilityScore]
    short_max: int = SHORT_MAX
    long_min: int = LONG_MIN

    @property
    def global_scores(self) -> dict[str, float]:
        return global_scores(self.objects, self.short_max, self.long_min)

    def object_rows(self) -> list[dict]:
        rows = [o.row(self.short_max, self.long_min) for o in self.objects]
        for r in rows:
            r["Sequence"] = f"{r['Sequence']}_{r.pop('Object')}"
        return rows

    def format(self, title: str = "") -> str:
        g = self.global_scores
        columns = [c for c in OBJECT_COLUMNS if c != "Object"]
        return "\n".join([
            f"--------------------------- Global results{(' for ' + title) if title else ''} ---------------------------",
            text_table([g], SUMMARY_COLUMNS), "",
            f"(buckets by visible frames: short < {self.short_max} <= medium < {self.long_min} <= long)", "",
            "---------- Per object results ----------", text_table(self.object_rows(), columns)])

    def write_csvs(self, out_dir: str | os.PathLike, split: str) -> tuple[Path, Path]:
        out = Path(out_dir)
        g = write_csv(out / f"global_results-{split}.csv", [self.global_scores], GLOBAL_COLUMNS, digits=3)
        s = write_csv(out / f"per-sequence_results-{split}.csv", self.object_rows(),
                      [c for c in OBJECT_COLUMNS if c != "Object"], digits=3)
        return g, s


def score_bdd100k_sequence(seq: VOSSequence, prediction: np.ndarray) -> list[VisibilityScore]:
    """Score one sequence from its ``(T, H, W)`` predicted label maps of every frame."""
    prediction = np.asarray(prediction)
    if len(prediction) != len(seq):
        raise UsageError(f"sequence {seq.name!r}: {len(prediction)} predicted frames for {len(seq)} frames")
    gt = np.stack([seq.annotation(t) for t in range(len(seq))])
    if prediction.shape != gt.shape:
        raise UsageError(f"sequence {seq.name!r}: results are {prediction.shape[2]}x{prediction.shape[1]} but the "
                         f"annotations are {gt.shape[2]}x{gt.shape[1]}")
    unknown = sorted(set(int(v) for v in np.unique(prediction)) - set(seq.object_ids) - {0})
    if unknown:
        raise UsageError(f"sequence {seq.name!r}: results contain label {unknown[0]}, which is no object of this "
                         f"sequence (objects: {', '.join(map(str, seq.object_ids))})")
    return [score_object(seq.name, oid, gt == oid, prediction == oid) for oid in seq.object_ids]


def score_bdd100k_results(results_dir: str | os.PathLike, dataset: VOSDataset,
                          sequences: Optional[Iterable[str]] = None, progress: bool = False,
                          short_max: int = SHORT_MAX, long_min: int = LONG_MIN) -> BDD100KReport:
    """Score ``results_dir/<seq>/<frame>.png`` (every frame) against a BDD100K dataset."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise UsageError(f"results folder {results_dir} does not exist")
    names = list(sequences) if sequences else dataset.sequences
    it: Iterable[str] = names
    if progress:
        from tqdm import tqdm

        it = tqdm(names, desc="scoring", unit="seq")
    objects: list[VisibilityScore] = []
    for name in it:
        seq = dataset.sequence(name)
        objects.extend(score_bdd100k_sequence(seq, read_result_labels(results_dir, seq, range(len(seq)))))
    return BDD100KReport(objects, short_max, long_min)
