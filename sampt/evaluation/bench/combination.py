"""One combination of a ``sampt bench`` grid, measured: how a combination is named (its tracker, segmenter,
options, or a whole method), the pipeline built under the bench's weights policy, timed and scored passes
over the sequences (:class:`CombinationBench`), and the loop over all combinations (:func:`run_grid`).

:mod:`sampt.evaluation.bench.run` plans a grid and runs it with these; :mod:`sampt.evaluation.vis.bench`
specialises :class:`CombinationBench` for video instance segmentation.
"""
from __future__ import annotations

import logging
import statistics
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator, Optional, Sequence

from sampt.evaluation.inference import predict_sequence
from sampt.evaluation.measure import STAGES, PeakMemory, Stopwatch
from sampt.interfaces import Tracker
from sampt.types import Tracks

log = logging.getLogger(__name__)

KEYED_ACCURACY = "n/a (keyed weights)"
"""What a row's accuracy columns read when a model ran on keyed (random) weights."""

METHOD_KEY = "method"
SAMPT_METHOD = "sampt"
"""``method=sampt``: the SAM-PT pipeline (the default); any other name is a registered whole method."""


def split_method(overrides: Sequence[str]) -> tuple[Optional[str], dict[str, Any], list[str]]:
    """``(method name or None, its options from method.KEY=VALUE, the other overrides)``; the last
    ``method=`` wins."""
    from sampt.config import parse_value

    name: Optional[str] = None
    options: dict[str, Any] = {}
    rest = []
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if sep and key == METHOD_KEY:
            name = value.strip()
        elif sep and key.startswith(METHOD_KEY + "."):
            options[key[len(METHOD_KEY) + 1:]] = parse_value(value.strip())
        else:
            rest.append(item)
    return name, options, rest


def is_whole_method(name: Optional[str]) -> bool:
    return name not in (None, "", SAMPT_METHOD)


def combination_name(overrides: Sequence[str]) -> tuple[str, str, str, str]:
    """``(name, tracker, segmenter, options)`` for a combination's overrides (a whole method is named
    by its name and options)."""
    method, method_options, rest = split_method(overrides)
    if is_whole_method(method):
        options = " ".join(f"{k}={v}" for k, v in method_options.items())
        return (f"{method} ({options})" if options else str(method)), "", "", options
    d = dict(o.split("=", 1) for o in rest)
    tracker, segmenter = d.pop("tracker", ""), d.pop("segmenter", "")
    options = " ".join(f"{k.replace('pipeline.', '')}={v}" for k, v in d.items())
    name = "+".join(x for x in (tracker, segmenter) if x) or "default"
    if options:
        name += f" ({options})"
    return name, tracker, segmenter, options


