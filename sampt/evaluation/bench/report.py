"""The benchmark's report: the table (terminal and Markdown), the speed/accuracy plot, and the result files
(``runs.csv``, ``runs.json``, ``results.md``, ``speed_accuracy.png``, ``pareto.png``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sampt.errors import UsageError
from sampt.provenance import machine_label
from sampt.evaluation.report import markdown_table, text_table, write_csv, write_json
from sampt.outputs import atomic_file

RUN_COLUMNS = ("name", "method", "tracker", "segmenter", "options", "J&F", "J", "F", "source", "weights", "fps_median", "fps_best",
               "spf_min", "spf_median", "cpu_spf_median", "spf_tracking", "spf_encoding", "spf_decoding", "spf_other",
               "peak_rss_mib", "rss_increase_mib", "peak_gpu_mib", "frames", "sequences", "objects", "repeats", "setup_s",
               "fps_predicted", "prediction_error_pct")
"""Columns of ``runs.csv`` (``runs.json`` holds every key of a row)."""
TABLE_COLUMNS = ("name", "J&F", "J", "F", "fps_median", "fps_best", "spf_median", "cpu_spf_median", "spf_tracking",
                 "spf_encoding", "spf_decoding", "spf_other", "peak_rss_mib", "rss_increase_mib", "peak_gpu_mib")
"""Columns of the printed and Markdown tables."""
PREDICTION_COLUMNS = ("fps_predicted", "prediction_error_pct")
"""Added to the table when the run compares its FPS with ``--predict``'s estimate."""
PREDICTED_COLUMNS = ("name", "fps_predicted", "spf_tracking_predicted", "spf_encoding_predicted",
                     "spf_decoding_predicted")
"""Columns of ``sampt bench --predict``'s table (``predicted.csv``)."""
DIGITS = {"J&F": 3, "J": 3, "F": 3, "fps_median": 1, "fps_best": 1, "peak_rss_mib": 0, "rss_increase_mib": 1,
          "peak_gpu_mib": 0, "fps_predicted": 1, "prediction_error_pct": 0,
          **{c: 4 for c in PREDICTED_COLUMNS if "spf_" in c},
          **{c: 4 for c in RUN_COLUMNS if "spf_" in c}}
DIGITS.update({"AP": 3, "AP50": 3, "AR10": 3})
PLOT_NAME = "speed_accuracy.png"
PARETO_PLOT_NAME = "pareto.png"
"""Speed vs accuracy (or vs peak memory when no row has an accuracy: keyed weights) with the Pareto front."""
VOS_ACCURACY = ("J&F", "J", "F")
VIS_ACCURACY = ("AP", "AP50", "AR10")  #: video instance segmentation rows (``sampt bench --dataset uvo``)


def accuracy_of(rows: Sequence[dict]) -> tuple[str, ...]:
    """The accuracy columns the rows carry: J&F, J, F (VOS) or AP, AP50, AR10 (VIS)."""
    return VIS_ACCURACY if rows and "AP" in rows[0] and "J&F" not in rows[0] else VOS_ACCURACY


def with_accuracy(columns: Sequence[str], rows: Sequence[dict]) -> tuple[str, ...]:
    """``columns`` with the VOS accuracy columns replaced by those the rows carry."""
    out: list[str] = []
    for c in columns:
        if c == "J&F":
            out.extend(accuracy_of(rows))
        elif c not in ("J", "F"):
            out.append(c)
    return tuple(out)


def require_matplotlib(pyplot: bool = True) -> Any:
    """``matplotlib.pyplot`` (Agg backend); only ``matplotlib`` itself when not ``pyplot`` (a cheap check
    that does not load the plotting machinery into the process being measured)."""
    try:
        import matplotlib

        if not pyplot:
            return matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("the speed/accuracy plot needs matplotlib: pip install matplotlib (or 'sampt[plot]'), "
                         "or pass --no-plot") from None
    return plt


