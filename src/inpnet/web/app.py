"""Gradio page: upload a photo, paint the hole with a brush (or upload a mask, or pick one of the paper's
mask kinds), and see the masked input and InP-Net's result side by side; the result downloads as PNG.
"Restore" runs the ratio-0 mode (the whole image reconstructed, no hole).

`build_app(pipeline)` builds the page (nothing happens at import time); `launch(app, host, port)` serves it,
on 127.0.0.1 unless told otherwise. Uploads over `MAX_UPLOAD_MB` or `MAX_PIXELS`, and files that are not
images, are refused with a message (`gr.Error`); the server keeps running. Works offline: analytics are off
and the default theme uses local fonts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inpnet.errors import InpNetError

MAX_UPLOAD_MB = 20
MAX_PIXELS = 40_000_000
MODES = ("brush / mask file", "mask preset", "restore (ratio 0)")
STRATEGY_CHOICES = ("auto", "crop", "resize")
HOLE_GREY = 128  # how the hole is shown in the masked preview
OUTPUT_HEIGHT = 420  # display height (px) of the result images; downloads keep the full resolution


def preset_choices() -> list[str]:
    """Mask presets of the paper: random, structured at each anchor, irregular in each family."""
    from inpnet.masks import IRREGULAR_FAMILIES, STRUCTURED_PRESETS

    return (["random"] + [f"structured {p}" for p in STRUCTURED_PRESETS]
            + [f"irregular {f}" for f in IRREGULAR_FAMILIES])


def _error(message: str) -> Exception:
    import gradio as gr

    return gr.Error(message, print_exception=False)


def _check_file(path: str | os.PathLike, what: str) -> Path:
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        raise _error(f"{what}: the uploaded file is missing") from None
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise _error(f"{what} is {size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB")
    return p


def _check_pixels(img: Image.Image | np.ndarray, what: str) -> None:
    h, w = (img.shape[0], img.shape[1]) if isinstance(img, np.ndarray) else (img.height, img.width)
    if h * w > MAX_PIXELS:
        raise _error(f"{what} is {w}x{h} = {h * w / 1e6:.0f} Mpx; the limit is {MAX_PIXELS / 1e6:.0f} Mpx")


def _read(value: Any, what: str) -> Any:
    """A path / array / PIL image from Gradio -> something `open_image` / `load_mask` accept, size-checked."""
    if isinstance(value, (str, os.PathLike)):
        return _check_file(value, what)
    if isinstance(value, dict) and "path" in value:  # a FileData-like dict
        return _check_file(value["path"], what)
    if isinstance(value, (np.ndarray, Image.Image)):
        _check_pixels(value, what)
        return value
    raise _error(f"{what}: expected an image, got {type(value).__name__}")


def _layer_hole(layer: Any, size: tuple[int, int]) -> np.ndarray:
    """A brush layer (RGBA: painted where alpha > 0) -> (H, W) bool at the image size (nearest)."""
    arr = np.asarray(layer if not isinstance(layer, (str, os.PathLike)) else Image.open(layer))
    if arr.ndim == 3 and arr.shape[2] == 4:
        painted = arr[:, :, 3] > 0
    elif arr.ndim == 3:
        painted = (arr != 0).any(axis=2)
    else:
        painted = arr != 0
    if painted.shape != size:
        painted = np.asarray(Image.fromarray(painted).resize((size[1], size[0]), Image.Resampling.NEAREST))
    return painted


class WebInpainter:
    """What the page's Run button calls: (editor value, mask file, mode, preset, ratio, seed, strategy) ->
    (masked preview, result), both (H, W, 3) uint8 arrays. User mistakes raise `gr.Error`."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def __call__(self, editor: dict | None, mask_file: Any = None, mode: str = MODES[0],
                 preset: str = "random", ratio: float = 0.5, seed: int = 0,
                 strategy: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        try:
            return self._run(editor, mask_file, mode, preset, ratio, int(seed or 0), strategy)
        except InpNetError as exc:
            raise _error(str(exc)) from None

    def _run(self, editor: dict | None, mask_file: Any, mode: str, preset: str, ratio: float, seed: int,
             strategy: str) -> tuple[np.ndarray, np.ndarray]:
        from inpnet.predict import as_rgb_array

        if mode not in MODES:
            raise _error(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        background = editor.get("background") if isinstance(editor, dict) else editor
        if background is None:
            raise _error("upload an image first")
        image = as_rgb_array(_read(background, "the image"))  # (H, W, 3) uint8
        _check_pixels(image, "the image")
        if mode == MODES[2]:
            return image, np.asarray(self.pipeline.restore(image))
        hole = (self._preset_hole(image.shape[:2], preset, ratio, seed) if mode == MODES[1]
                else self._drawn_hole(editor, mask_file, image.shape[:2]))
        if not hole.any():
            raise _error("no hole: paint over the part to remove, upload a mask, or choose a mask preset")
        preview = image.copy()
        preview[hole] = HOLE_GREY
        return preview, np.asarray(self.pipeline(image, hole, strategy=strategy))

    def _drawn_hole(self, editor: Any, mask_file: Any, size: tuple[int, int]) -> np.ndarray:
        """Union of the brush layers and the uploaded mask file (nonzero = hole). (H, W) bool."""
        from inpnet.imageio import load_mask

        hole = np.zeros(size, dtype=bool)
        layers = (editor.get("layers") or []) if isinstance(editor, dict) else []
        for layer in layers:
            if layer is not None:
                hole |= _layer_hole(layer, size)
        if mask_file is not None:
            hole |= load_mask(_read(mask_file, "the mask"), size)[0].numpy() > 0.5
        return hole

    def _preset_hole(self, size: tuple[int, int], preset: str, ratio: float, seed: int) -> np.ndarray:
        """The paper's mask kinds, drawn on the patch grid the model will see, stretched to the image."""
        import torch

        from inpnet.masks import make_pixel_mask
        from inpnet.predict import work_size

        kind, _, option = preset.partition(" ")
        if preset not in preset_choices():
            raise _error(f"unknown mask preset {preset!r}")
        p = self.pipeline.config.patch_size
        grid = work_size(size[0], size[1], self.pipeline.model_size, p)
        generator = torch.Generator().manual_seed(seed)
        mask = make_pixel_mask(kind, 1, grid, p, float(ratio), generator,
                               preset=option if kind == "structured" else None,
                               family=option if kind == "irregular" else None)  # (1, 1, *grid)
        small = Image.fromarray(mask[0, 0].numpy() > 0.5)
        return np.asarray(small.resize((size[1], size[0]), Image.Resampling.NEAREST))


def _bomb(what: str) -> Exception:
    return _error(f"{what} is too large (decompression bomb); the limit is {MAX_PIXELS / 1e6:.0f} Mpx")


def _peek(path: str | os.PathLike, what: str) -> None:
    """Refuse a file that is not an image, or whose header declares more than MAX_PIXELS, before decoding."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)  # reads the header only
            img.close()
    except Image.DecompressionBombError:
        raise _bomb(what) from None
    except Exception:  # Pillow raises many types for files it cannot read
        raise _error(f"{what}: not an image, or an unsupported format") from None
    _check_pixels(img, what)  # width and height stay readable after close


def checked_editor(**kwargs: Any) -> Any:
    """A `gr.ImageEditor` whose uploads are checked before Gradio decodes them: a file that is not an image,
    or has too many pixels, gets one clear message instead of Gradio's component-processing report."""
    import gradio as gr

    editor = gr.ImageEditor(**kwargs)
    decode = editor.preprocess

    def preprocess(payload: Any) -> Any:
        background = getattr(payload, "background", None) if getattr(payload, "id", None) is None else None
        if getattr(background, "path", None):
            _peek(background.path, "the image")
        try:
            return decode(payload)
        except gr.Error:
            raise
        except Image.DecompressionBombError:
            raise _bomb("the image") from None
        except Exception:
            raise _error("the image: not an image, or an unsupported format") from None

    # an instance attribute, not a subclass: Gradio writes a .pyi stub beside the module of every subclass
    editor.preprocess = preprocess
    return editor


def _sample_photo() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


def build_app(pipeline: Any) -> Any:
    """The Gradio Blocks page around an `InpaintPipeline` (not launched)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    run = WebInpainter(pipeline)
    cfg = pipeline.config
    with gr.Blocks(title="InP-Net inpainting", analytics_enabled=False) as app:
        gr.Markdown(
            "## InP-Net: masked-ViT inpainting\n"
            "Upload a photo, paint over what to remove (any brush colour), or upload a mask "
            "(white = hole), or try one of the paper's mask kinds. *Restore* reconstructs the whole image "
            f"(ratio 0). Model: `{getattr(cfg, 'variant', '?')}` / `{getattr(cfg, 'preset', '?')}`, "
            f"trained at {cfg.image_size[1]}x{cfg.image_size[0]}; any photo size works "
            f"(up to {MAX_UPLOAD_MB} MB, {MAX_PIXELS // 1_000_000} Mpx)."
        )
        with gr.Row():
            with gr.Column():
                editor = checked_editor(
                    label="image (paint the hole)", type="numpy", image_mode="RGBA",
                    sources=("upload", "clipboard"), brush=gr.Brush(colors=["#ff00ff"], color_mode="fixed"),
                    layers=False, transforms=(), elem_id="image-editor",
                )
                sample = gr.Button("load a sample photo", size="sm", elem_id="sample-button")
                mask_file = gr.File(label="mask file (optional; nonzero = hole)", type="filepath",
                                    elem_id="mask-file")
            with gr.Column():
                mode = gr.Radio(list(MODES), value=MODES[0], label="hole from", elem_id="mode")
                preset = gr.Dropdown(preset_choices(), value="random", label="mask preset")
                ratio = gr.Slider(0.05, 0.9, value=0.5, step=0.05, label="preset ratio (fraction of patches)")
                seed = gr.Number(value=0, precision=0, label="preset seed")
                strategy = gr.Radio(list(STRATEGY_CHOICES), value="auto", label="large images",
                                    info="crop: windows around each hole; resize: the whole image")
                button = gr.Button("Run", variant="primary", elem_id="run-button")
        with gr.Row():
            masked = gr.Image(label="masked input", type="numpy", interactive=False, height=OUTPUT_HEIGHT,
                              elem_id="masked-image")
            output = gr.Image(label="result (download: top-right button)", type="numpy", format="png",
                              interactive=False, buttons=["download", "fullscreen"], height=OUTPUT_HEIGHT,
                              elem_id="output-image")
        sample.click(_sample_photo, outputs=editor)
        button.click(run, inputs=[editor, mask_file, mode, preset, ratio, seed, strategy],
                     outputs=[masked, output], concurrency_limit=1)
    return app


def launch(app: Any, host: str = "127.0.0.1", port: int = 7860, *, block: bool = True,
           quiet: bool = False) -> Any:
    """Serve the page. `block=False` returns once the server is up (tests); then `app.close()` stops it."""
    try:
        return app.launch(server_name=host, server_port=port, share=False, inbrowser=False,
                          prevent_thread_lock=not block, max_file_size=f"{MAX_UPLOAD_MB}mb", quiet=quiet,
                          footer_links=[], show_error=True)
    except OSError as exc:
        raise InpNetError(f"cannot serve on {host}:{port}: {exc}") from None
