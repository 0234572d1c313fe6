"""The model calls behind the page and its API: inpaint a hole or restore a photo, time it, say what ran, and
write the result as a PNG named after the user's file (`<name>_inpainted.png`). One run at a time."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inpnet.web.inputs import WebInputError, check_pixels, with_transparency

STRATEGY_WORDS = {
    "crop": "a window around each hole, at full resolution",
    "resize": "the whole photo at the model's size",
}
RESULT_SUFFIXES = ("_inpainted", "_restored")
RESULT_ENDING = re.compile(rf"({'|'.join(RESULT_SUFFIXES)})(_\d+)?$")  # a result's name ending, numbered or not
PREVIEW_QUALITY = 90  # JPEG quality of the passing previews (the network's fill while detail is copied)
KEPT_PREVIEWS = 4  # preview files kept on disk (two before / fill pairs); older ones are deleted


def describe_model(pipeline: Any) -> str:
    """A short name for a pipeline's model when no folder name is known: variant/preset."""
    cfg = pipeline.config
    return f"{getattr(cfg, 'variant', '?')}/{getattr(cfg, 'preset', '?')}"


def result_name(source_name: str | None, suffix: str, taken: Collection[str] = ()) -> str:
    """`photo.jpg` -> `photo_<suffix>.png`; a result edited again keeps the original stem
    (`photo_inpainted.png` or `photo_inpainted_2.png` -> `photo_inpainted.png`, not
    `photo_inpainted_inpainted.png`). A name in `taken` (the page's earlier results) gets the next free number,
    `photo_inpainted_2.png`, ...: a browser would save the downloads as "(1)", "(2)" copies."""
    stem = Path(source_name or "image").stem or "image"
    while (shorter := RESULT_ENDING.sub("", stem)) != stem and shorter:
        stem = shorter
    name, number = f"{stem}_{suffix}.png", 1
    while name in taken:
        number += 1
        name = f"{stem}_{suffix}_{number}.png"
    return name


def count_regions(hole: np.ndarray) -> int:
    """Connected hole regions (8-connected) of an (H, W) bool hole."""
    import cv2

    return int(cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)[0]) - 1


@dataclass(frozen=True)
class Outcome:
    """One finished run: the result (H, W, 3) uint8, its PNG file, and a sentence saying what ran."""

    image: np.ndarray
    path: Path
    summary: str


