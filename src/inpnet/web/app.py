"""Gradio page: upload a photo, paint over what to remove, press Remove; compare before/after with a slider,
keep editing the result, go back to any earlier result, download `<name>_inpainted.png` (full resolution,
every pixel outside the hole unchanged). "Restore" reconstructs the whole photo (ratio 0: denoising) with
the restoration model. The paper's research controls (mask presets, ratio, seed, large-image strategy) and the
mask-file upload sit in folds. Programs use the stable endpoints of `inpnet.web.api`.

`build_app(pipeline, restore_pipeline)` builds the page (nothing happens at import time); `launch(app, host,
port)` serves it, on 127.0.0.1 unless told otherwise. Uploads over `MAX_UPLOAD_MB` or `MAX_PIXELS`, and files
that are not images, are refused with a message; the server keeps running. A photo above `EDITOR_PIXELS` is
painted on a smaller copy and filled at full size (`inpnet.web.photo`). Works offline: analytics are off,
no share buttons, the default theme uses local fonts.

No JavaScript framework: Gradio's components, plus small hooks where Gradio has no setting (see
`upload_watch_js`, `SET_BRUSH_JS`, `SHOW_RESULT_JS`, `PAGE_CSS`).
"""

from __future__ import annotations

import errno
import os
from typing import Any

from inpnet.errors import InpNetError
from inpnet.web import inputs
from inpnet.web.events import BRUSH_COLOUR, BRUSH_SCREEN_PX, RUN_OUTPUTS, PageEvents, PhotoTurns
from inpnet.web.inputs import MAX_PIXELS, MAX_UPLOAD_MB, NO_PRESET, preset_choices  # noqa: F401 (re-export)
from inpnet.web.photo import EDITOR_PIXELS
from inpnet.web.runner import WebInpainter

STRATEGY_CHOICES = ("auto", "crop", "resize")
EDITOR_HEIGHT = "min(72vh, 900px)"  # the photo is fitted into this box (a 500 px photo shows at ~116 %)
RESULT_HEIGHT = 560

# Gradio's ImageEditor ignores a dropped or chosen file that the browser cannot decode (no event, no message),
# does not pass the file's name to the server, and is slow with a large photo (see inpnet.web.photo). This hook,
# run by a gr.HTML component (Gradio's own js_on_load), takes each file chosen or dropped on the editor before
# the editor does, checks that it decodes and reports its name, size (bytes and pixels), bits per sample (PNG) and
# the editor box size
# through the component's change event (the server answers with a message, the download name and a brush size
# that follows the displayed scale); then it gives a photo up to EDITOR_PIXELS to the editor, uploads a larger
# one as it is through a hidden file component, whose upload event shows the editor a smaller copy, and passes
# on no file over the page's limits (the server's answer says why).
_UPLOAD_WATCH_JS = """
const EDITOR_PIXELS = __EDITOR_PIXELS__, MAX_PIXELS = __MAX_PIXELS__, MAX_BYTES = __MAX_BYTES__;
const inEditor = (node) => node && node.closest && node.closest('#image-editor');
let handing = false;  // our own change event, passing a file on
const hand = (selector, file) => {
  const input = document.querySelector(selector);
  if (!input) return;
  const files = new DataTransfer();
  files.items.add(file);
  input.files = files.files;
  handing = true;
  try { input.dispatchEvent(new Event('change', {bubbles: true})); } finally { handing = false; }
  input.value = '';  // the editor took the file during the event; an input left holding it ignores the same
                     // file chosen again (no change event): the old strokes stayed and were filled again
};
// a PNG's bits per sample (byte 24, in its IHDR chunk): the browser shows a 16-bit PNG at 8 bits, and so do
// the page's results; the status line says so
const pngBits = (file) => file.slice(0, 26).arrayBuffer().then((buffer) => {
  const head = new Uint8Array(buffer);
  const png = head.length === 26 && head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4E && head[3] === 0x47;
  return png ? head[24] : 8;
}).catch(() => 8);
const open = (file) => {
  const editor = document.getElementById('image-editor');
  const box = editor ? [editor.clientWidth, editor.clientHeight] : [0, 0];
  // a new value is the report: Gradio sends 'change' for it (a trigger('change') as well ran the handler
  // twice: two warnings for one non-image); `at` makes the same file chosen again a new value
  const send = (info) => {
    props.value = JSON.stringify(Object.assign({name: file.name, bytes: file.size, box, at: Date.now()}, info));
  };
  Promise.all([createImageBitmap(file), pngBits(file)]).then(([bmp, bits]) => {
    const pixels = bmp.width * bmp.height;
    send({ok: true, width: bmp.width, height: bmp.height, bits});
    bmp.close();
    if (pixels > MAX_PIXELS || file.size > MAX_BYTES) return;
    if (pixels > EDITOR_PIXELS) { hand('#original-upload input[type=file]', file); return; }
    afterAnswer(file.name, () => hand('#image-editor input[type=file]', file));
  }).catch(() => send({ok: false}));
};
// the editor gets the photo once the server's answer (status line, brush size) is on the page: a brush
// update reaching an editor that already holds a photo makes it upload its layers again and again
const afterAnswer = (name, then) => {
  const status = document.getElementById('status');
  const start = Date.now();
  const poll = () => {
    if (!status || status.innerText.includes(name) || Date.now() - start > 5000) then();
    else setTimeout(poll, 50);
  };
  poll();
};
document.addEventListener('change', (e) => {
  const files = e.target && e.target.type === 'file' ? Array.from(e.target.files || []) : [];
  if (handing || !inEditor(e.target) || !files.length) return;
  e.stopImmediatePropagation();
  e.target.value = '';  // the File is ours now; see `hand`
  open(files[0]);
}, true);
document.addEventListener('drop', (e) => {
  const files = e.dataTransfer ? Array.from(e.dataTransfer.files || []) : [];
  if (!inEditor(e.target) || !files.length) return;
  e.preventDefault();
  e.stopImmediatePropagation();
  e.target.dispatchEvent(new DragEvent('dragleave', {bubbles: true}));  // the editor's drop highlight off
  open(files[0]);
}, true);
document.body.dataset.uploadWatch = 'ready';
"""


