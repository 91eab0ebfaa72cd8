#!/usr/bin/env python
"""SAM-PT versus SAM 2's video predictor in ``sampt bench``, with keyed weights (no checkpoint needed).

Writes a keyed SAM 2.1 Hiera-T checkpoint (sampt-sam2's committed manifest) under its official file name into
a temporary weights cache, points ``$SAMPT_CACHE_DIR`` there (offline), and runs ``sampt bench`` with
``benchmarks/sam2_vs_sampt.yaml``: SAM-PT rows (LK tracker with GrabCut and with SAM 2.1 Hiera-T) and the
``sam2_video`` row on the same synthetic clips. Accuracy under random weights is meaningless; speed and
memory are not.

    OMP_NUM_THREADS=2 python benchmarks/bench_sam2_video.py --output benchmarks/results/sam2_video
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(HERE / "results" / "sam2_video"))
    parser.add_argument("--config", default=str(HERE / "sam2_vs_sampt.yaml"))
    args, extra = parser.parse_known_args()  # the rest goes to `sampt bench` (e.g. --no-progress, --repeats 2)
    from sampt.cli import main as sampt_main
    from sampt_sam2.plugin import CHECKPOINTS
    from sampt_sam2.testing import keyed_checkpoint

    with tempfile.TemporaryDirectory(prefix="sampt-keyed-") as cache:
        keyed_checkpoint("sam2.1_hiera_tiny", Path(cache) / CHECKPOINTS["sam2.1_hiera_tiny"].filename)
        os.environ["SAMPT_CACHE_DIR"], os.environ["SAMPT_OFFLINE"] = cache, "1"
        return sampt_main(["bench", "--config", args.config, "--output", args.output, *extra])


if __name__ == "__main__":
    sys.exit(main())
