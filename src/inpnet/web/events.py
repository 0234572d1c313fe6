"""What the page's widgets do: Gradio event handlers that take widget values and return widget updates.
The model work itself is `WebInpainter`'s; a user mistake becomes a one-line message in the status line and a
warning toast."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import queue
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inpnet.errors import InpNetError
from inpnet.imageio import EightBitCopy
from inpnet.web import inputs
from inpnet.web.photo import WorkingPhoto, fits_editor, shown_copy
from inpnet.web.runner import RESULT_ENDING, Outcome, WebInpainter

BRUSH_COLOUR = ("#ff00ff", 0.6)  # see-through: the photo stays visible under the strokes
BRUSH_SCREEN_PX = 40  # default brush diameter as seen on the screen
EDITOR_CHROME_PX = (110, 70)  # width, height of the editor box taken by its toolbar and margins, not the photo
HISTORY_LENGTH = 12
THUMBNAIL_SIDE = 320  # px, the longest side of a history thumbnail (shown at 120 px, sharp on a 2x screen)
UNTITLED = "image.png"
TILE_POLL_SECONDS = 0.5  # how often a long restoration updates its tile count on the page
WAIT_NOTE_S = 2.0  # a result's status adds the wait since the click when it exceeds the run's time by this much
SENDING = "Sending the photo and your strokes…"  # the status from the click until the run's first line
PREVIEW_POLL_SECONDS = 0.1  # how soon after the network's fill a Remove run shows it (while detail is copied)


# the Remove / Restore outputs, in the order app._wire connects them
RUN_OUTPUTS = ("compare", "download", "status", "gallery", "history", "latest", "keep")


def run_update(**changed: Any) -> tuple:
    """The Remove / Restore outputs with only the named ones changed (the others skipped)."""
    import gradio as gr

    unknown = set(changed) - set(RUN_OUTPUTS)
    if unknown:
        raise ValueError(f"not a run output: {', '.join(sorted(unknown))}")
    return tuple(changed[name] if name in changed else gr.skip() for name in RUN_OUTPUTS)


def status_update(text: str) -> tuple:
    """The Remove / Restore outputs with only the status line changed (the other six skipped)."""
    return run_update(status=text)


def user_errors(fn: Any) -> Any:
    """A Remove / Restore handler (a generator of the run outputs) whose `InpNetError` ends the run with its
    one-line message in the status line, in bold, and in a warning toast; the result shown so far stays (Remove
    takes a preview of its own off the slider first).
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EightBitCopy)  # the page writes the transparency back (`working_rgba`)
        return as_rgb_array(background)


def working_image(editor: Any, photo: WorkingPhoto | None,
                  picked: dict | None = None) -> tuple[np.ndarray, WorkingPhoto | None]:
    """The photo to run on: the full photo behind the editor's smaller copy, or the editor's own photo (when it
    is small, or the user has opened another photo since). -> ((H, W, 3) uint8, the working photo or None).
    `picked`: the photo opened (None: none yet, and a canvas drawn on from scratch is not a photo)."""
    background = editor.get("background") if isinstance(editor, dict) else None
    name = (picked or {}).get("name")
    if not name:
        raise inputs.WebInputError("upload a photo first (or load the sample photo)")
    if background is None:  # the editor's Undo and Clear take the photo away with the strokes
        raise inputs.WebInputError(f"the editor has no photo: Undo or Clear (the bin) took {name} away with the "
                                   "strokes. Redo brings it back, or open it again")
    shown = editor_image(editor)
    if photo is not None and photo.holds(shown):
        return photo.full, photo
    return shown, None


def working_rgba(editor: Any, photo: WorkingPhoto | None) -> np.ndarray | None:
    """The photo to run on as uploaded, (H, W, 4) uint8, when it has transparency (the result keeps it): the
    working photo's, or the editor's photo's own alpha (the editor works in RGBA); else None."""
    if photo is not None:
        return photo.rgba
    background = editor.get("background") if isinstance(editor, dict) else None
    return inputs.transparent(background)


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


