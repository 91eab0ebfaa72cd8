"""``executor=ray``: the same per-sequence results as the local executor on a local Ray cluster, streamed and
written per sequence, with killed workers retried and failures reported (then resumed)."""
from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

pytestmark = pytest.mark.serial  # a local Ray cluster: never two at once

from sampt.cli import main
from sampt.data.synthetic import make_clip, write_davis
from sampt.errors import UsageError
from sampt.evaluation.datasets import read_annotation
from sampt.evaluation.executors import ExecutorSpec, split_executor_overrides
from sampt.evaluation.run import run_eval

FAST = ["tracker=lk", "segmenter=grabcut", "pipeline=fast", "pipeline.refinement_iterations=1"]


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance with 2 CPUs for the module (starting Ray takes seconds: the tests using it are
    marked slow)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def davis(tmp_path_factory):
    clips = [make_clip(seed=20 + i, num_frames=4 + i % 2, height=40, width=56, num_objects=1 + i % 2,
                       name=f"v{i}") for i in range(4)]
    return write_davis(tmp_path_factory.mktemp("d") / "davis", clips)


@pytest.fixture(scope="module")
def local(davis, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    return run_eval(str(davis), FAST, output=str(out), progress=False)


def _labels(out, names):
    return {(n, p.name): read_annotation(p) for n in names for p in sorted((out / n).glob("*.png"))}


def _assert_same(local, outcome):
    names = local.dataset.sequences
    a, b = _labels(local.out_dir, names), _labels(outcome.out_dir, names)
    assert a.keys() == b.keys() and len(a) > len(names)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=str(key))
    jf = {r["Sequence"]: r["J&F-Mean"] for r in local.rows}
    assert {r["Sequence"]: r["J&F-Mean"] for r in outcome.rows} == jf


@pytest.mark.slow
def test_ray_eval_equals_local(cluster, davis, local, tmp_path):
    outcome = run_eval(str(davis), FAST + ["executor=ray", "executor.workers=2"], output=str(tmp_path / "r"),
                       progress=False)
    _assert_same(local, outcome)
    s = outcome.summary
    assert (s.executor, s.workers, s.done, s.retries, s.failures) == ("ray", 2, 4, 0, [])
    assert all(r["Node"] for r in outcome.rows)  # timings say which host measured them
    assert "Node" in (tmp_path / "r" / "sequences-val.csv").read_text().splitlines()[0]


@pytest.mark.slow
def test_killed_workers_are_replaced_and_the_run_completes(cluster, davis, local, tmp_path):
    from sampt.evaluation.ray_executor import RayExecutor

    executor = RayExecutor(ExecutorSpec("ray", workers=2, max_retries=2))
    killed = []

    def kill_every_worker_once(result):
        if not killed:  # after the first sequence: one worker idle, the other (usually) mid-sequence
            for pid in executor.worker_pids():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    outcome = run_eval(str(davis), FAST, output=str(tmp_path / "k"), progress=False, executor=executor,
                       on_sequence=kill_every_worker_once)
    assert len(killed) == 2
    assert outcome.summary.retries >= 1 and outcome.summary.failures == [] and outcome.summary.done == 4
    _assert_same(local, outcome)


