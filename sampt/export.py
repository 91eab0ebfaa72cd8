"""Exports of a result folder for annotation tools and challenge servers (``sampt export``).

* ``coco``: COCO-style JSON (the video extension's ``videos`` list included): an image per frame, a category
  per object, an annotation per frame and object present, with compressed RLE (pycocotools), area, bbox
  ``[x, y, w, h]``, ``track_id`` (the object id) and the object's score. Each image's ``file_name`` names a
  file that exists, relative to the JSON's folder: the input's own frame files when the input was a folder of
  frames read at full size, else the frames written as JPEGs beside the JSON, in ``<json stem>_images/``.
* ``ytvos``: the YouTube-VOS submission layout, ``Annotations/<video>/<frame>.png`` (indexed PNGs) in a zip.
* ``cvat``: CVAT for video 1.1 XML (``annotations.xml`` in a zip, which CVAT's "Upload annotations"
  takes): one track per object, holding a ``mask`` shape on every frame it is present on (marked outside
  where it is absent). A mask shape is CVAT's run-length encoding of the mask inside its box (``left``,
  ``top``, ``width``, ``height``): run lengths row by row, alternating background and foreground, starting
  with background; so every component and every hole of the mask is kept exactly.
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Optional
from xml.sax.saxutils import quoteattr

import cv2
import numpy as np

from sampt.errors import OutputError, UsageError
from sampt.outputs import OutputDir, atomic_file, check_output_path
from sampt.progress import progress_bar
from sampt.run_folder import RESULT_ENTRIES, SavedResult, load_result

FORMATS = {"coco": "coco.json", "ytvos": "ytvos.zip", "cvat": "cvat.zip"}


def export_result(result_dir: str | os.PathLike, fmt: str, output: Optional[str | os.PathLike] = None,
                  progress: bool = False) -> Path:
    """Export the result folder ``result_dir`` as ``fmt`` to ``output`` (default
    ``result_dir/export/<coco.json|ytvos.zip|cvat.zip>``); returns the file written."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    result = load_result(result_dir)  # the run folder validated (masks included) before anything is written
    out = Path(output) if output else result.path / "export" / FORMATS[fmt]
    check_output_path(out, "export file", "file")
    _refuse_run_file(result.path, out)
    if fmt == "ytvos":
        return export_ytvos(result, out)
    if fmt == "coco":
        return export_coco(result, out, progress)
    return export_cvat(result, out, progress)


def _refuse_run_file(run_dir: Path, out: Path) -> None:
    """An export never replaces the run's own files (result.json, masks, tracks, overlay)."""
    root, target = run_dir.resolve(), out.resolve()
    if root == target or root in target.parents:
        first = target.relative_to(root).parts[0] if target != root else ""
        if not first or first in RESULT_ENTRIES:
            raise OutputError(f"export file {out} would overwrite the run's own {first or 'folder'}; give a path "
                              f"outside it or under {run_dir / 'export'}")


def _sequence(result: SavedResult) -> str:
    return Path(result.info.get("files", {}).get("masks", "masks/video")).name


