"""Load test of ``sampt ui`` on loopback: N concurrent browser clients (headless chromium through
Playwright), each opening a 100-frame 480p clip, clicking an object and propagating; reports the server's
peak RSS, the latency percentiles of each step and how many sessions the server refused (its session
limit and memory budget, :mod:`sampt.ui.admission`).

    python benchmarks/bench_ui_load.py --clients 6 --max-sessions 4 --frames 100 --out benchmarks/results/ui_load.md

Bounded in count (``--clients`` at most 32) and time (``--timeout`` per step and ``--deadline`` overall;
the server is killed at the end whatever happens). The server runs as ``sampt ui`` in a child process,
ready once it prints its URL (a handshake, no sleep); its peak RSS is its ``VmHWM``.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("bench_ui_load")
CHROMIUM = os.environ.get("SAMPT_CHROMIUM", "/usr/bin/chromium")
REFUSED = re.compile(r"server is busy|not enough memory")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_clip(folder: Path, frames: int, height: int, width: int, seed: int) -> Path:
    """A synthetic clip (moving blobs on texture) as an MP4 file."""
    from sampt.data.synthetic import make_clip
    from sampt.io import write_video

    clip = make_clip(seed=seed, num_frames=frames, height=height, width=width, num_objects=1, name="load")
    path = folder / "load.mp4"
    write_video(path, clip.video.frames, 24.0)
    ys, xs = np.nonzero(clip.masks[0, 0])
    return path, (float(xs.mean()), float(ys.mean()))


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def start_server(video: Path, args, workdir: Path) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-c", "import sys; from sampt.cli import main; sys.exit(main())", "ui", str(video),
           *args.overrides, "--port", str(free_port()), "--workdir", str(workdir),
           "--max-sessions", str(args.max_sessions), "--memory-budget-mb", str(args.memory_budget_mb),
           "--concurrency", str(args.concurrency), "--max-upload-mb", "500"]
    log_file = open(workdir.parent / "server.log", "w")  # the server's log, shown when a client failed
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log_file, text=True)
    for line in proc.stdout:  # the handshake: the URL is printed once the server listens
        m = re.search(r"serving on (\S+)", line)
        if m:
            return proc, m.group(1)
    raise RuntimeError(f"sampt ui exited ({proc.wait()}) before serving")


async def client(browser, url: str, point: tuple[float, float], size: tuple[int, int], timeout_ms: int,
                 record: dict) -> None:
    """One user in its own browser context (its own Gradio session): open the page (the server opens the
    clip), click the object, propagate."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(timeout_ms)
    status = page.locator("#status")
    try:
        t0 = time.perf_counter()
        await page.goto(url)
        refused = page.get_by_text(REFUSED)
        await status.filter(has_text=re.compile("Opened|Error")).or_(refused).first.wait_for()
        text = " ".join(await refused.all_inner_texts()) + await status.inner_text()
        if REFUSED.search(text):
            record["refused"] = REFUSED.search(text).group(0)
            return
        record["open"] = time.perf_counter() - t0
        box = await page.locator("#frame img").first.bounding_box()
        width, height = size
        scale = min(box["width"] / width, box["height"] / height)
        sx = box["x"] + (box["width"] - width * scale) / 2 + (point[0] + 0.5) * scale
        sy = box["y"] + (box["height"] - height * scale) / 2 + (point[1] + 0.5) * scale
        t0 = time.perf_counter()
        await page.mouse.click(sx, sy)
        await status.filter(has_text="Added object").wait_for()
        record["click"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await page.locator("#propagate").click()
        await status.filter(has_text="Propagated through").wait_for()
        record["propagate"] = time.perf_counter() - t0
    except Exception as exc:  # a timeout: reported (with what the page said), the run goes on
        try:
            said = (await status.inner_text(timeout=5000))[:160]
        except Exception:
            said = "?"
        record["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]} (status: {said!r})"
    finally:
        await context.close()


async def run_clients(url: str, point, size, timeout_ms: int, records: list, deadline_s: float) -> None:
    """Every client at once in one headless chromium, each in its own context."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            await asyncio.wait_for(asyncio.gather(*(client(browser, url, point, size, timeout_ms, r)
                                                    for r in records)), deadline_s)
        finally:
            await browser.close()


def percentiles(values: list) -> str:
    if not values:
        return "-"
    q = np.percentile(values, [50, 90, 99]) if len(values) > 1 else [values[0]] * 3
    return f"{q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=6)
    p.add_argument("--max-sessions", type=int, default=4)
    p.add_argument("--memory-budget-mb", type=float, default=6144)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=854)
    p.add_argument("--timeout", type=float, default=300, help="seconds per step")
    p.add_argument("--deadline", type=float, default=900, help="seconds for the whole run")
    p.add_argument("--overrides", nargs="*", default=["tracker=lk", "segmenter=grabcut"],
                   help="the server's config overrides (default: tracker=lk segmenter=grabcut)")
    p.add_argument("--out", type=Path, default=None, help="append a Markdown section here")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not 1 <= args.clients <= 32:
        p.error("--clients must be 1..32")
    load0 = open("/proc/loadavg").read().split()[:3]
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        tmp = Path(tmp)
        video, point = write_clip(tmp, args.frames, args.height, args.width, seed=0)
        proc, url = start_server(video, args, tmp / "work")
        records = [dict() for _ in range(args.clients)]
        started = time.perf_counter()
        try:
            try:
                asyncio.run(run_clients(url, point, (args.width, args.height), int(args.timeout * 1000), records,
                                        args.deadline))
            except asyncio.TimeoutError:
                log.warning("the run passed its --deadline of %g s", args.deadline)
            peak = peak_rss_mb(proc.pid)
        finally:
            proc.kill()
            proc.wait()
        if any("error" in r for r in records):
            log.info("server log (end):\n%s", (tmp / "server.log").read_text()[-3000:])
        elapsed = time.perf_counter() - started
    load = open("/proc/loadavg").read().split()[:3]
    steps = {k: [r[k] for r in records if k in r] for k in ("open", "click", "propagate")}
    refused = [r["refused"] for r in records if "refused" in r]
    errors = [r["error"] for r in records if "error" in r]
    lines = [
        f"### {args.clients} clients, limit {args.max_sessions} sessions, budget {args.memory_budget_mb:g} MB, "
        f"{args.frames} frames {args.width}x{args.height}, concurrency {args.concurrency}",
        "",
        f"- server: `sampt ui {' '.join(args.overrides)}`; step timeout {args.timeout:g} s",
        "",
        f"- load average at the start {' '.join(load0)}, at the end {' '.join(load)} (a busy shared machine: "
        "2 cores for 8 developers)",
        f"- server peak RSS (VmHWM): {peak:.0f} MB; wall time {elapsed:.0f} s",
        f"- sessions completed: {len(steps['propagate'])}; refused: {len(refused)} "
        f"({', '.join(sorted(set(refused))) or 'none'}); errors/timeouts: {len(errors)}",
        "",
        "| step | n | p50 / p90 / p99 latency (s) |",
        "|---|---|---|",
        *(f"| {k} | {len(v)} | {percentiles(v)} |" for k, v in steps.items()),
        "",
    ]
    if errors:
        lines += [f"- error: {e}" for e in errors[:5]] + [""]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as fh:
            fh.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
