#!/usr/bin/env python
"""Wall time of ``sampt eval`` on the local executor vs ``executor=ray`` on this machine, and the overhead
Ray adds per task.

The data is the synthetic DAVIS-layout set of ``configs/bench/synthetic.yaml`` (seeded clips) and the
weightless components (lk + grabcut, ``pipeline=fast``), so no checkpoint is needed. Reported:

* ``local_s``: ``run_eval`` with ``executor=local`` (pipeline built once, sequences one after another);
* ``ray_init_s``: starting a local Ray instance (``ray.init(num_cpus=N)``), paid once per job;
* ``ray_s``: ``run_eval`` with ``executor=ray`` on that instance (actor start-up and model build included);
* ``run_s``: the sum of the sequences' own run times measured inside the actors (same work as local);
* ``task_overhead_ms``: round trip of one actor call whose input is a sequence-sized array already in the
  object store (submit, schedule, fetch the input, return a label-sized array, get it), median of calls
  made one after another on a warm actor: what Ray adds to every (combination, sequence) job.

    python benchmarks/bench_ray.py --clips 4 --frames 24 --cpus 2 --output benchmarks/results/ray/ray.json
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

FAST = ["tracker=lk", "segmenter=grabcut", "pipeline=fast"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--cpus", type=int, default=2, help="num_cpus of the local Ray instance (= workers)")
    parser.add_argument("--calls", type=int, default=200, help="actor calls for the per-task overhead")
    parser.add_argument("--output", default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    import ray

    from sampt.data.synthetic import make_synthetic_set, write_davis
    from sampt.evaluation.datasets import read_annotation
    from sampt.provenance import provenance
    from sampt.evaluation.report import write_json
    from sampt.evaluation.run import run_eval

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = make_synthetic_set(num_clips=args.clips, seed=0, num_frames=args.frames, height=args.height,
                                   width=args.width)
        root = write_davis(tmp / "davis", clips)

        t = time.perf_counter()
        local = run_eval(str(root), FAST, output=str(tmp / "local"), progress=False, score=False)
        local_s = time.perf_counter() - t

        t = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, configure_logging=False, log_to_driver=False)
        ray_init_s = time.perf_counter() - t
        seconds = []
        t = time.perf_counter()
        dist = run_eval(str(root), FAST + ["executor=ray", f"executor.workers={args.cpus}"],
                        output=str(tmp / "ray"), progress=False, score=False,
                        on_sequence=lambda r: seconds.append(r.runs[0].seconds))
        ray_s = time.perf_counter() - t
        same = all(np.array_equal(read_annotation(p), read_annotation(tmp / "ray" / p.relative_to(tmp / "local")))
                   for p in (tmp / "local").rglob("*.png"))

        @ray.remote(num_cpus=1)
        class Echo:
            def run(self, inp: np.ndarray) -> np.ndarray:
                return np.zeros(inp.shape[:3], np.uint8)

        echo = Echo.remote()
        video = ray.put(np.zeros((args.frames, args.height, args.width, 3), np.uint8))
        ray.get(echo.run.remote(video))  # warm
        calls = []
        for _ in range(args.calls):
            t = time.perf_counter()
            ray.get(echo.run.remote(video))
            calls.append(time.perf_counter() - t)
        ray.shutdown()

    figures = {
        "clips": args.clips, "frames_per_clip": args.frames, "size": f"{args.width}x{args.height}",
        "workers": args.cpus, "local_s": local_s, "ray_init_s": ray_init_s, "ray_s": ray_s,
        "run_s": sum(seconds), "local_sequences": len(local.rows), "ray_sequences": dist.summary.done,
        "identical_outputs": same, "task_overhead_ms": 1000 * statistics.median(calls),
        "task_overhead_ms_p90": 1000 * sorted(calls)[int(0.9 * len(calls))],
        # what the Ray run spent beyond the sequences' own run time, per sequence (actor start-up, model
        # build, input transfer, result transfer, driver writes)
        "overhead_per_sequence_s": (args.cpus * ray_s - sum(seconds)) / max(1, len(seconds)),
        "speedup": local_s / ray_s, **provenance(),
    }
    for key in ("local_s", "ray_init_s", "ray_s", "run_s", "speedup", "task_overhead_ms", "task_overhead_ms_p90",
                "overhead_per_sequence_s", "identical_outputs"):
        value = figures[key]
        print(f"{key:>22}: {value:.3f}" if isinstance(value, float) else f"{key:>22}: {value}")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.output, figures)


if __name__ == "__main__":
    main()
