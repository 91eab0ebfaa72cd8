"""``executor=ray``: jobs spread over a Ray cluster (``pip install 'sampt[ray]'``).

An actor per combination and device holds that combination's pipeline (built once, reused for each of its
sequences); the number of actors alive at once is the executor's ``workers``. A sequence's decoded video
goes into Ray's object store once (shared by every combination that runs it) and actors read it from there;
label maps come back the same way. Results are handed to the caller as they finish, so the caller writes
each sequence while others still run. A job whose actor dies (a killed worker, a lost node) or that raises
is tried again on a fresh or another actor, at most ``max_retries`` times, then reported as a failure.
"""
from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from sampt.errors import UsageError
from sampt.evaluation.executors import ExecutionSummary, ExecutorSpec, Failure, Job, JobProgress, JobResult, Worker

log = logging.getLogger(__name__)


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("executor=ray needs Ray: pip install 'sampt[ray]' (or pip install ray), "
                         "or use executor=local") from None
    return ray


class RayWorker(Worker):
    """The actor's class: a :class:`Worker` that can also say which process it is (for tests and logs)."""

    def pid(self) -> int:
        return os.getpid()


@dataclass
class _Actor:
    handle: Any
    combo: str
    pid: Any = None  # its process id, asked for at creation (answered before its first job runs)
    busy: bool = False


