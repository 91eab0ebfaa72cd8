"""``sampt bench --dataset uvo``: the speed/accuracy grid for video instance segmentation.

Each combination runs the whole VIS mode per video (proposals on frame 0, or the given ones, then SAM-PT on
every proposal, then track NMS; :func:`sampt.evaluation.vis.predict.predict_vis_video`), timed like the VOS bench;
accuracy is the class-agnostic AP, AP50 and AR10 of the first timed pass. Proposal generation is timed as
part of the pipeline (its seconds are counted in the ``other`` stage). ``vis.KEY=VALUE`` and
``proposals=FILE`` among the overrides set the VIS options for every combination.
"""
from __future__ import annotations

import time
from typing import Any, Optional

from sampt.evaluation.bench.combination import CombinationBench
from sampt.evaluation.measure import STAGES, PeakMemory
from sampt.evaluation.vis.predict import VISOptions, predict_vis_video

ACCURACY_COLUMNS = ("AP", "AP50", "AR10")


class VISCombinationBench(CombinationBench):
    """One grid combination on a VIS dataset; ``sequences`` holds ``(VISVideo, Video, proposals)``, the
    proposals a list of :class:`~sampt.evaluation.vis.proposals.Proposal` or ``None`` (generated)."""

    accuracy_columns = ACCURACY_COLUMNS

    def __init__(self, common: list[str], combo: list[str], sequences: list[tuple[Any, Any, Any]],
                 config_file: Optional[str] = None, options: Optional[VISOptions] = None):
        # the base class counts objects in the third element; proposals are kept apart (None: generated)
        super().__init__(common, combo, [(v, video, []) for v, video, _ in sequences], config_file,
                         exclude_first_last=False)
        self.proposals = [p for _, _, p in sequences]
        self.options = (options or VISOptions()).validate()
        self.matches: list = []
        self.num_tracks = 0

    def warm_up(self, runs: int) -> None:
        _, video, _ = self.sequences[0]
        for _ in range(runs):
            predict_vis_video(self.pipeline, video, self.options, self.proposals[0])

    def run_pass(self) -> None:
        """One timed pass over every video; the first pass is also scored."""
        from sampt.evaluation.vis.metrics import vis_scores
        from sampt.evaluation.vis.scoring import video_matches

        first = not self.totals
        elapsed = cpu = 0.0
        stages = dict.fromkeys(STAGES, 0.0)
        with PeakMemory() as mem:
            for (v, video, _), proposals in zip(self.sequences, self.proposals):
                start, cpu_start = time.perf_counter(), time.process_time()
                pred = predict_vis_video(self.pipeline, video, self.options, proposals)
                seconds = time.perf_counter() - start
                elapsed += seconds
                cpu += time.process_time() - cpu_start
                for s in STAGES:
                    stages[s] += float(pred.timings.get(s, 0.0))
                stages["other"] += pred.propose_seconds
                if first and v.instances:
                    m = video_matches(v, pred.results(v.id))
                    self.matches.append(m)
                    self.num_tracks += len(pred.tracks)
                    s = vis_scores([m])
                    self.per_sequence.append({"name": self.name, "sequence": v.name, "frames": len(video),
                                              "objects": len(pred.tracks), **{k: s[k] for k in ACCURACY_COLUMNS},
                                              "seconds": seconds})
        self.totals.append(elapsed)
        self.cpu_totals.append(cpu)
        for s in STAGES:
            self.stage_totals[s].append(stages[s])
        self.peak_rss = max(self.peak_rss, mem.peak)
        self.peak_rss_increase = max(self.peak_rss_increase, mem.peak - mem.start)
        if mem.gpu_peak is not None:
            self.peak_gpu = max(self.peak_gpu or 0, mem.gpu_peak)

    def results(self) -> tuple[dict, list[dict], dict]:
        from sampt.evaluation.vis.metrics import vis_scores

        row, per_sequence, cfg = super().results()
        scores = vis_scores(self.matches) if self.matches else dict.fromkeys(ACCURACY_COLUMNS, float("nan"))
        for key in ("J&F", "J", "F"):
            row.pop(key, None)
        row.update({k: scores[k] for k in ACCURACY_COLUMNS})
        row["objects"] = self.num_tracks
        return row, per_sequence, cfg


def prepare_vis_benches(dataset: Any, common: list[str], combos: list[list[str]], config_file: Optional[str],
                        vis_items: dict[str, str], proposals_file: Optional[str]) -> list[VISCombinationBench]:
    """Decode every video (and read the proposals file) once, then one bench per combination
    (``vis_items``: the ``vis.KEY=VALUE`` options without their prefix)."""
    from sampt.errors import UsageError
    from sampt.evaluation.vis.proposals import proposals_for, read_proposals
    from sampt.evaluation.datasets.uvo import require_pycocotools

    require_pycocotools()
    options = VISOptions.from_overrides(vis_items)
    given = read_proposals(proposals_file) if proposals_file else None
    sequences = []
    for v in dataset:
        props = None
        if given is not None:
            props = proposals_for(given.get(str(v.id), given.get(v.name, [])), v.height, v.width, len(v))
        sequences.append((v, v.video(), props))
    if not sequences:
        raise UsageError("the benchmark dataset has no videos")
    return [VISCombinationBench(common, combo, sequences, config_file, options) for combo in combos]
