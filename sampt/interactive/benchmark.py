"""Deprecated: the interactive benchmark moved to :mod:`sampt.evaluation.interactive_bench.benchmark`."""
from sampt.deprecation import forward_moved_module

__getattr__ = forward_moved_module(__name__, "sampt.evaluation.interactive_bench.benchmark")
