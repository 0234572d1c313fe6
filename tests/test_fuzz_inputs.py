"""Fuzzed inputs (marker `fuzz`): random bytes, damaged and unusual image files, decompression bombs, odd masks
and every mask kind at random ratios and grid sizes, through `open_image` / `load_image` / `load_mask`, the
`InpaintPipeline` (a nano model) and `inpnet inpaint`. Each case ends in a result or an `InpNetError` with a
one-line message: never another exception type, never a hang (every call runs under a time limit).
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import time_limit
from inpnet.checkpoint import save_model
from inpnet.cli import main
from inpnet.config import ModelConfig
from inpnet.errors import InpNetError
from inpnet.imageio import MAX_PIXELS, load_image, load_mask, open_image
from inpnet.masks import IRREGULAR_FAMILIES, MASK_KINDS, STRUCTURED_PRESETS, make_pixel_mask
from inpnet.models import build_model
from inpnet.models.output import InpaintOutput, composite
from inpnet.predict import InpaintPipeline

pytestmark = pytest.mark.fuzz

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODEL_FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIPELINE_MAX_PIXELS = 256 * 256  # larger (damaged) images are only decoded, not inpainted
CALL_LIMIT_S = 20  # a single decode or inpainting of these tiny inputs takes milliseconds

# (format, mode) pairs Pillow writes; the decoder must turn each into 8-bit RGB of the same size
ENCODINGS = [
    ("PNG", "1"), ("PNG", "L"), ("PNG", "LA"), ("PNG", "P"), ("PNG", "RGB"), ("PNG", "RGBA"), ("PNG", "I;16"),
    ("TIFF", "I"), ("JPEG", "L"), ("JPEG", "RGB"), ("JPEG", "CMYK"), ("TIFF", "1"), ("TIFF", "L"),
    ("TIFF", "RGB"), ("TIFF", "RGBA"), ("TIFF", "CMYK"), ("TIFF", "I;16"), ("TIFF", "F"), ("TIFF", "LAB"),
    ("JPEG", "YCbCr"), ("BMP", "1"), ("BMP", "L"), ("BMP", "P"), ("BMP", "RGB"), ("GIF", "P"), ("GIF", "L"),
    ("WEBP", "RGB"), ("WEBP", "RGBA"),
]
SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "BMP": ".bmp", "GIF": ".gif", "WEBP": ".webp"}
MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF\x00\x00\x00\x00WEBP"]




def result_or_error(call, *args, **kwargs):
    """`call(*args)` under the time limit: its result, or the `InpNetError` it raised, checked to be one line.
    Any other exception propagates and fails the test."""
    with time_limit(CALL_LIMIT_S), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. Pillow's "Corrupt EXIF data" or a resized-mask note
        try:
            return call(*args, **kwargs)
        except InpNetError as exc:
            message = str(exc)
            assert message and "\n" not in message, repr(message)
            return exc


# ---- building inputs ---------------------------------------------------------------------------------------


def make_image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    """A random image in `mode` (16-bit, float and colour-space modes included)."""
    rng = np.random.default_rng(seed)
    if mode in ("I;16", "I"):
        img = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
        return img if mode == "I;16" else img.convert("I")
    if mode == "F":
        return Image.fromarray(rng.random((height, width), dtype=np.float32))
    rgb = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    if mode == "RGBA":
        return Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8))
    if mode == "LA":
        return Image.fromarray(rng.integers(0, 256, (height, width, 2), dtype=np.uint8), "LA")
    return rgb.convert(mode)


def encode(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@st.composite
def encoded_images(draw) -> tuple[bytes, str, tuple[int, int]]:
    """(file bytes, format, (width, height)) of a small image in one of ENCODINGS, 1x1 included."""
    fmt, mode = draw(st.sampled_from(ENCODINGS))
    width, height = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    seed = draw(st.integers(0, 2**16))
    return encode(make_image(mode, width, height, seed), fmt), fmt, (width, height)


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """`data` truncated, with bytes overwritten, or with garbage in front."""
    how = draw(st.sampled_from(["truncate", "overwrite", "prefix"]))
    if how == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if how == "prefix":
        return draw(st.binary(min_size=1, max_size=16)) + data
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
    return bytes(out)


@st.composite
def damaged_images(draw) -> tuple[bytes, str]:
    data, fmt, _ = draw(encoded_images())
    return draw(damaged(data)), fmt


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height RGB pixels, followed by a few bytes of image data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real 8x8 JPEG whose frame header (SOF0) is patched to declare width x height."""
    data = bytearray(encode(Image.new("RGB", (8, 8), (200, 10, 10)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_declaring(width: int, height: int) -> bytes:
    """A real 8x8 GIF whose logical screen is patched to width x height."""
    data = bytearray(encode(Image.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def bmp_declaring(width: int, height: int) -> bytes:
    """A real 8x8 BMP whose info header is patched to width x height."""
    data = bytearray(encode(Image.new("RGB", (8, 8)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


BOMBS = {
    "png-20000x20000": png_declaring(20_000, 20_000),
    "png-12000x12000": png_declaring(12_000, 12_000),  # over MAX_PIXELS, under Pillow's own bomb limit
    "png-2^31": png_declaring(2**31 - 1, 2**31 - 1),
    "jpeg-65000x65000": jpeg_declaring(65_000, 65_000),
    "gif-65535x65535": gif_declaring(65_535, 65_535),
    "bmp-50000x50000": bmp_declaring(50_000, 50_000),
}


@pytest.fixture(scope="module")
def pipe() -> InpaintPipeline:
    torch.manual_seed(0)
    return InpaintPipeline(build_model("skip-recon", preset="nano"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_model(build_model("skip-recon", preset="nano"), tmp_path_factory.mktemp("ckpt")).parent


# ---- decoding ----------------------------------------------------------------------------------------------


@FUZZ
@given(encoded_images())
def test_every_mode_and_format_decodes_to_rgb_of_its_size(case):
    data, _, (width, height) = case
    img = result_or_error(open_image, data)
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (width, height)
    tensor = result_or_error(load_image, data)
    assert tensor.shape == (3, height, width) and tensor.dtype == torch.float32
    assert float(tensor.min()) >= 0.0 and float(tensor.max()) <= 1.0
    mask = result_or_error(load_mask, data)
    assert mask.shape == (1, height, width) and set(mask.unique().tolist()) <= {0.0, 1.0}


@FUZZ
@given(damaged_images())
def test_damaged_image_bytes_give_a_result_or_one_line_error(case):
    data, _ = case
    for call in (open_image, load_image, load_mask):
        out = result_or_error(call, data)
        assert isinstance(out, (InpNetError, Image.Image, torch.Tensor))
        if isinstance(out, InpNetError):
            assert str(out).startswith("cannot read image <bytes>")


@FUZZ
@given(damaged_images())
def test_damaged_image_files_are_named_in_the_error(case):
    data, fmt = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"photo{SUFFIX[fmt]}"
        path.write_bytes(data)
        out = result_or_error(open_image, path)
        if isinstance(out, InpNetError):
            assert str(out).startswith(f"cannot read image {path}: ")
        else:
            assert out.mode == "RGB" and min(out.size) >= 1


@FUZZ
@given(st.sampled_from(MAGIC), st.binary(max_size=4096))
def test_random_bytes_behind_any_magic_number_give_a_result_or_one_line_error(magic, body):
    for call in (open_image, load_mask):
        out = result_or_error(call, magic + body)
        assert isinstance(out, (InpNetError, Image.Image, torch.Tensor))


@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 5, 3), (5, 0, 3), (0, 7), (4, 0)],
                         ids=lambda shape: "x".join(map(str, shape)))
def test_zero_size_arrays_are_refused_as_empty(shape):
    for call in (open_image, load_mask):
        out = result_or_error(call, np.zeros(shape, dtype=np.uint8))
        assert isinstance(out, InpNetError) and "empty" in str(out)


@pytest.mark.parametrize("size", [(0, 0), (0, 16), (16, 0)], ids=lambda size: f"{size[0]}x{size[1]}")
def test_zero_size_png_headers_are_refused(size):
    out = result_or_error(open_image, png_declaring(*size))
    assert isinstance(out, InpNetError)


@pytest.mark.parametrize("name", list(BOMBS))
def test_decompression_bombs_are_refused_as_too_large(name):
    for call in (open_image, load_image, load_mask):
        out = result_or_error(call, BOMBS[name])
        assert isinstance(out, InpNetError) and "too large" in str(out), out


def test_decompression_bombs_are_refused_without_decoding_them(tmp_path):
    """In a fresh process, so that the peak memory (ru_maxrss) measures these calls alone."""
    paths = []
    for name, data in BOMBS.items():
        paths.append(tmp_path / f"{name}.{name.split('-')[0]}")
        paths[-1].write_bytes(data)
    code = (
        "import resource, sys\n"
        "from inpnet.errors import InpNetError\n"
        "from inpnet.imageio import load_image, load_mask\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for path in sys.argv[1:]:\n"
        "    for call in (load_image, load_mask):\n"
        "        try:\n"
        "            call(path)\n"
        "            print('decoded', path)\n"
        "        except InpNetError as exc:\n"
        "            print('refused', exc)\n"
        "print('growth_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sum(line.startswith("refused") for line in lines) == 2 * len(BOMBS), proc.stdout
    growth_mb = int(lines[-1].split()[1]) / 1024
    assert growth_mb < 64, f"peak memory grew by {growth_mb:.0f} MB"  # one 20000x20000 decode is 1.2 GB


def test_the_bomb_limit_is_below_what_the_tests_declare():
    assert MAX_PIXELS < 12_000 * 12_000


# ---- masks -------------------------------------------------------------------------------------------------

MASK_SPECS = ["all", "none", "random", "other-size", "float", "negative", "nan", "bool-tensor", "float-tensor",
              "mode-1", "mode-L", "mode-LA", "mode-P", "mode-RGBA", "mode-I;16", "mode-I", "mode-F", "mode-CMYK"]


def build_mask(spec: str, height: int, width: int, rng: np.random.Generator):
    """(mask in that form, expected (height, width) bool hole: any nonzero colour value, resized if needed)."""
    coin = rng.random((height, width)) < 0.3
    if spec == "all":
        return np.full((height, width), 255, np.uint8), np.ones((height, width), bool)
    if spec == "none":
        return np.zeros((height, width), np.uint8), np.zeros((height, width), bool)
    if spec == "random":
        return coin.astype(np.uint8) * 255, coin
    if spec == "other-size":
        small = rng.random((int(rng.integers(1, 20)), int(rng.integers(1, 20)))) < 0.4
        hole = np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.NEAREST))
        return small.astype(np.uint8), hole
    if spec == "float":  # not binary: any nonzero value is a hole
        values = np.where(coin, rng.random((height, width)) * 0.9 + 0.05, 0.0).astype(np.float32)
        return values, coin
    if spec == "negative":
        return np.where(coin, -1.0, 0.0), coin
    if spec == "nan":  # NaN reads as 0: not a hole
        return np.where(coin, 1.0, np.nan), coin
    if spec == "bool-tensor":
        return torch.from_numpy(coin), coin
    if spec == "float-tensor":
        return torch.from_numpy(coin.astype(np.float32) * 0.4)[None, None], coin
    mode = spec.split("-", 1)[1]
    img = make_image(mode, width, height, int(rng.integers(0, 2**16)))
    if mode in ("1", "L", "I;16", "I", "F"):
        hole = np.asarray(img) != 0
    elif mode == "LA":
        hole = np.asarray(img)[:, :, 0] != 0
    else:
        hole = np.asarray(img.convert("RGBA" if mode == "P" else "RGB"))[:, :, :3].any(axis=2)
    return img, hole


@MODEL_FUZZ
@given(
    height=st.integers(1, 56), width=st.integers(1, 56), spec=st.sampled_from(MASK_SPECS),
    strategy=st.sampled_from(["auto", "crop", "resize"]), seed=st.integers(0, 2**16),
)
def test_any_mask_through_the_pipeline_keeps_every_pixel_outside_its_hole(pipe, height, width, spec, strategy,
                                                                           seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask, hole = build_mask(spec, height, width, rng)
    out = result_or_error(pipe, image, mask, strategy=strategy)
    assert isinstance(out, Image.Image) and out.size == (width, height) and out.mode == "RGB"
    result = np.asarray(out)
    assert np.array_equal(result[~hole], image[~hole])
    if not hole.any():
        assert np.array_equal(result, image)


def test_a_mask_of_another_size_is_an_error_when_resizing_is_off(pipe):
    strict = InpaintPipeline(pipe.model, resize_mask=False)
    out = result_or_error(strict, np.zeros((20, 30, 3), np.uint8), np.ones((10, 10), np.uint8))
    assert isinstance(out, InpNetError) and str(out) == "mask is 10x10 pixels but the image is 30x20"


@pytest.mark.parametrize("mask", [np.ones((4, 4, 5), np.uint8), np.ones((1, 1, 4, 4), np.uint8),
                                  torch.ones(2, 1, 4, 4), None, 3.5, "no/such/mask.png", b"", b"not a png"],
                         ids=["5-channels", "4-d array", "batch-of-2 tensor", "None", "float", "missing file",
                              "empty bytes", "garbage bytes"])
def test_masks_of_a_wrong_kind_are_one_line_errors(pipe, mask):
    out = result_or_error(pipe, np.zeros((4, 4, 3), np.uint8), mask)
    assert isinstance(out, InpNetError)


class WhiteModel:
    """A stand-in with the nano config that paints every hole white."""

    config = ModelConfig.from_name("skip-recon", preset="nano")

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        white = torch.ones_like(images)
        return InpaintOutput(white, composite(images, mask, white), None)


@pytest.mark.parametrize("dilate", [1, 40, 10**9])
def test_any_dilation_grows_the_hole_exactly_and_quickly(dilate):
    hole = np.zeros((60, 80), bool)
    hole[30, 40] = True
    image = np.full((60, 80, 3), 7, np.uint8)
    pipe = InpaintPipeline(WhiteModel(), seam_correction=False)  # white stays white: the changed pixels show
    out = np.asarray(result_or_error(pipe, image, hole, strategy="resize", dilate=dilate))
    yy, xx = np.mgrid[0:60, 0:80]
    if dilate == 1:  # the elliptic 3x3 kernel is a cross
        expected = np.abs(yy - 30) + np.abs(xx - 40) <= 1
    else:  # a disc of that radius: the whole image for an absurd one
        expected = (yy - 30) ** 2 + (xx - 40) ** 2 <= dilate**2
    assert np.array_equal((out != image).any(axis=2), expected)


@MODEL_FUZZ
@given(
    kind=st.sampled_from(MASK_KINDS), ratio=st.floats(0.0, 0.9), rows=st.integers(1, 5), cols=st.integers(1, 5),
    arch=st.sampled_from(["skip-recon", "mae"]), seed=st.integers(0, 2**16),
)
def test_every_mask_kind_ratio_and_grid_runs_through_the_model(models, kind, ratio, rows, cols, arch, seed):
    p = 8
    g = torch.Generator().manual_seed(seed)
    mask = make_pixel_mask(kind, 2, (rows * p, cols * p), p, ratio, g, preset=STRUCTURED_PRESETS[seed % 9],
                           family=IRREGULAR_FAMILIES[seed % 3])  # (2, 1, H, W)
    images = torch.rand(2, 3, rows * p, cols * p, generator=g)
    with time_limit(CALL_LIMIT_S), torch.inference_mode():
        out = models[arch](images, mask)
    assert out.prediction.shape == images.shape and torch.isfinite(out.prediction).all()
    keep = (mask == 0).expand_as(images)
    assert torch.equal(out.composite[keep], images[keep])
    holes_per_patch = mask.reshape(2, rows, p, cols, p).amax(dim=(2, 4)).reshape(2, -1) > 0  # (2, L)
    assert torch.equal(out.token_mask.bool(), holes_per_patch)


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {name: build_model(name, preset="nano").eval() for name in ("skip-recon", "mae")}


@FEW
@given(ratio=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=0.9 + 1e-9), st.just(math.nan)),
       kind=st.sampled_from(MASK_KINDS))
def test_a_ratio_outside_0_to_0_9_is_a_one_line_error(ratio, kind):
    out = result_or_error(make_pixel_mask, kind, 1, (16, 16), 8, ratio, torch.Generator().manual_seed(0))
    assert isinstance(out, InpNetError) and "mask ratio must be in [0, 0.9]" in str(out)


# ---- images through the pipeline and the command line ------------------------------------------------------


@FUZZ
@given(st.one_of(damaged_images(), encoded_images().map(lambda c: (c[0], c[1]))))
def test_any_image_bytes_through_the_pipeline_give_an_image_or_one_line_error(pipe, case):
    data, _ = case
    decoded = result_or_error(open_image, data)
    if isinstance(decoded, Image.Image) and decoded.width * decoded.height > PIPELINE_MAX_PIXELS:
        return  # damage that declares a large size: decoding it is the point; inpainting it just takes long
    hole = np.zeros((8, 8), bool)
    hole[2:5, 3:6] = True
    for call, args in ((pipe, (data, hole)), (pipe.restore, (data,))):
        out = result_or_error(call, *args)
        assert isinstance(out, (InpNetError, Image.Image))
        if isinstance(out, Image.Image):
            assert out.mode == "RGB" and out.size == open_image(data).size


@pytest.mark.parametrize("name", list(BOMBS))
def test_bombs_through_the_pipeline_are_refused(pipe, name):
    out = result_or_error(pipe, BOMBS[name], np.ones((8, 8), bool))
    assert isinstance(out, InpNetError) and "too large" in str(out)
    out = result_or_error(pipe, np.zeros((8, 8, 3), np.uint8), BOMBS[name])
    assert isinstance(out, InpNetError) and "too large" in str(out)


def run_inpaint(*argv) -> tuple[int, list[str]]:
    """`inpnet inpaint ...` in-process: (exit code, stderr lines)."""
    err = io.StringIO()
    with time_limit(60), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["inpaint", *map(str, argv), "--no-progress"])
    return rc, err.getvalue().splitlines()


@FEW
@given(image=st.one_of(damaged_images(), encoded_images().map(lambda c: (c[0], c[1]))),
       mask=st.one_of(st.none(), damaged_images()))
def test_inpaint_command_on_any_file_writes_an_image_or_reports_one_line(checkpoint, image, mask):
    (data, fmt), hole = image, Image.fromarray(np.eye(8, dtype=bool))
    decoded = result_or_error(open_image, data)
    if isinstance(decoded, Image.Image) and decoded.width * decoded.height > PIPELINE_MAX_PIXELS:
        return  # see test_any_image_bytes_through_the_pipeline_give_an_image_or_one_line_error
    with tempfile.TemporaryDirectory() as tmp:
        src, mask_path, out = Path(tmp) / f"in{SUFFIX[fmt]}", Path(tmp) / "mask.png", Path(tmp) / "out.png"
        src.write_bytes(data)
        if mask is None:
            hole.save(mask_path)
        else:
            mask_path = Path(tmp) / f"mask{SUFFIX[mask[1]]}"
            mask_path.write_bytes(mask[0])
        rc, err = run_inpaint("--image", src, "--mask", mask_path, "-o", out, "--checkpoint", checkpoint)
        if rc == 0:  # a mask of another size is resized, with a note
            assert all(line.startswith("inpnet inpaint: note: ") for line in err)
            assert open_image(out).size == open_image(src).size
        else:
            assert rc == 1 and len(err) == 1 and err[0].startswith("inpnet inpaint: failed: ")
            assert not out.exists()
            assert not list(Path(tmp).glob(".*tmp*"))  # no temp file left behind either


@pytest.mark.parametrize("name", ["png-20000x20000", "jpeg-65000x65000"])
def test_inpaint_command_refuses_a_bomb_in_one_line(checkpoint, tmp_path, name):
    src = tmp_path / f"bomb{SUFFIX[name.split('-')[0].upper()]}"
    src.write_bytes(BOMBS[name])
    Image.new("L", (8, 8), 255).save(tmp_path / "mask.png")
    rc, err = run_inpaint("--image", src, "--mask", tmp_path / "mask.png", "-o", tmp_path / "out.png",
                          "--checkpoint", checkpoint)
    assert rc == 1 and len(err) == 1 and "too large" in err[0]
    assert not (tmp_path / "out.png").exists()
