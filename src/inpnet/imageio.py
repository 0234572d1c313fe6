"""Reading and writing images and masks, robustly: every decoding problem becomes one `InpNetError` line.

Images come back as 8-bit RGB (`open_image`) or float tensors `(3, H, W)` in [0, 1] (`load_image`);
masks as `(1, H, W)` float, 1 = hole (`load_mask`). Conversions at load time:

- EXIF orientation is applied, so a phone photo is upright.
- Transparency (RGBA, LA, PA, palette or grayscale with a transparent colour) is composited on **white**:
  a transparent background then reads as paper rather than as a black hole-like region.
- 16-bit data (`I;16*`, and `I`, which Pillow uses for 16-bit PNGs) is scaled by 1/257, so 65535 -> 255.
  (`inpnet inpaint` writes a PNG / TIFF file's 16-bit samples and its transparency back: `inpnet.originals`.)
  Float data (`F`, float arrays) is read as [0, 1] and clipped.
- CMYK, YCbCr, HSV, bilevel and palette images go through Pillow's conversion; LAB through LittleCMS.
- A grayscale image becomes RGB with three equal channels; `is_grey` / `as_grey` let the pipeline hand a
  black-and-white photo back without colour.
- An embedded ICC profile that describes RGB pixels (a phone's Display P3, Adobe RGB) stays on the image, so
  that the pipeline's outputs and `save_image` carry it: saved without it, a whole photo's colours would shift
  in a colour-managed viewer. Other profiles (CMYK, grey, LAB) are dropped with the conversion to RGB.

Images whose header declares more than `MAX_PIXELS` pixels are refused before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, PngImagePlugin, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF

from inpnet.errors import InpNetError, Note, note
from inpnet.fileio import atomic_write_new_folder

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")  # written, and read
INPUT_EXTENSIONS = (*IMAGE_EXTENSIONS, ".gif")  # read only: a GIF's 256 colours are no place for a photo's fill
# Formats whose files may hold several images (an animation, the pages of a scan): only the first is read, and
# a note says so. Not MPO: a camera's JPEG with a second, preview or depth, picture is one photo.
_MULTI_FRAME_FORMATS = ("GIF", "TIFF", "PNG", "WEBP")
MAX_PIXELS = 100_000_000  # above this a declared size is treated as a decompression bomb
JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_MASK_LEVEL = 127  # a JPEG mask is a hole where a channel is above this (ringing stays below it)

ImageSource = str | Path | bytes | Image.Image | np.ndarray

_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# WebP lossless (its `quality` is then the compression effort): the pixels outside the hole stay exact, as in a
# PNG; a JPEG output cannot keep them (`LOSSY_FORMATS`, and the CLI says so).
# WebP `exact`: keep the colour under fully transparent pixels (lossless WebP otherwise rewrites it to compress)
_SAVE_OPTIONS = {"JPEG": {"quality": 95}, "WEBP": {"lossless": True, "quality": 80, "exact": True},
                 "TIFF": {"compression": "tiff_adobe_deflate"}}  # lossless, as a PNG's; Pillow's default: none
_GREY_FORMATS = ("PNG", "JPEG", "TIFF", "BMP")  # an all-grey RGB image is written as one channel (not WebP: no L)
LOSSY_FORMATS = ("JPEG",)
_ICC_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF")  # formats whose Pillow writer embeds an ICC profile


# ---- decoding --------------------------------------------------------------------------------------


class EightBitCopy(Note):
    """A note that the 8-bit RGB copy of an image leaves out part of the file (16-bit samples,
    transparency); `inpnet inpaint` drops it when it writes them back (`inpnet.originals`)."""


class TransparencyOnWhite(EightBitCopy):
    """The EightBitCopy note for transparency: the web page and API put it back themselves
    (`inpnet.web.inputs.with_transparency`), so they leave this one out."""


def _fail(name: str, reason: str) -> InpNetError:
    return InpNetError(f"cannot read image {name}: {reason}")


def _check_size(img: Image.Image, name: str) -> None:
    w, h = img.size
    if w <= 0 or h <= 0:
        raise _fail(name, f"empty image ({w}x{h} pixels)")
    if w * h > MAX_PIXELS:
        raise _fail(name, f"too large ({w}x{h} = {w * h} pixels; the limit is {MAX_PIXELS})")


def _transpose(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; always returns a new image (the caller's image is never changed)."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # broken EXIF is metadata, not pixels: keep the pixels as stored
        return img.copy()


def _decode(img: Image.Image, name: str) -> Image.Image:
    """Check the declared size, force a full decode, then apply EXIF orientation."""
    _check_size(img, name)
    try:
        img.load()  # decode now, so that a truncated file fails here and not later
    except Image.DecompressionBombError:
        raise _fail(name, "too large (decompression bomb)") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, ZeroDivisionError) as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise _fail(name, f"truncated or corrupt file{detail}") from None
    return _transpose(img)


def _open_stream(fp: str | io.BytesIO, name: str) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow's own bomb limit (about 89 Mpx) warns below ours; MAX_PIXELS is checked by _check_size.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(fp) as img:
                if img.format in _MULTI_FRAME_FORMATS and getattr(img, "n_frames", 1) > 1:
                    animation = "; --video fills every frame of an animation" if img.format != "TIFF" else ""
                    note(f"{name}: {img.n_frames} frames or pages; only the first is read{animation}")
                return _decode(img, name)
        except InpNetError:
            raise
        except Image.DecompressionBombError:
            raise _fail(name, f"too large (more than {MAX_PIXELS} pixels)") from None
        except UnidentifiedImageError:
            raise _fail(name, "not an image, or an unsupported format") from None
        except PermissionError:
            raise _fail(name, "permission denied") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, ZeroDivisionError) as exc:
            detail = f" ({exc})" if str(exc) else ""
            raise _fail(name, f"truncated or corrupt file{detail}") from None


def _array_to_pil(arr: np.ndarray, name: str) -> Image.Image:
    """HxW, HxWx1, HxWx2 (LA), HxWx3 or HxWx4 array of uint8 / uint16 / float in [0, 1] -> 8-bit image."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (2, 3, 4)):
        raise _fail(name, f"expected an array of shape HxW, HxWx3 or HxWx4, got {tuple(arr.shape)}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise _fail(name, f"empty image (array of shape {tuple(arr.shape)})")
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise _fail(name, f"too large ({arr.shape[1]}x{arr.shape[0]} pixels; the limit is {MAX_PIXELS})")
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.bool_:
        out = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint16:
        out = np.rint(arr / 257.0).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        values = arr.astype(np.float64)
        if not np.isfinite(values).all():
            raise _fail(name, "float image has NaN or infinite values")
        if values.min() < -1.0 / 255.0:
            raise _fail(name, f"float image values must be in [0, 1], got down to {values.min():.4g}")
        if values.max() > 1.0 + 1.0 / 255.0:  # 0-255 data as float: clipping to [0, 1] would wash it out
            raise _fail(name, f"float image values must be in [0, 1], got up to {values.max():.4g} (for 0-255 "
                              "data pass uint8, or divide by 255)")
        out = np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:  # 0-255 in any integer type is plain 8-bit data
            raise _fail(name, f"{arr.dtype} image values must be in 0-255, got {arr.min()} to {arr.max()} (for "
                              "more bits pass uint16, or float in [0, 1])")
        out = arr.astype(np.uint8)
    else:
        raise _fail(name, f"unsupported array type {arr.dtype} (expected uint8, uint16 or float in [0, 1])")
    return Image.fromarray(np.ascontiguousarray(out))  # L, LA, RGB or RGBA from the shape


def _raw(src: ImageSource, name: str | None = None) -> tuple[Image.Image, str]:
    """Decoded, upright image in its stored mode, plus the name used in error messages."""
    if isinstance(src, (str, Path)):
        label = name or str(src)
        path = Path(src)
        if path.is_dir():
            raise _fail(label, "it is a folder, not a file")
        if not path.exists():
            raise _fail(label, "no such file")
        return _open_stream(str(path), label), label
    if isinstance(src, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        if len(src) == 0:
            raise _fail(label, "empty data")
        return _open_stream(io.BytesIO(bytes(src)), label), label
    if isinstance(src, Image.Image):
        label = name or getattr(src, "filename", "") or "<image>"
        return _decode(src, label), label
    if isinstance(src, np.ndarray):
        label = name or "<array>"
        return _array_to_pil(src, label), label
    raise InpNetError(f"cannot read image: expected a path, bytes, PIL image or numpy array, got {type(src).__name__}")


def _on_white(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "RGBa", "LA", "PA") or "transparency" in img.info


def _lowest_alpha(img: Image.Image) -> int:
    """The image's lowest alpha (0 = a fully transparent pixel; 255 = opaque, or no alpha at all)."""
    return img.convert("RGBA").getchannel("A").getextrema()[0] if _has_alpha(img) else 255


def rgb_profile(img: Image.Image) -> bytes | None:
    """The image's embedded ICC profile when it describes RGB data (its header's colour space is 'RGB '),
    else None: a CMYK, grey or LAB profile does not describe the RGB pixels Pillow converts such images to."""
    icc = img.info.get("icc_profile")
    return icc if isinstance(icc, bytes) and len(icc) >= 20 and icc[16:20] == b"RGB " else None


def with_profile(img: Image.Image, icc: bytes | None) -> Image.Image:
    """`img` with `icc` as its ICC profile (None: none), which `save_image` and Pillow's own save embed."""
    img.info.pop("icc_profile", None)
    if icc is not None:
        img.info["icc_profile"] = icc
    return img


def with_metadata(img: Image.Image, source: Image.Image) -> Image.Image:
    """`img`, a result made from the photo `source` (as `open_image` read it), with what the photo says of
    itself: its RGB colour profile and its EXIF (`photo_exif`), which `save_image` writes."""
    with_profile(img, rgb_profile(source))
    img.info.pop("exif", None)
    if exif := photo_exif(source):
        img.info["exif"] = exif
    return img


_EXIF_SUB_IFDS = (0x8769, 0x8825)  # the Exif (date, exposure, camera) and GPS directories
_EXIF_ORIENTATION = 0x0112


def photo_exif(img: Image.Image) -> bytes | None:
    """A photo's EXIF for its result: camera, date, place and the rest, rebuilt from its main directory and
    its Exif and GPS ones, so that an embedded thumbnail (it shows the photo before the edit) is left out, and
    so is the orientation (`open_image` has turned the pixels upright). None without EXIF, or broken EXIF
    (metadata, not pixels: dropped)."""
    raw = img.info.get("exif")
    if not raw:
        return None
    try:
        exif, kept = Image.Exif(), Image.Exif()
        exif.load(raw)
        for tag, value in exif.items():
            if tag in _EXIF_SUB_IFDS:
                if sub := exif.get_ifd(tag):
                    kept[tag] = dict(sub)
            elif tag != _EXIF_ORIENTATION:
                kept[tag] = value
        return kept.tobytes() if len(kept) else None
    except Exception:  # Pillow raises many types on malformed EXIF
        return None


def in_srgb(img: Image.Image) -> Image.Image:
    """An RGB image's pixels converted from its embedded RGB ICC profile to sRGB, which is what a browser
    assumes of pixels with no profile (a phone's Display P3 photo would look washed out otherwise); the image
    itself when it has no such profile, or one that Little CMS cannot use. The result carries no profile."""
    icc = rgb_profile(img)
    if icc is None or img.mode != "RGB":
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(img, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (OSError, ValueError, ImageCms.PyCMSError):
        return img
    return with_profile(converted, None)


def _to_rgb(img: Image.Image, name: str) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB (see the module docstring for the rules), keeping an RGB ICC profile."""
    icc = rgb_profile(img) if img.mode in ("RGB", "RGBA", "RGBX", "P", "PA") else None
    return with_profile(_convert_to_rgb(img, name), icc)


def _convert_to_rgb(img: Image.Image, name: str) -> Image.Image:
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES:
        note(f"{name}: a 16-bit image, read as 8-bit (a PNG or TIFF from inpnet inpaint or "
             "inpnet.originals.save_result has the 16 bits again)", EightBitCopy)
        arr = np.asarray(img).astype(np.float64)
        return Image.fromarray(np.rint(np.clip(arr, 0, 65535) / 257.0).astype(np.uint8)).convert("RGB")
    if mode == "F":
        arr = np.clip(np.nan_to_num(np.asarray(img).astype(np.float64)), 0.0, 1.0)
        return Image.fromarray(np.rint(arr * 255.0).astype(np.uint8)).convert("RGB")
    try:
        if mode == "LAB":
            lab_to_srgb = ImageCms.buildTransform(
                ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
            )
            return ImageCms.applyTransform(img, lab_to_srgb)
        if _has_alpha(img):
            rgb = _on_white(img)
            if _lowest_alpha(img) < 255:
                note(f"{name}: transparent pixels composited on white (the result image has none; a PNG, TIFF or "
                     "WebP from inpnet inpaint or inpnet.originals.save_result has it again)",
                     TransparencyOnWhite)
            return rgb
        return img.convert("RGB")  # L, 1, P, CMYK, YCbCr, HSV, RGBX; a copy for RGB
    except (ValueError, ImageCms.PyCMSError):
        raise _fail(name, f"unsupported colour mode {mode}") from None


def open_image(src: ImageSource, *, name: str | None = None) -> Image.Image:
    """Any image source -> upright 8-bit RGB PIL image; `InpNetError` naming the file on any problem.

    `src`: a path, encoded bytes, a PIL image or an array (HxW, HxWx3, HxWx4; uint8, uint16 or float
    in [0, 1]). `name` labels error messages (default: the path, or `<bytes>` / `<image>` / `<array>`).
    """
    img, label = _raw(src, name)
    return _to_rgb(img, label)


def is_grey(pixels: np.ndarray, where: np.ndarray | None = None) -> bool:
    """(..., 3) uint8 pixels -> True when there is at least one and each has R = G = B (a black-and-white photo,
    however it was stored: an L file, or RGB with equal channels). `where` ((...) bool) limits the test to
    those pixels (a photo's known pixels), without gathering them: 1 ms -> 0.1 ms on a 256-px frame."""
    coloured = (pixels[..., 0] != pixels[..., 1]) | (pixels[..., 1] != pixels[..., 2])  # (...)
    if where is None:
        return coloured.size > 0 and not bool(coloured.any())
    return bool(where.any()) and not bool((coloured & where).any())


def as_grey(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> the same shape, each pixel's three channels set to their rounded mean: grey, with the
    faint tints the network gives a black-and-white photo (up to ~10 levels between channels) taken out."""
    grey = np.rint(rgb.astype(np.float32).mean(axis=-1, keepdims=True)).astype(np.uint8)
    return np.repeat(grey, 3, axis=-1)


def load_image(src: ImageSource, *, name: str | None = None) -> torch.Tensor:
    """Image -> float tensor (3, H, W) in [0, 1]."""
    pil = open_image(src, name=name)
    return TF.to_dtype(TF.pil_to_tensor(pil), torch.float32, scale=True)  # (3, H, W)


def _nonzero(img: Image.Image) -> np.ndarray:
    """(H, W) bool: any colour channel nonzero; alpha ignored."""
    mode = img.mode
    if mode in ("P", "PA"):
        img, mode = img.convert("RGBA"), "RGBA"
    elif mode not in ("1", "L", "LA", "RGB", "RGBA", "RGBX", "F", *_SIXTEEN_BIT_MODES):
        img, mode = img.convert("RGB"), "RGB"
    arr = np.asarray(img)
    if arr.ndim == 2:
        return arr != 0
    colour = arr[:, :, :1] if mode == "LA" else arr[:, :, :3]
    return (colour != 0).any(axis=2)


def _is_jpeg(src: ImageSource) -> bool:
    """Whether a mask source is a JPEG file or JPEG bytes (by their first bytes: the decoded image forgets)."""
    if isinstance(src, Image.Image):
        return src.format == "JPEG"
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src[:3]) == JPEG_MAGIC
    try:
        with open(src, "rb") as f:
            return f.read(3) == JPEG_MAGIC
    except (OSError, TypeError):
        return False


def _looks_like_a_photo(img: Image.Image, hole: np.ndarray) -> bool:
    """A "mask" whose hole covers most of it and whose pixels are mostly neither black nor white (a drawn mask,
    even with soft edges, is mostly black and white; a photo read as a mask, PNG or JPEG, holes 60-100 %)."""
    if hole.mean() < 0.5:
        return False
    try:
        grey = np.asarray(img.convert("L"))
    except (ValueError, OSError):  # a mode Pillow cannot take to grey (LAB): no guess, no note
        return False
    return float(((grey > 8) & (grey < 247)).mean()) > 0.5


def load_mask(
    src: ImageSource, size: tuple[int, int] | None = None, *, name: str | None = None
) -> torch.Tensor:
    """Mask file -> float tensor (1, H, W) in {0, 1}; 1 = hole wherever any colour channel is nonzero (in a JPEG,
    above JPEG_MASK_LEVEL: its compression leaves faint rings around the drawn edges, with a note).

    Alpha is ignored (a mask with transparent pixels gets a warning saying so). With `size=(H, W)` the mask is
    resized with nearest-neighbour sampling.
    """
    if isinstance(src, np.ndarray):
        label = name or "<array>"
        arr = src[:, :, 0] if src.ndim == 3 and src.shape[2] in (1, 2) else src
        if arr.ndim == 3 and arr.shape[2] in (3, 4):
            hole = (np.nan_to_num(arr[:, :, :3]) != 0).any(axis=2)
        elif arr.ndim == 2:
            hole = np.nan_to_num(arr) != 0
        else:
            raise _fail(label, f"expected a mask array of shape HxW, HxWx3 or HxWx4, got {tuple(src.shape)}")
        if hole.size == 0:
            raise _fail(label, f"empty mask (array of shape {tuple(src.shape)})")
    else:
        img, label = _raw(src, name)
        if _is_jpeg(src):  # compression rings around the drawn edges: faint nonzero pixels that nobody drew
            hole = np.asarray(img.convert("RGB")).max(axis=2) > JPEG_MASK_LEVEL
            note(f"{label} is a JPEG: its compression smears the mask's edges, so the hole is where it is brighter "
                 f"than mid-grey (a PNG mask gives the exact hole)")
        else:
            hole = _nonzero(img)
        if _looks_like_a_photo(img, hole):  # e.g. the photo folder given as --masks: a hole over everything
            note(f"{label} makes {hole.mean():.0%} of the image a hole: a mask is black where the photo is kept, and "
                 "this one is mostly grey levels (a photo given as a mask?)")
        if _lowest_alpha(img) == 0:  # a brush layer or a cut-out: which one is not knowable, so say so
            note(f"{label} has transparent pixels; a mask's colour marks the hole (nonzero = hole), "
                 "not its transparency")
    pil = Image.fromarray(hole.astype(np.uint8) * 255)
    if size is not None:
        h, w = int(size[0]), int(size[1])
        if h <= 0 or w <= 0:
            raise InpNetError(f"mask size must be positive (height, width), got {size!r}")
        if pil.size != (w, h):
            pil = pil.resize((w, h), Image.Resampling.NEAREST)
    return torch.from_numpy(np.asarray(pil) > 0).to(torch.float32)[None]  # (1, H, W)


# ---- encoding --------------------------------------------------------------------------------------


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """Float tensor in [0, 1] -> PIL image (clamped, rounded to 8 bits).

    (3, H, W) or (1, 3, H, W) -> RGB; (1, H, W) or (1, 1, H, W) -> grayscale `L` (e.g. a mask).
    """
    t = tensor.detach()
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] not in (1, 3) or t.shape[1] == 0 or t.shape[2] == 0:
        raise InpNetError(f"to_pil expects a tensor (3, H, W) or (1, 3, H, W), got shape {tuple(tensor.shape)}")
    t = torch.nan_to_num(t.to(device="cpu", dtype=torch.float32)).clamp(0.0, 1.0)
    arr = (t * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, C)
    return Image.fromarray(np.ascontiguousarray(arr[:, :, 0] if arr.shape[2] == 1 else arr))


def _format_for(path: Path) -> str:
    suffix = path.suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if suffix not in IMAGE_EXTENSIONS or fmt is None:
        raise InpNetError(
            f"cannot save {path}: unknown image format {suffix or '(no extension)'!r}; "
            f"use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    return fmt


def is_lossy(path: str | Path) -> bool:
    """Whether saving to `path` (by its suffix) changes pixels: JPEG does, PNG / TIFF / BMP / WebP (written
    lossless) do not."""
    return Image.registered_extensions().get(Path(path).suffix.lower()) in LOSSY_FORMATS


def save_image(img: Image.Image | torch.Tensor, path: str | Path, overwrite: bool = True,
               png_text: dict[str, str] | None = None, keep_alpha: bool = False) -> Path:
    """Save a PIL image or a [0, 1] tensor atomically (temp file + rename); format from the suffix.

    Missing parent folders are created. `png_text`: text chunks for a PNG (e.g. {"Software": ...}; ignored
    for other formats). Any mode but RGB and L is converted as `open_image` reads it (transparency on white),
    except RGBA and LA with `keep_alpha` (a result that keeps its photo's transparency). Returns the path
    written.
    """
    path = Path(path)
    fmt = _format_for(path)
    if path.is_dir():
        raise InpNetError(f"cannot save {path}: it is a folder")
    if path.exists() and not overwrite:
        raise InpNetError(f"{path} exists; pass --overwrite to replace it")
    pil = to_pil(img) if isinstance(img, torch.Tensor) else img
    if pil.mode not in ("RGB", "L", *(("RGBA", "LA") if keep_alpha else ())):
        pil = open_image(pil)
    options = dict(_SAVE_OPTIONS.get(fmt, {}))
    if profile := rgb_profile(pil) if fmt in _ICC_FORMATS else None:
        options["icc_profile"] = profile
    elif pil.mode == "RGB" and fmt in _GREY_FORMATS and is_grey(np.asarray(pil)):  # a black-and-white photo:
        pil = pil.convert("L")  # the same pixels in a third of the file (an RGB profile needs RGB: kept so)
    if fmt in _ICC_FORMATS and (exif := pil.info.get("exif")):  # the same four formats hold EXIF (`with_metadata`)
        options["exif"] = exif
    if png_text and fmt == "PNG":
        options["pnginfo"] = PngImagePlugin.PngInfo()
        for key, value in png_text.items():
            options["pnginfo"].add_text(key, value)
    buf = io.BytesIO()
    try:
        pil.save(buf, format=fmt, **options)
    except (OSError, ValueError, KeyError) as exc:
        raise InpNetError(f"cannot save {path}: {exc}") from None
    atomic_write_new_folder(path, buf.getvalue())
    return path


# ---- finding and pairing files ---------------------------------------------------------------------


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in INPUT_EXTENSIONS and not path.name.startswith(".")


def _walk(folder: Path, recursive: bool) -> Iterable[Path]:
    """Image files under `folder`; hidden files and folders (".name", e.g. macOS "._x.jpg") are skipped. A
    folder that cannot be read, and a link to a folder (not followed: it may loop), are left out with a
    note, not in silence."""
    def unreadable(exc: OSError) -> None:
        note(f"{exc.filename}: cannot be read ({exc.strerror or exc}); the images in it are left out")

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        if recursive:
            for d in dirs:
                if not d.startswith(".") and os.path.islink(os.path.join(root, d)):
                    note(f"{os.path.join(root, d)} is a link to a folder, not followed; its images are left out "
                         "(name it itself to include them)")
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        for f in files:
            p = Path(root) / f
            if _is_image(p) and p.is_file():
                yield p


def list_images(paths: str | Path | Iterable[str | Path], recursive: bool = True) -> list[Path]:
    """Image files named by `paths` (files pass through, folders are searched), sorted, without duplicates.

    Extensions are matched case-insensitively against `INPUT_EXTENSIONS`.
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise InpNetError("no image paths given")
    found: set[Path] = set()
    for item in items:
        p = Path(item)
        if p.is_dir():
            found.update(_walk(p, recursive))
        elif p.is_file():
            if _is_image(p):
                found.add(p)
        else:
            raise InpNetError(f"no such file or folder: {p}")
    if not found:
        where = ", ".join(str(i) for i in items)
        raise InpNetError(f"no images found in {where} (looked for {', '.join(INPUT_EXTENSIONS)})")
    return sorted(found, key=lambda q: str(q))


MASK_SUFFIX = "_mask"  # a.jpg's mask may be named a_mask.png


def _mask_key(stem: str) -> str:
    return stem[: -len(MASK_SUFFIX)] if stem.endswith(MASK_SUFFIX) else stem


def pair_masks(images: list[Path], masks: list[Path], image_root: Path | None = None,
               mask_root: Path | None = None) -> list[tuple[Path, Path | None]]:
    """Pair each image with a mask, in the order of `images`: by file stem (`a.jpg` <-> `a.png` or
    `a_mask.png`) when any image's stem names a mask, and then an image without one gets None (never another
    image's mask); when no stem matches at all (a pool of masks, or two differently named sequences), by
    sorted order, cycling through the masks (`masks_named_like` tells the two apart).
    With the two folders' roots, a mask at the image's own place wins (`in/s2/a.jpg` <-> `masks/s2/a.png`),
    and a stem that several masks share pairs no image elsewhere (`in/s3/a.jpg` gets None, not `s1`'s mask)."""
    images = [Path(p) for p in images]
    photos = {p.resolve() for p in images}
    masks = [m for m in masks if Path(m).resolve() not in photos]  # a photo is never a mask, its own or another's
    if not masks:
        raise InpNetError("no masks to pair with the images (every file found as a mask is one of the images)")
    by_stem = _masks_by_stem(masks)
    if masks_named_like(images, masks):
        if image_root is None or mask_root is None:
            return [(p, by_stem.get(p.stem)) for p in images]
        by_place = _masks_by_stem(masks, root=mask_root)
        shared = _shared_stems(masks)
        return [(p, by_place.get(str(p.relative_to(image_root).with_suffix("")))
                 or (None if p.stem in shared else by_stem.get(p.stem))) for p in images]
    sorted_masks = sorted((Path(m) for m in masks), key=str)
    rank = {i: r for r, i in enumerate(sorted(range(len(images)), key=lambda i: str(images[i])))}
    return [(p, sorted_masks[rank[i] % len(sorted_masks)]) for i, p in enumerate(images)]


def masks_named_like(images: list[Path], masks: list[Path]) -> bool:
    """Whether any image's stem names a mask (`a.png` or `a_mask.png`): `pair_masks` then pairs by name."""
    by_stem = _masks_by_stem(masks)
    return any(Path(p).stem in by_stem for p in images)


def _masks_by_stem(masks: list[Path], root: Path | None = None) -> dict[str, Path]:
    """{stem: mask}, an exact stem winning over "<stem>_mask"; with `root`, keyed by the mask's place below
    it ("s2/a" for root/s2/a_mask.png)."""
    by_stem: dict[str, Path] = {}
    sorted_masks = sorted((Path(m) for m in masks), key=str)

    def key(m: Path, stem: str) -> str:
        return stem if root is None else str(m.relative_to(root).parent / stem)

    for m in sorted_masks:
        by_stem.setdefault(key(m, m.stem), m)
    for m in sorted_masks:
        by_stem.setdefault(key(m, _mask_key(m.stem)), m)
    return by_stem


def _shared_stems(masks: list[Path]) -> set[str]:
    """The stems (as `_masks_by_stem` keys them) that masks in different folders share."""
    folders: dict[str, set[Path]] = {}
    for m in (Path(m) for m in masks):
        for stem in {m.stem, _mask_key(m.stem)}:
            folders.setdefault(stem, set()).add(m.parent)
    return {stem for stem, where in folders.items() if len(where) > 1}