def upload_watch_js() -> str:
    """The upload hook with the page's limits filled in."""
    limits = {"__EDITOR_PIXELS__": EDITOR_PIXELS, "__MAX_PIXELS__": MAX_PIXELS,
              "__MAX_BYTES__": MAX_UPLOAD_MB * 1024 * 1024}
    script = _UPLOAD_WATCH_JS
    for key, value in limits.items():
        script = script.replace(key, str(value))
    return script


# The brush size slider sets the editor's brush in the browser, through the editor's own brush-size control: the
# server's brush update (`gr.ImageEditor(brush=...)`) reaching an editor that holds a photo makes it upload its
# layers again and again (21 uploads of 3.4 MB for one move of the slider on a 2-megapixel photo, measured).
# The slider is in screen pixels across; the editor's control is a radius in image pixels; the zoom is the one
# the editor's toolbar shows ("48%"). Afterwards the brush is the active tool.
SET_BRUSH_JS = """
async (screenPx) => {
  const editor = document.getElementById('image-editor');
  const zoom = editor && editor.innerText.match(/(\\d+)%/);
  const button = editor && editor.querySelector("button[aria-label='Brush Size']");
  if (!zoom || !button) return [];
  const radius = Math.max(1, Math.round(screenPx / 2 / (parseInt(zoom[1]) / 100)));
  if (!editor.querySelector('input[type=range]')) {
    button.click();
    await new Promise((done) => setTimeout(done, 50));
  }
  const range = editor.querySelector('input[type=range]');
  if (range) {
    range.value = String(Math.min(radius, Number(range.max) || radius));
    range.dispatchEvent(new Event('input', {bubbles: true}));
    range.dispatchEvent(new Event('change', {bubbles: true}));
  }
  // back to painting: the size control stays the active tool until another is pressed (a plain click()
  // does not close it; the editor listens for the pointer)
  const brush = editor.querySelector("button[aria-label='Brush']");
  for (const type of ['pointerdown', 'mousedown', 'pointerup', 'mouseup', 'click']) {
    if (brush) brush.dispatchEvent(new PointerEvent(type, {bubbles: true}));
  }
  return [];
}
"""

# A preview or result arriving in the before / after slider scrolls it into sight (on a laptop screen it sits below
# the editor, under the fold, and only the status line would change); a cleared slider does not move the page.
# The sample button sits below the editor: on a phone the editor it fills is off screen (review 7), so the
# click brings the editor into sight (where it is in sight already, nothing moves).
SHOW_EDITOR_JS = """
() => {
  const editor = document.getElementById('image-editor');
  if (editor) editor.scrollIntoView({behavior: 'smooth', block: 'nearest'});
}
"""

