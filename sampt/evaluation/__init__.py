"""Evaluation, grouped by role: ``datasets/`` (the readers, each checking its own files), one package per
benchmark family holding its metrics and scoring (``davis/``, ``youtubevos/``, ``bdd100k/``, ``vis/``),
``scorers`` (which scoring a dataset's ``protocol`` gets), ``run`` (``sampt eval``), ``bench/`` (``sampt bench``:
grid, plan, run, report), ``interactive_bench/`` (``sampt interactive-bench``), and the shared executors,
measuring tools, writers and tables."""