class RayExecutor:
    """Runs jobs on Ray actors; starts Ray on this machine unless ``spec.address`` names a cluster (or Ray is
    already initialised in this process, which is then used as it is)."""

    name = "ray"

    def __init__(self, spec: ExecutorSpec):
        self.spec = spec
        self.ray = _ray()
        self.dashboard_url: Optional[str] = None
        self._actors: list[_Actor] = []
        self._started_ray = False

    # -- cluster --------------------------------------------------------------------------------------
    def start(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": self.spec.address, "log_to_driver": True}
            try:
                context = ray.init(**kwargs)
            except ConnectionError as exc:
                raise UsageError(f"cannot reach the Ray cluster at executor.address={self.spec.address!r}: {exc}. "
                                 "Start it (ray start --head) or give its address, e.g. executor.address=auto "
                                 "on a node of the cluster, or ray://HEAD:10001") from None
            self._started_ray = True
            url = getattr(context, "dashboard_url", None)
            self.dashboard_url = f"http://{url}" if url and "://" not in url else (url or None)
        if self.dashboard_url:
            log.warning("Ray dashboard: %s", self.dashboard_url)

    def default_workers(self) -> int:
        """Actors at once: ``spec.workers``, else as many as the cluster's GPUs (with ``gpus_per_task``)
        or CPUs allow."""
        if self.spec.workers:
            return int(self.spec.workers)
        resources = self.ray.cluster_resources()
        if self.spec.gpus_per_task > 0:
            gpus = resources.get("GPU", 0)
            if gpus < self.spec.gpus_per_task:
                raise UsageError(f"executor.gpus_per_task={self.spec.gpus_per_task} but the Ray cluster has "
                                 f"{gpus:g} GPU(s)")
            return max(1, int(gpus // self.spec.gpus_per_task))
        return max(1, int(resources.get("CPU", 1) // max(self.spec.cpus_per_task, 1e-9)))

    def _new_actor(self, job: Job) -> _Actor:
        cls = self.ray.remote(num_cpus=self.spec.cpus_per_task, num_gpus=self.spec.gpus_per_task,
                              max_restarts=0)(RayWorker)
        handle = cls.remote(job.config)
        actor = _Actor(handle, job.combo, handle.pid.remote())
        self._actors.append(actor)
        return actor

    def _drop(self, actor: _Actor) -> None:
        if actor in self._actors:
            self._actors.remove(actor)
        try:
            self.ray.kill(actor.handle, no_restart=True)
        except Exception:  # already gone
            pass

    def worker_pids(self) -> list[int]:
        """Process ids of the live actors (a test kills one of them)."""
        return [self.ray.get(a.pid) for a in list(self._actors)]

    # -- running --------------------------------------------------------------------------------------
    def run(self, jobs: Iterable[Job], on_result: Callable[[JobResult], None], progress: bool = True) -> ExecutionSummary:
        ray = self.ray
        jobs = list(jobs)
        if not jobs:  # everything already done (a resumed run): no cluster needed
            return ExecutionSummary(self.name, 0)
        self.start()
        workers = self.default_workers()
        summary = ExecutionSummary(self.name, workers, dashboard_url=self.dashboard_url)
        bar = JobProgress(jobs, progress)
        pending = deque(jobs)
        users = {}  # sequence -> jobs not finished that need its input (inputs are shared across combinations)
        for j in jobs:
            users[j.sequence] = users.get(j.sequence, 0) + 1
        inputs: dict[str, Any] = {}
        attempts: dict[tuple[str, str], int] = {}
        in_flight: dict[Any, tuple[Job, _Actor]] = {}
        start = time.perf_counter()

        def finished(job: Job) -> None:
            users[job.sequence] -= 1
            if users[job.sequence] == 0:
                inputs.pop(job.sequence, None)  # frees it in the object store

        def actor_for(job: Job) -> Optional[_Actor]:
            for a in self._actors:
                if a.combo == job.combo and not a.busy:
                    return a
            if len(self._actors) >= workers:  # make room: an idle actor whose combination has no work left
                waiting = {j.combo for j in pending}
                idle = [a for a in self._actors if not a.busy and a.combo not in waiting]
                if not idle:
                    return None
                self._drop(idle[0])
            return self._new_actor(job)

        try:
            while pending or in_flight:
                while pending:
                    actor = actor_for(pending[0])
                    if actor is None:
                        break
                    job = pending.popleft()
                    if job.sequence not in inputs:
                        inputs[job.sequence] = ray.put(job.load())
                    actor.busy = True
                    ref = actor.handle.run.remote(inputs[job.sequence], job.repeats, job.warmup, job.combo)
                    in_flight[ref] = (job, actor)
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                for ref in ready:
                    job, actor = in_flight.pop(ref)
                    key = (job.combo, job.sequence)
                    attempts[key] = attempts.get(key, 0) + 1
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the job raised; the actor lives on
                        actor.busy = False
                        self._retry_or_fail(job, attempts[key], exc, pending, summary, finished)
                        continue
                    except ray.exceptions.RayError as exc:  # the actor died (killed, lost node, ...)
                        self._drop(actor)  # its models go with it; a fresh actor is built on demand
                        self._retry_or_fail(job, attempts[key], exc, pending, summary, finished)
                        continue
                    actor.busy = False
                    result.attempts = attempts[key]
                    on_result(result)
                    summary.done += 1
                    bar.update(job.combo)
                    finished(job)
        finally:
            bar.close()
            for actor in list(self._actors):
                self._drop(actor)
        summary.seconds = time.perf_counter() - start
        return summary

    def _retry_or_fail(self, job: Job, tried: int, exc: BaseException, pending: deque, summary: ExecutionSummary,
                       finished: Callable[[Job], None]) -> None:
        error = _short_error(exc)
        if tried <= self.spec.max_retries:
            log.warning("%s / %s failed (attempt %d of %d), trying again: %s", job.combo, job.sequence, tried,
                        self.spec.max_retries + 1, error)
            summary.retries += 1
            pending.appendleft(job)
            return
        log.error("%s / %s failed %d time(s), giving up: %s", job.combo, job.sequence, tried, error)
        summary.failures.append(Failure(job.combo, job.sequence, tried, error))
        finished(job)

    def close(self) -> None:
        """Shut down the Ray instance this executor started (one it found running is left alone)."""
        if self._started_ray and self.ray.is_initialized():
            self.ray.shutdown()
        self._started_ray = False


def _short_error(exc: BaseException) -> str:
    """The last line of a Ray error (the remote exception), not the whole remote traceback."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}"