# A stroke after a refused Remove ("no hole: paint over ...") makes that line stale: replaced in the browser
# alone, as the editor's `input` sends nothing to the server (its layers go up with the next run only).
STALE_STATUS_JS = """
() => {
  const status = document.getElementById('status');
  if (!status || !/no hole|did not run/.test(status.innerText)) return;
  const text = status.querySelector('.prose') || status;
  text.textContent = 'Painted. Press Remove painted area when the strokes cover what to remove.';
}
"""

SHOW_RESULT_JS = """
() => {
  setTimeout(() => {  // once the slider has drawn its new value
    const slider = document.getElementById('compare');
    if (slider && slider.querySelector('img')) slider.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  }, 150);
}
"""

# Gradio has no setting for these: no gap for the hidden watcher, a status line that does not jump, history
# thumbnails of one size (Gradio's gallery stretches a lone result across the whole row), the photo clear of the
# editor's tool column (its canvas hosts, `.pixi-target*`, start 20 px in: the column covered the photo's left
# 15 px), and on a phone (review 7) an editor box no taller than a square of the screen's width (it was 72 % of
# the screen's height, which put the Remove button below the screen while painting) with its label on a row of
# its own (the zoom bar cut it). The selectors are Gradio 6's unhashed class names and test ids.
PAGE_CSS = """
#upload-watch, #original-upload { display: none; }
#status { min-height: 3em; }
#history .grid-container { grid-template-columns: repeat(auto-fill, 120px) !important;
                           grid-auto-rows: 120px !important; }
#image-editor .pixi-target, #image-editor .pixi-target-crop { left: 20px; width: calc(100% - 20px); }
@media (max-width: 700px) {
  #image-editor:not(.fullscreen) { height: auto !important; }
  #image-editor:not(.fullscreen) label[data-testid="block-label"] { position: static; white-space: normal; }
  #image-editor:not(.fullscreen) .image-container { position: relative; width: 100%; height: auto;
                                                    aspect-ratio: 1 / 1; max-height: 60vh; }
}
"""

INTRO = (
    "## Remove things from photos\n"
    "Upload a photo, **paint over what you want to remove**, press **Remove**. Everything outside the painted "
    "area stays exactly as it was. Keep editing the result to remove more; every result is kept below. "
    "**Restore** cleans up the whole photo (noise, compression). Nothing leaves this machine."
)


def _editor(**kwargs: Any) -> Any:
    """The photo editor: a large canvas, full-screen button, see-through magenta brush, no share button."""
    import gradio as gr

    return gr.ImageEditor(
        label="photo (paint over what to remove)", type="numpy", image_mode="RGBA",
        sources=("upload", "clipboard"), layers=False, transforms=(), height=EDITOR_HEIGHT,
        format="png",  # photos the page puts in the editor (the sample, a large photo's copy) stay lossless
        brush=gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed", default_size=BRUSH_SCREEN_PX // 2),
        buttons=["fullscreen"], elem_id="image-editor", **kwargs)


def _controls(runner: WebInpainter) -> dict[str, Any]:
    """The right-hand column: actions, status, folds with the mask file and the research controls."""
    import gradio as gr

    w: dict[str, Any] = {}
    w["brush_size"] = gr.Slider(4, 200, value=BRUSH_SCREEN_PX, step=1, label="brush size (on screen, px)",
                                elem_id="brush-size")
    available = runner.texture_available
    w["texture"] = gr.Slider(
        0, 1, value=getattr(runner.pipeline, "texture", 0.0), step=0.1, label="photo detail in the fill", elem_id="texture",
        interactive=available,
        info=("1: fine detail copied from the rest of the photo (PatchMatch); 0: the network's smooth fill. "
              "Lower it if the fill shows copies of other objects." if available else
              "not available: pypatchmatch is not installed, so fills are the network's own"))
    w["remove"] = gr.Button("Remove painted area", variant="primary", elem_id="run-button")
    w["restore"] = gr.Button("Restore whole photo", elem_id="restore-button")
    w["keep"] = gr.Button("Keep editing the result", interactive=False, elem_id="keep-editing")
    w["download"] = gr.DownloadButton("Download result (PNG)", interactive=False, elem_id="download-button")
    # below the buttons: a summary that wraps to more lines does not move them just as they can be clicked
    w["status"] = gr.Markdown("Upload a photo to start.", elem_id="status")
    w["sample"] = gr.Button("Load a sample photo", size="sm", elem_id="sample-button")
    with gr.Accordion("Use a mask file (filled with anything painted)", open=False, elem_id="mask-fold"):
        w["mask_file"] = gr.File(label="mask (white or any nonzero pixel = remove)", type="filepath",
                                 elem_id="mask-file", height=170)
    with gr.Accordion("Advanced (research controls)", open=False, elem_id="advanced"):
        w["preset"] = gr.Dropdown(preset_choices(), value=NO_PRESET, label="mask preset (the paper's mask kinds)",
                                  info="chosen = filled on Remove", elem_id="preset")
        w["ratio"] = gr.Slider(0.05, 0.9, value=0.5, step=0.05, label="preset size (mask ratio: about this share of the photo)",
                               elem_id="ratio")
        w["seed"] = gr.Number(value=0, precision=0, label="preset seed (random and irregular kinds)")
        w["strategy"] = gr.Radio(list(STRATEGY_CHOICES), value="auto", label="large photos",
                                 info="crop: a window around each hole at full resolution; "
                                      "resize: the whole photo at the model's size")
    return w