def coco_dict(result: SavedResult, progress: bool = False, file_names: Optional[list[str]] = None) -> dict:
    """The COCO-style dictionary of a result (see the module docstring); ``file_names`` each image's
    ``file_name`` (default ``<sequence>/<frame>.jpg``)."""
    try:
        from pycocotools import mask as mask_utils
    except ImportError:
        raise UsageError("the COCO export needs pycocotools: pip install 'sampt[coco]' (or pip install "
                         "pycocotools)") from None
    seq = _sequence(result)
    T, H, W = result.label_maps.shape
    scores = dict(zip(result.object_ids, result.scores.tolist()))
    images, annotations = [], []
    for t in progress_bar(range(T), desc="COCO RLE", unit="frame", enabled=progress):
        name = result.frame_names[t]
        images.append({"id": t + 1, "video_id": 1, "frame_id": t, "frame_name": name,
                       "file_name": file_names[t] if file_names else f"{seq}/{name}.jpg", "width": W, "height": H})
        for oid in result.object_ids:
            mask = result.label_maps[t] == oid
            if not mask.any():
                continue
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
            annotations.append({
                "id": len(annotations) + 1, "image_id": t + 1, "video_id": 1, "category_id": oid, "track_id": oid,
                "segmentation": {"size": [H, W], "counts": rle["counts"].decode("ascii")},
                "area": int(mask_utils.area(rle)), "bbox": [x, y, w, h], "iscrowd": 0, "score": scores[oid],
            })
    return {
        "info": {"description": f"sampt result {seq}", "sampt_version": result.info.get("sampt_version"),
                 "date_created": result.info.get("created")},
        "videos": [{"id": 1, "name": seq, "width": W, "height": H, "length": T}],
        "images": images,
        "categories": [{"id": oid, "name": f"object_{oid}", "supercategory": "object"} for oid in result.object_ids],
        "annotations": annotations,
    }


def export_coco(result: SavedResult, out: Path, progress: bool = False) -> Path:
    """Write the COCO JSON, and the frames beside it when the input's own frame files cannot be named."""
    existing = input_frame_files(result)
    if existing is not None:
        folder = existing[0].parent
        names = [os.path.relpath(f, out.parent.resolve()) for f in existing]
        data = coco_dict(result, progress, names)
        data["info"]["images_dir"] = str(folder)
        with atomic_file(out) as tmp:
            tmp.write_text(json.dumps(data, separators=(",", ":")))
        return out
    images = OutputDir(out.parent / f"{out.stem}_images", "COCO images folder")
    try:
        _write_frames(result, images.path, progress)
        data = coco_dict(result, progress, [f"{out.stem}_images/{n}.jpg" for n in result.frame_names])
        with atomic_file(out) as tmp:
            tmp.write_text(json.dumps(data, separators=(",", ":")))
            images.commit()
    finally:
        images.discard()
    return out


