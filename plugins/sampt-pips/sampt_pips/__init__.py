"""PIPS and PIPS++ point trackers for sampt."""
from sampt_pips._version import __version__
