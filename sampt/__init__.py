"""sampt: SAM-PT, zero-shot video object segmentation by point tracking, with pluggable components."""
from sampt._version import __version__
from sampt.hookspecs import hookimpl
from sampt.interfaces import ImageEmbedding, PointSampler, Segmenter, Tracker, TrackerCapabilities, TrackStream
from sampt.plugin_api import PLUGIN_API_VERSION
from sampt.types import NEGATIVE, POSITIVE, Prediction, Prompt, Tracks, Video

__all__ = [
    "hookimpl", "Tracker", "TrackerCapabilities", "TrackStream", "Segmenter", "ImageEmbedding", "PointSampler",
    "Video", "Tracks", "Prompt", "Prediction", "POSITIVE", "NEGATIVE", "segment", "load_result", "PLUGIN_API_VERSION",
]


def __getattr__(name: str):
    """``sampt.segment`` and ``sampt.load_result`` (:mod:`sampt.api`), imported on first use so that
    ``import sampt`` stays light for plugins."""
    if name in ("segment", "load_result"):
        from sampt import api

        return getattr(api, name)
    raise AttributeError(f"module 'sampt' has no attribute {name!r}")