def input_frame_files(result: SavedResult) -> Optional[list[Path]]:
    """The input's own frame files, one per result frame, when the input was a folder of frames read at full
    size and every file is still there; else None."""
    from sampt.io import IMAGE_SUFFIXES

    inputs = result.info.get("input", {})
    path = inputs.get("path")
    if not path or inputs.get("max_side") or not Path(path).is_dir():
        return None
    by_stem = {p.stem: p.resolve() for p in Path(path).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    files = [by_stem.get(n) for n in result.frame_names]
    return None if any(f is None for f in files) else files


def _write_frames(result: SavedResult, folder: Path, progress: bool) -> None:
    """Decode the run's input again (its stride, length and size) and write each frame as ``<frame>.jpg``."""
    from sampt.io import read_video

    inputs = result.info.get("input", {})
    path = inputs.get("path")
    if not path or not Path(path).exists():
        raise UsageError(f"the COCO export names image files, but the run's input {path!r} is not there to write "
                         "them from; export where the input is, or use --format ytvos / cvat")
    video = read_video(path, stride=int(inputs.get("stride") or 1), max_frames=inputs.get("max_frames"),
                       max_side=inputs.get("max_side"))
    if len(video) != result.num_frames or video.size != result.label_maps.shape[1:]:
        raise UsageError(f"the run's input {path} no longer gives the run's {result.num_frames} frames of "
                         f"{result.label_maps.shape[2]}x{result.label_maps.shape[1]}; it changed since the run")
    for t in progress_bar(range(len(video)), desc="COCO images", unit="frame", enabled=progress):
        cv2.imwrite(str(folder / f"{result.frame_names[t]}.jpg"), cv2.cvtColor(video[t], cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])


def export_ytvos(result: SavedResult, out: Path) -> Path:
    """Zip the run's label maps as ``Annotations/<sequence>/<frame>.png`` (indexed PNGs, object ids as
    labels, named after the frames), written from the validated masks."""
    seq = _sequence(result)
    with atomic_file(out) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for t, name in enumerate(result.frame_names):
                zf.writestr(f"Annotations/{seq}/{name}.png", _indexed_png(result.label_maps[t]))
    return out


def _indexed_png(labels: np.ndarray) -> bytes:
    """An indexed (DAVIS palette) PNG of a label map, as bytes."""
    import io

    from PIL import Image

    from sampt.io import davis_palette

    im = Image.fromarray(labels.astype(np.uint8), mode="P")
    im.putpalette(davis_palette().reshape(-1).tolist())
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def cvat_rle(mask: np.ndarray) -> tuple[str, int, int, int, int]:
    """CVAT's encoding of a non-empty mask: ``(rle, left, top, width, height)``, the run lengths of the
    mask inside its box, row by row, alternating background and foreground and starting with background."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    height, width = int(rows[-1]) - top + 1, int(cols[-1]) - left + 1
    flat = mask[top:top + height, left:left + width].reshape(-1).astype(np.int8)
    edges = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat[0]:  # the first run is foreground: an empty background run first
        runs = [0] + runs
    return ", ".join(map(str, runs)), left, top, width, height


def cvat_decode(rle: str, left: int, top: int, width: int, height: int, size: tuple[int, int]) -> np.ndarray:
    """The ``(H, W)`` bool mask of a CVAT mask shape (the inverse of :func:`cvat_rle`)."""
    runs = [int(v) for v in rle.split(",")]
    flat = np.repeat(np.arange(len(runs)) % 2 == 1, runs)
    out = np.zeros(size, bool)
    out[top:top + height, left:left + width] = flat.reshape(height, width)
    return out


def _mask_shape(t: int, encoded: tuple[str, int, int, int, int], outside: bool) -> str:
    rle, left, top, width, height = encoded
    return (f'    <mask frame="{t}" outside="{int(outside)}" occluded="0" keyframe="1" rle="{rle}" left="{left}" '
            f'top="{top}" width="{width}" height="{height}" z_order="0"></mask>')


def cvat_xml(result: SavedResult, progress: bool = False) -> str:
    """CVAT for video 1.1 XML of a result (see the module docstring)."""
    seq = _sequence(result)
    T, H, W = result.label_maps.shape
    labels = "".join(f"<label><name>object_{oid}</name><type>mask</type><attributes></attributes></label>"
                     for oid in result.object_ids)
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>",
             f"  <meta><task><name>{seq}</name><size>{T}</size><mode>interpolation</mode><overlap>0</overlap>"
             f"<start_frame>0</start_frame><stop_frame>{T - 1}</stop_frame><labels>{labels}</labels>"
             f"<original_size><width>{W}</width><height>{H}</height></original_size></task></meta>"]
    track_id = 0
    bar = progress_bar(result.object_ids, desc="CVAT masks", unit="object", enabled=progress)
    for oid in bar:
        shapes, last, outside = [], None, False
        for t in range(T):
            mask = result.label_maps[t] == oid
            if mask.any():
                last, outside = cvat_rle(mask), False
                shapes.append(_mask_shape(t, last, False))
            elif last is not None and not outside:  # absent from here on, until it comes back
                shapes.append(_mask_shape(t, last, True))
                outside = True
        if not shapes:
            continue
        lines.append(f'  <track id="{track_id}" label={quoteattr(f"object_{oid}")} source="auto">')
        lines.extend(shapes)
        lines.append("  </track>")
        track_id += 1
    lines.append("</annotations>")
    return "\n".join(lines) + "\n"


def export_cvat(result: SavedResult, out: Path, progress: bool = False) -> Path:
    xml = cvat_xml(result, progress)
    with atomic_file(out) as tmp:
        if out.suffix.lower() == ".xml":
            tmp.write_text(xml)
        else:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr("annotations.xml", xml)
    return out
