"""The ``sampt ui`` page (Gradio): every control calls one :class:`sampt.interactive.Session` method of the
browser session's :class:`~sampt.ui.workspace.Workspace`; nothing here computes tracks or masks itself.

Gradio (the library the SAM 2, CoTracker and Track-Anything demos use) gives clickable images with pixel
coordinates, progress bars, cancellation and per-session state without hand-written JavaScript."""


import logging
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Optional, Sequence

from sampt.errors import SamptError
from sampt.ui.workspace import SESSION_SUFFIX, VIDEO_UPLOADS, Workspace

log = logging.getLogger("sampt.ui")

MODES = ("positive", "negative", "remove", "move")
PICK_RADIUS = 8.0  # pixels: how near a click must be to a point to remove or move it


def require_gradio():
    """Import gradio or fail with the one-line fix."""
    try:
        import gradio
    except ImportError:
        from sampt.errors import UsageError

        raise UsageError("sampt ui needs Gradio: pip install 'sampt[ui]'") from None
    return gradio


def _split_overrides(overrides: Sequence[str]) -> tuple[Optional[str], Optional[str], list[str]]:
    tracker = segmenter = None
    rest = []
    for o in overrides:
        if o.startswith("tracker="):
            tracker = o.split("=", 1)[1]
        elif o.startswith("segmenter="):
            segmenter = o.split("=", 1)[1]
        else:
            rest.append(o)
    return tracker, segmenter, rest


