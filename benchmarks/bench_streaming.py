"""Streaming SAM-PT (``SamPt.stream``): flat memory on a long stream, latency and throughput.

Two measurements, each in its own child process (so RSS and CPU time are its own):

* ``memory``: lk + grabcut (no weights) on an endless generated stream of small frames (a synthetic clip
  played forward and backward, so motion stays continuous), RSS (``VmRSS``) after 200, 2,000 and 10,000
  emitted frames, with CPU seconds and wall seconds at each point. The stream holds only the frames it
  has not emitted yet, so RSS must not grow with the frame count.
* ``latency``: per pipeline (``cotracker3_online + mobile_sam`` with keyed weights from ``sampt.testing``,
  and ``lk + grabcut``) the frames of delay of every emitted frame (frames received minus one minus its
  index: the maximum is the declared latency), ms per frame and frames per second at steady state (after
  the first emitted frame: model warm-up and the latency window excluded), CPU seconds.

    .venv/bin/python benchmarks/bench_streaming.py                       # both, writes nothing
    .venv/bin/python benchmarks/bench_streaming.py --out benchmarks/results/streaming
    .venv/bin/python benchmarks/bench_streaming.py --only memory --checkpoints 200 2000

The machine it was measured on is a shared, loaded 2-core CPU (torch and OpenCV use one thread here):
compare CPU seconds rather than wall time between runs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEMORY_OPTIONS = ["tracker=lk", "segmenter=grabcut", "pipeline.positive_points=4", "pipeline.negative_points=0",
                  "pipeline.refinement_iterations=0"]
NOTES = """\
- RSS is `VmRSS` of the child process at that point (not the peak). The ~545 MiB base is the imported
  libraries (plugin discovery imports torch); the stream itself holds only frames not yet emitted (at most
  the latency: 15 frames for lk's chunks of 16, 8 frames with re-initialisation horizons of 8), their
  embeddings and tracks. RSS after 2,000 and 10,000 frames equals RSS after 200 to 0.1 MiB.
- The `sampt run --camera` row streams through the command's writer (label PNGs, MP4 overlay, result.json
  rows); its frame count is frames delivered by the camera (emitted = delivered - the latency). Its slow
  growth (~1 KB a frame) is what result.json will hold per frame (name, areas, boxes, IoU), by design.
- "frames with a mask": without re-initialisation lk's points drift off over a 10,000-frame loop and one
  object is lost after ~9,400 frames; re-initialised, all 2,000 frames measured keep their masks.
- Latency is in frames: received - 1 - t when frame t is emitted. cotracker3_online runs with
  `tracker.window_len=8` (latency 7; the official window of 16 gives 15); lk is offline, so it streams in
  chunks of `pipeline.stream_chunk_length=16` (latency 15). Both stream as fast as the CPU allows (no frame
  rate cap); ms/frame is between the first and the last emitted frame, FPS over the whole run.
- cotracker3_online + mobile_sam use keyed (random) weights on CPU at their official resolutions (CoTracker
  384x512, MobileSAM 1024): the figures are compute cost, not accuracy. Wall time is ~2x CPU time because
  the 2 cores were shared with other developers' jobs; compare CPU ms/frame.
"""
REINIT_OPTIONS = ["pipeline.reinit_variant=A", "pipeline.reinit_horizon=8", "pipeline.reinit_tracker_horizon=8"]


def rss_mb() -> float:
    """Resident set size now (not the peak), in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _looped_frames(height: int, width: int, seed: int = 0):
    """A synthetic clip played forward then backward (continuous motion when looped), and its first masks."""
    import numpy as np

    from sampt.data.synthetic import make_clip

    clip = make_clip(seed=seed, num_frames=24, height=height, width=width, num_objects=2, max_speed=1.0)
    frames = np.concatenate([clip.video.frames, clip.video.frames[-2:0:-1]])
    return frames, clip.masks[0]


