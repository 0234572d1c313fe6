"""What the model's 8-bit RGB copy of a photo leaves out — 16-bit samples and transparency — put back on saving.

The pipeline works on 8-bit RGB (`inpnet.imageio.open_image`: 16-bit samples scaled to 8 bits, transparent
pixels composited on white). Written as it is, a 16-bit scan would lose its low byte everywhere and a
cut-out PNG its transparency, although the fill changed only the hole. `inpnet inpaint` therefore reads the
file a second time as stored (OpenCV, `IMREAD_UNCHANGED`: 16-bit colour, which Pillow reads as 8-bit without
saying so, and any alpha channel) and writes

    output = stored + (result - working copy) * scale        (scale 257 for 16-bit samples, else 1)

with the stored alpha: pixels the fill did not change are the file's own samples, bit-exact, whatever their
depth or transparency; a changed pixel gets the fill (plus the stored sample's sub-8-bit remainder). A file
whose stored pixels do not match the working copy (e.g. an EXIF rotation that OpenCV does not apply) is left to
the plain 8-bit path, as is an output format that cannot hold the extra data (JPEG, BMP); WebP holds no 16 bits, so
a 16-bit photo with transparency keeps its transparency there, at 8 bits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from inpnet.errors import InpNetError
from inpnet.fileio import atomic_write_new_folder

# Input formats that can carry 16-bit samples or alpha (JPEG and BMP as written by cameras cannot).
STORED_FORMATS = (".png", ".tif", ".tiff", ".webp")
# Output formats: which extra each can hold as written here (OpenCV for 16 bits, Pillow for 8-bit alpha).
DEEP_OUTPUTS = (".png", ".tif", ".tiff")
ALPHA_OUTPUTS = (".png", ".tif", ".tiff", ".webp")
MATCH_LEVELS = 2  # the stored pixels, taken to 8-bit RGB on white, may differ from the working copy by rounding


@dataclass(frozen=True)
class Stored:
    """A file's pixels as stored: `colour` (H, W) grey or (H, W, 3) RGB, uint8 or uint16; `alpha` (H, W) of
    the same depth, or None."""

    colour: np.ndarray
    alpha: np.ndarray | None

    @property
    def deep(self) -> bool:
        return self.colour.dtype == np.uint16

    @property
    def scale(self) -> int:
        return 257 if self.deep else 1

    def at_8_bits(self) -> Stored:
        """The same pixels at 8 bits (as the working copy rounds them)."""
        def eight(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else np.rint(x.astype(np.float64) / self.scale).astype(np.uint8)

        return Stored(eight(self.colour), eight(self.alpha))


def read_stored(path: str | Path, working: np.ndarray) -> Stored | None:
    """The 16-bit samples and/or alpha of an image file, when it has either and they line up with `working`
    ((H, W, 3) uint8: the pipeline's copy of the same file); None otherwise (nothing to keep)."""
    stored = _read_beyond_8_bit_rgb(Path(path))
    return stored if stored is not None and _lines_up(stored, working) else None


def _read_beyond_8_bit_rgb(path: Path) -> Stored | None:
    """The file as stored (OpenCV) when it holds more than 8-bit RGB (16-bit samples, alpha); else None."""
    if path.suffix.lower() not in STORED_FORMATS:
        return None
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.dtype not in (np.uint8, np.uint16) or raw.ndim not in (2, 3):
        return None
    channels = 1 if raw.ndim == 2 else raw.shape[2]
    if channels not in (1, 3, 4) or (raw.dtype == np.uint8 and channels != 4):
        return None  # 8-bit without alpha: the working copy holds all of it
    if raw.dtype == np.uint8 and path.suffix.lower() in (".tif", ".tiff"):
        # OpenCV reads an 8-bit TIFF's colour multiplied by its alpha (libtiff's RGBA reader), which then matched
        # no working copy, and the transparency was lost (review 12); Pillow reads the samples as stored
        with Image.open(path) as img:
            raw = np.asarray(img.convert("RGBA"))[..., [2, 1, 0, 3]]  # as OpenCV's BGRA, for the lines below
    if channels == 1:
        colour, alpha = raw, None
    else:
        colour = cv2.cvtColor(raw[..., :3], cv2.COLOR_BGR2RGB)
        alpha = raw[..., 3] if channels == 4 else None
        if alpha is not None and _is_grey_rgb(colour):  # OpenCV reads grey + alpha as BGRA
            colour = colour[..., 0]
    return Stored(np.ascontiguousarray(colour), alpha)


def _is_grey_rgb(rgb: np.ndarray) -> bool:
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def _lines_up(stored: Stored, working: np.ndarray) -> bool:
    """Whether `stored`, taken to 8-bit RGB composited on white, is `working` up to rounding."""
    colour = stored.colour.astype(np.float64) / stored.scale
    colour = colour if colour.ndim == 3 else np.repeat(colour[..., None], 3, axis=2)
    if colour.shape != working.shape:
        return False
    if stored.alpha is not None:
        a = stored.alpha.astype(np.float64)[..., None] / (255 * stored.scale)
        colour = colour * a + 255 * (1 - a)
    return bool(np.abs(colour - working).max() <= MATCH_LEVELS)


def put_back(stored: Stored, working: np.ndarray, result: np.ndarray) -> np.ndarray:
    """stored (the file), working ((H, W, 3) uint8: the pipeline's input) and result ((H, W, 3), or (H, W) for
    a grey photo, uint8: its output) -> the output at the file's depth with its alpha as the last channel:
    (H, W) grey, (H, W, 2) grey + alpha, (H, W, 3) RGB or (H, W, 4) RGBA."""
    result = result if result.ndim == 3 else np.repeat(result[..., None], 3, axis=2)
    change = result.astype(np.int64) - working.astype(np.int64)  # (H, W, 3)
    if stored.colour.ndim == 2:
        change = change[..., 0]  # a grey file: the pipeline keeps a grey photo grey (three equal channels)
    top = 255 * stored.scale
    colour = np.clip(stored.colour.astype(np.int64) + change * stored.scale, 0, top).astype(stored.colour.dtype)
    return colour if stored.alpha is None else np.dstack([colour, stored.alpha])


def save_result(source: str | Path, result: Image.Image, target: str | Path, *, overwrite: bool = False) -> bool:
    """Write `result`, the pipeline's output for the image file `source`, to `target` as `inpnet inpaint` does:
    with the file's 16-bit samples and transparency put back where `target`'s format holds them (True), else the
    8-bit result as it is (False). The Python API's own results are 8-bit RGB: this is its way to the CLI's
    files."""
    from inpnet.imageio import rgb_profile, save_image

    if not isinstance(source, (str, os.PathLike)):
        raise InpNetError(f"source must be the photo's file path, got {type(source).__name__}")
    if not isinstance(result, Image.Image):
        raise InpNetError(f"result must be the pipeline's image (PIL), got {type(result).__name__}")
    if result.mode not in ("RGB", "L"):
        result = result.convert("RGB")
    if save_keeping_stored(source, np.asarray(result), target, overwrite, rgb_profile(result)):
        return True
    save_image(result, target, overwrite=overwrite)
    return False


def save_keeping_stored(source: str | Path, result: np.ndarray, target: str | Path, overwrite: bool,
                        icc: bytes | None = None) -> bool:
    """Write `result` ((H, W, 3) or (H, W) uint8: the pipeline's output for the image file `source`) to
    `target` with the file's 16-bit samples and alpha put back (module docstring). False, writing nothing,
    when the file has neither, they do not line up, or `target`'s format cannot hold them: the caller then
    saves the 8-bit result as usual."""
    import warnings

    from inpnet.imageio import open_image

    if Path(target).suffix.lower() not in ALPHA_OUTPUTS:  # holds neither (JPEG, BMP): no file read at all
        return False
    stored = _read_beyond_8_bit_rgb(Path(source))  # a plain 8-bit photo: one header-and-pixels read, no more
    read = stored  # as stored: what lines up with the working copy (its 8-bit rounding may not, by > 2 levels)
    if stored is not None and stored.deep and stored.alpha is not None and not can_write(stored, target):
        stored = stored.at_8_bits()  # WebP: no 16 bits, but the transparency
    if stored is None or not can_write(stored, target):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the pipeline's own read already said what the 8-bit copy drops
        working = np.asarray(open_image(source))
    if result.shape[:2] != working.shape[:2]:
        (h, w), (H, W) = result.shape[:2], working.shape[:2]
        raise InpNetError(f"the result is {w}x{h} but {Path(source).name} is {W}x{H}: not its result")
    if not _lines_up(read, working):
        return False
    if Path(target).exists() and not overwrite:
        raise InpNetError(f"{target} exists; pass --overwrite to replace it")
    save_stored(put_back(stored, working, result), target, icc)
    return True


def can_write(stored: Stored, target: str | Path) -> bool:
    """Whether `target`'s format holds what `stored` adds to 8-bit RGB."""
    suffix = Path(target).suffix.lower()
    return suffix in (DEEP_OUTPUTS if stored.deep else ALPHA_OUTPUTS)


def _tiff_16(pixels: np.ndarray, icc: bytes | None) -> bytes:
    """A 16-bit TIFF (deflate) of `put_back`'s output, through tifffile: its alpha tagged as alpha
    (ExtraSamples: unassociated), which OpenCV's TIFF writer leaves out, so that other readers took it for an
    unnamed fourth channel (review 11), and with the photo's colour profile."""
    import io

    import tifffile

    colour = pixels.shape[2] in (3, 4) if pixels.ndim == 3 else False
    alpha = pixels.ndim == 3 and pixels.shape[2] in (2, 4)
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, pixels, photometric="rgb" if colour else "minisblack", compression="zlib",
                     extrasamples=["unassalpha"] if alpha else None, iccprofile=icc or None)
    return buffer.getvalue()


