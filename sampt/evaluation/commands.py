"""Evaluation commands: ``sampt score``, ``sampt eval`` and ``sampt bench``: their arguments, and the
summary each prints. The work is in :mod:`sampt.evaluation.davis.scoring`, :mod:`sampt.evaluation.run` and
:mod:`sampt.evaluation.bench.run`."""
from __future__ import annotations

import argparse
import logging

from sampt.hookspecs import hookimpl

log = logging.getLogger(__name__)


EXECUTOR_HELP = ("executor=local (default) runs here; executor=ray spreads sequences over a Ray cluster "
                 "(pip install 'sampt[ray]'): executor.address=auto|ray://HEAD:10001 (default: start Ray here), "
                 "executor.workers=N, executor.cpus_per_task=1, executor.gpus_per_task=0, executor.max_retries=2.")


def _add_epilog(p: argparse.ArgumentParser, text: str) -> None:
    """Put ``text`` (wrapped) before the examples a command's parser already has."""
    import textwrap

    text = textwrap.fill(text, 100)
    p.epilog = f"{text}\n\n{p.epilog}" if p.epilog else text


# -- sampt score ------------------------------------------------------------------------------------

def add_score_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results_dir", metavar="RESULTS_DIR", help="folder holding one folder of PNGs per sequence, "
                   "or the output folder of `sampt run` (its masks/<sequence>/ are scored) (uvo: a YouTube-VIS "
                   "results JSON, or the folder holding results.json)")
    p.add_argument("dataset_root", metavar="DATASET_ROOT", help="dataset root (DAVIS: holds JPEGImages/, "
                   "Annotations/, ImageSets/)")
    p.add_argument("--dataset", default="davis", help="davis (with --year), davis2016, davis2017, youtubevos2019 "
                   "(train split, or valid with a local copy of its annotations: G over seen/unseen), mose, bdd100k (J&F per "
                   "visibility bucket), uvo (class-agnostic AP/AR) (default: davis)")
    p.add_argument("--year", default="2017", choices=["2016", "2017"], help="DAVIS year (default 2017)")
    p.add_argument("--split", default=None, help="split (default: val for DAVIS)")
    p.add_argument("--sequences", default=None, help="comma-separated sequences to score (default: all)")
    p.add_argument("--csv-dir", default=None, help="where to write the CSVs (default: RESULTS_DIR)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_score(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sampt.errors import UsageError
    from sampt.evaluation.datasets import open_dataset
    from sampt.evaluation.scorers import score_dataset
    from sampt.evaluation.davis.scoring import run_folder_sequences
    from sampt.outputs import check_output_path

    dataset = open_dataset(args.dataset, args.dataset_root, split=args.split, year=args.year)
    is_vis = getattr(dataset, "kind", "") == "vis"
    results_folder = args.results_dir
    if is_vis and not Path(args.results_dir).is_dir():  # UVO: a results JSON; its CSVs go beside it
        if not Path(args.results_dir).is_file():
            raise UsageError(f"results file {args.results_dir} does not exist (give a YouTube-VIS results JSON, or "
                             "the folder holding results.json)")
        results_folder = str(Path(args.results_dir).parent)
    check_output_path(args.csv_dir or results_folder, "--csv-dir" if args.csv_dir else "results folder", "dir")
    names = [s for s in (args.sequences or "").split(",") if s]
    results_dir = args.results_dir
    run = None if is_vis else run_folder_sequences(results_dir)
    if run is not None:  # the folder of a `sampt run`: score the sequence(s) it holds
        results_dir, found = run
        names = names or found
    dataset.select(names)
    if is_vis:  # UVO: a YouTube-VIS results JSON
        from sampt.evaluation.report import text_table
        from sampt.evaluation.vis.run import SCORE_COLUMNS, score_vis_file

        scores, g = score_vis_file(args.results_dir, dataset, args.csv_dir, progress=not args.no_progress)
        print(f"class-agnostic video instance segmentation on {dataset.name} {dataset.split}:")
        print(text_table([scores], SCORE_COLUMNS))
        print(f"\nGlobal results saved in {g}")
        return 0
    report = score_dataset(results_dir, dataset, progress=not args.no_progress)
    print(report.format(f"{dataset.name} {dataset.split}"))
    g, s = report.write_csvs(args.csv_dir or args.results_dir, dataset.split)
    print(f"\nGlobal results saved in {g}\nPer-sequence results saved in {s}")
    return 0


# -- sampt eval -------------------------------------------------------------------------------------

def add_eval_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset_root", metavar="DATASET_ROOT", help="dataset root folder")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="dataset=davis2017|davis2016|youtubevos2018|youtubevos2019|mose|bdd100k|uvo, split=val, "
                        "task=vos|vis (uvo: vis; vis.points_per_side=16 vis.track_nms_thresh=0.7 ..., "
                        "proposals=FILE), and config overrides (tracker=lk segmenter=grabcut "
                        "pipeline.positive_points=8 ...)")
    p.add_argument("--output", "-o", default=None,
                   help="results folder (default: sampt-output/eval/<dataset>-<split>-<tracker>-<segmenter>)")
    p.add_argument("--sequences", default=None, help="comma-separated sequences to run (default: all)")
    p.add_argument("--config", default=None, help="base config file (default: configs/config.yaml)")
    p.add_argument("--overwrite", action="store_true",
                   help="rerun every sequence, even complete ones (also allows a different configuration)")
    p.add_argument("--zip", action="store_true", help="YouTube-VOS/MOSE: also zip the submission")
    p.add_argument("--no-score", action="store_true", help="write the results only")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_epilog(p, EXECUTOR_HELP)


