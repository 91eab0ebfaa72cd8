"""sampt's built-in commands: ``run``, ``demo``, ``export``, ``plugins``, ``weights``, ``config``.

They are registered through the ``register_commands`` hook like any plugin's commands.
"""
from __future__ import annotations

import argparse
import logging
import re
from pathlib import Path
from typing import Optional

import numpy as np
from omegaconf import OmegaConf

from sampt.errors import UsageError
from sampt.hookspecs import hookimpl

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


def _pipeline(args: argparse.Namespace):
    from sampt.config import build_pipeline, compose

    cfg = compose(args.overrides, args.config, registry=args.registry)
    return cfg, build_pipeline(cfg, args.registry)


def _overlay_format(args: argparse.Namespace) -> Optional[str]:
    return None if args.no_overlay or args.overlay == "none" else args.overlay


def default_run_output(video: Optional[str], camera: Optional[str]) -> Path:
    """Where ``sampt run`` writes without ``--output``: ``sampt-output/run/<name>``, named after the video
    file (without its extension), the frame folder or the camera, so that each input keeps its own result
    and none lands in ``sampt demo``'s ``sampt-output/demo``."""
    if video is not None:
        path = Path(video).resolve()
        name = path.name if path.is_dir() else path.stem
    else:
        name = f"camera{camera}" if str(camera).isdigit() else f"camera_{camera}"
    name = re.sub(r"[^\w.-]+", "_", name).strip("._") or "input"
    return Path("sampt-output", "run", name)


def cmd_run(args: argparse.Namespace) -> int:
    from sampt.arguments import split_positional_override
    from sampt.api import run_to_folder
    from sampt.io import read_video
    from sampt.prompts import objects_from_arguments
    from sampt.results import RunOutput

    # everything is checked before any work, and nothing is written until the run succeeds
    args.video, args.overrides = split_positional_override(args.video, args.overrides)
    if (args.video is None) == (args.camera is None):
        raise UsageError("give a video (file or folder of frames) or --camera INDEX|URL" if args.video is None else
                         "give a video or --camera, not both")
    output = RunOutput(args.output or default_run_output(args.video, args.camera))
    objects = objects_from_arguments(args.mask, args.points, args.box, args.frame)
    if args.max_side and any(o.kind == "mask" for o in objects):
        raise UsageError("--max-side resizes frames but not --mask; resize the mask too, or drop --max-side")
    cfg, pipeline = _pipeline(args)  # check the config before reading anything
    if args.stream or args.camera is not None:
        return _run_stream(args, objects, output, cfg, pipeline)
    progress = not args.no_progress
    video = read_video(args.video, stride=args.stride, max_frames=args.max_frames, max_side=args.max_side,
                       progress=progress)
    inputs = {"path": str(args.video), "stride": args.stride, "max_frames": args.max_frames, "max_side": args.max_side}
    result, out, elapsed = run_to_folder(pipeline, video, objects, output, overlay=_overlay_format(args),
                                         sequence=args.sequence, progress=progress,
                                         config=OmegaConf.to_container(cfg), inputs=inputs)
    log.info("segmented %d object(s) over %d frames in %.1fs (%.2f fps), scores %s; results in %s",
             len(objects), len(video), elapsed, len(video) / max(elapsed, 1e-9),
             _scores_text(result), out)
    if result.quality is not None:
        for line in result.quality.summary_lines():
            log.info("%s", line)
    return 0


def _scores_text(result) -> str:
    """Each object's mean predicted IoU, or "n/a" where the segmenter predicts none (GrabCut's proxy is no IoU)."""
    if result.quality is not None and np.isnan(result.quality.predicted_iou).all():
        return ", ".join(f"{i}: n/a" for i in result.object_ids) + " (the segmenter predicts no IoU)"
    return ", ".join(f"{i}: {s:.2f}" for i, s in zip(result.object_ids, result.scores))


