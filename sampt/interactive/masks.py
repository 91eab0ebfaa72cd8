"""The session's masks: what is shown now on each (frame, object), the memo of earlier prompts' masks, and
which frames must be brought up to date.

A frame's mask of an object is recomputed only when the prompt the segmenter would get there changed (its
own visible points, and other objects' positives as negatives). Prompts are built and the masks decoded by
the pipeline's own step (:mod:`sampt.pipeline.prompting`); a result already computed for the same prompt on
the same frame (before an undo, say) is taken from the memo instead, which is bounded by
``SessionOptions.result_memory_mb`` (oldest dropped first).
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from sampt.interactive.state import SegmentationMemo, State
from sampt.pipeline.context import RunContext
from sampt.pipeline.prompting import ObjectFramePoints, build_prompt_points, segment_prompts
from sampt.pipeline.store import MaskStore
from sampt.types import POSITIVE

Prompt = tuple[np.ndarray, np.ndarray]
"""One object's prompt on one frame: points ``(K, 2)`` and labels ``(K,)``."""


@dataclass(frozen=True)
class FrameMasks:
    """One frame's masks: ``masks`` ``(O, H, W)`` bool in the order of ``object_ids``, and the combined
    ``label_map`` ``(H, W)`` uint8 (highest logit wins, as ``sampt run`` writes it)."""

    frame: int
    object_ids: tuple[int, ...]
    masks: np.ndarray
    label_map: np.ndarray


def prompt_key(points: np.ndarray, labels: np.ndarray) -> bytes:
    """What identifies a prompt: its points and labels, bit for bit."""
    return hashlib.sha1(np.ascontiguousarray(points, np.float32).tobytes() + b"|"
                        + np.ascontiguousarray(labels, np.int64).tobytes()).digest()


def state_prompts(ctx: RunContext, state: State, t: int) -> list[Prompt]:
    """Each object's prompt points and labels on frame ``t`` (the pipeline's rule, with the run's per-frame
    generator for capped negatives)."""
    if not state:
        return []
    objects = []
    for o in state:
        live = [p for p in o.points if p.active(t)]
        objects.append(ObjectFramePoints(np.array([p.track[t] for p in live], np.float32).reshape(-1, 2),
                                         np.array([p.label for p in live], np.int64),
                                         np.array([p.visible[t] for p in live], bool)))
    return build_prompt_points(objects, ctx.video.size, ctx.options, ctx.frame_rng(t))


