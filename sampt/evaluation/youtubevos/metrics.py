"""YouTube-VOS overall score G: J and F over seen and unseen categories, as the challenge server reports them.

* Per object: J and F (the DAVIS measures of :mod:`sampt.evaluation.davis.metrics`) on every annotated frame
  listed in ``meta.json`` after the frame the object first appears on (that frame is its prompt), up to
  and including the last annotated frame; the object's score is the mean over those frames.
* An object is **seen** when its category (``meta.json``) is one of the training split's categories,
  else **unseen**. ``J-Seen`` is the mean of the seen objects' J, and likewise ``F-Seen``, ``J-Unseen``,
  ``F-Unseen``; **G** is the mean of those four. A group without objects is NaN, and so is G then.

The server's code is not public; these definitions follow the YouTube-VOS paper and challenge pages
(per-object averages over the annotated frames, seen/unseen by training categories, G the mean of the
four numbers).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sampt.evaluation.davis.metrics import ObjectScore

G_COLUMNS = ("G", "J-Seen", "F-Seen", "J-Unseen", "F-Unseen")


def overall_scores(objects: Sequence[ObjectScore], seen: Sequence[bool]) -> dict[str, float]:
    """``G``, ``J-Seen``, ``F-Seen``, ``J-Unseen``, ``F-Unseen`` from per-object scores and whether each
    object's category is seen."""
    if len(objects) != len(seen):
        raise ValueError(f"{len(objects)} objects but {len(seen)} seen flags")

    def mean(values: list[float]) -> float:
        return float(np.mean(values)) if values else float("nan")

    out = {}
    for label, flag in (("Seen", True), ("Unseen", False)):
        group = [o for o, s in zip(objects, seen) if bool(s) == flag]
        out[f"J-{label}"] = mean([o.j_mean for o in group])
        out[f"F-{label}"] = mean([o.f_mean for o in group])
    out["G"] = (out["J-Seen"] + out["F-Seen"] + out["J-Unseen"] + out["F-Unseen"]) / 4
    return {k: out[k] for k in G_COLUMNS}