def _results() -> dict[str, Any]:
    import gradio as gr

    w: dict[str, Any] = {}
    w["compare"] = gr.ImageSlider(label="before / after (drag the handle)", type="filepath", format="png",
                                  buttons=["fullscreen"], height=RESULT_HEIGHT, max_height=RESULT_HEIGHT,
                                  elem_id="compare")
    w["gallery"] = gr.Gallery(label="history (click a result to edit or download it again)", columns=8,
                              height=150, object_fit="contain", buttons=[], allow_preview=False,
                              elem_id="history")  # thumbnails: the Download button gives the chosen result
    return w


def _wire(page: PageEvents, w: dict[str, Any]) -> None:
    """Connect the widgets to the handlers."""
    import gradio as gr

    run_outputs = [w[name] for name in RUN_OUTPUTS]
    quiet = dict(show_progress="minimal", show_progress_on=[w["status"]], api_visibility="private",
                 concurrency_id="model", concurrency_limit=1)
    private = dict(api_visibility="private", show_progress="hidden")
    run_buttons = [w["remove"], w["restore"], w["keep"], w["download"]]
    turns = w["turns"]  # how often the editor got another photo: a run ended after that files its result only
    # the page's own events are private and named apart from the stable API's /inpaint and /restore
    for button in (w["remove"], w["restore"]):  # beside the run, not before it: the run takes the strokes at once
        button.click(page.busy, [w["picked"], turns], [*run_buttons, w["status"]], queue=False, **private)
    w["remove"].click(page.remove, [w["editor"], w["picked"], w["mask_file"], w["preset"], w["ratio"], w["seed"],
                                    w["strategy"], w["history"], w["texture"], w["photo"], turns], run_outputs,
                      api_name="page_remove", **quiet).then(page.idle, [w["latest"], turns], run_buttons, **private)
    w["restore"].click(page.restore, [w["editor"], w["picked"], w["history"], w["photo"], w["latest"], turns],
                       run_outputs, api_name="page_restore", **quiet).then(page.idle, [w["latest"], turns],
                                                                           run_buttons, **private)
    w["compare"].change(None, None, None, js=SHOW_RESULT_JS, **private)
    fresh = [w["latest"], w["download"], w["keep"], w["compare"], w["mask_file"]]  # another photo: all go off
    w["watch"].change(page.picked, [w["watch"], w["brush_size"], w["photo"], turns],
                      [w["picked"], w["status"], w["editor"], w["photo"], *fresh], **private)
    w["original"].upload(page.opened, [w["original"], w["picked"], w["brush_size"]],
                         [w["editor"], w["photo"], w["picked"], w["status"], w["original"]], **private)
    w["brush_size"].release(None, w["brush_size"], None, js=SET_BRUSH_JS, **private)
    w["preset"].change(page.preset_chosen, w["preset"], w["status"], **private)
    w["mask_file"].upload(page.mask_chosen, [w["mask_file"], w["picked"]], w["status"], **private)
    w["keep"].click(page.keep_editing, [w["latest"], turns], [w["editor"], w["status"], w["photo"]], **private)
    w["keep"].click(None, None, None, js=SHOW_EDITOR_JS, **private)  # the page sat scrolled down at the slider
    w["editor"].input(None, None, None, js=STALE_STATUS_JS, **private)  # review 14: "no hole" stayed after painting
    def pick_from_history(history: list, photo_turns: PhotoTurns, evt: Any) -> Any:
        return page.from_history(history, evt, photo_turns)

    pick_from_history.__annotations__ = {"evt": gr.SelectData}  # how Gradio knows to pass the selection
    w["gallery"].select(pick_from_history, [w["history"], turns],
                        [w["editor"], w["latest"], w["status"], w["photo"], w["download"], w["compare"]], **private)
    w["sample"].click(page.sample, turns, [w["editor"], w["picked"], w["status"], w["photo"], *fresh], **private)
    w["sample"].click(None, None, None, js=SHOW_EDITOR_JS, **private)