class SessionMasks:
    """The masks of a session: ``results[(frame, object id)]`` the mask shown now, ``dirty`` the frames whose
    prompts may differ from those of their results, and the memo of masks of earlier prompts."""

    def __init__(self, ctx: RunContext, memory_budget: int):
        self.ctx, self.memory_budget = ctx, memory_budget
        self.results: dict[tuple[int, int], SegmentationMemo] = {}
        self.memo: OrderedDict[tuple[int, bytes], SegmentationMemo] = OrderedDict()
        self.memo_bytes = 0
        self.dirty: set[int] = set()
        self.segmented_pairs = 0  # (frame, object) masks computed by the segmenter
        self.reused_pairs = 0  # masks taken from the memo

    def mark_changes(self, before: State, after: State, frames: range) -> tuple[set[int], range]:
        """Which objects' prompts differ between two states on ``frames`` and the span of frames where they
        do (those frames become dirty); the masks of objects gone from ``after`` move to the memo."""
        changed: set[int] = set()
        first = last = None
        for t in frames:
            old = dict(zip([o.object_id for o in before], state_prompts(self.ctx, before, t)))
            new = dict(zip([o.object_id for o in after], state_prompts(self.ctx, after, t)))
            differ = {oid for oid in set(old) | set(new)
                      if oid not in old or oid not in new or prompt_key(*old[oid]) != prompt_key(*new[oid])}
            if differ:
                changed |= differ
                first = t if first is None else first
                last = t
                self.dirty.add(t)
        removed = {o.object_id for o in before} - {o.object_id for o in after}
        for key in [k for k in self.results if k[1] in removed]:
            self.forget(key)
        return changed, range(first, last + 1) if first is not None else range(0)

    def update(self, state: State, t: int) -> None:
        """Bring frame ``t``'s masks up to date: segment the objects whose prompt changed (or reuse the mask
        of that same prompt from the memo)."""
        if t not in self.dirty:
            return
        prompts = state_prompts(self.ctx, state, t)
        todo = []
        for obj, prompt in zip(state, prompts):
            key = prompt_key(*prompt)
            current = self.results.get((t, obj.object_id))
            if current is not None and current.key == key:
                continue
            if current is None and not np.any(prompt[1] == POSITIVE):
                continue  # no mask before, none now
            remembered = self.memo.pop((t, key), None)
            if remembered is not None:
                self.memo_bytes -= remembered.nbytes
                self.set(t, obj.object_id, remembered)
                self.reused_pairs += 1
            else:
                todo.append((obj.object_id, prompt, key))
        if todo:
            self._segment(t, todo)
        self.dirty.discard(t)

    def _segment(self, t: int, todo: Sequence[tuple[int, Prompt, bytes]]) -> None:
        need_image = any(np.any(p[1] == POSITIVE) for _, p, _ in todo)
        results = segment_prompts(self.ctx, self.ctx.embedding(t), [p for _, p, _ in todo]) if need_image else None
        for k, (oid, prompt, key) in enumerate(todo):
            r = results[k] if results is not None else None
            entry = None
            if r is not None and r.logits is not None:
                scratch = MaskStore(1, 1, self.ctx.video.size)
                scratch.set(0, 0, r.logits)
                entry = scratch.entry(0, 0)
            iou = np.nan if r is None or r.iou is None else float(r.iou)
            self.set(t, oid, SegmentationMemo(key, entry, iou, prompt))
            self.segmented_pairs += int(np.any(prompt[1] == POSITIVE))

    def set(self, t: int, object_id: int, result: SegmentationMemo) -> None:
        self.forget((t, object_id))
        self.results[(t, object_id)] = result

    def forget(self, key: tuple[int, int]) -> None:
        """Move a shown result to the memo (bounded by the memory budget, oldest dropped first)."""
        old = self.results.pop(key, None)
        if old is None:
            return
        memo_key = (key[0], old.key)
        if memo_key in self.memo:
            return
        self.memo[memo_key] = old
        self.memo_bytes += old.nbytes
        while self.memo and self.memo_bytes > self.memory_budget:
            _, dropped = self.memo.popitem(last=False)
            self.memo_bytes -= dropped.nbytes

    def frame_masks(self, t: int, ids: Sequence[int]) -> FrameMasks:
        """Frame ``t``'s masks of objects ``ids`` as they are now (no update)."""
        ids = list(ids)
        store = MaskStore(1, len(ids), self.ctx.video.size)
        for o, oid in enumerate(ids):
            r = self.results.get((t, oid))
            if r is not None:
                store.put_entry(0, o, r.entry)
        masks = np.stack([store.mask(0, o) for o in range(len(ids))]) if ids else np.zeros((0, *self.ctx.video.size), bool)
        return FrameMasks(t, tuple(ids), masks, store.label_map(0, ids))

    def outputs(self, ids: Sequence[int]) -> tuple[MaskStore, np.ndarray, list[list[Any]]]:
        """Every frame's current masks, predicted IoUs and prompts of objects ``ids``, as a run holds them."""
        T, ids = len(self.ctx.video), list(ids)
        store = MaskStore(T, len(ids), self.ctx.video.size)
        iou = np.full((T, len(ids)), np.nan, np.float32)
        prompts: list[list[Any]] = [[None] * len(ids) for _ in range(T)]
        for (t, oid), r in self.results.items():
            if oid not in ids:
                continue
            o = ids.index(oid)
            store.put_entry(t, o, r.entry)
            iou[t, o] = r.iou
            prompts[t][o] = r.prompt
        return store, iou, prompts
