"""CoTracker point trackers (CoTracker 1, 2 and 3) for sampt.

Nothing heavy is imported here: the trackers are registered lazily (see :mod:`sampt_cotracker.plugin`).
"""
from sampt_cotracker._version import __version__
__all__: list[str] = []