def build_app(pipeline: Any, restore_pipeline: Any = None, *, model_name: str | None = None,
              restore_model_name: str | None = None) -> Any:
    """The Gradio Blocks page around an `InpaintPipeline` (and one for restoration; default: the same).
    Not launched. The runner is kept as `app.inpnet_runner` (for `launch`'s plain HTTP routes)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    from inpnet.web.api import add_gradio_endpoints

    runner = WebInpainter(pipeline, restore_pipeline, model_name=model_name,
                          restore_model_name=restore_model_name)
    page = PageEvents(runner)
    with gr.Blocks(title="InP-Net: remove things from photos", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as app:
        gr.Markdown(INTRO)
        w: dict[str, Any] = {}
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                w["editor"] = _editor()
            with gr.Column(scale=1, min_width=300):
                w.update(_controls(runner))
        w.update(_results())
        gr.Markdown(_models_line(runner), elem_id="models")
        w["watch"] = gr.HTML("", html_template="", js_on_load=upload_watch_js(), elem_id="upload-watch")
        w["original"] = gr.File(type="filepath", elem_id="original-upload")  # hidden: a large photo, as it is
        w["picked"], w["history"], w["latest"] = gr.State(None), gr.State([]), gr.State(None)
        w["photo"] = gr.State(None)  # a WorkingPhoto while the editor shows a smaller copy of a large photo
        w["turns"] = gr.State(PhotoTurns())  # copied for each page session
        _wire(page, w)
        add_gradio_endpoints(runner)
    app.inpnet_runner = runner
    return app


def _models_line(runner: WebInpainter) -> str:
    cfg = runner.pipeline.config
    return (f"Models: remove with **{runner.model_name}**, restore with **{runner.restore_model_name}** "
            f"(trained at {cfg.image_size[1]}x{cfg.image_size[0]}; any photo size works, up to "
            f"{inputs.MAX_UPLOAD_MB} MB and {inputs.MAX_PIXELS // 1_000_000} Mpx). "
            "Programs: `/inpaint` and `/restore` (gradio_client), `POST /api/inpaint`, `POST /api/restore`.")


def launch(app: Any, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True,
           quiet: bool = False) -> Any:
    """Serve the page (and the plain HTTP routes). `block=False` returns once the server is up (tests);
    then `app.close()` stops it."""
    from inpnet.web.api import add_http_routes

    try:  # quiet: Gradio's own start-up lines advise `launch(share=True)`, which a command-line user can't do
        launched = app.launch(server_name=host, server_port=port, share=False, inbrowser=False,
                              prevent_thread_lock=True, max_file_size=f"{inputs.MAX_UPLOAD_MB}mb", quiet=True,
                              footer_links=["api"], show_error=True, css=PAGE_CSS)
    except OSError as exc:
        if "empty port" in str(exc) or getattr(exc, "errno", None) == errno.EADDRINUSE:  # Gradio's words, or the OS's
            raise InpNetError(f"cannot serve on {host}:{port}: the port is in use (another server?); choose "
                              "another with --port") from None
        raise InpNetError(f"cannot serve on {host}:{port}: {exc}") from None
    runner = getattr(app, "inpnet_runner", None)
    server = launched[0] if isinstance(launched, tuple) else None
    if runner is not None and server is not None:
        add_http_routes(server, runner)
    if not quiet:
        url = launched[1] if isinstance(launched, tuple) and len(launched) > 1 else f"http://{host}:{port}/"
        print(f"inpnet serve: the page is at {url} (Ctrl-C stops the server)", flush=True)
    if block:
        app.block_thread()
    return launched