def plot_speed_accuracy(rows: Sequence[dict], path: Path, title: str) -> Path:
    """Scatter of J&F (AP for VIS) against FPS (log scale when the FPS span an order of magnitude), one
    labelled point per combination or whole method."""
    plt = require_matplotlib()
    metric = accuracy_of(rows)[0]
    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    for r in rows:
        if not has_accuracy(r, metric):  # unscored, or keyed weights ("n/a")
            continue
        x, y = r["fps_median"], float(r[metric])
        ax.scatter([x], [100 * y], s=40)
        ax.annotate(r["name"], (x, 100 * y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    fps = [r["fps_median"] for r in rows if r.get("fps_median")]
    log_scale = bool(fps) and max(fps) / max(min(fps), 1e-9) > 10  # spans an order of magnitude
    if log_scale:
        ax.set_xscale("log")
    ax.margins(x=0.25, y=0.15)
    ax.set_xlabel(f"frames per second (whole pipeline, median of passes{'; log scale' if log_scale else ''})")
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def has_accuracy(row: dict, metric: str) -> bool:
    """Whether ``row`` carries a real value of ``metric`` (not "n/a (keyed weights)" or missing)."""
    value = row.get(metric)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value))


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both coordinates (both to be maximised), by x."""
    front = []
    for i, (x, y) in enumerate(points):
        if not any((x2 >= x and y2 >= y) and (x2 > x or y2 > y) for x2, y2 in points):
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def plot_pareto(rows: Sequence[dict], path: Path, title: str) -> Path:
    """Speed (FPS, log scale) against accuracy (J&F, or AP) when the rows carry it, else against peak memory
    (keyed weights); every row a point (hollow when composed rather than measured), the Pareto front (faster
    and more accurate, or faster and smaller) joined, highlighted and labelled."""
    plt = require_matplotlib()
    metric = accuracy_of(rows)[0]
    scored = [r for r in rows if has_accuracy(r, metric)]
    if scored:
        use, ylabel = scored, f"{metric} (%)"
        pts = [(r["fps_median"], 100 * float(r[metric])) for r in use]
        front = pareto_front(pts)
    else:
        use, ylabel = [r for r in rows if r.get("peak_rss_mib")], "peak resident memory (MiB)"
        pts = [(r["fps_median"], float(r["peak_rss_mib"])) for r in use]
        front = pareto_front([(x, -y) for x, y in pts])  # faster and smaller
    fig, ax = plt.subplots(figsize=(9, 6), dpi=120)
    for r, (x, y) in zip(use, pts):
        composed = r.get("source") == "composed"
        ax.scatter([x], [y], s=18, facecolors="none" if composed else "tab:blue", edgecolors="tab:blue",
                   alpha=0.6)
    fx, fy = [pts[i][0] for i in front], [pts[i][1] for i in front]
    ax.plot(fx, fy, "-", color="tab:red", lw=1.2, zorder=1)
    ax.scatter(fx, fy, s=50, color="tab:red", zorder=3, label="Pareto front")
    for i in front:
        ax.annotate(use[i]["name"], pts[i], textcoords="offset points", xytext=(5, 4), fontsize=7, color="tab:red")
    ax.scatter([], [], s=18, color="tab:blue", label="measured")
    if any(r.get("source") == "composed" for r in use):
        ax.scatter([], [], s=18, facecolors="none", edgecolors="tab:blue", label="composed from stage times")
    if pts and max(x for x, _ in pts) / max(min(x for x, _ in pts), 1e-9) > 10:
        ax.set_xscale("log")
    ax.set_xlabel("frames per second (whole pipeline, median of passes)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def markdown_report(rows: Sequence[dict], meta: dict) -> str:
    """``results.md``: a paragraph on the machine, data and protocol, a legend, and the table."""
    machine = machine_label(meta["machine"])
    rev = meta["git"].get("commit") or "unknown"
    executor = meta.get("executor") or {}
    ran_on = ""
    if executor.get("name") not in (None, "local"):
        ran_on = f" Executor: {executor['name']} with {executor.get('workers', '?')} worker(s)."
    lines = [f"Machine: {machine}. sampt {meta['versions'].get('sampt', '?')}, git {rev[:12]}"
             f"{' (modified)' if meta['git'].get('dirty') else ''}. Dataset: {meta['dataset']}, "
             f"{meta['frames']} frames in {meta['sequences']} sequences; {meta['warmup']} warm-up run(s) excluded, "
             f"{meta['repeats']} timed passes{' (interleaved across combinations)' if meta.get('interleave') else ''}; "
             f"seed {meta['seed']}.{ran_on}",
             "",
             ("AP, AP50, AR10: class-agnostic video instance segmentation (YouTube-VIS evaluation, video mask IoU; "
              "proposal generation is timed in spf_other). " if accuracy_of(rows) == VIS_ACCURACY else
              "J&F, J, F: DAVIS protocol (first and last frames excluded). ") +
             "FPS: frames per wall-clock second of the "
             "whole pipeline (median and best pass). spf_*: wall-clock seconds per frame (median pass) in total and by "
             "stage; cpu_spf_median: process CPU seconds per frame (all threads; less sensitive to other load on the "
             "machine). "
             "Memory: peak resident host memory of the process (MiB) during the timed passes, and its largest rise "
             "within a pass; GPU: peak CUDA memory allocated.",
             "",
             markdown_table(rows, table_columns(rows), digits=DIGITS)]
    if any("fps_predicted" in r for r in rows):
        lines.insert(3, "fps_predicted: estimated from per-component timings measured once (sampt bench --predict); "
                        "prediction_error_pct: (predicted - measured) / measured FPS.")
    notes = []
    if any(r.get("weights") == "keyed" for r in rows):
        notes.append("Keyed weights (`weights: keyed_if_missing`): models whose checkpoint is not cached ran with "
                     "keyed (random) weights (sampt.testing); their accuracy reads \"n/a (keyed weights)\", their "
                     "speed and memory are valid (same operations on the same shapes).")
    if meta.get("force_visible"):
        notes.append("`force_visible: true` (benchmark only): every tracked point is reported visible, so every "
                     "object is prompted on every frame and the segmenter encodes and decodes every frame, as with "
                     "a good tracker on a visible object.")
    if meta.get("design") == "axes":
        notes.append(f"Design `axes`: measured rows are the anchor ({', '.join(meta.get('anchor') or [])}) and each "
                     "axis value varied from it; rows with source \"composed\" were not run: their seconds per frame "
                     "(total and by stage), CPU time and memory are the anchor's plus each varied axis's difference "
                     "from the anchor (stages depend on one component each; memory is approximate).")
    if notes:
        lines[2:2] = [" ".join(notes), ""]
    return "\n".join(lines) + "\n"


def table_columns(rows: Sequence[dict]) -> tuple[str, ...]:
    """:data:`TABLE_COLUMNS` with the rows' accuracy columns, and the prediction's columns when the rows
    have them."""
    columns = with_accuracy(TABLE_COLUMNS, rows)
    if any("source" in r for r in rows):
        columns = columns[:1] + ("source",) + columns[1:]
    published = tuple(f"paper_{c}" for c in accuracy_of(rows) if any(f"paper_{c}" in r for r in rows))
    if published:  # the paper's numbers beside the measured ones
        at = columns.index(accuracy_of(rows)[-1]) + 1
        columns = columns[:at] + published + columns[at:]
    return columns + tuple(c for c in PREDICTION_COLUMNS if any(c in r for r in rows))


def terminal_table(rows: Sequence[dict]) -> str:
    """The table printed at the end of ``sampt bench``."""
    return text_table(rows, table_columns(rows), digits=DIGITS)


def write_predicted(out_dir: Path, rows: Sequence[dict], timings: Any, meta: dict) -> list[str]:
    """``sampt bench --predict``'s files: ``predicted.csv`` and ``predicted.json`` (rows, the component
    timings they come from, and the machine)."""
    from dataclasses import asdict

    write_csv(Path(out_dir) / "predicted.csv", rows, PREDICTED_COLUMNS)
    write_json(Path(out_dir) / "predicted.json", {"meta": meta, "component_timings": asdict(timings),
                                                   "predicted": list(rows)})
    return ["predicted.csv", "predicted.json"]


def write_bench_report(out_dir: Path, rows: Sequence[dict], per_sequence: Sequence[dict], meta: dict,
                       plot: bool = True) -> list[str]:
    """Write ``runs.csv``, ``runs.json``, ``results.md`` and (``plot``) the speed/accuracy plot (when a row
    has an accuracy) and the Pareto plot, each atomically; returns the names written."""
    out_dir = Path(out_dir)
    write_csv(out_dir / "runs.csv", rows, with_accuracy(RUN_COLUMNS, rows))
    write_json(out_dir / "runs.json", {"meta": meta, "runs": list(rows), "per_sequence": list(per_sequence)})
    with atomic_file(out_dir / "results.md") as tmp:
        tmp.write_text(markdown_report(rows, meta))
    written = ["runs.csv", "runs.json", "results.md"]
    if plot:
        scored = any(has_accuracy(r, accuracy_of(rows)[0]) for r in rows)
        if scored:
            plot_speed_accuracy(rows, out_dir / PLOT_NAME,
                                f"SAM-PT speed vs accuracy on {meta['dataset']}\n{machine_label(meta['machine'])}")
            written.append(PLOT_NAME)
        plot_pareto(rows, out_dir / PARETO_PLOT_NAME,
                    f"SAM-PT speed vs {'accuracy' if scored else 'peak memory (keyed weights)'}, Pareto front, on "
                    f"{meta['dataset']}\n{machine_label(meta['machine'])}")
        written.append(PARETO_PLOT_NAME)
    return written