def _run_stream(args: argparse.Namespace, objects: list, output, cfg, pipeline) -> int:
    """``sampt run --stream`` / ``--camera``: see :mod:`sampt.live`."""
    import signal

    from sampt.live import display_available, open_stream_source, stream_to_folder

    source = open_stream_source(args.video, args.camera, args.stride, args.max_frames, args.max_side,
                                open_camera=getattr(args, "open_camera", None))
    display = source.endless and not args.no_display and display_available()
    inputs = {**source.described, "stride": args.stride, "max_frames": args.max_frames, "max_side": args.max_side}
    done = stream_to_folder(pipeline, source, objects, output, overlay=_overlay_format(args), sequence=args.sequence,
                            display=display, progress=not args.no_progress, config=OmegaConf.to_container(cfg),
                            inputs=inputs)
    log.info("streamed %d object(s) over %d frames in %.1fs (%.2f fps), latency up to %d frame(s) (declared %d)%s, "
             "scores %s; results in %s", len(objects), done.frames, done.seconds, done.frames / max(done.seconds, 1e-9),
             done.max_latency, done.declared_latency, f", stopped by {done.stopped}" if done.stopped else "",
             ", ".join(f"{o.object_id}: {s:.2f}" for o, s in zip(objects, done.scores)), done.path)
    if done.stopped and done.stopped.startswith("SIG") and not source.endless:
        return 128 + signal.Signals[done.stopped]  # an interrupted video: its finished frames were kept
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sampt.api import run_to_folder
    from sampt.data.synthetic import make_clip
    from sampt.evaluation.davis.metrics import boundary_f, jaccard
    from sampt.prompts import UserObject
    from sampt.results import RunOutput

    output = RunOutput(args.output)
    cfg, pipeline = _pipeline(args)
    clip = make_clip(seed=args.seed, num_frames=args.frames, height=120, width=160, num_objects=2)
    objects = [UserObject(i + 1, 0, "mask", clip.masks[0, i], "synthetic") for i in range(clip.masks.shape[1])]
    scores: dict = {}

    def score(result) -> dict:
        masks = result.masks
        scores["J"] = np.stack([jaccard(clip.masks[:, o], masks[:, o]) for o in range(len(objects))], axis=1)
        scores["F"] = np.stack([boundary_f(clip.masks[:, o], masks[:, o]) for o in range(len(objects))], axis=1)
        return {"mean_J": float(scores["J"].mean()), "mean_F": float(scores["F"].mean())}

    result, out, elapsed = run_to_folder(pipeline, clip.video, objects, output, overlay=_overlay_format(args),
                                         progress=not args.no_progress, config=OmegaConf.to_container(cfg),
                                         inputs={"path": None, "synthetic_seed": args.seed}, extra=score,
                                         keep_masks=True)
    J, F = scores["J"], scores["F"]
    log.info("demo: %d objects, %d frames, %.1fs (%.1f fps), mean J %.3f, mean F %.3f, J&F %.3f "
             "(J per object %s), encoder calls %d; results in %s", len(objects), len(clip.video), elapsed,
             len(clip.video) / max(elapsed, 1e-9), J.mean(), F.mean(), (J.mean() + F.mean()) / 2,
             ", ".join(f"{j:.3f}" for j in J.mean(axis=0)), result.encoder_calls, out)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sampt.export import export_result

    path = export_result(args.result_dir, args.format, args.output, progress=not args.no_progress)
    log.info("exported %s as %s: %s", args.result_dir, args.format, path)
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from sampt.plugin_api import PLUGIN_API_VERSION

    registry = args.registry
    print(f"sampt plugin API {PLUGIN_API_VERSION}")
    for label, info in sorted(registry.plugins.items()):
        api = f" (plugin API {info.api})" if info.api else ""
        print(f"{label} {info.version}".rstrip() + api)
        if info.note:
            print(f"  DEPRECATED: {info.note}")
        for entry in sorted(info.components, key=lambda e: (e.kind, e.name)):
            alias = f" (aliases: {', '.join(entry.aliases)})" if entry.aliases else ""
            print(f"  {entry.kind:<10} {entry.name}{alias}: {entry.description}")
        for name in info.weights:
            print(f"  {'weights':<10} {name}")
    for broken in registry.broken:
        print(f"{broken.distribution}:{broken.name} FAILED TO LOAD: {broken.error}")
    for plugin in registry.incompatible:
        print(f"{plugin.distribution or '?'}:{plugin.name} INCOMPATIBLE: {plugin.reason}")
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


