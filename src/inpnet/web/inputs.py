"""What the page receives, checked: upload limits, image and mask files, the hole (brush strokes, a mask file,
a preset of the paper's mask kinds). A user mistake raises `WebInputError` with one line that names the
user's file, never a server path."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inpnet.errors import InpNetError

MAX_UPLOAD_MB = 20
MAX_PIXELS = 40_000_000
NO_PRESET = "none"


class WebInputError(InpNetError):
    """A bad upload or choice on the page; the message is shown to the user as it is."""


def preset_choices() -> list[str]:
    """"none", then the paper's mask kinds: random, structured at each anchor, irregular in each family."""
    from inpnet.masks import IRREGULAR_FAMILIES, STRUCTURED_PRESETS

    return ([NO_PRESET, "random"] + [f"structured {p}" for p in STRUCTURED_PRESETS]
            + [f"irregular {f}" for f in IRREGULAR_FAMILIES])


def display_name(path: str | os.PathLike | None, fallback: str = "the image") -> str:
    """The name a user knows a file by: its base name (uploads keep it), never the server's folder."""
    return Path(path).name if path else fallback


def check_pixels(width: int, height: int, what: str) -> None:
    if width * height > MAX_PIXELS:
        raise WebInputError(f"{what} is {width}x{height} = {width * height / 1e6:.0f} Mpx; "
                            f"the limit is {MAX_PIXELS / 1e6:.0f} Mpx")


def check_bytes(size: int, what: str) -> None:
    if size > MAX_UPLOAD_MB * 1024 * 1024:
        raise WebInputError(f"{what} is {size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB")


def check_file(path: str | os.PathLike, what: str) -> Path:
    """An uploaded file that exists, is within MAX_UPLOAD_MB and whose header is an image within MAX_PIXELS
    (read before decoding, so a decompression bomb is refused cheaply)."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        raise WebInputError(f"{what}: the uploaded file is missing") from None
    check_bytes(size, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as img:  # reads the header only
                width, height = img.size
    except Image.DecompressionBombError:
        raise WebInputError(f"{what} is too large (decompression bomb); "
                            f"the limit is {MAX_PIXELS / 1e6:.0f} Mpx") from None
    except Exception:  # Pillow raises many types for files it cannot read
        raise WebInputError(f"{what}: not an image, or an unsupported format") from None
    check_pixels(width, height, what)
    return p


def read_image(path: str | os.PathLike, what: str, *, srgb: bool = False) -> np.ndarray:
    """An image file -> (H, W, 3) uint8, as the command line reads it (EXIF turned, alpha on white). With
    `srgb`, in sRGB: a photo with another ICC profile is converted, as the browser does to show it (the page
    works on the colours the user saw; the API keeps the file's own values, like the command line)."""
    from inpnet.imageio import TransparencyOnWhite, in_srgb
    from inpnet.predict import as_rgb_image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TransparencyOnWhite)  # the result keeps it (`with_transparency`)
            image = as_rgb_image(check_file(path, what))
        return np.asarray(in_srgb(image) if srgb else image)
    except WebInputError:
        raise
    except (InpNetError, OSError, ValueError):
        raise WebInputError(f"{what}: not an image, or an unsupported format") from None


def transparent(rgba: Any) -> np.ndarray | None:
    """An (H, W, 4) uint8 array with some pixel not fully opaque -> itself; anything else -> None."""
    if not isinstance(rgba, np.ndarray) or rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        return None
    return rgba if int(rgba[..., 3].min()) < 255 else None


def read_rgba(path: str | os.PathLike) -> np.ndarray | None:
    """An image file's pixels with their transparency, (H, W, 4) uint8, EXIF turned as `read_image` turns
    them, when it has a pixel that is not fully opaque; else (or when unreadable) None."""
    from PIL import ImageOps

    try:
        with Image.open(path) as img:
            if img.mode not in ("RGBA", "LA", "PA", "P", "L", "RGB") or (
                    img.mode in ("P", "L", "RGB") and "transparency" not in img.info):
                return None
            return transparent(np.asarray(ImageOps.exif_transpose(img).convert("RGBA")))
    except Exception:  # Pillow raises many types; the photo itself was read already, this is an extra
        return None