def brush_update(picked: dict | None, screen_px: float, **editor: Any) -> Any:
    """An editor update whose brush shows `screen_px` across (and any other editor settings given)."""
    import gradio as gr

    return gr.ImageEditor(brush=gr.Brush(colors=[BRUSH_COLOUR], color_mode="fixed",
                                         default_size=brush_radius(picked, screen_px)), format="png", **editor)


def editor_value(image: Any) -> dict:
    """The editor's value showing `image` (an array or a file path) with no strokes."""
    return {"background": image, "layers": [], "composite": image}


def thumbnail(path: str) -> str:
    """A small PNG copy of the result file `path`, written beside it once: the history shows these, not the
    results themselves (a 12-megapixel result is ~20 MB of PNG for the browser to load into a 120-px tile)."""
    from inpnet.imageio import save_image

    thumb = Path(path).parent / "thumbnail" / f"{history_key(path)}.png"  # the key: see `history_index`
    if not thumb.exists():
        with Image.open(path) as img, warnings.catch_warnings():
            warnings.simplefilter("ignore", EightBitCopy)  # a transparent result's thumbnail: on white
            img.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # in place, aspect ratio kept, never enlarged
            save_image(img, thumb)
    return str(thumb)


def history_key(path: str) -> str:
    """A history entry's key, the file name of its thumbnail: a gallery click reports the thumbnail it showed."""
    return hashlib.sha1(str(path).encode()).hexdigest()[:20]


def history_index(history: list, evt: Any) -> int | None:
    """The history entry a gallery click picked, or None when it has left the history. The click reports the
    thumbnail it showed (Gradio's copy keeps the file name, `history_key`), which stays right when a run ended
    between the browser's drawing of the gallery and the click: a full history then shifts by one, and the
    click's index would name the neighbour. The index serves only when the click reports no file."""
    value = getattr(evt, "value", None)
    image = value.get("image") if isinstance(value, dict) else None
    shown = (image.get("path") or image.get("url")) if isinstance(image, dict) else None
    if isinstance(shown, str) and shown:
        key = Path(shown).stem
        return next((i for i, (path, _) in enumerate(history) if history_key(path) == key), None)
    index = getattr(evt, "index", None)
    return index if isinstance(index, int) and 0 <= index < len(history) else None


def result_names(history: list | None) -> set[str]:
    """The file names of the history's results (a new result is named apart from them)."""
    return {Path(path).name for path, _ in history or []}


def caption(result: str) -> str:
    """A result's file name -> its history caption, the part that tells results apart first (a 120-px tile
    cuts the rest): `cat_inpainted_2.png` -> `inpainted 2 · cat`."""
    stem = Path(result).stem
    match = RESULT_ENDING.search(stem)
    if match is None:
        return result
    number = f" {match[2][1:]}" if match[2] else ""
    return f"{match[1][1:]}{number} · {stem[: match.start()]}"


def gallery_items(history: list) -> list[tuple[str, str]]:
    """The history [(result path, name)] as the gallery shows it: thumbnails, captioned with the names."""
    return [(thumbnail(path), name) for path, name in history]


def ready_status(name: str, width: int, height: int, bits: int = 8) -> str:
    return f"{name} ({width}x{height}{deep_note(bits)}): paint over what to remove, then press **Remove**."


def deep_note(bits: Any) -> str:
    """A note for a photo of more than 8 bits per sample (the browser and the page's results have 8)."""
    deep = isinstance(bits, int) and bits > 8
    return f"; a {bits}-bit photo: the result here is 8-bit, `inpnet inpaint` keeps its {bits} bits" if deep else ""


def parse_picked(text: Any) -> dict:
    """The upload watcher's report (JSON from the browser) -> dict with name, ok, width, height, box."""
    try:
        info = json.loads(text) if isinstance(text, str) and text else {}
    except ValueError:
        info = {}
    return info if isinstance(info, dict) else {}


