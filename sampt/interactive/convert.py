"""A session to and from the rest of sampt: built from a composed config, turned into a run's result (so the
run's writers apply), exported as the folder ``sampt run`` writes."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from sampt.errors import UsageError
from sampt.interactive.options import EditError, SessionOptions
from sampt.pipeline.options import SamPtOptions
from sampt.pipeline.quality import QualityThresholds, measure_result
from sampt.pipeline.query_points import ObjectQueries
from sampt.types import Tracks


def session_parts_from_config(cfg: Any, registry: Any, session_options: dict) -> dict:
    """The :class:`~sampt.interactive.session.Session` keyword arguments for a composed config: its
    components, pipeline options and seed, and ``session_options`` (:class:`SessionOptions` fields)."""
    from omegaconf import OmegaConf

    from sampt.config import build_component
    from sampt.plugins import Registry

    registry = registry or Registry()
    try:
        pipeline = SamPtOptions(**OmegaConf.to_container(cfg.pipeline, resolve=True))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    known = [f.name for f in dataclasses.fields(SessionOptions) if f.name not in ("pipeline", "seed")]
    unknown = set(session_options) - set(known)
    if unknown:
        raise EditError(f"unknown session option(s) {', '.join(sorted(unknown))} (the pipeline options and seed "
                        f"come from the config); known: {', '.join(known)}")
    options = SessionOptions(pipeline=pipeline, seed=int(cfg.seed), **session_options)
    return {"tracker": build_component(cfg, "tracker", registry),
            "segmenter": build_component(cfg, "segmenter", registry), "options": options,
            "positive_sampler": build_component(cfg, "positive_sampler", registry),
            "negative_sampler": build_component(cfg, "negative_sampler", registry),
            "config": OmegaConf.to_container(cfg)}


def session_result(session: Any, store: Any, iou: np.ndarray, prompts: list) -> Any:
    """A session's state and current masks as a :class:`~sampt.pipeline.SamPtResult`, quality included."""
    from sampt.pipeline.sam_pt import SamPtResult

    T, ids = session.num_frames, list(session.object_ids)
    queries, tracks = [], []
    for obj in session.state:
        pts = obj.points
        queries.append(ObjectQueries(obj.object_id, obj.frame, np.array([[p.x, p.y] for p in pts], np.float32).reshape(-1, 2),
                                     np.array([p.label for p in pts], np.int64), obj.mask))
        points = np.full((T, len(pts), 2), np.nan, np.float32)
        visible = np.zeros((T, len(pts)), bool)
        for k, p in enumerate(pts):
            points[p.start:p.end, k] = p.track[p.start:p.end]
            visible[p.start:p.end, k] = p.visible[p.start:p.end]
        tracks.append(Tracks(points, visible))
    timings = session.ctx.timing_report(sum(session.ctx.timings.seconds.values()) + session.ctx.embeddings.encode_seconds)
    result = SamPtResult(ids, store, iou, queries, tracks, prompts, timings, session.encoder_calls)
    result.quality = measure_result(result, session.ctx.segmenter.predicts_iou,
                                    QualityThresholds.from_options(session.ctx.options))
    return result


def export_session(session: Any, out_dir: str, overlay: bool) -> Path:
    """Write the result folder ``sampt run`` writes, plus the session's edit history in ``result.json``."""
    from sampt.results import RunOutput

    if not session.state:
        raise EditError("the session has no object to export; add one first")
    output = RunOutput(out_dir)  # checks the destination before any work
    extra = {"session": {"history": session.history, "encoder_calls": session.encoder_calls,
                         "segmented_pairs": session.segmented_pairs}, "video": session.video.name}
    if session.config is not None:
        extra["config"] = session.config
    try:
        return output.finish(session.result(), session.video, overlay=overlay, extra=extra)
    finally:
        output.discard()


def session_stats(session: Any) -> dict:
    """Counters of a session's work: frames encoded, masks segmented and reused, embedding spills."""
    cache, timings = session.ctx.embeddings, session.ctx.timings
    return {"encoder_calls": cache.encoder_calls, "segmented_pairs": session.segmented_pairs,
            "reused_pairs": session.reused_pairs, "embedding_disk_writes": cache.disk_writes,
            "embedding_disk_reads": cache.disk_reads, "embedding_memory_bytes": cache.memory_bytes,
            "tracking_seconds": timings.get("tracking"), "decoding_seconds": timings.get("decoding"),
            "encoding_seconds": cache.encode_seconds}
