"""TAPIR / BootsTAPIR point trackers for sampt."""
from sampt_tapir._version import __version__