class PhotoTurns:
    """One page session's count of the times the editor got another photo (a new photo, the sample, a history
    pick, Keep editing), kept in a `gr.State` that every handler shares (Gradio passes a session's state object
    itself, not a copy). A run notes the count when its button is clicked (`PageEvents.busy`, at once, before
    the run's own event has sent the strokes and joined the queue); if the count has moved when the run shows
    something, the editor holds another photo than the run's, and the run's result goes to the history only."""

    def __init__(self) -> None:
        self.count = 0
        self.at_click = 0
        self.name_at_click: str | None = None
        self.clicked_at: float | None = None  # time.perf_counter() of the last click on Remove or Restore

    def another_photo(self) -> None:
        self.count += 1

    def clicked(self, picked: dict | None) -> None:
        self.at_click, self.name_at_click = self.count, (picked or {}).get("name")
        self.clicked_at = time.perf_counter()


def waited_note(turns: PhotoTurns | None, run_s: float) -> str:
    """' · 48 s from the click: 38 s of it before the run …' when the wait since the click on Remove / Restore
    exceeds the run's own `run_s` seconds by WAIT_NOTE_S or more (a large photo's upload and preparation: the
    summary's time alone was far below what the user waited, in a review); else ''."""
    if turns is None or turns.clicked_at is None:
        return ""
    waited = time.perf_counter() - turns.clicked_at
    before = waited - run_s
    if before < WAIT_NOTE_S:
        return ""
    return f" · {waited:.0f} s from the click: {before:.0f} s of it before the run (sending and preparing the photo)"


def another_photo(turns: PhotoTurns | None) -> None:
    """Count that the editor got another photo (no count kept: nothing to do)."""
    if turns is not None:
        turns.another_photo()


def _same_photo(turns: PhotoTurns | None, at_click: int) -> bool:
    return turns is None or turns.count == at_click


