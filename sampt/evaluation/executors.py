"""Where evaluation and benchmark work runs: ``executor=local`` (this process, one sequence after another)
or ``executor=ray`` (a Ray cluster: :mod:`sampt.evaluation.ray_executor`).

The unit of work is a :class:`Job`: one sequence under one combination (a composed config). Both
executors run it through the same :class:`Worker` (which builds the combination's pipeline once and reuses it
for every sequence), so they produce the same labels; results come back to the caller's ``on_result`` one
:class:`JobResult` at a time, as they finish, and the caller writes them. Options come from the command
line as ``executor=ray executor.address=auto executor.workers=8 executor.gpus_per_task=1 ...``.
"""
from __future__ import annotations

import importlib
import logging
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.evaluation.inference import SequenceInput, predict_sequence
from sampt.evaluation.measure import STAGES, PeakMemory, Stopwatch

log = logging.getLogger(__name__)

EXECUTORS = {"local": "sampt.evaluation.executors:LocalExecutor", "ray": "sampt.evaluation.ray_executor:RayExecutor"}
"""``executor=NAME`` -> the class that runs jobs, as ``module:Class`` (imported when chosen)."""


@dataclass
class ExecutorSpec:
    """Which executor, and its options (``executor.<option>=value`` on the command line).

    ``address``: an existing Ray cluster (``auto``, ``ray://head:10001``; default: start Ray on this
    machine); ``workers``: actors running at once (default: as many as the cluster's CPUs, or GPUs with
    ``gpus_per_task``, allow); ``cpus_per_task`` / ``gpus_per_task``: resources each actor reserves;
    ``max_retries``: how often a failed or lost sequence is tried again before it is reported as failed."""

    name: str = "local"
    address: Optional[str] = None
    workers: Optional[int] = None
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0
    max_retries: int = 2

    def validate(self) -> "ExecutorSpec":
        if self.name not in EXECUTORS:
            raise UsageError(f"executor={self.name!r} is not one of {', '.join(EXECUTORS)}")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"executor.workers must be >= 1 (got {self.workers})")
        if self.cpus_per_task < 0 or self.gpus_per_task < 0 or self.cpus_per_task + self.gpus_per_task == 0:
            raise UsageError("executor.cpus_per_task and executor.gpus_per_task must be >= 0, not both 0 "
                             f"(got {self.cpus_per_task}, {self.gpus_per_task})")
        if self.max_retries < 0:
            raise UsageError(f"executor.max_retries must be >= 0 (got {self.max_retries})")
        return self


OPTION_TYPES = {"address": str, "workers": int, "cpus_per_task": float, "gpus_per_task": float, "max_retries": int}
"""``executor.<option>`` -> how its value is read."""


def split_executor_overrides(overrides: Sequence[str]) -> tuple[ExecutorSpec, list[str]]:
    """Take ``executor=NAME`` and ``executor.<option>=VALUE`` out of the overrides: ``(spec, the rest)``."""
    values: dict[str, Any] = {}
    rest = []
    for item in overrides:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not (key == "executor" or key.startswith("executor.")):
            rest.append(item)
            continue
        if key == "executor":
            values["name"] = value
            continue
        option = key[len("executor."):]
        if option not in OPTION_TYPES:
            known = ", ".join(f"executor.{n}" for n in OPTION_TYPES)
            raise UsageError(f"unknown executor option {key!r} (executor=local|ray, {known})")
        if value.lower() in ("null", "none", ""):
            values.pop(option, None)  # back to the default
            continue
        try:
            values[option] = OPTION_TYPES[option](value)
        except ValueError:
            raise UsageError(f"{key}={value}: expected a number") from None
    return ExecutorSpec(**values).validate(), rest


# -- the work ---------------------------------------------------------------------------------------

@dataclass
class Job:
    """One sequence under one combination. ``load`` reads the sequence (on the driver, when the job is
    about to run); ``repeats`` timed runs follow ``warmup`` untimed ones (a worker warms up once)."""

    combo: str
    config: Any
    sequence: str
    load: Callable[[], SequenceInput]
    repeats: int = 1
    warmup: int = 0


@dataclass
class RunTiming:
    """Wall-clock and CPU seconds of one ``SamPt.run``, and its stages' seconds."""

    seconds: float
    cpu_seconds: float
    stages: dict[str, float]


@dataclass
class JobResult:
    """A finished job: label maps of the first timed run ``(len(eval_frames), H, W)`` uint8, every timed
    run's timing, peak memory during the runs (bytes), the host that measured them, the worker's pipeline
    build time, and how many attempts it took."""

    combo: str
    sequence: str
    labels: np.ndarray
    runs: list[RunTiming]
    peak_rss: int = 0
    rss_increase: int = 0
    gpu_peak: Optional[int] = None
    node: str = ""
    setup_seconds: float = 0.0
    attempts: int = 1