def _threads(threads: int) -> None:
    import cv2

    cv2.setNumThreads(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def memory_child(checkpoints: list[int], height: int, width: int, threads: int, reinit: bool = False) -> dict:
    """Stream ``max(checkpoints)`` frames through lk + grabcut (with ``reinit``: re-initialised); RSS, CPU and
    wall seconds at each checkpoint."""
    from sampt.allocator import tune_malloc

    tune_malloc()
    _threads(threads)
    from sampt.config import build_pipeline, compose
    from sampt.pipeline import ObjectPrompt
    from sampt.testing import FakeCamera

    frames, masks = _looped_frames(height, width)
    options = MEMORY_OPTIONS + (REINIT_OPTIONS if reinit else [])
    pipeline = build_pipeline(compose(options))
    camera = FakeCamera(frames, fps=None, num_frames=max(checkpoints))
    objects = [ObjectPrompt(o + 1, 0, mask=masks[o]) for o in range(len(masks))]
    wanted, rows, start, cpu0 = sorted(checkpoints), [], time.perf_counter(), cpu_seconds()
    present = 0
    for n, (t, labels, info) in enumerate(pipeline.stream(camera, objects), start=1):
        present += bool(labels.any())
        if wanted and n == wanted[0]:
            wanted.pop(0)
            rows.append({"frames": n, "rss_mb": round(rss_mb(), 1), "cpu_s": round(cpu_seconds() - cpu0, 1),
                         "wall_s": round(time.perf_counter() - start, 1), "frames_with_a_mask": present})
    return {"pipeline": "lk + grabcut" + (", re-initialised" if reinit else ""), "options": options,
            "size": [height, width], "rows": rows}


def cli_memory_child(checkpoints: list[int], height: int, width: int, threads: int) -> dict:
    """The same stream as ``memory_child`` through what ``sampt run --camera`` runs
    (:func:`sampt.live.stream_to_folder`: label PNGs, an MP4 overlay and result.json written as frames come);
    RSS when the camera has delivered each checkpoint's frame count."""
    from sampt.allocator import tune_malloc

    tune_malloc()
    _threads(threads)
    from sampt.config import build_pipeline, compose
    from sampt.live import StreamSource, stream_to_folder
    from sampt.prompts import UserObject
    from sampt.results import RunOutput
    from sampt.testing import FakeCamera

    frames, masks = _looped_frames(height, width)
    pipeline = build_pipeline(compose(MEMORY_OPTIONS))
    camera = FakeCamera(frames, fps=None, num_frames=max(checkpoints))
    wanted, rows, start, cpu0 = sorted(checkpoints), [], time.perf_counter(), cpu_seconds()

    def named():
        for n, frame in enumerate(camera, start=1):
            if wanted and n == wanted[0]:
                wanted.pop(0)
                rows.append({"frames": n, "rss_mb": round(rss_mb(), 1), "cpu_s": round(cpu_seconds() - cpu0, 1),
                             "wall_s": round(time.perf_counter() - start, 1)})
            yield None, frame

    with tempfile.TemporaryDirectory() as tmp:
        objects = [UserObject(o + 1, 0, "mask", masks[o]) for o in range(len(masks))]
        done = stream_to_folder(pipeline, StreamSource(named(), 30.0, "camera0", True), objects,
                                RunOutput(Path(tmp) / "out"), overlay="mp4")
    for r in rows:
        r["frames_with_a_mask"] = None
    return {"pipeline": "sampt run --camera (lk + grabcut, PNGs + MP4 overlay)", "options": MEMORY_OPTIONS,
            "size": [height, width], "rows": rows, "frames_written": done.frames}


def _keyed_pipeline(name: str, folder: Path, window_len: int):
    from sampt.config import build_pipeline, compose

    if name == "lk + grabcut":
        return build_pipeline(compose(["tracker=lk", "segmenter=grabcut", "pipeline.refinement_iterations=2"]))
    import torch

    from sampt.testing import keyed_state_dict
    from sampt_sam.testing import keyed_checkpoint

    sam, _ = keyed_checkpoint("mobile_sam", folder / "mobile_sam.pth")
    cot = folder / "cotracker3_online.pth"
    torch.save(keyed_state_dict("cotracker3_online"), cot)
    return build_pipeline(compose(["segmenter=mobile_sam", f"segmenter.checkpoint={sam}", "segmenter.device=cpu",
                                   "tracker=cotracker3_online", f"tracker.checkpoint={cot}", "tracker.device=cpu",
                                   f"tracker.window_len={window_len}", "pipeline.refinement_iterations=2"]))


def latency_child(name: str, frames_n: int, height: int, width: int, threads: int, window_len: int) -> dict:
    """Stream ``frames_n`` frames through one pipeline; latency in frames, ms/frame, FPS, CPU seconds."""
    from sampt.allocator import tune_malloc

    tune_malloc()
    _threads(threads)
    from sampt.pipeline import ObjectPrompt
    from sampt.testing import FakeCamera

    frames, masks = _looped_frames(height, width)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = _keyed_pipeline(name, Path(tmp), window_len)
        camera = FakeCamera(frames, fps=None, num_frames=frames_n)
        objects = [ObjectPrompt(o + 1, 0, mask=masks[o]) for o in range(len(masks))]
        latencies, times = [], []
        start, cpu0 = time.perf_counter(), cpu_seconds()
        for f in pipeline.stream(camera, objects):
            latencies.append(f.latency)
            times.append(time.perf_counter())
        cpu = cpu_seconds() - cpu0
    total = times[-1] - start
    steady = (times[-1] - times[0]) / max(1, len(times) - 1)
    return {"pipeline": name, "frames": frames_n, "size": [height, width],
            "declared_latency": pipeline.stream_latency(size=(height, width)),
            "max_latency_frames": max(latencies), "steady_latency_frames": latencies[len(latencies) // 2],
            "first_output_s": round(times[0] - start, 2), "ms_per_frame": round(1000 * steady, 1),
            "fps": round(len(times) / total, 2), "cpu_s": round(cpu, 1), "wall_s": round(total, 1),
            "cpu_ms_per_frame": round(1000 * cpu / len(times), 1)}


def _run_child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=os.environ.copy())
    if out.returncode:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(memories: list[dict], latency: list[dict], machine: str) -> str:
    """The Markdown tables of a run."""
    lines = [f"Measured on: {machine}", ""] if machine else []
    for memory in memories:
        h, w = memory["size"]
        lines += [f"### Memory: {memory['pipeline']}, {w}x{h} frames, endless stream", "",
                  f"Options: `{' '.join(memory['options'])}`", "",
                  "| frames emitted | RSS MiB | CPU s | wall s | frames with a mask |", "|---|---|---|---|---|"]
        lines += [f"| {r['frames']:,} | {r['rss_mb']} | {r['cpu_s']} | {r['wall_s']} | "
                  f"{'-' if r.get('frames_with_a_mask') is None else format(r['frames_with_a_mask'], ',')} |"
                  for r in memory["rows"]]
        base = memory["rows"][0]["rss_mb"]
        lines += ["", "RSS relative to the first row: " + ", ".join(
            f"{r['frames']:,}: {100 * (r['rss_mb'] / base - 1):+.1f}%" for r in memory["rows"]), ""]
    if latency:
        lines += ["### Latency and throughput", "",
                  "| pipeline | frames | size | declared latency | max latency (frames) | ms/frame (steady) | FPS "
                  "(overall) | CPU ms/frame | first output s |", "|---|---|---|---|---|---|---|---|---|"]
        for r in latency:
            h, w = r["size"]
            lines.append(f"| {r['pipeline']} | {r['frames']} | {w}x{h} | {r['declared_latency']} | "
                         f"{r['max_latency_frames']} | {r['ms_per_frame']} | {r['fps']} | {r['cpu_ms_per_frame']} | "
                         f"{r['first_output_s']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["memory", "latency"], default=None)
    parser.add_argument("--skip-plain", action="store_true", help="memory: only the re-initialised / CLI runs")
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[200, 2000, 10000])
    parser.add_argument("--cli-checkpoints", type=int, nargs="*", default=[200, 2000],
                        help="the same through sampt run --camera's writer (none: skip)")
    parser.add_argument("--reinit-checkpoints", type=int, nargs="*", default=[200, 2000],
                        help="the same with re-initialisation (none: skip)")
    parser.add_argument("--memory-size", type=int, nargs=2, default=[48, 64], metavar=("H", "W"))
    parser.add_argument("--latency-frames", type=int, nargs="+", default=[16, 64],
                        help="frames streamed per pipeline (one number: for all)")
    parser.add_argument("--latency-size", type=int, nargs=2, default=[96, 128], metavar=("H", "W"))
    parser.add_argument("--window-len", type=int, default=8, help="cotracker3_online window (latency window - 1)")
    parser.add_argument("--pipelines", nargs="+", default=["cotracker3_online + mobile_sam", "lk + grabcut"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="folder for README.md and results.json")
    parser.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind = args.child[0]
        if kind == "memory-cli":
            r = cli_memory_child(args.checkpoints, *args.memory_size, args.threads)
        elif kind in ("memory", "memory-reinit"):
            r = memory_child(args.checkpoints, *args.memory_size, args.threads, reinit=kind == "memory-reinit")
        else:
            r = latency_child(args.child[1], args.latency_frames[0], *args.latency_size, args.threads, args.window_len)
        print(json.dumps(r))
        return
    common = ["--threads", str(args.threads)]
    memory, latency = [], []
    if args.only in (None, "memory"):
        runs = [("memory", args.checkpoints)] if not args.skip_plain else []
        runs += [("memory-reinit", args.reinit_checkpoints)] if args.reinit_checkpoints else []
        runs += [("memory-cli", args.cli_checkpoints)] if args.cli_checkpoints else []
        for kind, checkpoints in runs:
            memory.append(_run_child(["--child", kind, "--checkpoints", *map(str, checkpoints), "--memory-size",
                                      *map(str, args.memory_size), *common]))
            print(report(memory[-1:], [], ""), flush=True)
    if args.only in (None, "latency"):
        counts = args.latency_frames * len(args.pipelines) if len(args.latency_frames) == 1 else args.latency_frames
        for name, count in zip(args.pipelines, counts):
            latency.append(_run_child(["--child", "latency", name, "--latency-frames", str(count),
                                       "--latency-size", *map(str, args.latency_size), "--window-len",
                                       str(args.window_len), *common]))
            print(report([], latency[-1:], ""), flush=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), {args.threads} thread(s)"
    command = f".venv/bin/python benchmarks/bench_streaming.py {' '.join(sys.argv[1:])}".rstrip()
    commands = [command]
    if args.out and (args.out / "results.json").is_file():  # keep the sections this run did not measure
        old = json.loads((args.out / "results.json").read_text())
        measured = {r["pipeline"] for r in memory + latency}
        memory = [r for r in old.get("memory", []) if r["pipeline"] not in measured] + memory
        latency = [r for r in old.get("latency", []) if r["pipeline"] not in measured] + latency
        commands = [c for c in old.get("commands", []) if c != command] + commands
    text = report(memory, latency, machine)
    print(text)
    if args.out:
        from sampt.outputs import atomic_file

        args.out.mkdir(parents=True, exist_ok=True)
        with atomic_file(args.out / "results.json") as tmp:
            tmp.write_text(json.dumps({"machine": machine, "commands": commands, "memory": memory,
                                       "latency": latency}, indent=2) + "\n")
        with atomic_file(args.out / "README.md") as tmp:
            tmp.write_text("# Streaming benchmark (benchmarks/bench_streaming.py)\n\n"
                           + "".join(f"Command: `{c}`\n\n" for c in commands) + text + "\n### Notes\n\n" + NOTES)


if __name__ == "__main__":
    main()