class PageEvents:
    """The handlers of one page, around one `WebInpainter`."""

    def __init__(self, runner: WebInpainter) -> None:
        self.runner = runner

    # ---- photo in -----------------------------------------------------------------------------------------
    def picked(self, report: Any, screen_px: float, photo: WorkingPhoto | None = None,
               turns: PhotoTurns | None = None) -> tuple[Any, ...]:
        """A file was chosen or dropped on the editor (reported by the browser, which gives a photo up to
        EDITOR_PIXELS to the editor and a larger one to `opened`): refuse a non-image with a visible message,
        else keep its name (for the download) and size (for the brush), and turn the last result's buttons
        off (`new_photo`). -> (picked, status, editor update, working photo, latest, download, keep editing,
        before / after)"""
        import gradio as gr

        info = parse_picked(report)
        name = inputs.display_name(str(info.get("name") or ""), UNTITLED)
        width, height = info.get("width") or 0, info.get("height") or 0
        try:
            if not info.get("ok"):
                raise inputs.WebInputError(f"{name}: not an image, or an unsupported format. Choose a PNG, JPEG "
                                           "or WebP photo.")
            inputs.check_bytes(int(info.get("bytes") or 0), name)  # the page refuses to upload it
            inputs.check_pixels(width, height, name)
        except inputs.WebInputError as exc:
            gr.Warning(str(exc))
            return gr.skip(), f"**{exc}**", *[gr.skip()] * 7
        another_photo(turns)
        bits = info.get("bits", 8)
        picked = {"name": name, "width": width, "height": height, "box": info.get("box"), "bits": bits}
        if not fits_editor(height, width):  # `opened` shows its copy and sizes the brush
            if photo is not None and photo.full_size == (height, width):  # ... and has done so already
                return (self._sized(picked, photo.shown), self._large_status(name, photo, bits), gr.skip(),
                        gr.skip(), *self.new_photo())
            return picked, f"Opening {name} ({width}x{height})…", gr.skip(), gr.skip(), *self.new_photo()
        return (picked, ready_status(name, width, height, bits), brush_update(picked, screen_px), None,
                *self.new_photo())

    def opened(self, path: str | None, picked: dict | None, screen_px: float) -> tuple[Any, ...]:
        """A photo too large for the editor, uploaded as it is (by the browser, in place of giving it to the
        editor): read it here (EXIF turned, in sRGB) and show the editor a smaller copy; the runs use the full
        photo. -> (editor update, working photo, picked, status, the upload cleared)"""
        import gradio as gr

        if not path:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        name = inputs.display_name(path, UNTITLED)
        try:
            full = inputs.read_image(path, name, srgb=True)
        except InpNetError as exc:
            gr.Warning(str(exc))
            return gr.skip(), gr.skip(), gr.skip(), f"**{exc}**", None
        photo = WorkingPhoto.of(full, inputs.read_rgba(path))
        shown = full if photo is None else photo.shown
        picked = self._sized({**(picked or {}), "name": name}, shown)
        bits = picked.get("bits", 8)
        status = (self._large_status(name, photo, bits) if photo
                  else ready_status(name, shown.shape[1], shown.shape[0], bits))
        return brush_update(picked, screen_px, value=editor_value(shown)), photo, picked, status, None

    @staticmethod
    def _sized(picked: dict, shown: np.ndarray) -> dict:
        """`picked` with the size of `shown`, the photo in the editor (h, w, 3): the brush is sized on it."""
        return {**picked, "width": shown.shape[1], "height": shown.shape[0]}

    @staticmethod
    def _large_status(name: str, photo: WorkingPhoto, bits: int = 8) -> str:
        (height, width), (h, w) = photo.full_size, photo.shown.shape[:2]
        return (f"{name} ({width}x{height}; you paint on a {w}x{h} copy, the result is full size{deep_note(bits)}): "
                "paint over what to remove, then press **Remove**.")

    @staticmethod
    def new_photo() -> tuple[None, Any, Any, Any, Any]:
        """Another photo was chosen: the last result belongs to the one before, so Download and Keep editing
        are off until the next run, the before / after slider is cleared (the result stays in the history), and
        so is the mask file, drawn for the photo before (it was stretched onto the next one, unseen in its
        closed fold). -> (latest, download, keep-editing button, before / after, mask file)"""
        import gradio as gr

        return (None, gr.update(value=None, interactive=False), gr.Button(interactive=False), gr.update(value=None),
                gr.update(value=None))

    def sample(self, turns: PhotoTurns | None = None) -> tuple[Any, ...]:
        """-> (editor value, picked, status, working photo: none, the sample is small; latest, download, keep
        editing, before / after: off, as for any new photo)"""
        import skimage.data

        another_photo(turns)
        photo = skimage.data.astronaut()
        picked = {"name": "astronaut.png", "width": photo.shape[1], "height": photo.shape[0]}
        return (photo, picked, "Sample photo loaded: paint over what to remove, then press **Remove**.", None,
                *self.new_photo())

    @staticmethod
    def mask_chosen(mask_file: Any, picked: dict | None) -> str:
        """A mask file was uploaded: say so (the preset does), and when its size is not the photo's, that it
        will be stretched."""
        name = inputs.display_name(mask_file, "the mask file")
        size = inputs.mask_size(mask_file) if mask_file else None
        if size is None:
            return f"**{name}: not an image, or an unsupported format** (a mask: white or any nonzero pixel = remove)"
        width, height = (picked or {}).get("width"), (picked or {}).get("height")
        stretch = (f" It is {size[0]}x{size[1]} and the photo {width}x{height}: it will be stretched to fit."
                   if width and height and size != (width, height) else "")
        return f"Mask file **{name}** chosen: press **Remove** to fill it (with anything you painted).{stretch}"

    def preset_chosen(self, preset: str) -> str:
        if preset == inputs.NO_PRESET:
            return "No preset: the hole is what you paint (and the mask file, if any)."
        return f"Preset **{preset}** chosen: press **Remove** to fill it (with anything you painted)."

    # ---- runs ---------------------------------------------------------------------------------------------
    # One at a time: `busy` as a run's button is clicked and `idle` after the run (app._wire). A photo changed
    # meanwhile (`PhotoTurns`) keeps the editor, the download and Keep editing: the run files its result in the
    # history only.
    @staticmethod
    def busy(picked: dict | None = None, turns: PhotoTurns | None = None) -> tuple[Any, Any, Any, Any, Any]:
        """A run's button was clicked: note the photo it runs on (`turns`); Remove and Restore off (a second
        click queued the same run again), Keep editing and Download off (the slider is about to show the new
        run, not the result they give); the status says the click was taken (a large photo's upload takes
        seconds before the run's own first line, and the old "…then press Remove" stayed meanwhile).
        -> (Remove, Restore, Keep editing, Download, status)"""
        import gradio as gr

        if turns is not None:
            turns.clicked(picked)
        return (gr.Button(interactive=False), gr.Button(interactive=False), gr.Button(interactive=False),
                gr.update(interactive=False), gr.update(value=SENDING))

    @staticmethod
    def idle(latest: str | None, turns: PhotoTurns | None = None) -> tuple[Any, Any, Any, Any]:
        """A run ended (its result shown, or its one-line message): Remove and Restore on; Keep editing and
        Download on when there is a result for them (the run's; after a refused run the one before). After
        another photo since the run's click they are that photo's event's to set (it may land before or after
        this one): left alone. -> (Remove, Restore, Keep editing, Download)"""
        import gradio as gr

        if turns is not None and turns.count != turns.at_click:
            return gr.Button(interactive=True), gr.Button(interactive=True), gr.skip(), gr.skip()
        ready = bool(latest)
        return (gr.Button(interactive=True), gr.Button(interactive=True), gr.Button(interactive=ready),
                gr.update(interactive=ready))

    def hole(self, editor: Any, size: tuple[int, int], mask_file: Any, preset: str, ratio: float,
             seed: Any, photo: WorkingPhoto | None = None) -> np.ndarray:
        """Everything the user chose as the hole: brush strokes (painted on the editor's copy of `photo`, if
        given), the mask file, the preset. (H, W) bool at `size`, the photo's size."""
        hole = photo.full_hole(drawn_hole(editor, photo.shown.shape[:2])) if photo else drawn_hole(editor, size)
        if mask_file:
            hole |= inputs.read_mask(mask_file, size, f"the mask file {inputs.display_name(mask_file)}")
        if preset and preset != inputs.NO_PRESET:
            pipe = self.runner.pipeline
            hole |= inputs.preset_hole(size, preset, ratio, int(seed or 0), pipe.config.patch_size,
                                       pipe.model_size, threshold=pipe.config.token_threshold)
        return hole

    @user_errors
    def remove(self, editor: Any, picked: dict | None, mask_file: Any, preset: str, ratio: float, seed: Any,
               strategy: str, history: list | None, texture: float | None = None,
               photo: WorkingPhoto | None = None, turns: PhotoTurns | None = None) -> Iterator[tuple]:
        at_click, name = self._clicked(turns, picked)
        image, photo = working_image(editor, photo, picked)
        hole = self.hole(editor, image.shape[:2], mask_file, preset, ratio, seed, photo)
        if not hole.any() and not _same_photo(turns, at_click):  # the run was sent with the new photo
            raise inputs.WebInputError("Remove did not run: another photo was opened before it started. Paint "
                                       "over what to remove in this one, then press **Remove**")
        if not hole.any():
            raise inputs.WebInputError("no hole: paint over the part to remove (or upload a mask file, or "
                                       "choose a preset under Advanced)")
        if hole.all():
            raise inputs.WebInputError("the hole covers the whole photo, so nothing is left to fill it from "
                                       "(an inverted mask file? white or any nonzero pixel = remove)")
        if _same_photo(turns, at_click):
            yield status_update(self.runner.progress_text(hole, strategy))
        previews: queue.SimpleQueue = queue.SimpleQueue()  # (the network's fill, when), from the worker thread
        start, shown, said = time.perf_counter(), None, -1
        with worker_job(lambda: self.runner.inpaint(
                image, hole, strategy=strategy, name=name, texture=texture, original=working_rgba(editor, photo),
                on_preview=lambda fill: previews.put((fill, time.perf_counter() - start)),
                taken=result_names(history))) as job:
            for elapsed in waiting(job, PREVIEW_POLL_SECONDS):
                if shown is None and not previews.empty():  # the fill is there; PatchMatch is copying detail
                    shown = previews.get()
                if shown is not None and int(elapsed) > said and _same_photo(turns, at_click):
                    yield self._preview(image, *shown, elapsed, with_images=said < 0)  # then each second more
                    said = int(elapsed)
            try:
                outcome = job.result()  # re-raises the worker's error, for @user_errors
            except InpNetError:
                if said >= 0 and _same_photo(turns, at_click):  # a preview is not a result: off the slider first
                    import gradio as gr

                    yield run_update(compare=gr.update(value=None))
                raise
        extra = inputs.stretched_mask_note(mask_file, image.shape[:2]) + waited_note(turns, time.perf_counter() - start)
        outcome = Outcome(outcome.image, outcome.path, outcome.summary + extra)
        yield self._show(image, outcome, history, _same_photo(turns, at_click))

    def _preview(self, before: np.ndarray, fill: np.ndarray, ready_s: float, elapsed: float,
                 with_images: bool) -> tuple:
        """The network's fill shown in the before / after slider while the texture step runs (`with_images`:
        the first time, as JPEG files; later only the status line counts the seconds); the download, the
        gallery and the last result stay as they were until the final result."""
        status = (f"Preview below: the network's fill, ready in {ready_s:.1f} s · copying the photo's own detail "
                  f"into it… {int(elapsed)} s")
        if not with_images:
            return run_update(status=status)
        return run_update(status=status,
                          compare=tuple(str(self.runner.preview_file(shown_copy(view))) for view in (before, fill)))

    @user_errors
    def restore(self, editor: Any, picked: dict | None, history: list | None,
                photo: WorkingPhoto | None = None, latest: str | None = None,
                turns: PhotoTurns | None = None) -> Iterator[tuple]:
        at_click, name = self._clicked(turns, picked)
        image, photo = working_image(editor, photo, picked)
        original = working_rgba(editor, photo)
        doing = f"Restoring the whole photo with {self.runner.restore_model_name}…"
        if _same_photo(turns, at_click):
            yield status_update(doing)
        tiles: list[tuple[int, int]] = []  # (done, total) after each batch, from the worker thread
        start = time.perf_counter()
        with worker_job(lambda: self.runner.restore(image, name=name, original=original, taken=result_names(history),
                                                    on_tiles=lambda done, total: tiles.append((done, total)))) as job:
            shown = 0
            for elapsed in waiting(job, TILE_POLL_SECONDS):
                if len(tiles) > shown and _same_photo(turns, at_click):  # a large photo: count its tiles
                    shown = len(tiles)
                    done, total = tiles[-1]
                    left = elapsed / done * (total - done)
                    when = f"about {left:.0f} s left" if done < total else "finishing"
                    yield status_update(f"{doing} {done} of {total} tiles, {when}")
            outcome = job.result()  # re-raises the worker's error, for @user_errors
        outcome = Outcome(outcome.image, outcome.path, outcome.summary + waited_note(turns, time.perf_counter() - start))
        if latest and not _holds_result(image, latest):  # Remove's result is not the photo in the editor
            outcome = Outcome(outcome.image, outcome.path, outcome.summary + " · this is the photo in the editor, "
                              "without your last result: to restore that, press **Keep editing the result**, "
                              "then **Restore whole photo**")
        yield self._show(image, outcome, history, _same_photo(turns, at_click))

    @staticmethod
    def _clicked(turns: PhotoTurns | None, picked: dict | None) -> tuple[int, str]:
        """A run's start: the photo count and the photo's name when its button was clicked (`busy`)."""
        if turns is None:
            return 0, (picked or {}).get("name") or UNTITLED
        return turns.at_click, turns.name_at_click or (picked or {}).get("name") or UNTITLED

    def _show(self, before: np.ndarray, outcome: Outcome, history: list | None, current: bool = True) -> tuple:
        """-> (before/after, download, status, gallery, history, latest, keep-editing button). A large photo
        is compared at the editor's size (the download is full size). Not `current` (the editor has had
        another photo since the run's click): the result joins the history only, and the status says where."""
        import gradio as gr

        history = [*(history or []), (str(outcome.path), caption(outcome.path.name))][-HISTORY_LENGTH:]
        if not current:
            return run_update(
                status=f"Done: the result of **{outcome.path.name}** is in the history below (another photo was "
                       "opened while it ran). Paint over what to remove in the editor's photo, then press **Remove**.",
                gallery=gallery_items(history), history=history)
        shown_before = shown_copy(before)
        after = str(outcome.path) if shown_before is before else shown_copy(outcome.image)
        before_file = str(self.runner.before_file(shown_before, outcome.path))
        # "below": on a laptop screen the before / after slider is under the fold, and nothing else moves
        return ((before_file, after), gr.update(value=str(outcome.path), interactive=True),
                f"{outcome.summary} · before / after below", gallery_items(history), history, str(outcome.path),
                gr.Button(interactive=True))

    # ---- the editing loop ---------------------------------------------------------------------------------
    def keep_editing(self, latest: str | None, turns: PhotoTurns | None = None) -> tuple[Any, str, Any]:
        """The last result becomes the photo being edited (strokes cleared). -> (editor, status, working
        photo)"""
        import gradio as gr

        if not latest:
            return gr.skip(), "Nothing to keep yet: run **Remove** first.", gr.skip()
        another_photo(turns)
        value, photo = self._editable(latest)
        return value, "Editing the result: paint the next thing to remove, then press **Remove**.", photo

    def from_history(self, history: list | None, evt: Any,
                     turns: PhotoTurns | None = None) -> tuple[Any, Any, str, Any, Any, Any]:
        """A result picked in the history goes back into the editor (an undo to any earlier step), the Download
        button gives it, and the before / after slider, which showed another step, is cleared.
        -> (editor, latest, status, working photo, download, before / after)"""
        import gradio as gr

        index = history_index(history or [], evt)
        if index is None:
            return (gr.skip(), gr.skip(), f"That result has left the history (it keeps the last {HISTORY_LENGTH}).",
                    gr.skip(), gr.skip(), gr.skip())
        another_photo(turns)
        path = history[index][0]
        value, photo = self._editable(path)
        return (value, path, f"Back to result {index + 1} of {len(history)}: keep painting, or download it.",
                photo, gr.update(value=path, interactive=True), gr.update(value=None))

    @staticmethod
    def _editable(path: str) -> tuple[dict, WorkingPhoto | None]:
        """A result file (written by the runner) -> the editor's value and working photo: the file itself when
        small, else its smaller copy."""
        from inpnet.predict import as_rgb_array

        with Image.open(path) as img:  # the header only
            small = fits_editor(img.height, img.width)
        photo = None if small else WorkingPhoto.of(as_rgb_array(path), inputs.read_rgba(path))
        return editor_value(path if photo is None else photo.shown), photo


@contextlib.contextmanager
def worker_job(run: Callable[[], Any]) -> Iterator[Future]:
    """`run()` on a worker thread, so that the page's handler can show progress while it works; the job's
    `result()` re-raises its error."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="inpnet-web") as pool:
        yield pool.submit(run)


def waiting(job: Future, poll_seconds: float) -> Iterator[float]:
    """Seconds since the start, every `poll_seconds` while `job` runs (nothing once it is done)."""
    start = time.perf_counter()
    while not job.done():
        wait([job], timeout=poll_seconds)
        if not job.done():
            yield time.perf_counter() - start


def _holds_result(image: np.ndarray, result: str) -> bool:
    """Whether the photo run on, (H, W, 3) uint8, is the result file `result` (composited as it was read)."""
    from inpnet.predict import as_rgb_array

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EightBitCopy)  # read as the editor's photo was: on white
            other = as_rgb_array(result)
    except InpNetError:  # the result's file is gone (the page outlived its folder): nothing to compare
        return True
    return other.shape == image.shape and float(np.abs(other.astype(np.int16) - image).mean()) <= 1.0
