"""Exports of a result folder for annotation tools and challenge servers (``sampt export``).

* ``coco``: COCO-style JSON (the video extension's ``videos`` list included): an image per frame, a category
  per object, an annotation per frame and object present, with compressed RLE (pycocotools), area, bbox
  ``[x, y, w, h]``, ``track_id`` (the object id) and the object's score.
* ``ytvos``: the YouTube-VOS submission layout, ``Annotations/<video>/<frame>.png`` (indexed PNGs) in a zip.
* ``cvat``: CVAT for video 1.1 XML (``annotations.xml`` in a zip, which CVAT's "Upload annotations"
  takes): a track per object with its largest region as a polygon on every frame it is present on (marked
  outside where it is absent); further disjoint regions of an object become single-frame shapes of the same
  label, as CVAT itself exports shapes.
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
from sampt.outputs import atomic_file, check_output_path
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


def coco_dict(result: SavedResult, progress: bool = False) -> dict:
    """The COCO-style dictionary of a result (see the module docstring)."""
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
                       "file_name": f"{seq}/{name}.jpg", "width": W, "height": H})
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
    data = coco_dict(result, progress)
    with atomic_file(out) as tmp:
        tmp.write_text(json.dumps(data, separators=(",", ":")))
    return out


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


def _polygons(mask: np.ndarray) -> list[np.ndarray]:
    """Outer contours of a mask as ``(K, 2)`` point arrays, largest first (at least 3 points each)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = [c.reshape(-1, 2) for c in sorted(contours, key=cv2.contourArea, reverse=True)]
    out = []
    for p in polys:
        if len(p) < 3:  # a line or a single pixel: its pixel square
            x0, y0 = p.min(axis=0)
            x1, y1 = p.max(axis=0) + 1
            p = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        out.append(p)
    return out


def _points_attr(poly: np.ndarray) -> str:
    # CVAT puts pixel corners on integers; sampt pixel centres (the contour points) are at +0.5 there
    return ";".join(f"{x + 0.5:.2f},{y + 0.5:.2f}" for x, y in poly.astype(float))


def cvat_xml(result: SavedResult, progress: bool = False) -> str:
    """CVAT for video 1.1 XML of a result (see the module docstring)."""
    seq = _sequence(result)
    T, H, W = result.label_maps.shape
    labels = "".join(f"<label><name>object_{oid}</name><type>polygon</type><attributes></attributes></label>"
                     for oid in result.object_ids)
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>",
             f"  <meta><task><name>{seq}</name><size>{T}</size><mode>interpolation</mode><overlap>0</overlap>"
             f"<start_frame>0</start_frame><stop_frame>{T - 1}</stop_frame><labels>{labels}</labels>"
             f"<original_size><width>{W}</width><height>{H}</height></original_size></task></meta>"]
    track_id = 0
    extras: list[tuple[str, int, np.ndarray]] = []
    bar = progress_bar(result.object_ids, desc="CVAT polygons", unit="object", enabled=progress)
    for oid in bar:
        label = quoteattr(f"object_{oid}")
        shapes, last = [], None
        for t in range(T):
            polys = _polygons(result.label_maps[t] == oid)
            if polys:
                last = polys[0]
                shapes.append(f'    <polygon frame="{t}" outside="0" occluded="0" keyframe="1" '
                              f'points="{_points_attr(last)}" z_order="0"></polygon>')
                for extra in polys[1:]:
                    extras.append((label, t, extra))
            elif last is not None and not shapes[-1].count('outside="1"'):
                shapes.append(f'    <polygon frame="{t}" outside="1" occluded="0" keyframe="1" '
                              f'points="{_points_attr(last)}" z_order="0"></polygon>')
        if not shapes:
            continue
        lines.append(f'  <track id="{track_id}" label={label} source="auto">')
        lines.extend(shapes)
        lines.append("  </track>")
        track_id += 1
    for label, t, poly in extras:  # single-frame tracks
        lines.append(f'  <track id="{track_id}" label={label} source="auto">')
        lines.append(f'    <polygon frame="{t}" outside="0" occluded="0" keyframe="1" points="{_points_attr(poly)}" '
                     f'z_order="0"></polygon>')
        if t + 1 < T:
            lines.append(f'    <polygon frame="{t + 1}" outside="1" occluded="0" keyframe="1" '
                         f'points="{_points_attr(poly)}" z_order="0"></polygon>')
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
