"""Seeded synthetic clips with exact ground truth, for tests, demos and CI benchmarks.

Textured objects (ellipses and polygons with their own random texture) move over a textured background,
rotating a little, overlapping each other (later objects occlude earlier ones), and optionally leaving the
frame and coming back. A non-target occluder bar can sweep across. Masks are the exact visible part of
each object; ``transforms`` give each object's exact motion, so the true position of any point is known.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from sampt.types import Video


@dataclass
class SyntheticClip:
    """A generated clip: ``video``, visible ``masks`` ``(T, O, H, W)`` bool, and ``transforms``
    ``(T, O, 2, 3)``: the affine map from each object's frame-0 coordinates to frame ``t`` (None-free)."""

    video: Video
    masks: np.ndarray
    transforms: np.ndarray
    name: str = "synthetic"

    @property
    def object_ids(self) -> list[int]:
        return list(range(1, self.masks.shape[1] + 1))

    def label_map(self, t: int) -> np.ndarray:
        out = np.zeros(self.masks.shape[2:], np.uint8)
        for o in range(self.masks.shape[1]):
            out[self.masks[t, o]] = o + 1
        return out

    def true_positions(self, obj: int, points_frame0: np.ndarray) -> np.ndarray:
        """Where points given at frame 0 on object ``obj`` (0-based) are on every frame: ``(T, N, 2)``."""
        p0 = np.asarray(points_frame0, np.float64).reshape(-1, 2)
        inv0 = cv2.invertAffineTransform(self.transforms[0, obj])
        local = p0 @ inv0[:, :2].T + inv0[:, 2]
        return np.stack([local @ A[:, :2].T + A[:, 2] for A in self.transforms[:, obj]]).astype(np.float32)


def _texture(rng: np.random.Generator, h: int, w: int, scale: float, tint: Optional[np.ndarray] = None,
             contrast: float = 1.0) -> np.ndarray:
    """A random texture with structure at a few pixels' scale (good for point tracking), around colour
    ``tint`` (RGB in 0..1) with the given ``contrast``."""
    layers = []
    for s in (scale, scale * 3):
        small = rng.random((max(2, int(h / s)), max(2, int(w / s)), 3)).astype(np.float32)
        layers.append(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC))
    tex = 0.6 * layers[0] + 0.4 * layers[1]
    tex = (tex - tex.min()) / max(1e-6, tex.max() - tex.min())
    if tint is not None:
        gray = tex.mean(axis=2, keepdims=True)
        tint = np.clip(np.asarray(tint, np.float32), 0.25, 0.75)  # leave room for the texture
        tex = tint + contrast * (0.7 * (gray - 0.5) + 0.3 * (tex - 0.5))
    return np.clip(tex * 255, 0, 255).astype(np.uint8)


