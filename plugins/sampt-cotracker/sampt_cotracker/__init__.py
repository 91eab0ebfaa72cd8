"""CoTracker point trackers (CoTracker 1, 2 and 3) for sampt.

Nothing heavy is imported here: the trackers are registered lazily (see :mod:`sampt_cotracker.plugin`).
"""
__all__: list[str] = []
