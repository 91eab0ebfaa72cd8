"""The ``sampt ui`` page (Gradio): every control calls one :class:`sampt.interactive.Session` method of the
browser session's :class:`~sampt.ui.workspace.Workspace`; nothing here computes tracks or masks itself.

Gradio (the library the SAM 2, CoTracker and Track-Anything demos use) gives clickable images with pixel
coordinates, progress bars, cancellation and per-session state without hand-written JavaScript."""
import logging
import weakref
import zipfile
from pathlib import Path
from typing import Any, Optional, Sequence

from sampt.constraints import is_real
from sampt.errors import InputError, SamptError
from sampt.outputs import private_temp_dir, remove_private
from sampt.types import MAX_OBJECT_ID
from sampt.ui.admission import DEFAULT_MAX_SESSIONS, DEFAULT_MEMORY_BUDGET_MB, Admission, SessionRefused
from sampt.ui.options import HEADERS, option_overrides, option_rows, split_component_overrides
from sampt.ui.workspace import MB, MODES, SESSION_SUFFIX, VIDEO_UPLOADS, Workspace

log = logging.getLogger("sampt.ui")

TIMELINE_WIDTH = 640  # pixels of the timeline strip

SHORTCUTS = [("Left / Right", "previous / next frame"), ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"),
             ("P, N, R, M", "clicks add positive points, negative points, remove a point, move a point"),
             ("Enter", "propagate"), ("Esc", "cancel a propagation"), ("C", "next frame to check")]
"""The page's keyboard shortcuts (ignored while typing in a field), listed in its help panel."""

HELP = f"""The first positive click on a frame creates the object whose id is typed (1-{MAX_OBJECT_ID}); further clicks add points
to it. Markers, in the object's colour: filled dot = positive point, cross = negative point; a thin red ring
or cross = a point the tracker reports occluded or lost on this frame (it is not used there). Propagate brings every frame's masks up to date; the timeline
shows where each object's mask is present, flagged by its quality record, or absent.

| key | does |
|---|---|
""" + "\n".join(f"| {key} | {what} |" for key, what in SHORTCUTS)

_SHORTCUT_JS = """
<script>
document.addEventListener("keydown", (e) => {
  const t = e.target;
  if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
  const click = (id) => { const b = document.querySelector(id); if (b) b.click(); };
  const mode = (v) => { const r = document.querySelector(`#mode input[value="${v}"]`); if (r) r.click(); };
  const step = (d) => {
    const box = document.querySelector("#frame-slider input[type=number]");
    if (!box) return;
    const v = Math.max(0, Math.min(Number(box.max || 1e9), Number(box.value) + d));
    box.value = v; box.dispatchEvent(new Event("input", {bubbles: true}));
    box.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
    box.dispatchEvent(new Event("change", {bubbles: true})); box.blur();
  };
  const k = e.key.toLowerCase();
  if ((e.ctrlKey || e.metaKey) && k === "z") { click(e.shiftKey ? "#redo" : "#undo"); e.preventDefault(); return; }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const keys = {arrowleft: () => step(-1), arrowright: () => step(1), enter: () => click("#propagate"),
                escape: () => click("#cancel"), c: () => click("#next-check"), p: () => mode("positive"),
                n: () => mode("negative"), r: () => mode("remove"), m: () => mode("move")};
  if (keys[k]) { keys[k](); e.preventDefault(); }
});
</script>
"""


def require_gradio():
    """Import gradio or fail with the one-line fix."""
    try:
        import gradio
    except ImportError:
        from sampt.errors import UsageError

        raise UsageError("sampt ui needs Gradio: pip install 'sampt[ui]'") from None
    return gradio


def launch(demo: Any, host: str = "127.0.0.1", port: Optional[int] = None, max_upload_mb: float = 200.0,
           concurrency: int = 1) -> str:
    """Serve ``demo`` without blocking and return its URL; the web server refuses uploads over
    ``max_upload_mb`` before they reach a handler (the page shows its message)."""
    demo.queue(default_concurrency_limit=concurrency)
    # max_file_size in bytes: Gradio's "<n>mb" strings take whole numbers only ("200.0mb" is refused); head: the
    # keyboard shortcuts; allowed_paths: exports are served from the sessions' folders (under --workdir too)
    _, url, _ = demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True, inbrowser=False,
                            max_file_size=int(max_upload_mb * MB), head=_SHORTCUT_JS, allowed_paths=[str(demo.sampt_root)])
    return url


