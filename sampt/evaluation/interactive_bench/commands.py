"""``sampt interactive-bench``: its arguments and the summary it prints; the work is in
:mod:`sampt.evaluation.interactive_bench.run`."""
from __future__ import annotations

import argparse

from sampt.hookspecs import hookimpl


def add_interactive_bench_arguments(p: argparse.ArgumentParser) -> None:
    from sampt.evaluation.interactive_bench.run import METHODS

    p.add_argument("dataset_root", metavar="DATASET_ROOT", nargs="?", default=None,
                   help="dataset root (DAVIS: holds JPEGImages/, Annotations/, ImageSets/); omit for the synthetic set")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="dataset=davis2017|davis2016|synthetic, split=val, mode=offline|online, budget=300, and config "
                        "overrides (tracker=lk segmenter=grabcut pipeline=fast ...)")
    p.add_argument("--output", "-o", default=None,
                   help="results folder (default: sampt-output/interactive/<dataset>-<mode>-<tracker>-<segmenter>)")
    p.add_argument("--sequences", default=None, help="comma-separated sequences to run (default: all)")
    p.add_argument("--methods", default=",".join(METHODS),
                   help=f"comma-separated methods (default: {','.join(METHODS)}; per-frame is the baseline)")
    p.add_argument("--config", default=None, help="base config file (default: configs/config.yaml)")
    p.add_argument("--overwrite", action="store_true",
                   help="rerun everything, even videos already done (also allows a different configuration)")
    p.add_argument("--no-plot", action="store_true", help="skip curves.png (no matplotlib needed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def cmd_interactive_bench(args: argparse.Namespace) -> int:
    from sampt.arguments import split_positional_override
    from sampt.evaluation.bench.report import require_matplotlib
    from sampt.evaluation.report import text_table
    from sampt.evaluation.interactive_bench.run import SUMMARY_COLUMNS, run_interactive_bench

    root, overrides = split_positional_override(args.dataset_root, args.overrides)
    if not args.no_plot:  # fail now rather than after the whole dataset
        require_matplotlib(pyplot=False)
    outcome = run_interactive_bench(root, overrides, output=args.output, sequences=args.sequences,
                                    methods=[m for m in args.methods.split(",") if m], config_file=args.config,
                                    overwrite=args.overwrite, plot=not args.no_plot, progress=not args.no_progress)
    print(text_table(outcome.summary, SUMMARY_COLUMNS))
    print(f"\n{outcome.ran} video(s) run, {outcome.skipped} already done; results in {outcome.out_dir} "
          f"({', '.join(p.name for p in outcome.files)})")
    return 0


@hookimpl
def register_commands(cli) -> None:
    """Add ``interactive-bench`` to the ``sampt`` command line."""
    p = cli.add_parser(
        "interactive-bench", help="the paper's interactive benchmark: simulated point corrections, SAM-PT vs SAM per frame",
        description="Simulate an annotator correcting points (SAM-PT §4.6): on every frame below the target IoU, "
                    "remove a negative point inside the object, else a positive point outside it, else add a point "
                    "in the larger error region (at most 3 per frame; budget 300 interactions). Offline mode raises "
                    "the target 0.1..0.9, 0.95 pass by pass; online makes one pass at 0.9. Runs SAM-PT and the "
                    "per-frame baseline (tracking off); writes each video's interaction history and curve, the mean "
                    "curves (CSV), a Markdown table and a plot. Resumable: videos already done are skipped.",
        epilog="""examples:
  sampt interactive-bench DAVIS_ROOT dataset=davis2017 mode=offline
  sampt interactive-bench DAVIS_ROOT dataset=davis2017 mode=online tracker=cotracker3_offline segmenter=sam_vit_h""")
    add_interactive_bench_arguments(p)
    p.set_defaults(func=cmd_interactive_bench)