class CombinationBench:
    """Benchmark state of one grid combination: build the pipeline (:meth:`setup`, timed separately),
    :meth:`warm_up`, timed passes over every sequence (:meth:`run_pass`), then :meth:`results`.
    ``sequences`` holds ``(VOSSequence, Video, prompts)``; ``common`` overrides apply to every combination,
    ``combo`` are this combination's own (they name it)."""

    accuracy_columns: tuple[str, ...] = ("J&F", "J", "F")  #: the accuracy its result rows report

    def __init__(self, common: list[str], combo: list[str], sequences: list[tuple[Any, Any, list]],
                 config_file: Optional[str] = None, exclude_first_last: bool = True):
        from omegaconf import OmegaConf

        from sampt.config import compose

        self.combo, self.sequences, self.exclude_first_last = combo, sequences, exclude_first_last
        method, self.method_options, rest = split_method(list(common) + list(combo))
        self.method = method if is_whole_method(method) else None
        self.cfg = compose(rest, config_file=config_file)
        if self.method is not None:  # a whole method: its own config, with the run's seed
            self.cfg = OmegaConf.create({"method": {"name": self.method, **self.method_options},
                                         "seed": int(self.cfg.seed)})
        self.name = combination_name(combo)[0]
        self.pipeline: Any = None
        self.setup_seconds = 0.0
        self.totals: list[float] = []
        self.cpu_totals: list[float] = []
        self.stage_totals: dict[str, list[float]] = {s: [] for s in STAGES}
        self.object_scores: list = []
        self.per_sequence: list[dict] = []
        self.peak_rss = 0
        self.peak_rss_increase = 0
        self.peak_gpu: Optional[int] = None
        self.nodes: set[str] = set()
        self.measured: set[str] = set()  # sequences added by add_result (empty: run_pass measured them all)
        self.weights = "checkpoint"  #: the plan's :data:`WEIGHTS_CHOICES` (set by :func:`run_bench`)
        self.force_visible = False  #: wrap the tracker in :class:`ForcedVisibleTracker`
        self.keyed: list[str] = []  #: the models that got keyed weights (their checkpoints were missing)

    def setup(self) -> None:
        from sampt.config import build_pipeline

        with weights_policy(self.weights, int(self.cfg.seed)) as keyed, Stopwatch() as sw:
            self.pipeline = build_method(self.method, self.method_options, int(self.cfg.seed)) \
                if self.method is not None else build_pipeline(self.cfg)
        self.keyed = list(keyed.used) if keyed is not None else []
        if self.force_visible and self.method is None:
            self.pipeline.tracker = ForcedVisibleTracker(self.pipeline.tracker)
        self.setup_seconds = sw.seconds

    def warm_up(self, runs: int) -> None:
        _, video, prompts = self.sequences[0]
        for _ in range(runs):
            self.pipeline.run(video, prompts)

    def run_pass(self) -> None:
        """One timed pass over every sequence (in this process); the first pass is also scored."""
        first = not self.totals
        elapsed = cpu = 0.0
        stages = dict.fromkeys(STAGES, 0.0)
        with PeakMemory() as mem:
            for seq, video, prompts in self.sequences:
                pred = predict_sequence(self.pipeline, seq, video=video, prompts=prompts)
                elapsed += pred.seconds
                cpu += pred.cpu_seconds
                for s in STAGES:
                    stages[s] += float(pred.result.timings.get(s, 0.0))
                if first:
                    self._score(seq, len(video), len(prompts), pred.labels, pred.seconds)
                del pred
        self.totals.append(elapsed)
        self.cpu_totals.append(cpu)
        for s in STAGES:
            self.stage_totals[s].append(stages[s])
        self._memory(mem.peak, mem.peak - mem.start, mem.gpu_peak)

    def add_result(self, seq: Any, result: Any) -> None:
        """Add a sequence measured elsewhere (a :class:`~sampt.evaluation.executors.JobResult` of
        ``repeats`` runs): run ``r`` counts towards pass ``r``; its first run is scored."""
        video, prompts = next((v, p) for q, v, p in self.sequences if q.name == seq.name)
        self.measured.add(seq.name)
        for r, run in enumerate(result.runs):
            if r == len(self.totals):
                self.totals.append(0.0)
                self.cpu_totals.append(0.0)
                for s in STAGES:
                    self.stage_totals[s].append(0.0)
            self.totals[r] += run.seconds
            self.cpu_totals[r] += run.cpu_seconds
            for s in STAGES:
                self.stage_totals[s][r] += run.stages.get(s, 0.0)
        self._score(seq, len(video), len(prompts), result.labels, result.runs[0].seconds, node=result.node)
        self._memory(result.peak_rss, result.rss_increase, result.gpu_peak)
        self.setup_seconds = max(self.setup_seconds, result.setup_seconds)
        if result.node:
            self.nodes.add(result.node)

    def _score(self, seq: Any, frames: int, objects: int, labels: Any, seconds: float, node: str = "") -> None:
        from sampt.evaluation.davis.metrics import global_scores
        from sampt.evaluation.scorers import score_prediction

        if not seq.has_ground_truth:
            return
        index = {t: k for k, t in enumerate(seq.eval_frames)}
        scores = score_prediction(seq, lambda t: labels[index[t]], self.exclude_first_last)
        self.object_scores.extend(scores)
        g = global_scores(scores)
        row = {"name": self.name, "sequence": seq.name, "frames": frames, "objects": objects, "J&F": g["J&F-Mean"],
               "J": g["J-Mean"], "F": g["F-Mean"], "seconds": seconds}
        if node:
            row["node"] = node
        self.per_sequence.append(row)

    def _memory(self, peak: int, increase: int, gpu_peak: Optional[int]) -> None:
        self.peak_rss = max(self.peak_rss, peak)
        self.peak_rss_increase = max(self.peak_rss_increase, increase)
        if gpu_peak is not None:
            self.peak_gpu = max(self.peak_gpu or 0, gpu_peak)

    def release(self) -> None:
        self.pipeline = None

    def results(self) -> tuple[dict, list[dict], dict]:
        """The run row, per-sequence rows and the composed config."""
        from omegaconf import OmegaConf

        from sampt.evaluation.davis.metrics import global_scores

        name, tracker, segmenter, options = combination_name(self.combo)
        measured = [(q, v, p) for q, v, p in self.sequences if not self.measured or q.name in self.measured]
        frames = sum(len(v) for _, v, _ in measured)
        # in dataset order whatever order the sequences finished in, so every executor sums alike
        order = {q.name: k for k, (q, _, _) in enumerate(self.sequences)}
        self.object_scores.sort(key=lambda s: (order[s.sequence], s.object_id))
        self.per_sequence.sort(key=lambda r: order[r["sequence"]])
        g = global_scores(self.object_scores)
        totals = self.totals
        spf = [t / frames for t in totals]
        if self.method is None:
            tracker, segmenter = tracker or str(self.cfg.tracker.name), segmenter or str(self.cfg.segmenter.name)
        accuracy = {"J&F": g["J&F-Mean"], "J": g["J-Mean"], "F": g["F-Mean"]}
        if self.keyed:  # random weights: the scores say nothing
            accuracy = dict.fromkeys(accuracy, KEYED_ACCURACY)
        row = {
            "name": name, "method": self.method or SAMPT_METHOD, "tracker": tracker, "segmenter": segmenter,
            "options": options, **accuracy,
            "weights": "keyed" if self.keyed else "checkpoint", "keyed_models": list(self.keyed),
            "fps_median": frames / statistics.median(totals), "fps_best": frames / min(totals),
            "spf_min": min(spf), "spf_median": statistics.median(spf),
            "cpu_spf_median": statistics.median(self.cpu_totals) / frames,
            **{f"spf_{s}": statistics.median(self.stage_totals[s]) / frames for s in STAGES},
            "peak_rss_mib": self.peak_rss / 2**20, "rss_increase_mib": self.peak_rss_increase / 2**20,
            "peak_gpu_mib": (self.peak_gpu / 2**20) if self.peak_gpu is not None else None,
            "frames": frames, "sequences": len(measured),
            "objects": sum(len(p) for _, _, p in measured), "repeats": len(totals),
            "setup_s": self.setup_seconds, "seconds_per_pass": totals, "overrides": list(self.combo),
        }
        if self.nodes:
            row["nodes"] = sorted(self.nodes)
        return row, self.per_sequence, OmegaConf.to_container(self.cfg, resolve=True)