def build_app(video: Optional[str] = None, overrides: Sequence[str] = (), root: Optional[str] = None,
              max_upload_mb: float = 200.0, session_ttl_s: int = 3600, max_frames: Optional[int] = None,
              max_side: Optional[int] = None, registry: Any = None, max_sessions: int = DEFAULT_MAX_SESSIONS,
              memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB):
    """The Gradio Blocks app. ``video``: a path opened for every new browser session; ``overrides``: config
    overrides (``tracker=lk segmenter=grabcut ...``); ``root``: where per-session folders go (default: a
    temporary folder); sessions idle longer than ``session_ttl_s`` are removed with their files.
    ``max_sessions`` / ``memory_budget_mb``: the server's limits (:mod:`sampt.ui.admission`).
    The handlers are kept as ``demo.sampt_handlers`` (name -> function) for tests that call them directly."""
    gr = require_gradio()
    from gradio.utils import get_upload_folder

    from sampt.config import compose
    from sampt.plugins import Registry

    registry = registry or Registry()
    root_dir = Path(root) if root else private_temp_dir("ui")  # private, removed at exit
    root_dir.mkdir(parents=True, exist_ok=True)
    trackers, segmenters = registry.names("tracker"), registry.names("segmenter")
    base = compose(list(overrides), registry=registry)  # a bad command line fails here, before serving
    picked, cli_options, extra = split_component_overrides(overrides)
    tracker0, segmenter0 = str(base.tracker.name), str(base.segmenter.name)
    upload_roots = [Path(get_upload_folder())]

    admission = Admission(max_sessions, memory_budget_mb)
    workspaces: "weakref.WeakSet[Workspace]" = weakref.WeakSet()

    def make_workspace() -> Workspace:
        ws = Workspace(root_dir, overrides, max_upload_mb, max_frames, max_side, registry, upload_roots)
        workspaces.add(ws)
        return ws

    def shutdown() -> None:
        """Stop serving and remove every browser session's folder (uploads and outputs), and the root
        folder when the page made it."""
        demo.close()
        for ws in list(workspaces):
            ws.remove()
        if root is None:
            remove_private(root_dir)

    def new_workspace() -> Workspace:
        try:  # a full server refuses the session with a message on the page
            return admission.admit(make_workspace)
        except SessionRefused as exc:
            raise gr.Error(str(exc)) from None

    def ok(ws: Workspace, message: str, frame: int = 0):
        return ws, ws.render(frame), message

    def failed(ws: Workspace, exc: Exception, frame: int = 0):
        log.info("ui: %s", exc)
        return ws, ws.render(frame) if ws is not None else None, f"**Error:** {exc}"

    def slider_update(ws: Workspace, frame: int = 0):
        n = len(ws.video) if ws.video is not None else 1
        return gr.update(maximum=max(n - 1, 1), value=min(frame, n - 1))  # Gradio refuses a slider with min == max

    def config_overrides(tracker: str, segmenter: str, options: str, tracker_rows: Any = None,
                         segmenter_rows: Any = None) -> list[str]:
        """The page's choices as command-line overrides: the same path (and the same checks) as the CLI."""
        return [f"tracker={tracker}", f"segmenter={segmenter}",
                *option_overrides("tracker", registry, "tracker", tracker, tracker_rows),
                *option_overrides("segmenter", registry, "segmenter", segmenter, segmenter_rows),
                *options.split()]

    # -- handlers (each: workspace in, workspace + image + message out) --------------------------------
    def video_box(name: Optional[str], ws: Workspace):
        if name is None or ws.video is None:
            return gr.update(label="video (drop a file to open it)")
        return gr.update(label=f"video: {name} is open ({len(ws.video)} frames); drop a file to open another")

    def on_start(ws):
        try:
            ws = ws or admission.admit(make_workspace)
        except SessionRefused as exc:  # the page says so where it shows every message
            return None, None, f"**Refused:** {exc}", gr.skip(), gr.skip()
        if video is None or ws.video is not None:
            return ws, ws.render(0), "Upload a video to start.", slider_update(ws), gr.skip()
        try:
            ws.open_video(Path(video))
        except (SamptError, OSError) as exc:
            return (*failed(ws, exc), slider_update(ws), gr.skip())
        return (*ok(ws, f"Opened {Path(video).name}: {len(ws.video)} frames."), slider_update(ws),
                video_box(Path(video).name, ws))

    def on_upload(ws, file, tracker, segmenter, options, tracker_rows=None, segmenter_rows=None):
        ws = ws or new_workspace()
        if file is None:
            return ws, ws.render(0), "", slider_update(ws), gr.skip()
        try:
            with ws.upload(file if isinstance(file, str) else file.name, VIDEO_UPLOADS) as path:
                ws.open_video(path, config_overrides(tracker, segmenter, options, tracker_rows, segmenter_rows))
        except (SamptError, OSError, ValueError) as exc:  # the refused file leaves the drop zone for the next
            return (*failed(ws, exc), slider_update(ws), None)
        return (*ok(ws, f"Opened the upload: {len(ws.video)} frames."), slider_update(ws), gr.skip())

    def on_components(ws, tracker, segmenter, options, frame, tracker_rows=None, segmenter_rows=None):
        ws = ws or new_workspace()  # an event before the page's load event: a fresh workspace
        try:
            ws.new_session(config_overrides(tracker, segmenter, options, tracker_rows, segmenter_rows))
        except (SamptError, OSError, ValueError) as exc:
            return failed(ws, exc, frame)
        return ok(ws, f"New session with tracker {tracker} and segmenter {segmenter}.", frame)

    def on_pick(kind: str):
        def show_options(name):
            try:
                return option_rows(registry, kind, name, cli_options[kind] if name == picked.get(kind) else {})
            except (SamptError, ImportError) as exc:
                log.info("ui: %s", exc)
                return []
        show_options.__name__ = f"on_pick_{kind}"
        return show_options

    def on_frame(ws, frame):
        if ws is None:
            return None
        ws.shown_frame = int(frame)
        return ws.render(frame)

    def on_click(ws, frame, mode, object_id, evt: gr.SelectData):
        ws = ws or new_workspace()  # an event before the page's load event: a fresh workspace
        frame = int(frame)
        try:
            x, y = ws.to_frame(float(evt.index[0]), float(evt.index[1]))
            if not (is_real(object_id) and float(object_id).is_integer() and 1 <= object_id <= MAX_OBJECT_ID):
                raise InputError(f"object id must be a whole number in 1..{MAX_OBJECT_ID} (it is the label in the "
                                 f"masks), got {object_id}; type another id")
            message = ws.click(mode, int(object_id), frame, x, y)
        except (SamptError, ValueError) as exc:
            return failed(ws, exc, frame)
        return ok(ws, message, frame)

    def on_undo(ws, frame):
        ws = ws or new_workspace()  # an event before the page's load event: a fresh workspace
        try:
            message = ws.undo()
        except SamptError as exc:
            return failed(ws, exc, frame)
        return ok(ws, message, frame)

    def on_redo(ws, frame):
        ws = ws or new_workspace()  # an event before the page's load event: a fresh workspace
        try:
            message = ws.redo()
        except SamptError as exc:
            return failed(ws, exc, frame)
        return ok(ws, message, frame)

    def on_propagate(ws, frame, progress=gr.Progress()):
        """A generator: the page shows each frame's progress, and cancel stops it between two frames."""
        ws = ws or new_workspace()  # an event before the page's load event: a fresh workspace
        try:
            n = ws.require().num_frames
            progress(0, desc="propagating")
            ws.shown_frame = int(frame)
            for t in ws.propagate():
                progress((t + 1) / n, desc=f"propagating: frame {t + 1}/{n}")
                # live: the frame the slider is on now, with the masks computed so far
                yield ws, ws.render(ws.shown_frame), f"Propagating: frame {t + 1} of {n}..."
        except SamptError as exc:
            yield failed(ws, exc, ws.shown_frame)
            return
        yield ok(ws, f"Propagated through {n} frames.", ws.shown_frame)

    def on_cancel(ws):
        """Stop a propagation under way; after one has finished there is nothing to cancel, and its message stays."""
        if ws is not None and ws.propagation_finished and ws.session is not None:
            return f"Propagated through {ws.session.num_frames} frames; nothing to cancel."
        return "Cancelled."

    def on_export(ws, frame, progress=gr.Progress()):
        ws = ws or new_workspace()  # an event before the page's load event: a fresh workspace
        try:
            from sampt.results import mask_folder

            with ws.lock:
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
        ws = ws or new_workspace()  # an event before the page's load event: a fresh workspace
        if file is None:
            return ws, ws.render(frame) if ws else None, "", gr.skip()
        original = Path(file if isinstance(file, str) else file.name)
        path = None
        try:
            with ws.upload(str(original), (SESSION_SUFFIX,), keep=False) as path:
                ws.load_session(path)  # read whole into memory: the copy is not needed after
        except (SamptError, OSError, ValueError) as exc:
            # the user knows their file by its name, not by our copy's path; the refused file leaves the box
            message = str(exc) if path is None else str(exc).replace(str(path), original.name).replace(path.name, original.name)
            return (*failed(ws, type(exc)(message), frame), None)
        return (*ok(ws, f"Loaded the session {original.name}: objects "
                        f"{', '.join(map(str, ws.session.object_ids)) or 'none'}.", frame), gr.skip())

    def on_timeline(ws):
        return ws.timeline(TIMELINE_WIDTH) if ws is not None else None

    def on_timeline_click(ws, evt: gr.SelectData):
        """A click on the timeline jumps to the frame under it."""
        if ws is None or ws.video is None:
            return gr.skip()
        from sampt.ui.timeline import frame_at

        return gr.update(value=frame_at(float(evt.index[0]), TIMELINE_WIDTH, len(ws.video)))

    def on_next_check(ws):
        """Jump to the most doubtful frame not looked at yet."""
        try:
            t = (ws or new_workspace()).next_to_check()
        except SamptError as exc:
            return gr.skip(), f"**Error:** {exc}"
        if t is None:
            return gr.skip(), "No flagged frame left to check (propagate first to check every frame)."
        return gr.update(value=t), f"Frame {t} is flagged: check it."

    def on_delete(ws):
        if ws is not None:
            ws.remove()

    handlers = {f.__name__: f for f in (on_start, on_upload, on_components, on_frame, on_click, on_undo, on_redo,
                                        on_propagate, on_cancel, on_export, on_load_session, on_timeline,
                                        on_timeline_click, on_next_check, on_delete)}
    form = dict(headers=HEADERS, datatype="str", interactive=True, static_columns=[0, 2, 3], row_limits=None,
                column_count=len(HEADERS), max_height=260, wrap=True, type="array")
    with gr.Blocks(title="sampt", delete_cache=(600, session_ttl_s)) as demo:
        state = gr.State(None, time_to_live=session_ttl_s, delete_callback=on_delete)
        gr.Markdown("## sampt: interactive video segmentation by point tracking")
        with gr.Accordion("help: what the marks mean, keyboard shortcuts", open=False, elem_id="help"):
            gr.Markdown(HELP)
        with gr.Row():
            with gr.Column(scale=3):
                image = gr.Image(label="frame (click to add or edit points)", interactive=False, elem_id="frame",
                                 type="numpy", format="png", buttons=["download", "fullscreen"])
                frame = gr.Slider(0, 1, value=0, step=1, label="frame", elem_id="frame-slider")
                timeline = gr.Image(label="timeline: per object, its colour where present, gold where flagged, grey "
                                          "where absent, dark where not computed yet (click to jump)",
                                    interactive=False, elem_id="timeline", type="numpy", format="png", height=80,
                                    buttons=[])
                check = gr.Button("next frame to check", elem_id="next-check", size="sm")
                status = gr.Markdown("", elem_id="status")
                with gr.Row():
                    mode = gr.Radio(list(MODES), value="positive", label="click adds / edits", elem_id="mode", scale=3)
                    # checked by the session (one clear message), not by Gradio (an error badge on the frame)
                    object_id = gr.Number(1, precision=0, label=f"object id (1-{MAX_OBJECT_ID})", elem_id="object-id",
                                          scale=1)
                with gr.Row():
                    undo = gr.Button("undo", elem_id="undo")
                    redo = gr.Button("redo", elem_id="redo")
                    propagate = gr.Button("propagate", variant="primary", elem_id="propagate")
                    cancel = gr.Button("cancel", elem_id="cancel")
            with gr.Column(scale=2):
                upload = gr.File(label="video", file_types=list(VIDEO_UPLOADS), elem_id="video-upload", height=120)
                with gr.Row():
                    tracker = gr.Dropdown(trackers, value=tracker0, label="tracker", elem_id="tracker")
                    segmenter = gr.Dropdown(segmenters, value=segmenter0, label="segmenter", elem_id="segmenter")
                with gr.Accordion("tracker and segmenter options (empty value: the default)", open=True):
                    tracker_rows = gr.Dataframe(on_pick("tracker")(tracker0), label="tracker options",
                                                elem_id="tracker-options", **form)
                    segmenter_rows = gr.Dataframe(on_pick("segmenter")(segmenter0), label="segmenter options",
                                                  elem_id="segmenter-options", **form)
                options = gr.Textbox(" ".join(extra), label="other options (KEY=VALUE ..., e.g. pipeline.positive_points=8)",
                                     elem_id="options")
                apply = gr.Button("new session with these components", elem_id="apply")
                export = gr.Button("export masks, overlay, session", elem_id="export")
                exported = gr.File(label="exports", file_count="multiple", interactive=False, elem_id="exported")
                load = gr.File(label="load a session file", file_types=[SESSION_SUFFIX], elem_id="session-upload",
                               height=120)

        main = [state, image, status]
        picks = [tracker, segmenter, options]
        forms = [tracker_rows, segmenter_rows]
        demo.load(on_start, [state], main + [frame, upload]).then(on_timeline, [state], [timeline])
        upload.upload(on_upload, [state, upload, *picks, *forms], main + [frame, upload])
        # listing options may import a plugin's module (torch): not queued behind a propagation
        tracker.change(on_pick("tracker"), [tracker], [tracker_rows], concurrency_limit=None)
        segmenter.change(on_pick("segmenter"), [segmenter], [segmenter_rows], concurrency_limit=None)
        apply.click(on_components, [state, *picks, frame, *forms], main).then(on_timeline, [state], [timeline])
        # not queued behind a propagation: the slider stays usable while it runs
        frame.change(on_frame, [state, frame], [image], concurrency_limit=None).then(
            on_timeline, [state], [timeline], concurrency_limit=None)
        timeline.select(on_timeline_click, [state], [frame], concurrency_limit=None)
        check.click(on_next_check, [state], [frame, status], concurrency_limit=None)
        image.select(on_click, [state, frame, mode, object_id], main).then(on_timeline, [state], [timeline])
        undo.click(on_undo, [state, frame], main).then(on_timeline, [state], [timeline])
        redo.click(on_redo, [state, frame], main).then(on_timeline, [state], [timeline])
        run = propagate.click(on_propagate, [state, frame], main)
        run.then(on_timeline, [state], [timeline])
        cancel.click(on_cancel, [state], [status], cancels=[run], concurrency_limit=None)
        export.click(on_export, [state, frame], main + [exported])
        load.upload(on_load_session, [state, load, frame], main + [load]).then(on_timeline, [state], [timeline])
    demo.sampt_root = root_dir
    demo.sampt_admission = admission
    demo.sampt_handlers = handlers
    demo.sampt_shutdown = shutdown
    return demo