class WebInpainter:
    """Runs `pipeline` (inpainting) and `restore_pipeline` (ratio 0; default: the same) for the page.

    Results go to a private temporary folder that is removed with this object."""

    def __init__(self, pipeline: Any, restore_pipeline: Any = None, *, model_name: str | None = None,
                 restore_model_name: str | None = None) -> None:
        self.pipeline = pipeline
        self.restorer = restore_pipeline if restore_pipeline is not None else pipeline
        self.model_name = model_name or describe_model(pipeline)
        self.restore_model_name = restore_model_name or (
            self.model_name if restore_pipeline is None else describe_model(self.restorer))
        self._lock = threading.Lock()  # the page's events, the API and plain HTTP share one model
        self._folder = Path(tempfile.mkdtemp(prefix="inpnet-web-"))
        self._previews = itertools.count()  # numbers the preview files
        weakref.finalize(self, shutil.rmtree, str(self._folder), True)

    def strategy_for(self, hole: np.ndarray, strategy: str) -> str:
        """`crop` or `resize`: what `strategy` ("auto", "crop" or "resize") means for this hole."""
        from inpnet.regions import check_strategy

        check_strategy(strategy, WebInputError)
        return self.pipeline.choose_strategy(hole) if strategy == "auto" else strategy

    def progress_text(self, hole: np.ndarray, strategy: str) -> str:
        """What a run on this hole is about to do, in words (shown while it runs)."""
        n = count_regions(hole)
        return f"Filling {n} region{'s' if n != 1 else ''} with {self.model_name}{self._strategy_words(hole, strategy)}…"

    def _strategy_words(self, hole: np.ndarray, strategy: str) -> str:
        """' · crop: a window around each hole, ...' for a strategy the user chose (Advanced); nothing for "auto",
        which a new user never chose and which reads as jargon ("resize" sounds like a small result)."""
        if strategy == "auto":
            return ""
        chosen = self.strategy_for(hole, strategy)
        return f" · {chosen}: {STRATEGY_WORDS[chosen]}"

    def texture_pipeline(self, texture: float | None) -> Any:
        """The inpainting pipeline with the texture step at strength `texture` (None: the pipeline's own)."""
        import copy

        from inpnet.texture import is_strength

        if texture is None or texture == getattr(self.pipeline, "texture", None):
            return self.pipeline
        if not is_strength(texture):
            raise WebInputError(f"photo detail must be between 0 and 1, got {texture!r}")
        if texture > 0 and not self.texture_available:
            raise WebInputError("copying photo detail needs pypatchmatch, which is not installed here")
        pipe = copy.copy(self.pipeline)  # shares the model; only the strength differs
        pipe.texture = float(texture)
        return pipe

    @property
    def texture_available(self) -> bool:
        """Whether the inpainting pipeline's texture step can run (its method loads)."""
        from inpnet.texture import texture_available

        return texture_available(getattr(self.pipeline, "texture_method", "patchmatch"))

    def inpaint(self, image: np.ndarray, hole: np.ndarray, *, strategy: str = "auto",
                name: str | None = None, texture: float | None = None, original: np.ndarray | None = None,
                on_preview: Callable[[np.ndarray], None] | None = None, taken: Collection[str] = (),
                source: str | os.PathLike | None = None) -> Outcome:
        """Fill `hole` ((H, W) bool) of `image` ((H, W, 3) uint8); every pixel outside it is kept.
        `texture`: strength of the texture step in [0, 1] for this run (None: the pipeline's). `original`:
        the photo as uploaded, (H, W, 4), when it has transparency: the saved result keeps it. `on_preview`:
        called (on this thread) with the network's fill, (H, W, 3) uint8, before the texture step adds the
        photo's detail to it (not called without that step). `taken`: file names not to use (`result_name`).
        `source`: the photo's file, whose colour profile and EXIF the saved result keeps (`imageio.with_metadata`,
        as the command line does)."""
        check_pixels(image.shape[1], image.shape[0], "the image")
        if hole.shape != image.shape[:2]:
            raise WebInputError(f"the mask is {hole.shape[1]}x{hole.shape[0]} but the image is "
                                f"{image.shape[1]}x{image.shape[0]}")
        if not hole.any():
            raise WebInputError("no hole: the mask has no nonzero pixel (nothing to remove)")
        chosen = self.strategy_for(hole, strategy)
        pipe = self.texture_pipeline(texture)
        n = count_regions(hole)
        filled_at: list[float] = []  # when the network's fill was ready (the texture step then runs)

        def preview(fill: Image.Image) -> None:
            filled_at.append(time.perf_counter() - start)
            if on_preview is not None:
                on_preview(np.asarray(fill))

        with self._lock:
            start = time.perf_counter()
            result = np.asarray(pipe(image, hole, strategy=chosen, preview=preview))
            seconds = time.perf_counter() - start
        strength = getattr(pipe, "texture", 0.0)
        detail = f"photo detail {strength:g}" if strength > 0 else "no copied detail"
        split = f" (the network {filled_at[0]:.1f} s, copied detail {seconds - filled_at[0]:.1f} s)" if filled_at else ""
        summary = (f"Filled {n} region{'s' if n != 1 else ''} ({hole.mean():.1%} of the photo) in {seconds:.1f} s"
                   f"{split} · model {self.model_name}{self._strategy_words(hole, strategy)} · {detail}")
        path = self._save(result, result_name(name, "inpainted", taken), original, hole, source)
        return Outcome(result, path, summary)

    def restore(self, image: np.ndarray, *, name: str | None = None,
                on_tiles: Callable[[int, int], None] | None = None, original: np.ndarray | None = None,
                taken: Collection[str] = (), source: str | os.PathLike | None = None) -> Outcome:
        """Reconstruct the whole photo (ratio 0: denoise, clean up compression). `on_tiles(done, total)`: called
        after each batch of tiles (a large photo is hundreds of tiles, minutes on a CPU). `original`,
        `source`: as for `inpaint` (the alpha, the profile and EXIF are kept)."""
        check_pixels(image.shape[1], image.shape[0], "the image")
        with self._lock:
            start = time.perf_counter()
            result = np.asarray(self.restorer.restore(image, progress=on_tiles or False))
            seconds = time.perf_counter() - start
        summary = (f"Restored the whole photo ({image.shape[1]}x{image.shape[0]}) in {seconds:.1f} s · "
                   f"model {self.restore_model_name}")
        path = self._save(result, result_name(name, "restored", taken), original, source=source)
        return Outcome(result, path, summary)

    def preview_file(self, image: np.ndarray) -> Path:
        """A passing view of `image` ((H, W, 3) uint8) for the page, as a JPEG (quality PREVIEW_QUALITY): a
        tenth of a PNG's size and time to write, so that it shows sooner; results stay lossless PNGs."""
        folder = self._folder / "previews"
        folder.mkdir(exist_ok=True)
        # the page has long shown (and Gradio copied to its cache) all but the last pair: keep this folder small
        for old in sorted(folder.glob("*.jpg"))[:-KEPT_PREVIEWS + 1]:  # names sort in the order they were made
            old.unlink(missing_ok=True)
        path = folder / f"{next(self._previews):08d}-{uuid.uuid4().hex}.jpg"
        Image.fromarray(image).save(path, quality=PREVIEW_QUALITY)
        return path

    def before_file(self, image: np.ndarray, result: Path) -> Path:
        """The photo as it was before the run that made `result`, (H, W, 3) uint8, as a PNG named after it
        (`cat_inpainted_2.png` -> `cat_before.png`), for the before / after slider: its download is then
        named for what it is, where an array gave Gradio's `image.png`."""
        stem = RESULT_ENDING.sub("", result.stem) or "image"
        return self._save(image, f"{stem}_before.png")

    def _save(self, result: np.ndarray, filename: str, original: np.ndarray | None = None,
              hole: np.ndarray | None = None, source: str | os.PathLike | None = None) -> Path:
        """The result as PNG in a folder of its own, so that its name is exactly `filename`; with the
        original's transparency (`inputs.with_transparency`) when it had any, and the colour profile and EXIF
        of the photo's file `source` when given."""
        from inpnet.imageio import save_image, with_metadata

        path = self._folder / uuid.uuid4().hex / filename
        keep_alpha = original is not None and original.shape[:2] == result.shape[:2]
        image = Image.fromarray(with_transparency(result, original, hole) if keep_alpha else result)
        if source is not None:
            try:
                with Image.open(source) as photo:  # its header: the profile and EXIF, no pixels decoded
                    with_metadata(image, photo)
            except (OSError, ValueError):  # metadata, not pixels: the photo itself was read already
                pass
        return save_image(image, path, keep_alpha=keep_alpha)