def build_app(video: Optional[str] = None, overrides: Sequence[str] = (), root: Optional[str] = None,
              max_upload_mb: float = 200.0, session_ttl_s: int = 3600, max_frames: Optional[int] = None,
              max_side: Optional[int] = None, registry: Any = None):
    """The Gradio Blocks app. ``video``: a path opened for every new browser session; ``overrides``: config
    overrides (``tracker=lk segmenter=grabcut ...``); ``root``: where per-session folders go (default: a
    temporary folder); sessions idle longer than ``session_ttl_s`` are removed with their files."""
    gr = require_gradio()
    from sampt.plugins import Registry

    registry = registry or Registry()
    root_dir = Path(root) if root else Path(tempfile.mkdtemp(prefix="sampt-ui-"))
    root_dir.mkdir(parents=True, exist_ok=True)
    trackers, segmenters = registry.names("tracker"), registry.names("segmenter")
    tracker0, segmenter0, extra = _split_overrides(overrides)
    from sampt.config import compose

    base = compose(list(overrides), registry=registry)
    tracker0 = tracker0 or str(base.tracker.name) if "name" in base.tracker else tracker0
    segmenter0 = segmenter0 or str(base.segmenter.name) if "name" in base.segmenter else segmenter0

    def new_workspace() -> Workspace:
        return Workspace(root_dir, overrides, max_upload_mb, max_frames, max_side, registry)

    def ok(ws: Workspace, message: str, frame: int = 0):
        return ws, ws.render(frame), message

    def failed(ws: Workspace, exc: Exception, frame: int = 0):
        log.info("ui: %s", exc)
        return ws, ws.render(frame) if ws is not None else None, f"**Error:** {exc}"

    def slider_update(ws: Workspace, frame: int = 0):
        n = len(ws.video) if ws.video is not None else 1
        return gr.update(maximum=max(n - 1, 0), value=min(frame, n - 1))

    def config_overrides(tracker: str, segmenter: str, options: str) -> list[str]:
        return [f"tracker={tracker}", f"segmenter={segmenter}", *extra, *options.split()]

    # -- handlers (each: workspace in, workspace + image + message out) --------------------------------
    def on_start(ws):
        ws = ws or new_workspace()
        if video is None or ws.video is not None:
            return ws, ws.render(0), "Upload a video to start.", slider_update(ws)
        try:
            ws.open_video(Path(video))
        except (SamptError, OSError) as exc:
            return (*failed(ws, exc), slider_update(ws))
        return (*ok(ws, f"Opened {Path(video).name}: {len(ws.video)} frames."), slider_update(ws))

    def on_upload(ws, file, tracker, segmenter, options):
        ws = ws or new_workspace()
        if file is None:
            return ws, ws.render(0), "", slider_update(ws)
        try:
            path = ws.take_upload(file if isinstance(file, str) else file.name, VIDEO_UPLOADS)
            ws.open_video(path, config_overrides(tracker, segmenter, options))
        except (SamptError, OSError, ValueError) as exc:
            return (*failed(ws, exc), slider_update(ws))
        return (*ok(ws, f"Opened the upload: {len(ws.video)} frames."), slider_update(ws))

    def on_components(ws, tracker, segmenter, options, frame):
        try:
            ws.new_session(config_overrides(tracker, segmenter, options))
        except (SamptError, OSError, ValueError) as exc:
            return failed(ws, exc, frame)
        return ok(ws, f"New session with tracker {tracker} and segmenter {segmenter}.", frame)

    def on_frame(ws, frame):
        return ws.render(frame) if ws is not None else None

    def on_click(ws, frame, mode, object_id, evt: gr.SelectData):
        frame = int(frame)
        x, y = float(evt.index[0]), float(evt.index[1])
        try:
            session = ws.require()
            object_id = int(object_id)
            if mode in ("positive", "negative"):
                positive = mode == "positive"
                if object_id not in session.object_ids:
                    if not positive:
                        raise SamptError(f"object {object_id} does not exist yet; start it with a positive click")
                    session.add_object(object_id, frame, points=[[x, y]], labels=[1])
                    message = f"Added object {object_id} with a positive point at ({x:g}, {y:g}) on frame {frame}."
                else:
                    session.add_point(object_id, frame, x, y, positive=positive)
                    message = f"Added a {mode} point at ({x:g}, {y:g}) on frame {frame} to object {object_id}."
            else:
                if mode == "move" and ws.move_from is not None:
                    point = ws.move_from
                    ws.move_from = None
                    session.move_point(point, frame, x, y)
                    message = f"Moved point {point} to ({x:g}, {y:g}) on frame {frame}."
                else:
                    point = ws.nearest_point(frame, x, y, PICK_RADIUS)
                    if point is None:
                        raise SamptError(f"no point within {PICK_RADIUS:g} px of ({x:g}, {y:g}); click on a point")
                    if mode == "remove":
                        session.remove_point(point)
                        message = f"Removed point {point}."
                    else:
                        ws.move_from = point
                        message = f"Point {point} picked: click where it should go."
        except (SamptError, ValueError) as exc:
            return failed(ws, exc, frame)
        return ok(ws, message, frame)

    def on_undo(ws, frame):
        try:
            session = ws.require()
            if not session.can_undo:
                raise SamptError("nothing to undo")
            session.undo()
        except SamptError as exc:
            return failed(ws, exc, frame)
        return ok(ws, "Undone.", frame)

    def on_redo(ws, frame):
        try:
            session = ws.require()
            if not session.can_redo:
                raise SamptError("nothing to redo")
            session.redo()
        except SamptError as exc:
            return failed(ws, exc, frame)
        return ok(ws, "Redone.", frame)

    def on_propagate(ws, frame, progress=gr.Progress()):
        try:
            session = ws.require()
            if not session.object_ids:
                raise SamptError("add an object first (click on it)")
            n = session.num_frames
            for k, _ in enumerate(progress.tqdm(session.masks(), total=n, desc="propagating", unit="frame")):
                pass
        except SamptError as exc:
            return failed(ws, exc, frame)
        return ok(ws, f"Propagated through {n} frames.", frame)

    def on_export(ws, frame, progress=gr.Progress()):
        try:
            from sampt.results import mask_folder

            session = ws.require()
            progress(0.1, desc="exporting")
            out = session.export(str(ws.output_path("export")))
            progress(0.6, desc="zipping masks")
            archive = ws.output_path("masks.zip")
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                for png in sorted(mask_folder(out).glob("*.png")):
                    z.write(png, f"masks/{png.name}")
            session_file = session.save(str(ws.output_path(f"session{SESSION_SUFFIX}")))
            files = [str(archive), str(session_file)]
            if (out / "overlay.mp4").exists():
                files.insert(1, str(out / "overlay.mp4"))
            files.append(str(out / "result.json"))
        except (SamptError, OSError) as exc:
            return (*failed(ws, exc, frame), None)
        return (*ok(ws, "Exported masks, overlay and session file.", frame), files)

    def on_load_session(ws, file, frame):
        if file is None:
            return ws, ws.render(frame) if ws else None, ""
        try:
            path = ws.take_upload(file if isinstance(file, str) else file.name, (SESSION_SUFFIX,))
            ws.load_session(path)
        except (SamptError, OSError, ValueError) as exc:
            return failed(ws, exc, frame)
        return ok(ws, f"Loaded the session: objects {', '.join(map(str, ws.session.object_ids)) or 'none'}.", frame)

    def on_delete(ws):
        if ws is not None:
            ws.remove()

    with gr.Blocks(title="sampt", delete_cache=(600, session_ttl_s)) as demo:
        state = gr.State(None, time_to_live=session_ttl_s, delete_callback=on_delete)
        gr.Markdown("## sampt: interactive video segmentation by point tracking")
        with gr.Row():
            with gr.Column(scale=3):
                image = gr.Image(label="frame (click to add or edit points)", interactive=False, elem_id="frame",
                                 type="numpy", format="png")
                frame = gr.Slider(0, 1, value=0, step=1, label="frame", elem_id="frame-slider")
                status = gr.Markdown("", elem_id="status")
            with gr.Column(scale=2):
                upload = gr.File(label="video", file_types=list(VIDEO_UPLOADS), elem_id="video-upload")
                with gr.Row():
                    tracker = gr.Dropdown(trackers, value=tracker0, label="tracker", elem_id="tracker")
                    segmenter = gr.Dropdown(segmenters, value=segmenter0, label="segmenter", elem_id="segmenter")
                options = gr.Textbox(" ".join(extra), label="options (KEY=VALUE ..., e.g. pipeline.positive_points=8)",
                                     elem_id="options")
                apply = gr.Button("new session with these components", elem_id="apply")
                mode = gr.Radio(list(MODES), value="positive", label="click adds / edits", elem_id="mode")
                object_id = gr.Number(1, precision=0, minimum=1, maximum=255, label="object id", elem_id="object-id")
                with gr.Row():
                    undo = gr.Button("undo", elem_id="undo")
                    redo = gr.Button("redo", elem_id="redo")
                with gr.Row():
                    propagate = gr.Button("propagate", variant="primary", elem_id="propagate")
                    cancel = gr.Button("cancel", elem_id="cancel")
                export = gr.Button("export masks, overlay, session", elem_id="export")
                exported = gr.File(label="exports", file_count="multiple", interactive=False, elem_id="exported")
                load = gr.File(label="load a session file", file_types=[SESSION_SUFFIX], elem_id="session-upload")

        main = [state, image, status]
        demo.load(on_start, [state], main + [frame])
        upload.upload(on_upload, [state, upload, tracker, segmenter, options], main + [frame])
        apply.click(on_components, [state, tracker, segmenter, options, frame], main)
        frame.change(on_frame, [state, frame], [image])
        image.select(on_click, [state, frame, mode, object_id], main)
        undo.click(on_undo, [state, frame], main)
        redo.click(on_redo, [state, frame], main)
        run = propagate.click(on_propagate, [state, frame], main)
        cancel.click(None, cancels=[run])
        export.click(on_export, [state, frame], main + [exported])
        load.upload(on_load_session, [state, load, frame], main)
    demo.sampt_root = root_dir
    return demo
