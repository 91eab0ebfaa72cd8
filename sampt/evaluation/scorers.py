"""Which scoring a dataset gets: one place that picks the protocol, so the commands, ``sampt eval`` and
the benchmark score every dataset alike.

* DAVIS, MOSE, YouTube-VOS train: :mod:`sampt.evaluation.davis.scoring` (the official DAVIS evaluation);
* YouTube-VOS valid/test with a local copy of the annotations: the same, plus G over seen and unseen
  categories (:mod:`sampt.evaluation.youtubevos.scoring`);
* BDD100K: every frame, with visibility-duration buckets (:mod:`sampt.evaluation.bdd100k.scoring`).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Optional

import numpy as np

from sampt.evaluation.bdd100k.scoring import score_bdd100k_results, score_bdd100k_sequence
from sampt.evaluation.datasets import VOSDataset, VOSSequence
from sampt.evaluation.davis.scoring import score_label_maps, score_results
from sampt.evaluation.youtubevos.scoring import with_seen_unseen


def _score_youtubevos(results_dir: str | os.PathLike, dataset: VOSDataset, sequences: Optional[Iterable[str]],
                      progress: bool) -> Any:
    return with_seen_unseen(score_results(results_dir, dataset, sequences, progress), dataset)


#: a dataset's ``protocol`` attribute -> its scorer (results folder, dataset, sequences, progress) -> report
SCORERS: dict[str, Callable[..., Any]] = {
    "davis": score_results,
    "youtubevos": _score_youtubevos,
    "bdd100k": score_bdd100k_results,
}


def score_dataset(results_dir: str | os.PathLike, dataset: VOSDataset, sequences: Optional[Iterable[str]] = None,
                  progress: bool = False) -> Any:
    """Score result PNGs under ``results_dir`` with ``dataset``'s protocol; a report with ``format()``,
    ``write_csvs()``, ``sequence_rows()`` and ``global_scores``."""
    return SCORERS[dataset.protocol](results_dir, dataset, sequences, progress)


def score_prediction(seq: VOSSequence, prediction: Callable[[int], np.ndarray],
                     exclude_first_last: bool = True) -> list:
    """Per-object scores of one sequence from ``prediction(t)`` label maps, with the sequence's protocol
    (objects with ``j_mean`` / ``f_mean`` / recall / decay, as :func:`sampt.evaluation.davis.metrics.global_scores`
    averages them)."""
    if seq.protocol == "bdd100k":  # every frame at once (visibility buckets); the others frame by frame
        return score_bdd100k_sequence(seq, np.stack([prediction(t) for t in range(len(seq))]))
    return score_label_maps(seq, prediction, exclude_first_last)