def with_iccp(png: bytes, icc: bytes) -> bytes:
    """A PNG file's bytes with an iCCP chunk (the ICC profile, zlib-compressed) after its IHDR chunk. By hand
    because OpenCV, the only writer here for 16-bit colour PNGs, writes no profile; the chunk layout is the PNG
    specification's (length, type, data, CRC-32 of type + data)."""
    import struct
    import zlib

    data = b"icc\x00\x00" + zlib.compress(icc)  # profile name, NUL, compression method 0 (deflate)
    chunk = struct.pack(">I", len(data)) + b"iCCP" + data + struct.pack(">I", zlib.crc32(b"iCCP" + data))
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length + type, IHDR data, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def save_stored(pixels: np.ndarray, target: str | Path, icc: bytes | None = None) -> Path:
    """Write `put_back`'s output atomically: 16-bit through OpenCV (PNG, TIFF; `icc` added to a PNG by
    `with_iccp`, a TIFF goes without), 8-bit with alpha through `save_image` (keeps `icc`)."""

    from inpnet.imageio import save_image, with_profile

    target = Path(target)
    if pixels.dtype != np.uint16:
        return save_image(with_profile(Image.fromarray(pixels), icc), target, keep_alpha=True)
    if target.suffix.lower() in (".tif", ".tiff"):
        atomic_write_new_folder(target, _tiff_16(pixels, icc))
        return target
    if pixels.ndim == 3 and pixels.shape[2] == 2:  # grey + alpha: OpenCV writes 1, 3 or 4 channels
        pixels = np.dstack([pixels[..., :1]] * 3 + [pixels[..., 1:]])
    bgr = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4
                                                        else cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(target.suffix.lower(), bgr)
    if not ok:
        raise InpNetError(f"cannot save {target}: OpenCV could not encode it")
    payload = data.tobytes()
    if icc and target.suffix.lower() == ".png":
        payload = with_iccp(payload, icc)
    atomic_write_new_folder(target, payload)
    return target