def cmd_eval(args: argparse.Namespace) -> int:
    from sampt.evaluation.report import text_table
    from sampt.evaluation.run import run_eval, sequence_columns
    from sampt.evaluation.writers import SERVER_NOTE, zip_submission

    outcome = run_eval(args.dataset_root, args.overrides, output=args.output, sequences=args.sequences,
                       config_file=args.config, overwrite=args.overwrite, score=not args.no_score,
                       progress=not args.no_progress)
    dataset, out_dir = outcome.dataset, outcome.out_dir
    if getattr(dataset, "kind", "") == "vis":  # video instance segmentation
        from sampt.evaluation.vis.run import ROW_COLUMNS, SCORE_COLUMNS

        print(text_table(outcome.rows, ROW_COLUMNS))
        if outcome.scores is not None:
            print(f"\nclass-agnostic video instance segmentation on {dataset.name} {dataset.split}:")
            print(text_table([outcome.scores], SCORE_COLUMNS))
        print(f"\nresults written to {outcome.results_path}"
              + (f"; scores in {', '.join(p.name for p in outcome.score_files)}" if outcome.score_files else ""))
        return 0
    summary = outcome.summary
    columns = sequence_columns(outcome.rows)
    if summary.failures:
        _print_failures(summary)
    if outcome.report is None:
        print(text_table(outcome.rows, [c for c in columns if "-Mean" not in c]))
        if dataset.kind == "youtubevos":
            if args.zip:
                print(f"submission: {zip_submission(out_dir)}")
            print(SERVER_NOTE)
        elif not dataset.scored_locally:
            print(f"{dataset.name} {dataset.split} is scored by the DAVIS challenge server: upload a zip of the "
                  "sequence folders (https://davischallenge.org).")
        print(f"results written to {out_dir}")
        print(summary.describe())
        return 1 if summary.failures else 0
    print(text_table(outcome.rows, columns))
    print()
    title = f"{dataset.name} {dataset.split}"
    if summary.failures:
        title += f" (complete sequences only: {len(summary.failures)} failed)"
    print(outcome.report.format(title))
    print(f"\nresults written to {out_dir}; scores in {', '.join(p.name for p in outcome.score_files)}")
    print(summary.describe())
    return 1 if summary.failures else 0


def _print_failures(summary) -> None:
    from sampt.evaluation.report import text_table

    print(f"{len(summary.failures)} sequence run(s) FAILED after retries (rerun the command to try them again):")
    print(text_table([vars(f) for f in summary.failures], ["combo", "sequence", "attempts", "error"]))
    print()


# -- sampt bench ------------------------------------------------------------------------------------

def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    from sampt.evaluation.bench.plan import DEFAULT_CONFIG

    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides applied to every combination (pipeline=fast pipeline.refinement_iterations=3)")
    p.add_argument("--config", "-c", default=None,
                   help=f"bench config: a YAML file or a name in configs/bench/ (default: {DEFAULT_CONFIG})")
    p.add_argument("--dataset-root", default=None, help="dataset root (default: the config's; synthetic needs none)")
    p.add_argument("--dataset", default=None, help="dataset name (synthetic, davis2017, davis2016, mose, bdd100k, "
                   "uvo: video instance segmentation with vis.KEY=VALUE / proposals=FILE overrides, ...)")
    p.add_argument("--split", default=None, help="dataset split")
    p.add_argument("--sequences", default=None, help="comma-separated sequences (default: all)")
    p.add_argument("--trackers", default=None, help="comma-separated trackers (replaces the config's grid axis)")
    p.add_argument("--segmenters", default=None, help="comma-separated segmenters (replaces the config's grid axis)")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="a grid axis (repeatable), e.g. pipeline.positive_points=4,8,16")
    p.add_argument("--repeats", type=int, default=None, help="timed passes per combination (default: config, 3)")
    p.add_argument("--warmup", type=int, default=None, help="untimed warm-up runs (default: config, 1)")
    p.add_argument("--interleave", action=argparse.BooleanOptionalAction, default=None,
                   help="build every pipeline first and alternate the combinations pass by pass, so changes in "
                        "machine load hit all alike (default: the config's, off)")
    p.add_argument("--pipeline-config", default=None, help="base pipeline config file (default: configs/config.yaml)")
    p.add_argument("--output", "-o", default=None, help="output folder (default: sampt-output/bench/<config>-<time>)")
    p.add_argument("--weights", default=None, choices=["checkpoint", "keyed_if_missing"],
                   help="checkpoint: every model needs its checkpoint; keyed_if_missing: a model whose checkpoint is "
                        "not cached gets keyed (random) weights, valid for speed and memory only (default: the "
                        "config's, checkpoint)")
    p.add_argument("--design", default=None, choices=["cross", "axes"],
                   help="cross: run every combination; axes: run the config's anchor and each axis value from it, and "
                        "compose the other combinations from their stage times (marked so) (default: the config's, "
                        "cross)")
    p.add_argument("--no-plot", action="store_true", help="skip the speed/accuracy plot (no matplotlib needed)")
    p.add_argument("--predict", action="store_true",
                   help="estimate each combination's FPS from per-component timings (measured once, kept in "
                        "--timings) without running the grid")
    p.add_argument("--check-prediction", action="store_true",
                   help="run the grid and put the --predict estimate beside each measured FPS")
    p.add_argument("--timings", default=None,
                   help="component timings file for --predict (default: OUTPUT/component_timings.json); "
                        "components already in it are not measured again")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_epilog(p, EXECUTOR_HELP + " With executor=ray each (combination, sequence) runs its repeats on one actor.")


def cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sampt.errors import UsageError
    from sampt.evaluation.bench.plan import plan_bench
    from sampt.evaluation.bench.run import add_predictions, default_output, predict_bench, run_bench
    from sampt.evaluation.bench.report import (DIGITS, PREDICTED_COLUMNS, require_matplotlib, terminal_table,
                                               write_bench_report, write_predicted)
    from sampt.evaluation.bench.predict import TIMINGS_NAME
    from sampt.provenance import provenance
    from sampt.evaluation.report import text_table
    from sampt.outputs import OutputDir

    plan = plan_bench(args.config, args.overrides, dataset=args.dataset, split=args.split, sequences=args.sequences,
                      trackers=args.trackers, segmenters=args.segmenters, grid=args.grid, repeats=args.repeats,
                      warmup=args.warmup, interleave=args.interleave, pipeline_config=args.pipeline_config,
                      weights=args.weights, design=args.design)
    if args.predict and args.check_prediction:
        raise UsageError("--predict estimates without running; --check-prediction runs and compares: give one")
    if not args.no_plot and not args.predict:  # fail now rather than after the whole grid
        require_matplotlib(pyplot=False)
    out_dir = Path(args.output) if args.output else default_output(plan)
    # the whole output is one unit: checked now, written complete at the end or not at all
    output = OutputDir(out_dir, "output folder", owned=("runs.csv", "runs.json", "results.md", "predicted.csv",
                                                         TIMINGS_NAME))
    predicted = timings = None
    if args.predict or args.check_prediction:
        # timings measured before are reused: from --timings, else from this folder's previous result
        source = Path(args.timings) if args.timings else out_dir / TIMINGS_NAME
        predicted, timings = predict_bench(plan, args.dataset_root, source)
        if args.timings:
            timings.save(Path(args.timings))
    result = None
    try:
        if args.predict:
            written = write_predicted(output.path, predicted, timings, {"combinations": plan.combos, **provenance()})
        else:
            result = run_bench(plan, dataset_root=args.dataset_root, progress=not args.no_progress)
            if predicted is not None:
                add_predictions(result.rows, predicted)
            written = write_bench_report(output.path, result.rows, result.per_sequence, result.meta,
                                         plot=not args.no_plot)
        if timings is not None:
            timings.save(output.path / TIMINGS_NAME)
            written.append(TIMINGS_NAME)
        output.commit()
    finally:
        output.discard()
    if result is None:
        print(text_table(predicted, PREDICTED_COLUMNS, digits=DIGITS))
        print(f"\nestimate written to {out_dir} ({', '.join(written)})")
        return 0
    if result.summary is not None and result.summary.failures:
        _print_failures(result.summary)
    print(terminal_table(result.rows))
    print(f"\nbenchmark written to {out_dir} ({', '.join(written)})")
    if result.summary is not None:
        print(result.summary.describe())
        return 1 if result.summary.failures else 0
    return 0


@hookimpl
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
    add_score_arguments(p)
    p.set_defaults(func=cmd_score)

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
    p.set_defaults(func=cmd_eval)

    p = cli.add_parser(
        "bench", help="speed/accuracy grid over trackers x segmenters x pipeline options",
        description="Benchmark a grid of configurations on a dataset (a synthetic DAVIS-layout set by default): "
                    "J&F, J, F, FPS, seconds per frame by stage, peak memory, with warm-up and repeats. Writes "
                    "CSV, JSON, a Markdown table and a speed-vs-accuracy plot.",
        epilog="""examples:
  sampt bench                                   # the weightless grid on synthetic clips
  sampt bench --config davis2017 --dataset-root DAVIS_ROOT""")
    add_bench_arguments(p)
    p.set_defaults(func=cmd_bench)
