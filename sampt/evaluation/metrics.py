"""Deprecated: the DAVIS metrics moved to :mod:`sampt.evaluation.davis.metrics`."""
from sampt.deprecation import forward_moved_module

__getattr__ = forward_moved_module(__name__, "sampt.evaluation.davis.metrics")
