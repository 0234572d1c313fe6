"""inpnet.originals: what a file holds beyond the pipeline's 8-bit RGB copy, and when it is left alone."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from inpnet.imageio import open_image
from inpnet.originals import put_back, read_stored


def _working(path) -> np.ndarray:
    return np.asarray(open_image(path))


def test_a_file_with_nothing_beyond_8_bit_rgb_has_nothing_to_keep(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    for name in ("plain.png", "photo.jpg", "opaque.bmp"):
        Image.fromarray(rgb).save(tmp_path / name)
        assert read_stored(tmp_path / name, _working(tmp_path / name)) is None


def test_stored_pixels_that_do_not_line_up_with_the_working_copy_are_not_used(tmp_path):
    """A PNG with an EXIF rotation: the pipeline's copy is upright, OpenCV's read is not (here a different
    shape; a square photo would differ in its pixels), so writing them back would misplace every pixel."""
    rgba = np.random.default_rng(1).integers(0, 256, (20, 30, 4), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.fromarray(rgba).save(tmp_path / "turned.png", exif=exif)
    working = _working(tmp_path / "turned.png")
    assert working.shape == (30, 20, 3)
    assert read_stored(tmp_path / "turned.png", working) is None
    square = rgba[:20, :20].copy()
    Image.fromarray(square).save(tmp_path / "square.png", exif=exif)
    assert read_stored(tmp_path / "square.png", _working(tmp_path / "square.png")) is None


def test_put_back_keeps_the_sub_8_bit_remainder_and_the_alpha():
    from inpnet.originals import Stored

    deep = np.array([[[1000, 2000, 65535], [300, 40000, 12345]]], np.uint16)  # (1, 2, 3)
    alpha = np.array([[65535, 0]], np.uint16)
    working = np.rint(deep / 257).astype(np.uint8)
    result = working.copy()
    result[0, 1] = (10, 20, 30)  # the fill changed the second pixel
    out = put_back(Stored(deep, alpha), working, result)
    assert out.dtype == np.uint16 and out.shape == (1, 2, 4)
    assert np.array_equal(out[0, 0], [1000, 2000, 65535, 65535]) and out[0, 1, 3] == 0
    assert np.array_equal(out[0, 1, :3], deep[0, 1].astype(int) + (np.array([10, 20, 30]) - working[0, 1]) * 257)


def test_grey_16_bit_with_alpha_is_read_as_grey(tmp_path):
    la = np.zeros((6, 8, 4), np.uint16)
    la[..., :3] = 30000
    la[..., 3] = 65535
    cv2.imwrite(str(tmp_path / "la16.png"), la)
    stored = read_stored(tmp_path / "la16.png", _working(tmp_path / "la16.png"))
    assert stored is not None and stored.deep and stored.colour.shape == (6, 8) and stored.alpha.shape == (6, 8)


def test_a_16_bit_png_keeps_its_colour_profile(tmp_path):
    """OpenCV writes 16-bit colour PNGs without a profile; the iCCP chunk is added by hand (a Display P3
    photo would shift colour in a colour-managed viewer without it)."""
    from PIL import ImageCms

    from inpnet.originals import save_stored

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    deep = np.random.default_rng(2).integers(0, 65536, (8, 9, 3)).astype(np.uint16)
    save_stored(deep, tmp_path / "p3.png", icc)
    with Image.open(tmp_path / "p3.png") as img:
        img.load()
        assert img.info.get("icc_profile") == icc and img.size == (9, 8)
    back = cv2.imread(str(tmp_path / "p3.png"), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(cv2.cvtColor(back, cv2.COLOR_BGR2RGB), deep)


def test_an_8_bit_tiff_with_transparency_keeps_it(tmp_path):
    """Review 12: OpenCV reads an 8-bit TIFF's colour multiplied by its alpha, which matched no working copy,
    so the result was composited on white."""
    rgba = np.random.default_rng(3).integers(0, 256, (12, 16, 4), dtype=np.uint8)
    rgba[..., 3] = np.where(np.arange(16) < 8, 255, 90)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.tif")
    stored = read_stored(tmp_path / "cut.tif", _working(tmp_path / "cut.tif"))
    assert stored is not None and np.array_equal(stored.colour, rgba[..., :3])
    assert np.array_equal(stored.alpha, rgba[..., 3])


def test_a_16_bit_tiff_with_alpha_says_it_is_alpha_and_keeps_the_profile(tmp_path):
    """Review 11: OpenCV wrote 16-bit RGBA TIFFs without ExtraSamples, so readers took the alpha for an
    unnamed channel (and OpenCV itself warned reading them back)."""
    import tifffile
    from PIL import ImageCms

    from inpnet.originals import save_stored

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    deep = np.random.default_rng(4).integers(0, 65536, (8, 9, 4)).astype(np.uint16)
    save_stored(deep, tmp_path / "cut16.tif", icc)
    with tifffile.TiffFile(tmp_path / "cut16.tif") as tif:
        page = tif.pages[0]
        assert tuple(page.tags["ExtraSamples"].value) == (2,)  # unassociated alpha
        assert page.tags["InterColorProfile"].value == icc
        assert np.array_equal(page.asarray(), deep)
    grey_alpha = deep[..., [0, 3]]
    save_stored(grey_alpha, tmp_path / "la16.tif")
    with tifffile.TiffFile(tmp_path / "la16.tif") as tif:
        assert tuple(tif.pages[0].tags["ExtraSamples"].value) == (2,)
        assert np.array_equal(tif.pages[0].asarray(), grey_alpha)


def test_a_16_bit_photo_with_alpha_keeps_it_in_a_webp_output_whatever_the_rounding(tmp_path):
    """Review 12: the 8-bit rounding of colour and alpha, composited, can miss the working copy by more than
    MATCH_LEVELS, and then the WebP output lost its transparency; the check is made on the stored samples."""
    import warnings

    from inpnet.originals import _lines_up, _read_beyond_8_bit_rgb, save_keeping_stored

    deep = np.random.default_rng(5).integers(0, 65536, (24, 32, 4)).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "cut16.png"), deep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        working = _working(tmp_path / "cut16.png")
    stored = _read_beyond_8_bit_rgb(tmp_path / "cut16.png")
    assert not _lines_up(stored.at_8_bits(), working)  # the case: rounded first, it no longer lines up
    assert save_keeping_stored(tmp_path / "cut16.png", working, tmp_path / "out.webp", overwrite=False)
    with Image.open(tmp_path / "out.webp") as out:
        kept = np.asarray(out)
    eight = stored.at_8_bits()
    assert kept.shape == (24, 32, 4) and np.array_equal(kept[..., 3], eight.alpha)
    assert np.array_equal(kept[..., :3], eight.colour)  # nothing filled: the file's own pixels, at 8 bits