@pytest.mark.slow
def test_failures_are_reported_then_resumed(cluster, davis, local, tmp_path, capsys):
    from sampt.evaluation.ray_executor import RayExecutor

    out = tmp_path / "f"
    executor = RayExecutor(ExecutorSpec("ray", workers=1, max_retries=0))
    done = []

    def kill_after_first(result):
        done.append(result.sequence)
        if len(done) == 1:
            os.kill(executor.worker_pids()[0], signal.SIGKILL)  # the next sequence fails, no retry left

    outcome = run_eval(str(davis), FAST, output=str(out), progress=False, executor=executor,
                       on_sequence=kill_after_first)
    failures = outcome.summary.failures
    assert len(failures) == 1 and failures[0].attempts == 1 and failures[0].sequence not in done
    assert {r["Sequence"]: r["Seconds"] for r in outcome.rows}[failures[0].sequence] == "failed"
    assert not (out / failures[0].sequence).exists()  # nothing half-written
    assert outcome.report is not None and len(outcome.report.sequence_rows()) == 3  # the others are scored

    # the command line resumes: only the failed sequence runs again
    assert main(["eval", str(davis), *FAST, "executor=ray", "executor.workers=1", "--output", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "executor ray, 1 worker(s): 1 sequence run(s) done" in printed and "0 failed" in printed
    # Ray forwards its workers' and raylet's output into stdout (prefixed "(... pid=...)" / "(raylet)"): count
    # only sampt's own table rows
    # and sampt logs each skipped sequence too: count the rows of the results table only
    ours = [line.split() for line in printed.splitlines() if "pid=" not in line and "(raylet)" not in line]
    assert sum(len(cells) > 3 and cells[-1] == "skipped" for cells in ours) == 3
    _assert_same(local, run_eval(str(davis), FAST, output=str(out), progress=False))


@pytest.mark.slow
def test_ray_bench_scores_like_local(cluster, tmp_path, capsys):
    args = ["bench", "--config", "ci", "--repeats", "2", "--warmup", "0", "--no-plot", "--no-progress"]
    assert main([*args, "-o", str(tmp_path / "l")]) == 0
    assert main([*args, "-o", str(tmp_path / "r"), "executor=ray", "executor.workers=2"]) == 0
    assert "executor ray, 2 worker(s): 4 sequence run(s) done" in capsys.readouterr().out
    loc, dis = (json.loads((tmp_path / d / "runs.json").read_text()) for d in ("l", "r"))
    assert {(p["name"], p["sequence"]): p["J&F"] for p in dis["per_sequence"]} == {
        (p["name"], p["sequence"]): p["J&F"] for p in loc["per_sequence"]}
    assert all(p["node"] for p in dis["per_sequence"])
    for a, b in zip(loc["runs"], dis["runs"]):
        assert (a["name"], a["J&F"], a["frames"], a["sequences"]) == (b["name"], b["J&F"], b["frames"], b["sequences"])
        assert len(b["seconds_per_pass"]) == 2 and b["fps_median"] > 0 and b["nodes"]
    assert dis["meta"]["executor"]["name"] == "ray" and dis["meta"]["failures"] == []
    assert "Executor: ray with 2 worker(s)" in (tmp_path / "r" / "results.md").read_text()


def test_default_workers_follow_the_cluster(cluster):
    from sampt.evaluation.ray_executor import RayExecutor

    assert RayExecutor(ExecutorSpec("ray")).default_workers() == 2  # num_cpus=2, one CPU per task
    assert RayExecutor(ExecutorSpec("ray", cpus_per_task=2)).default_workers() == 1
    assert RayExecutor(ExecutorSpec("ray", workers=5)).default_workers() == 5
    with pytest.raises(UsageError, match="gpus_per_task=1 but the Ray cluster has 0 GPU"):
        RayExecutor(ExecutorSpec("ray", gpus_per_task=1)).default_workers()


def test_executor_options():
    spec, rest = split_executor_overrides(["tracker=lk", "executor=ray", "executor.address=auto",
                                           "executor.gpus_per_task=0.5", "executor.workers=3"])
    assert rest == ["tracker=lk"]
    assert (spec.name, spec.address, spec.gpus_per_task, spec.workers) == ("ray", "auto", 0.5, 3)
    assert split_executor_overrides([])[0] == ExecutorSpec()
    with pytest.raises(UsageError, match="executor.bogus.*executor.address"):
        split_executor_overrides(["executor.bogus=1"])
    with pytest.raises(UsageError, match="local, ray"):
        split_executor_overrides(["executor=dask"])
    with pytest.raises(UsageError, match="executor.workers=x.*number"):
        split_executor_overrides(["executor.workers=x"])
    with pytest.raises(UsageError, match="max_retries must be >= 0"):
        split_executor_overrides(["executor.max_retries=-1"])


def test_ray_missing_names_the_fix(monkeypatch):
    import sys

    from sampt.evaluation.executors import make_executor

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(UsageError, match=r"pip install 'sampt\[ray\]'.*executor=local"):
        make_executor(ExecutorSpec("ray"))
