"""sampt's built-in commands: ``run``, ``demo``, ``plugins``, ``weights``, ``config``.

They are registered through the ``register_commands`` hook like any plugin's commands.
"""
from __future__ import annotations

import argparse
import logging
import time

import numpy as np
from omegaconf import OmegaConf

import sampt
from sampt.errors import UsageError

log = logging.getLogger("sampt")


def _add_config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides: tracker=NAME, segmenter.checkpoint=PATH, pipeline.positive_points=8, ...")
    p.add_argument("--config", help="config file to start from (default: configs/config.yaml)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum`` (the error names the bound)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def parse_points(text: str) -> tuple[np.ndarray, np.ndarray]:
    """``"x,y;x,y,0"`` -> points ``(K, 2)`` and labels ``(K,)`` (third value: 1 positive, 0 negative)."""
    points, labels = [], []
    for item in filter(None, (s.strip() for s in text.split(";"))):
        parts = item.split(",")
        try:
            values = [float(v) for v in parts]
        except ValueError:
            raise UsageError(f"point {item!r} is not x,y or x,y,label (e.g. --points '120,80;140,90,0')") from None
        if len(values) not in (2, 3) or (len(values) == 3 and values[2] not in (0, 1)):
            raise UsageError(f"point {item!r} is not x,y or x,y,label with label 1 (positive) or 0 (negative)")
        if not all(np.isfinite(values)):
            raise UsageError(f"point {item!r} is not a finite position; give pixel coordinates x,y")
        points.append(values[:2])
        labels.append(int(values[2]) if len(values) == 3 else 1)
    if not points:
        raise UsageError(f"--points {text!r} holds no point")
    if not any(lab == 1 for lab in labels):
        raise UsageError(f"--points {text!r} has no positive point; mark the object with at least one x,y")
    return np.array(points, np.float32), np.array(labels, np.int64)


def prompts_from_arguments(args: argparse.Namespace) -> list:
    """The objects to segment, from ``--mask`` (every object of the mask image: see
    :func:`sampt.io.read_label_png`) or ``--points``; checked against the video later, by the pipeline."""
    from sampt.io import read_label_png
    from sampt.pipeline import ObjectPrompt

    if bool(args.mask) == bool(args.points):
        raise UsageError("give the object as --mask MASK.png or as --points 'x,y;...' (one of them)")
    if args.mask:
        labels = read_label_png(args.mask)
        ids = [int(i) for i in np.unique(labels) if i != 0]
        if not ids:
            raise UsageError(f"mask {args.mask} is empty: no object pixels (non-zero) in it")
        return [ObjectPrompt(i, args.frame, mask=labels == i) for i in ids]
    objects = []
    for index, text in enumerate(args.points, start=1):
        points, labels = parse_points(text)
        objects.append(ObjectPrompt(index, args.frame, points=points, labels=labels))
    if len(objects) > 255:
        raise UsageError(f"{len(objects)} objects given; at most 255 fit in a label map")
    return objects


def objects_from_arguments(args: argparse.Namespace, video: sampt.Video) -> list:
    """The objects to segment, checked against ``video`` (mask size)."""
    objects = prompts_from_arguments(args)
    check_mask_size(args, objects, video)
    return objects


def check_mask_size(args: argparse.Namespace, objects: list, video: sampt.Video) -> None:
    if args.mask and objects and objects[0].mask.shape != video.size:
        H, W = objects[0].mask.shape
        raise UsageError(f"mask {args.mask} is {W}x{H} but the video frames are {video.width}x{video.height}"
                         f"{' (after --max-side)' if getattr(args, 'max_side', None) else ''}; give a mask of the frame's size")


def _pipeline(args: argparse.Namespace):
    from sampt.config import build_pipeline, compose

    cfg = compose(args.overrides, args.config, registry=args.registry)
    return cfg, build_pipeline(cfg, args.registry)


def cmd_run(args: argparse.Namespace) -> int:
    from sampt.io import VideoReader
    from sampt.pipeline.query_points import validate_prompt
    from sampt.results import RunOutput

    # everything is checked before any work, and nothing is written until the run succeeds
    output = RunOutput(args.output)
    if args.max_side and args.mask:
        raise UsageError("--max-side resizes frames but not --mask; resize the mask too, or drop --max-side")
    objects = prompts_from_arguments(args)
    cfg, pipeline = _pipeline(args)
    video = VideoReader(args.video, stride=args.stride, max_frames=args.max_frames, max_side=args.max_side).read()
    check_mask_size(args, objects, video)
    for o in objects:
        validate_prompt(o, len(video), video.size)
    started = time.perf_counter()
    try:
        # the overlay is drawn from the masks afterwards; without it nothing per frame is kept in memory
        result = pipeline.run(video, objects, progress=not args.no_progress, on_frame=output,
                              keep_masks=not args.no_overlay)
        elapsed = time.perf_counter() - started
        out = output.finish(result, video, overlay=not args.no_overlay,
                            extra={"config": OmegaConf.to_container(cfg), "video": str(args.video)})
    finally:
        output.discard()
    log.warning("segmented %d object(s) over %d frames in %.1fs (%.2f fps); results in %s",
                len(objects), len(video), elapsed, len(video) / max(elapsed, 1e-9), out)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sampt.data.synthetic import make_clip
    from sampt.pipeline import ObjectPrompt
    from sampt.results import RunOutput

    output = RunOutput(args.output)
    cfg, pipeline = _pipeline(args)
    clip = make_clip(seed=args.seed, num_frames=args.frames, height=120, width=160, num_objects=2)
    objects = [ObjectPrompt(i + 1, 0, mask=clip.masks[0, i]) for i in range(clip.masks.shape[1])]
    started = time.perf_counter()
    try:
        result = pipeline.run(clip.video, objects, progress=not args.no_progress)
        elapsed = time.perf_counter() - started
        from sampt.evaluation.metrics import boundary_f, jaccard

        masks = result.masks
        J = np.stack([jaccard(clip.masks[:, o], masks[:, o]) for o in range(len(objects))], axis=1)
        F = np.stack([boundary_f(clip.masks[:, o], masks[:, o]) for o in range(len(objects))], axis=1)
        out = output.finish(result, clip.video, overlay=True,
                            extra={"config": OmegaConf.to_container(cfg), "mean_J": float(J.mean()),
                                   "mean_F": float(F.mean())})
    finally:
        output.discard()
    print(f"demo: {len(objects)} objects, {len(clip.video)} frames, {elapsed:.1f}s "
          f"({len(clip.video) / max(elapsed, 1e-9):.1f} fps), mean J {J.mean():.3f}, mean F {F.mean():.3f}, "
          f"J&F {(J.mean() + F.mean()) / 2:.3f} (J per object {', '.join(f'{j:.3f}' for j in J.mean(axis=0))}), "
          f"encoder calls {result.encoder_calls}; results in {out}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    registry = args.registry
    for label, info in sorted(registry.plugins.items()):
        print(f"{label} {info.version}".rstrip())
        for entry in sorted(info.components, key=lambda e: (e.kind, e.name)):
            alias = f" (aliases: {', '.join(entry.aliases)})" if entry.aliases else ""
            print(f"  {entry.kind:<10} {entry.name}{alias}: {entry.description}")
        for name in info.weights:
            print(f"  {'weights':<10} {name}")
    for broken in registry.broken:
        print(f"{broken.distribution}:{broken.name} FAILED TO LOAD: {broken.error}")
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from sampt import weights

    known = args.registry.weights
    if args.action == "fetch":
        if not args.name:
            raise UsageError("sampt weights fetch NAME: which checkpoint? (see `sampt weights`)")
        if args.name not in known:
            raise UsageError(f"unknown checkpoint {args.name!r}; known: {', '.join(sorted(known)) or '(none)'}")
        path = weights.download(known[args.name], progress=not args.no_progress)
        print(path)
        return 0
    print(f"cache: {weights.cache_dir()}")
    for name in sorted(known):
        spec = known[name]
        present = "present" if weights.is_present(spec) else "missing"
        size = f"{spec.size / 1e6:.0f} MB" if spec.size else "size ?"
        print(f"  {name:<32} {present:<8} {size:>9}  {spec.family}  {spec.url}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from sampt.config import compose

    print(OmegaConf.to_yaml(compose(args.overrides, args.config, registry=args.registry)), end="")
    return 0


@sampt.hookimpl
def register_commands(cli) -> None:
    p = cli.add_parser("run", help="segment objects through a video", description=(
        "Segment the objects of a first-frame mask (every non-zero label is an object) or of clicked points "
        "through a video; writes label PNGs, an overlay video and result.json to --output."))
    p.add_argument("video", help="video file (mp4/webm/avi) or folder of JPEG/PNG frames")
    p.add_argument("--mask", help="mask PNG on --frame (indexed DAVIS PNG: one object per label)")
    p.add_argument("--points", action="append", help="clicked points of one object, 'x,y;x,y,0' (label 0 = negative); repeat per object")
    p.add_argument("--frame", type=at_least(0), default=0, help="frame index the mask or points belong to")
    p.add_argument("--output", "-o", default="sampt-output", help="output folder")
    p.add_argument("--stride", type=at_least(1), default=1, help="keep every N-th frame")
    p.add_argument("--max-frames", type=at_least(1), help="stop after N frames")
    p.add_argument("--max-side", type=at_least(8), help="shrink frames so the longest side is at most this")
    p.add_argument("--no-overlay", action="store_true", help="do not write overlay.mp4")
    _add_config_arguments(p)
    p.set_defaults(func=cmd_run)

    p = cli.add_parser("demo", help="generate a synthetic clip and segment it, offline")
    p.add_argument("--output", "-o", default="sampt-output/demo", help="output folder")
    p.add_argument("--frames", type=at_least(2), default=24, help="clip length")
    p.add_argument("--seed", type=at_least(0), default=0, help="seed of the synthetic clip")
    _add_config_arguments(p)
    p.set_defaults(func=cmd_demo)

    p = cli.add_parser("plugins", help="list installed plugins and the components they provide")
    p.set_defaults(func=cmd_plugins)

    p = cli.add_parser("weights", help="list known checkpoints, or fetch one")
    p.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
    p.add_argument("name", nargs="?", help="checkpoint to fetch")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_weights)

    p = cli.add_parser("config", help="print the composed configuration")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--config", help="config file to start from")
    p.set_defaults(func=cmd_config)
