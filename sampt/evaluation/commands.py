"""Evaluation commands: ``sampt score``, ``sampt eval`` and ``sampt bench``."""
from __future__ import annotations

import argparse
import logging

import sampt

log = logging.getLogger(__name__)


def _score(args: argparse.Namespace) -> int:
    from sampt.evaluation.datasets import open_dataset
    from sampt.evaluation.scoring import run_folder_sequences, score_results

    dataset = open_dataset(args.dataset, args.dataset_root, split=args.split, year=args.year)
    names = [s for s in (args.sequences or "").split(",") if s]
    results_dir = args.results_dir
    run = run_folder_sequences(results_dir)
    if run is not None:  # the folder of a `sampt run`: score the sequence(s) it holds
        results_dir, found = run
        names = names or found
    dataset.select(names)
    report = score_results(results_dir, dataset, progress=not args.no_progress)
    title = f"{dataset.name} {dataset.split}"
    print(report.format(title))
    out_dir = args.csv_dir or args.results_dir
    g, s = report.write_csvs(out_dir, dataset.split)
    print(f"\nGlobal results saved in {g}\nPer-sequence results saved in {s}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from sampt.evaluation.run import run_eval_command

    return run_eval_command(args)


def _bench(args: argparse.Namespace) -> int:
    from sampt.evaluation.bench import run_bench_command

    return run_bench_command(args)


@sampt.hookimpl
def register_commands(cli) -> None:
    """Add ``score``, ``eval`` and ``bench`` to the ``sampt`` command line."""
    p = cli.add_parser(
        "score", help="score result PNGs against DAVIS annotations (the official DAVIS 2017 evaluation)",
        description="Score RESULTS_DIR/<sequence>/<frame>.png label maps against a dataset's annotations, as the "
                    "official DAVIS evaluation does (semi-supervised: first and last frames excluded). Prints "
                    "per-object and global J, F (mean, recall, decay) and J&F, and writes "
                    "global_results-<split>.csv and per-sequence_results-<split>.csv beside the results.",
        epilog="""examples:
  sampt score results/ DAVIS_ROOT                       # results/<sequence>/<frame>.png, DAVIS 2017 val
  sampt run DAVIS_ROOT/JPEGImages/480p/bear --mask DAVIS_ROOT/Annotations/480p/bear/00000.png -o out/
  sampt score out/ DAVIS_ROOT                           # scores the sequence(s) in out/masks/
  sampt score results/ DAVIS_ROOT --year 2016 --sequences bear,camel""")
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="folder holding one folder of PNGs per sequence, or "
                   "the output folder of `sampt run` (its masks/<sequence>/ are scored)")
    p.add_argument("dataset_root", metavar="DATASET_ROOT", help="dataset root (DAVIS: holds JPEGImages/, "
                   "Annotations/, ImageSets/)")
    p.add_argument("--dataset", default="davis", help="davis (with --year), davis2016, davis2017, youtubevos2019 "
                   "(train split only; val/test are scored by the server), mose (default: davis)")
    p.add_argument("--year", default="2017", choices=["2016", "2017"], help="DAVIS year (default 2017)")
    p.add_argument("--split", default=None, help="split (default: val for DAVIS)")
    p.add_argument("--sequences", default=None, help="comma-separated sequences to score (default: all)")
    p.add_argument("--csv-dir", default=None, help="where to write the CSVs (default: RESULTS_DIR)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_score)

    from sampt.evaluation.run import add_eval_arguments
    from sampt.evaluation.bench import add_bench_arguments

    p = cli.add_parser(
        "eval", help="run the pipeline over a VOS dataset, write result PNGs and score them",
        description="Run SAM-PT over every sequence of a dataset (each object prompted with its mask on the frame "
                    "where it first appears), write DAVIS result PNGs (or the YouTube-VOS submission layout) and "
                    "print per-sequence and overall scores. Resumable: sequences whose outputs are complete are "
                    "skipped; each sequence is written atomically.",
        epilog="""examples:
  sampt eval DAVIS_ROOT dataset=davis2017 split=val tracker=lk segmenter=grabcut
  sampt eval YTVOS_ROOT dataset=youtubevos2019 split=valid --zip tracker=cotracker3_offline segmenter=sam_vit_h""")
    add_eval_arguments(p)
    p.set_defaults(func=_eval)

    p = cli.add_parser(
        "bench", help="speed/accuracy grid over trackers x segmenters x pipeline options",
        description="Benchmark a grid of configurations on a dataset (a synthetic DAVIS-layout set by default): "
                    "J&F, J, F, FPS, seconds per frame by stage, peak memory, with warm-up and repeats. Writes "
                    "CSV, JSON, a Markdown table and a speed-vs-accuracy plot.",
        epilog="""examples:
  sampt bench                                   # the weightless grid on synthetic clips
  sampt bench --config configs/bench/davis2017.yaml""")
    add_bench_arguments(p)
    p.set_defaults(func=_bench)