@hookimpl
def register_commands(cli) -> None:
    p = cli.add_parser("run", help="segment objects through a video", description=(
        "Segment objects through a video, each given as a mask (every non-zero label of a PNG is an object), "
        "clicked points or a box, on any frame. Writes to --output: masks/<sequence>/<frame>.png (named after "
        "the input's frames; `sampt score` reads them), tracks.npz, overlay.mp4 (H.264) or overlay.gif, and "
        "result.json."), epilog="""examples:
  sampt run video.mp4 --mask first.png -o out/
  sampt run frames/ --points '120,80;140,95;300,40,0' -o out/          # ',0' marks a negative click
  sampt run video.mp4 --points 'frame=10:120,80;140,95' --points 'frame=30:60,40;10,44,0' -o out/
  sampt run video.mp4 --mask first.png --mask 'frame=30:new_object.png' --overlay gif -o out/
  sampt run video.mp4 --box 10,20,80,90 tracker=cotracker3_offline segmenter=sam_vit_h -o out/
  sampt run long_video.mp4 --stream --mask first.png -o out/             # masks written as frames finish
  sampt run --camera 0 --points '320,240;330,250' tracker=cotracker3_online -o live/   # Ctrl-C or q stops
  sampt score out/ DAVIS_ROOT                                           # when the video is a DAVIS sequence""")
    p.add_argument("video", nargs="?", help="video file (mp4/webm/avi/mov/mkv) or folder of JPEG/PNG frames")
    p.add_argument("--stream", action="store_true", help="stream: frames in, masks and overlay written as each frame "
                   "is final (bounded memory; Ctrl-C keeps the frames done)")
    p.add_argument("--camera", metavar="INDEX|URL", help="stream from a camera (0, 1, ...) or a stream URL instead of "
                   "a video; shows a live window where a display exists (q stops), writes --output either way")
    p.add_argument("--no-display", action="store_true", help="with --camera: no live window")
    p.add_argument("--mask", action="append", default=[], metavar="[frame=N:]PNG",
                   help="mask PNG (indexed DAVIS PNG: one object per label; ids kept), on --frame or frame N; "
                        "repeat for masks on other frames")
    p.add_argument("--points", action="append", default=[], metavar="[frame=N:]X,Y;X,Y,0",
                   help="clicked points of one object (label 0 = negative), on --frame or frame N; repeat per object")
    p.add_argument("--box", action="append", default=[], metavar="[frame=N:]X0,Y0,X1,Y1",
                   help="a box around one object (the segmenter makes its mask); repeat per object")
    p.add_argument("--frame", type=at_least(0), default=0, help="frame index (after --stride) of prompts without frame=N: "
                   "(default 0)")
    p.add_argument("--output", "-o", default=None, help="output folder (default: sampt-output/run/<the video's or "
                   "camera's name>, so runs of different inputs, and `sampt demo`, keep their own)")
    p.add_argument("--sequence", default=None, help="name of the masks/<sequence>/ folder (default: the video's "
                   "name, e.g. the frame folder's name: the DAVIS sequence)")
    p.add_argument("--stride", type=at_least(1), default=1, help="keep every N-th frame (mask names keep the original "
                   "frame numbers)")
    p.add_argument("--max-frames", type=at_least(1), help="stop after N frames")
    p.add_argument("--max-side", type=at_least(8), help="shrink frames so the longest side is at most this")
    p.add_argument("--overlay", choices=["mp4", "gif", "none"], default="mp4",
                   help="overlay video format (default mp4: H.264, plays in browsers and Jupyter)")
    p.add_argument("--no-overlay", action="store_true", help="same as --overlay none")
    _add_config_arguments(p)
    p.set_defaults(func=cmd_run)

    p = cli.add_parser("demo", help="generate a synthetic clip and segment it, offline", description=(
        "Generate a synthetic clip with exact ground truth, segment its two objects from their first-frame "
        "masks and print J and F; writes the same result folder as `sampt run`."), epilog="""examples:
  sampt demo
  sampt demo --frames 12 --overlay gif -o demo/ tracker=flow""")
    p.add_argument("--output", "-o", default="sampt-output/demo", help="output folder")
    p.add_argument("--frames", type=at_least(2), default=24, help="clip length")
    p.add_argument("--seed", type=at_least(0), default=0, help="seed of the synthetic clip")
    p.add_argument("--overlay", choices=["mp4", "gif", "none"], default="mp4", help="overlay format (default mp4)")
    p.add_argument("--no-overlay", action="store_true", help="same as --overlay none")
    _add_config_arguments(p)
    p.set_defaults(func=cmd_demo)

    p = cli.add_parser("export", help="convert a result folder for annotation tools (COCO, YouTube-VOS, CVAT)",
                       description=(
        "Convert the result folder of `sampt run` into: coco (COCO-style JSON, one RLE annotation per frame and "
        "object, needs pycocotools: pip install 'sampt[coco]'), ytvos (the YouTube-VOS submission layout "
        "Annotations/<video>/<frame>.png, zipped) or cvat (CVAT for video 1.1 XML: one track per object, a "
        "polygon per frame, zipped for CVAT's import)."), epilog="""examples:
  sampt export out/ --format coco                # out/export/coco.json
  sampt export out/ --format ytvos -o sub.zip
  sampt export out/ --format cvat                # out/export/cvat.zip""")
    p.add_argument("result_dir", metavar="RESULT_DIR", help="a folder written by `sampt run`")
    p.add_argument("--format", "-f", required=True, choices=["coco", "ytvos", "cvat"], help="export format")
    p.add_argument("--output", "-o", default=None, help="file to write (default: RESULT_DIR/export/<format>.json|zip)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_export)

    p = cli.add_parser("plugins", help="list installed plugins and the components they provide", description=(
        "List every installed sampt plugin (entry-point group 'sampt', built-ins included) with its version, "
        "the trackers, segmenters, samplers and checkpoints it provides, and plugins that failed to load."),
        epilog="examples:\n  sampt plugins")
    p.set_defaults(func=cmd_plugins)

    p = cli.add_parser("weights", help="list known checkpoints, or fetch one", description=(
        "List the checkpoints plugins declare, with whether each is in the cache ($SAMPT_CACHE_DIR, default "
        "~/.cache/sampt/weights), its size and URL; `fetch NAME` downloads one (resumable, checked against "
        "its SHA-256)."), epilog="examples:\n  sampt weights\n  sampt weights fetch sam_vit_b")
    p.add_argument("action", nargs="?", choices=["list", "fetch"], default="list")
    p.add_argument("name", nargs="?", help="checkpoint to fetch")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_weights)

    p = cli.add_parser("config", help="print the composed configuration", description=(
        "Print the configuration a run would use: configs/config.yaml (or --config) with GROUP=NAME picks and "
        "dotted KEY=VALUE overrides applied; unknown keys and wrong types are errors."),
        epilog="examples:\n  sampt config\n  sampt config tracker=flow pipeline.positive_points=8")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    p.add_argument("--config", help="config file to start from")
    p.set_defaults(func=cmd_config)