def _object_tint(rng: np.random.Generator) -> np.ndarray:
    """A saturated colour, so objects stand out from the grey background."""
    hue = rng.uniform(0, 180)
    hsv = np.uint8([[[hue, 220, 230]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32) / 255.0


def _shape_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    c = size / 2
    if rng.random() < 0.5:
        axes = (int(c * rng.uniform(0.6, 0.95)), int(c * rng.uniform(0.5, 0.9)))
        cv2.ellipse(m, (int(c), int(c)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        k = int(rng.integers(5, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = c * rng.uniform(0.6, 0.95, k)
        pts = np.stack([c + rad * np.cos(ang), c + rad * np.sin(ang)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 1)
    return m


def make_clip(seed: int = 0, num_frames: int = 16, height: int = 96, width: int = 128, num_objects: int = 2,
              object_size: float = 0.3, max_speed: float = 2.0, max_rotation: float = 1.0,
              leave_and_return: bool = False, occluder: bool = False, name: Optional[str] = None) -> SyntheticClip:
    """Generate a clip. ``object_size`` is the object diameter as a fraction of the shorter side; speeds are
    pixels per frame; ``max_rotation`` degrees per frame. ``leave_and_return`` makes object 1 move out of
    the frame and come back; ``occluder`` sweeps a vertical bar (not a target) across the middle frames."""
    rng = np.random.default_rng(seed)
    background = _texture(rng, height, width, scale=4.0, tint=np.full(3, 0.45), contrast=0.5)
    size = max(8, int(min(height, width) * object_size))
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    masks = np.zeros((num_frames, num_objects, height, width), bool)
    transforms = np.zeros((num_frames, num_objects, 2, 3), np.float64)

    objects = []
    for o in range(num_objects):
        shape = _shape_mask(rng, size)
        tex = _texture(rng, size, size, scale=4.0, tint=_object_tint(rng), contrast=1.2)
        centre0 = np.array([rng.uniform(size / 2 + 2, width - size / 2 - 2),
                            rng.uniform(size / 2 + 2, height - size / 2 - 2)])
        velocity = rng.uniform(-max_speed, max_speed, 2)
        spin = rng.uniform(-max_rotation, max_rotation)
        objects.append((shape, tex, centre0, velocity, spin))
    bar_w = max(4, width // 10)
    bar_tex = _texture(rng, height, bar_w, scale=2.0, tint=np.array([0.2, 0.2, 0.25]), contrast=0.6)

    for t in range(num_frames):
        frame = background.copy()
        visible_layers = np.zeros((height, width), np.int32)  # index+1 of the topmost object
        for o, (shape, tex, centre0, velocity, spin) in enumerate(objects):
            centre = centre0 + velocity * t
            if leave_and_return and o == 0:
                # out through the right edge by mid-clip, back by the end
                phase = np.sin(np.pi * t / max(1, num_frames - 1))
                centre = np.array([centre0[0] + phase * (width - centre0[0] + size), centre0[1]])
            else:  # bounce off the borders so objects stay in view
                for d, lim in ((0, width), (1, height)):
                    lo, hi = size / 2, lim - size / 2
                    span = hi - lo
                    if span > 0:
                        u = (centre[d] - lo) % (2 * span)
                        centre[d] = lo + (u if u <= span else 2 * span - u)
            A = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), spin * t, 1.0)
            A[:, 2] += centre - (size / 2 - 0.5)
            transforms[t, o] = A
            warped_shape = cv2.warpAffine(shape.astype(np.float32), A, (width, height), flags=cv2.INTER_LINEAR) > 0.5
            warped_tex = cv2.warpAffine(tex, A, (width, height), flags=cv2.INTER_CUBIC,
                                        borderMode=cv2.BORDER_REPLICATE)
            frame[warped_shape] = warped_tex[warped_shape]
            visible_layers[warped_shape] = o + 1
        if occluder and num_frames >= 3:
            x0 = int(round((t / (num_frames - 1)) * (width + bar_w))) - bar_w
            xs = slice(max(0, x0), max(0, min(width, x0 + bar_w)))
            if xs.stop > xs.start:
                frame[:, xs] = bar_tex[:, : xs.stop - xs.start]
                visible_layers[:, xs] = 0
        for o in range(num_objects):
            masks[t, o] = visible_layers == o + 1
        frames[t] = frame
    clip_name = name or f"synthetic_{seed:03d}"
    return SyntheticClip(Video(frames, fps=12.0, name=clip_name), masks, transforms, clip_name)


def write_davis(root: str | Path, clips: Sequence[SyntheticClip], split: str = "val", year: str = "2017") -> Path:
    """Write clips in the DAVIS layout (``JPEGImages/480p``, ``Annotations/480p``, ``ImageSets/<year>``)."""
    from sampt.io import write_frames, write_label_png
    from sampt.outputs import atomic_file

    root = Path(root)
    for clip in clips:
        write_frames(root / "JPEGImages" / "480p" / clip.name, clip.video, suffix=".jpg")
        for t in range(len(clip.video)):
            write_label_png(root / "Annotations" / "480p" / clip.name / f"{t:05d}.png", clip.label_map(t))
    with atomic_file(root / "ImageSets" / year / f"{split}.txt") as tmp:
        tmp.write_text("".join(f"{c.name}\n" for c in clips))
    return root


def make_synthetic_set(num_clips: int = 3, seed: int = 0, **kwargs) -> list[SyntheticClip]:
    """A small, varied, seeded set of clips (used by the demo and the CI benchmark)."""
    variants = [dict(), dict(occluder=True), dict(leave_and_return=True), dict(num_objects=3)]
    clips = []
    for i in range(num_clips):
        opts = {**variants[i % len(variants)], **kwargs}
        clips.append(make_clip(seed=seed + i, name=f"synthetic_{seed + i:03d}", **opts))
    return clips