def with_transparency(result: np.ndarray, original: np.ndarray, hole: np.ndarray | None = None) -> np.ndarray:
    """result (H, W, 3) uint8, the fill of a photo read with its transparency composited on white; original
    (H, W, 4) uint8, that photo as uploaded -> (H, W, 4): the original's own pixels outside `hole` (all of
    them, colours under transparent pixels included), the result's colours inside it (None: everywhere, a
    restoration), the original's alpha throughout."""
    out = original.copy()
    inside = np.ones(result.shape[:2], bool) if hole is None else hole
    out[..., :3] = np.where(inside[..., None], result, original[..., :3])
    return out


def read_mask(path: str | os.PathLike, size: tuple[int, int], what: str) -> np.ndarray:
    """A mask file (any nonzero pixel = hole) -> (H, W) bool at `size` (nearest)."""
    from inpnet.imageio import load_mask

    try:
        return load_mask(check_file(path, what), size)[0].numpy() > 0.5
    except WebInputError:
        raise
    except (InpNetError, OSError, ValueError):
        raise WebInputError(f"{what}: not an image, or an unsupported format") from None


def mask_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """A mask file's (width, height), from its header; None when it does not open (`read_mask` says why)."""
    try:
        with Image.open(path) as img:
            return img.size
    except Exception:  # Pillow raises many types
        return None


def stretched_mask_note(path: str | os.PathLike | None, size: tuple[int, int]) -> str:
    """' · the mask file m.png (300x300) was stretched to the photo's 600x400' when a mask file's size is not the
    photo's (`size`: (H, W)); else ''."""
    own = mask_size(path) if path else None
    if own is None or own == (size[1], size[0]):
        return ""
    return (f" · the mask file {display_name(path)} ({own[0]}x{own[1]}) was stretched to the photo's "
            f"{size[1]}x{size[0]}")


def layer_hole(layer: Any, size: tuple[int, int]) -> np.ndarray:
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


def preset_hole(size: tuple[int, int], preset: str, ratio: float, seed: int, patch_size: int,
                model_size: tuple[int, int], threshold: float = 0.0) -> np.ndarray:
    """One of the paper's mask kinds, drawn on the patch grid the model will see, stretched to the image.
    (H, W) bool. A structured preset is one whole box (sides within one patch of the requested area).
    `threshold`: the model's token threshold, so that `ratio` is the share of the patches the model takes as
    hole - for strokes then about the share of the photo (at 0, thin strokes at 0.5 touched half the patches
    and covered 16 % of the photo, under a slider that said "fraction of the photo")."""
    import torch

    from inpnet.masks import make_pixel_mask, structured_token_mask, token_to_pixel_mask, validate_ratio
    from inpnet.regions import work_size

    if preset not in preset_choices() or preset == NO_PRESET:
        raise WebInputError(f"unknown mask preset {preset!r}")
    ratio = validate_ratio(float(ratio))
    kind, _, option = preset.partition(" ")
    grid_px = work_size(size[0], size[1], model_size, patch_size)  # (h, w) pixels, multiples of the patch
    if kind == "structured":
        grid = (grid_px[0] // patch_size, grid_px[1] // patch_size)
        tokens = structured_token_mask(1, grid, ratio, option, exact=False)
        mask = token_to_pixel_mask(tokens, grid, patch_size)  # (1, 1, *grid_px)
    else:
        generator = torch.Generator().manual_seed(int(seed))
        mask = make_pixel_mask(kind, 1, grid_px, patch_size, ratio, generator,
                               family=option if kind == "irregular" else None, threshold=threshold)  # (1, 1, *grid_px)
    small = Image.fromarray(mask[0, 0].numpy() > 0.5)
    return np.asarray(small.resize((size[1], size[0]), Image.Resampling.NEAREST))