@dataclass
class Failure:
    """A job given up after ``attempts`` tries, with the last error."""

    combo: str
    sequence: str
    attempts: int
    error: str


@dataclass
class ExecutionSummary:
    """How a run went: executor, workers, jobs done, retries, failures (never dropped silently), wall time
    and the Ray dashboard's address when there is one."""

    executor: str
    workers: int
    done: int = 0
    retries: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    dashboard_url: Optional[str] = None

    def describe(self) -> str:
        text = (f"executor {self.executor}, {self.workers} worker(s): {self.done} sequence run(s) done in "
                f"{self.seconds:.1f}s, {self.retries} retried, {len(self.failures)} failed")
        return text + (f"; dashboard {self.dashboard_url}" if self.dashboard_url else "")


class Worker:
    """One combination's pipeline, built once from its config and reused for every sequence given to it.
    In-process for ``executor=local``; the body of each Ray actor for ``executor=ray``."""

    def __init__(self, config: Any):
        from sampt.config import build_pipeline

        with Stopwatch() as sw:
            self.pipeline = build_pipeline(config)
        self.setup_seconds = sw.seconds
        self.warmed = False

    def run(self, inp: SequenceInput, repeats: int = 1, warmup: int = 0, combo: str = "") -> JobResult:
        """Run the sequence ``repeats`` times (after ``warmup`` untimed runs on this worker's first
        sequence) and return the first run's labels with every run's timings."""
        if not self.warmed:
            for _ in range(warmup):
                self.pipeline.run(inp.video, inp.prompts)
            self.warmed = True
        runs, labels = [], None
        with PeakMemory() as mem:
            for _ in range(max(1, repeats)):
                pred = predict_sequence(self.pipeline, inp, video=inp.video, prompts=inp.prompts)
                runs.append(RunTiming(pred.seconds, pred.cpu_seconds,
                                      {s: float(pred.result.timings.get(s, 0.0)) for s in STAGES}))
                if labels is None:
                    labels = pred.labels
                del pred
        return JobResult(combo, inp.name, labels, runs, mem.peak, mem.peak - mem.start, mem.gpu_peak,
                         platform.node(), self.setup_seconds)


class JobProgress:
    """A progress bar over all jobs, showing each combination's ``done/total`` (off: does nothing)."""

    def __init__(self, jobs: Sequence[Job], enabled: bool = True, desc: str = "sequences"):
        self.total = Counter(j.combo for j in jobs)
        self.done: Counter = Counter()
        self.bar = None
        if enabled and jobs:
            from tqdm import tqdm

            self.bar = tqdm(total=len(jobs), desc=desc, unit="seq")

    def update(self, combo: str) -> None:
        self.done[combo] += 1
        if self.bar is not None:
            if len(self.total) > 1:
                self.bar.set_postfix_str(", ".join(f"{c}: {self.done[c]}/{n}" for c, n in self.total.items()),
                                         refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class LocalExecutor:
    """Runs jobs in this process, in order, one combination's pipeline at a time. A job's error is raised
    as it is (nothing to retry: the same input fails the same way in the same process)."""

    name = "local"

    def __init__(self, spec: Optional[ExecutorSpec] = None, workers: Optional[dict[str, "Worker"]] = None):
        self.spec = spec or ExecutorSpec()
        self.prebuilt = dict(workers or {})  # combination -> a Worker built beforehand (its checks done early)

    def run(self, jobs: Iterable[Job], on_result: Callable[[JobResult], None], progress: bool = True) -> ExecutionSummary:
        jobs = list(jobs)
        summary = ExecutionSummary(self.name, 1)
        bar = JobProgress(jobs, progress)
        worker: Optional[Worker] = None
        current = None
        start = time.perf_counter()
        try:
            for job in jobs:
                if current != job.combo:
                    worker = None  # release the previous combination's models first
                    worker, current = self.prebuilt.pop(job.combo, None) or Worker(job.config), job.combo
                on_result(worker.run(job.load(), job.repeats, job.warmup, job.combo))
                summary.done += 1
                bar.update(job.combo)
        finally:
            bar.close()
        summary.seconds = time.perf_counter() - start
        return summary

    def close(self) -> None:
        pass


def make_executor(spec: ExecutorSpec) -> Any:
    """The executor ``spec`` names, built from :data:`EXECUTORS` (Ray is imported only for ``executor=ray``)."""
    module, _, name = EXECUTORS[spec.name].partition(":")
    return getattr(importlib.import_module(module), name)(spec)
