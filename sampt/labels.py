"""Label maps on disk: reading a user's or a dataset's mask image as ``(H, W)`` uint8 object labels, and writing
DAVIS-style indexed palette PNGs atomically. (:mod:`sampt.io` offers these with the video readers.)"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from sampt.errors import InputError, one_line
from sampt.outputs import atomic_file

log = logging.getLogger(__name__)


def davis_palette() -> np.ndarray:
    """The 256x3 uint8 palette of DAVIS/YouTube-VOS annotation PNGs (the PASCAL VOC colour map)."""
    return _DAVIS_PALETTE.copy()


def _make_davis_palette() -> np.ndarray:
    palette = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    return palette


_DAVIS_PALETTE = _make_davis_palette()  # computed once: every label PNG written needs it


LOSSY_FORMATS = {"JPEG", "MPO", "WEBP"}
"""Image formats whose compression changes pixel values (a mask in one of them cannot hold exact labels)."""

VOID_LABEL = 255
"""DAVIS's 'void' label in annotation PNGs (object boundaries, ignored regions): never an object."""


def read_label_png(path: str | os.PathLike) -> np.ndarray:
    """Read a mask image as ``(H, W)`` uint8 object labels (0: background), one object per label:

    * indexed (palette) PNGs, DAVIS style: the palette index is the object id;
    * greyscale (8 or 16 bit): one object per distinct non-zero value; a single value (a binary mask
      saved as 0/255) is object 1; values 1..254 are kept as ids, larger ones are numbered 1, 2, ...;
    * colour (RGB/RGBA): one object per distinct non-black colour (transparent pixels are background);
      colours of the DAVIS palette keep their index as id, others are numbered 1, 2, ... in reading order.

    The DAVIS void label 255 (in indexed and multi-valued greyscale masks) is ignored, not an object. A
    JPEG (lossy) mask is read as one object, thresholded at half brightness, with a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"mask {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if im.format in LOSSY_FORMATS:
                # lossy compression smears labels into many nearby values: one object, thresholded
                log.warning("mask %s is a %s (lossy): read as one object (pixels brighter than 127); save "
                            "masks as PNG, indexed for several objects", path, im.format)
                return (np.array(im.convert("L")) > 127).astype(np.uint8)
            if mode == "P":
                labels = np.array(im, dtype=np.uint8)
                void = labels == VOID_LABEL
                if void.any():
                    log.info("mask %s: %d void pixels (label 255) ignored", path, int(void.sum()))
                    labels[void] = 0
                return labels
            if mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"):
                arr = np.array(im.convert("L") if mode in ("1", "LA") else im)
                return _labels_from_values(arr, path)
            rgba = np.array(im.convert("RGBA"))
    except OSError as exc:
        raise InputError(f"mask {path} cannot be read as an image ({one_line(exc)})") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"mask {path} is too large to be a mask ({exc})") from None
    return _labels_from_colours(rgba, path)


def _labels_from_values(arr: np.ndarray, path: Path) -> np.ndarray:
    if arr.ndim != 2:
        raise InputError(f"mask {path} must be a single image, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)):
            raise InputError(f"mask {path} holds NaN or infinite values")
        arr = np.round(arr).astype(np.int64)
    values = [int(v) for v in np.unique(arr) if v != 0]
    if any(v < 0 for v in values):
        raise InputError(f"mask {path} holds negative values; labels must be 0 (background) or positive")
    labels = np.zeros(arr.shape, np.uint8)
    if len(values) == 1:
        labels[arr != 0] = 1
        return labels
    if values and values[-1] == VOID_LABEL and arr.dtype == np.uint8:
        values = values[:-1]
        log.info("mask %s: void pixels (value 255) ignored", path)
    if all(v <= 254 for v in values):
        for v in values:
            labels[arr == v] = v
        return labels
    if len(values) > 254:
        raise InputError(f"mask {path} holds {len(values)} distinct values; at most 254 objects fit in a label map "
                         "(is it a photo or an anti-aliased drawing rather than a mask?)")
    for i, v in enumerate(values, start=1):
        labels[arr == v] = i
    return labels


def _labels_from_colours(rgba: np.ndarray, path: Path) -> np.ndarray:
    rgb = rgba[..., :3]
    fg = (rgba[..., 3] > 0) & rgb.any(axis=2)
    labels = np.zeros(rgb.shape[:2], np.uint8)
    if not fg.any():
        return labels
    packed = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    colours, first = np.unique(packed[fg], return_index=True)
    if len(colours) > 254:
        raise InputError(f"mask {path} holds {len(colours)} colours; a mask needs one flat colour per object "
                         "(is it a photo, a JPEG or an anti-aliased drawing? save masks as indexed or RGB PNGs)")
    palette = davis_palette().astype(np.int64)
    palette_packed = {int((r << 16) | (g << 8) | b): i for i, (r, g, b) in enumerate(palette)}
    if len(colours) == 1:
        ids = {int(colours[0]): 1}
    elif all(int(c) in palette_packed for c in colours):
        ids = {int(c): palette_packed[int(c)] for c in colours}
    else:
        order = colours[np.argsort(first)]  # reading order of their first pixel
        ids = {int(c): i for i, c in enumerate(order, start=1)}
    for c, i in ids.items():
        if i != VOID_LABEL:
            labels[fg & (packed == c)] = i
    return labels


def write_label_png(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write ``(H, W)`` uint8 labels as a DAVIS-style indexed PNG, atomically."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"label map must be (H, W), got {labels.shape}")
    im = Image.fromarray(labels.astype(np.uint8), mode="P")
    im.putpalette(davis_palette().reshape(-1).tolist())
    with atomic_file(path) as tmp:
        im.save(tmp, format="PNG")
