"""Interactive point editing (SAM-PT's annotation use): a :class:`Session` holds one video, its objects
and their points; edits on any frame re-do only what they changed. The paper's interactive benchmark
(:mod:`sampt.evaluation.interactive_bench.benchmark`) drives a session as a simulated annotator."""
from sampt.interactive.masks import FrameMasks
from sampt.interactive.options import EditError, SessionOptions
from sampt.interactive.session import Session
from sampt.interactive.state import Change, PointView

__all__ = ["Session", "SessionOptions", "Change", "PointView", "FrameMasks", "EditError"]