@contextmanager
def weights_policy(weights: str, seed: int) -> Iterator[Optional[Any]]:
    """The bench's ``weights:`` choice around building components: with ``keyed_if_missing`` a
    :func:`sampt.keyed.keyed_weights_if_missing` block (yields its record), else nothing (yields None)."""
    if weights == "keyed_if_missing":
        from sampt.keyed import keyed_weights_if_missing

        with keyed_weights_if_missing(seed) as record:
            yield record
    else:
        yield None


class ForcedVisibleTracker(Tracker):
    """A benchmark-only wrapper (bench config ``force_visible: true``): the wrapped tracker's tracks with
    every point reported visible and kept inside the frame, so every object is prompted on every frame and
    the segmenter encodes and decodes every frame. With keyed (random) tracker weights the points are
    otherwise mostly invisible, nothing is prompted, and the encoding and decoding columns would read zero.
    The tracker's own work is unchanged; its visibility output is what is overridden."""

    def __init__(self, tracker: Tracker):
        self.inner = tracker
        self.capabilities = replace(tracker.capabilities, online=False)

    def _track(self, video: Any, queries: Any) -> Tracks:
        import numpy as np

        tracks = self.inner.track(video, queries)
        points = np.nan_to_num(tracks.points, nan=0.0, posinf=0.0, neginf=0.0)
        points = np.clip(points, 0, [video.width - 1, video.height - 1]).astype(np.float32)
        return Tracks(points, np.ones(tracks.visibility.shape, bool), tracks.confidence)


def build_method(name: str, options: dict[str, Any], seed: int) -> Any:
    """A registered whole method built with ``options`` (and the run's ``seed`` when it takes one)."""
    from sampt.plugins import Registry

    registry = Registry()
    params = registry.entry("method", name).parameters()
    if "seed" in params and "seed" not in options:
        options = {**options, "seed": seed}
    return registry.create("method", name, **options)


def run_grid(benches: list[CombinationBench], repeats: int, warmup: int, interleave: bool = False,
             bar: Any = None) -> None:
    """Run every combination: one after another (each pipeline built, measured and released in turn), or
    ``interleave``d (all pipelines built first, then pass ``r`` of every combination before pass ``r + 1``,
    so a change in machine load affects all combinations alike; memory then includes every pipeline)."""
    if interleave:
        for b in benches:
            b.setup()
            b.warm_up(warmup)
        for _ in range(repeats):
            for b in benches:
                if bar is not None:
                    bar.set_postfix_str(b.name, refresh=False)
                b.run_pass()
                if bar is not None:
                    bar.update(1)
        for b in benches:
            b.release()
        return
    for b in benches:
        if bar is not None:
            bar.set_postfix_str(b.name, refresh=False)
        b.setup()
        b.warm_up(warmup)
        for _ in range(repeats):
            b.run_pass()
            if bar is not None:
                bar.update(1)
        b.release()
