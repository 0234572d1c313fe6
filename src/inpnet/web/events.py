"""What the page's widgets do: Gradio event handlers that take widget values and return widget updates.
The model work itself is `WebInpainter`'s; a user mistake becomes a one-line message in the status line and a
warning toast."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from inpnet.errors import InpNetError
from inpnet.web import inputs
from inpnet.web.runner import Outcome, WebInpainter

BRUSH_COLOUR = ("#ff00ff", 0.6)  # see-through: the photo stays visible under the strokes
BRUSH_SCREEN_PX = 40  # default brush diameter as seen on the screen
EDITOR_CHROME_PX = (110, 70)  # width, height of the editor box taken by its toolbar and margins, not the photo
HISTORY_LENGTH = 12
UNTITLED = "image.png"
TILE_POLL_SECONDS = 0.5  # how often a long restoration updates its tile count on the page


def status_update(text: str) -> tuple:
    """The Remove / Restore outputs with only the status line changed (the other six skipped)."""
    import gradio as gr

    return (*[gr.skip()] * 2, text, *[gr.skip()] * 4)


def user_errors(fn: Any) -> Any:
    """A Remove / Restore handler (a generator of the run outputs) whose `InpNetError` ends the run with its
    one-line message in the status line, in bold, and in a warning toast; the result shown so far stays.
    (Raising `gr.Error` instead put Gradio's red "Error" badge over the status line, hiding the message.)"""

    @functools.wraps(fn)
    def gen(*args: Any, **kwargs: Any) -> Iterator[Any]:
        import gradio as gr

        try:
            yield from fn(*args, **kwargs)
        except InpNetError as exc:
            gr.Warning(str(exc))
            yield status_update(f"**{exc}**")
    return gen


def editor_image(editor: Any) -> np.ndarray:
    """The editor's photo (its background layer) -> (H, W, 3) uint8."""
    from inpnet.predict import as_rgb_array

    background = editor.get("background") if isinstance(editor, dict) else None
    if background is None:
        raise inputs.WebInputError("upload a photo first (or load the sample photo)")
    if isinstance(background, np.ndarray):
        inputs.check_pixels(background.shape[1], background.shape[0], "the image")
    return as_rgb_array(background)


def drawn_hole(editor: Any, size: tuple[int, int]) -> np.ndarray:
    """Union of the brush layers: (H, W) bool."""
    hole = np.zeros(size, dtype=bool)
    for layer in (editor.get("layers") or []) if isinstance(editor, dict) else []:
        if layer is not None:
            hole |= inputs.layer_hole(layer, size)
    return hole


def brush_radius(picked: dict | None, screen_px: float) -> int:
    """Brush radius in image pixels that shows as `screen_px` across on the screen: the photo is fitted
    into the editor box (known from the browser), so one screen pixel is 1 / scale image pixels."""
    picked = picked or {}
    width, height = picked.get("width") or 0, picked.get("height") or 0
    box_w, box_h = picked.get("box") or (0, 0)
    if not (width and height and box_w > EDITOR_CHROME_PX[0] and box_h > EDITOR_CHROME_PX[1]):
        return max(1, round(screen_px / 2))
    scale = min((box_w - EDITOR_CHROME_PX[0]) / width, (box_h - EDITOR_CHROME_PX[1]) / height)
    return max(1, round(screen_px / 2 / scale))


def brush_update(picked: dict | None, screen_px: float) -> Any:
    import gradio as gr

    return gr.ImageEditor(brush=gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed",
                                         default_size=brush_radius(picked, screen_px)))


def parse_picked(text: Any) -> dict:
    """The upload watcher's report (JSON from the browser) -> dict with name, ok, width, height, box."""
    try:
        info = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        info = {}
    return info if isinstance(info, dict) else {}


