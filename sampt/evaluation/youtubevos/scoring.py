"""YouTube-VOS validation scoring against a local copy of the annotations: the DAVIS-style per-object
report plus the server's overall score G over seen and unseen categories
(:mod:`sampt.evaluation.youtubevos.metrics`). Seen categories are those of the training split's
``meta.json`` (``ROOT/train/meta.json`` or ``ROOT/meta_train.json``)."""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from sampt.errors import UsageError
from sampt.evaluation.youtubevos.metrics import G_COLUMNS, overall_scores
from sampt.evaluation.report import text_table, write_csv
from sampt.evaluation.davis.scoring import ScoreReport

log = logging.getLogger(__name__)


def seen_categories(root: str | os.PathLike) -> set[str]:
    """The categories of the training split (``train/meta.json`` or ``meta_train.json`` under ``root``)."""
    root = Path(root)
    for path in (root / "train" / "meta.json", root / "meta_train.json"):
        if path.is_file():
            try:
                videos = json.loads(path.read_text())["videos"]
                return {str(o["category"]) for v in videos.values() for o in v.get("objects", {}).values()
                        if "category" in o}
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise UsageError(f"{path} is not a YouTube-VOS meta file ({exc})") from exc
    raise UsageError(f"YouTube-VOS G needs the training split's categories to tell seen from unseen objects: "
                     f"put the train split's meta.json at {root / 'train' / 'meta.json'}")


@dataclass
class YouTubeVOSReport(ScoreReport):
    """A :class:`ScoreReport` whose objects are also split into seen / unseen categories."""

    seen: list[bool] = field(default_factory=list)

    @property
    def overall(self) -> dict[str, float]:
        return overall_scores(self.objects, self.seen)

    def format(self, title: str = "") -> str:
        head = f"------------------ YouTube-VOS overall{(' for ' + title) if title else ''} ------------------"
        return "\n".join([head, text_table([self.overall], G_COLUMNS), "", super().format(title)])

    def write_csvs(self, out_dir: str | os.PathLike, split: str) -> tuple[Path, Path]:
        g, s = super().write_csvs(out_dir, split)
        write_csv(Path(out_dir) / f"overall_results-{split}.csv", [self.overall], G_COLUMNS, digits=3)
        return g, s


def with_seen_unseen(report: ScoreReport, dataset) -> ScoreReport:
    """Attach each object's seen flag (its ``meta.json`` category among the training categories). Without
    the training split's meta.json the plain report comes back, with a warning saying what G needs."""
    try:
        seen = seen_categories(dataset.root)
    except UsageError as exc:
        log.warning("%s; reporting J&F without G", exc)
        return report
    categories = dataset.categories()
    missing = [o.name for o in report.objects if (o.sequence, o.object_id) not in categories]
    if missing:
        raise UsageError(f"{dataset.name} {dataset.split}: meta.json gives no category for object {missing[0]}")
    return YouTubeVOSReport(report.objects, [categories[(o.sequence, o.object_id)] in seen for o in report.objects])
