"""RAFT optical flow as a sampt point tracker (flows chained frame to frame)."""
from sampt_raft._version import __version__