class PageEvents:
    """The handlers of one page, around one `WebInpainter`."""

    def __init__(self, runner: WebInpainter) -> None:
        self.runner = runner

    # ---- photo in -----------------------------------------------------------------------------------------
    def picked(self, report: Any, screen_px: float) -> tuple[Any, str, Any]:
        """A file was chosen or dropped on the editor: refuse a non-image with a visible message, else keep its
        name (for the download) and size (for the brush). -> (picked, status, editor update)"""
        import gradio as gr

        info = parse_picked(report)
        name = inputs.display_name(str(info.get("name") or ""), UNTITLED)
        if not info.get("ok"):
            message = f"{name}: not an image, or an unsupported format. Choose a PNG, JPEG or WebP photo."
            gr.Warning(message)
            return gr.skip(), f"**{message}**", gr.skip()
        picked = {"name": name, "width": info.get("width"), "height": info.get("height"),
                  "box": info.get("box")}
        status = (f"{name} ({info.get('width')}x{info.get('height')}): paint over what to remove, "
                  "then press **Remove**.")
        return picked, status, brush_update(picked, screen_px)

    def brush(self, picked: dict | None, screen_px: float) -> Any:
        return brush_update(picked, screen_px)

    def sample(self) -> tuple[np.ndarray, dict, str]:
        import skimage.data

        photo = skimage.data.astronaut()
        picked = {"name": "astronaut.png", "width": photo.shape[1], "height": photo.shape[0]}
        return photo, picked, "Sample photo loaded: paint over what to remove, then press **Remove**."

    def preset_chosen(self, preset: str) -> str:
        if preset == inputs.NO_PRESET:
            return "No preset: the hole is what you paint (and the mask file, if any)."
        return f"Preset **{preset}** chosen: press **Remove** to fill it (with anything you painted)."

    # ---- runs ---------------------------------------------------------------------------------------------
    def hole(self, editor: Any, size: tuple[int, int], mask_file: Any, preset: str, ratio: float,
             seed: Any) -> np.ndarray:
        """Everything the user chose as the hole: brush strokes, the mask file, the preset. (H, W) bool."""
        hole = drawn_hole(editor, size)
        if mask_file:
            hole |= inputs.read_mask(mask_file, size, f"the mask file {inputs.display_name(mask_file)}")
        if preset and preset != inputs.NO_PRESET:
            pipe = self.runner.pipeline
            hole |= inputs.preset_hole(size, preset, ratio, int(seed or 0), pipe.config.patch_size,
                                       pipe.model_size)
        return hole

    @user_errors
    def remove(self, editor: Any, picked: dict | None, mask_file: Any, preset: str, ratio: float, seed: Any,
               strategy: str, history: list | None, texture: float | None = None) -> Iterator[tuple]:
        image = editor_image(editor)
        hole = self.hole(editor, image.shape[:2], mask_file, preset, ratio, seed)
        if not hole.any():
            raise inputs.WebInputError("no hole: paint over the part to remove (or upload a mask file, or "
                                       "choose a preset under Advanced)")
        yield status_update(self.runner.progress_text(hole, strategy))
        name = (picked or {}).get("name") or UNTITLED
        yield self._show(image, self.runner.inpaint(image, hole, strategy=strategy, name=name, texture=texture),
                         history)

    @user_errors
    def restore(self, editor: Any, picked: dict | None, history: list | None) -> Iterator[tuple]:
        image = editor_image(editor)
        doing = f"Restoring the whole photo with {self.runner.restore_model_name}…"
        yield status_update(doing)
        name = (picked or {}).get("name") or UNTITLED
        tiles: list[tuple[int, int]] = []  # (done, total) after each batch, from the worker thread
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="inpnet-restore") as pool:
            start = time.perf_counter()
            job = pool.submit(self.runner.restore, image, name=name,
                              on_tiles=lambda done, total: tiles.append((done, total)))
            shown = 0
            while not job.done():
                wait([job], timeout=TILE_POLL_SECONDS)
                if len(tiles) > shown and not job.done():  # a large photo: count its tiles on the page
                    shown = len(tiles)
                    done, total = tiles[-1]
                    left = (time.perf_counter() - start) / done * (total - done)
                    when = f"about {left:.0f} s left" if done < total else "finishing"
                    yield status_update(f"{doing} {done} of {total} tiles, {when}")
            outcome = job.result()  # re-raises the worker's error, for @user_errors
        yield self._show(image, outcome, history)

    def _show(self, before: np.ndarray, outcome: Outcome, history: list | None) -> tuple:
        """-> (before/after, download, status, gallery, history, latest, keep-editing button)"""
        import gradio as gr

        history = [*(history or []), (str(outcome.path), outcome.path.name)][-HISTORY_LENGTH:]
        return ((before, str(outcome.path)), gr.update(value=str(outcome.path), interactive=True),
                outcome.summary, history, history, str(outcome.path), gr.Button(interactive=True))

    # ---- the editing loop ---------------------------------------------------------------------------------
    def keep_editing(self, latest: str | None) -> tuple[Any, str]:
        """The last result becomes the photo being edited (strokes cleared)."""
        import gradio as gr

        if not latest:
            return gr.skip(), "Nothing to keep yet: run **Remove** first."
        return ({"background": latest, "layers": [], "composite": latest},
                "Editing the result: paint the next thing to remove, then press **Remove**.")

    def from_history(self, history: list | None, evt: Any) -> tuple[Any, Any, str]:
        """A result picked in the history goes back into the editor (an undo to any earlier step)."""
        import gradio as gr

        if not history or evt.index is None or not 0 <= evt.index < len(history):
            return gr.skip(), gr.skip(), gr.skip()
        path = history[evt.index][0]
        return ({"background": path, "layers": [], "composite": path}, path,
                f"Back to result {evt.index + 1} of {len(history)}: keep painting, or download it.")
