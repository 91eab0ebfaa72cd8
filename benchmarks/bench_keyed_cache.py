"""How long the tests' keyed weights take drawn vs read back from the per-run cache ($SAMPT_KEYED_CACHE).

    python benchmarks/bench_keyed_cache.py [MANIFEST ...]     # default: pips2 (the smallest reference model)

Prints, per manifest, the parameter count, the seconds to draw the weights and to read them back. Run it on a
quiet machine for figures to compare; note the load average (printed) otherwise.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
import time

from sampt import testing

log = logging.getLogger("benchmarks.keyed_cache")


def measure(name: str, folder: str) -> tuple[float, float, float]:
    """(million parameters, seconds drawn and stored, seconds read back) for manifest ``name``."""
    os.environ[testing.KEYED_CACHE_ENV] = folder
    started = time.perf_counter()
    state = testing.keyed_state_dict(name)
    drawn = time.perf_counter() - started
    started = time.perf_counter()
    testing.keyed_state_dict(name)
    read = time.perf_counter() - started
    return sum(t.numel() for t in state.values()) / 1e6, drawn, read


def main(names: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.info("load average: %s", open("/proc/loadavg").read().split()[:3])
    with tempfile.TemporaryDirectory(prefix="sampt-keyed-bench-") as folder:
        for name in names:
            params, drawn, read = measure(name, folder)
            log.info("%-20s %6.1f M params  drawn %6.2f s  read back %5.2f s", name, params, drawn, read)


if __name__ == "__main__":
    main(sys.argv[1:] or ["pips2"])
