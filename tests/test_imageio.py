"""imageio: every input mode becomes 8-bit RGB, every broken input becomes one InpNetError line."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from inpnet import imageio
from inpnet.errors import InpNetError
from inpnet.imageio import (
    list_images,
    load_image,
    load_mask,
    masks_named_like,
    open_image,
    pair_masks,
    save_image,
    to_pil,
)


def rgb(img: Image.Image) -> np.ndarray:
    assert img.mode == "RGB"
    return np.asarray(img)


def save(img: Image.Image, path: Path, **kwargs) -> Path:
    img.save(path, **kwargs)
    return path


# ---- modes -----------------------------------------------------------------------------------------


def test_grayscale_L_repeats_the_value_in_three_channels():
    out = open_image(Image.new("L", (3, 2), 100))
    assert out.size == (3, 2)
    assert (rgb(out) == 100).all()


def test_bilevel_1_maps_to_black_and_white():
    img = Image.new("1", (2, 1), 0)
    img.putpixel((1, 0), 1)
    assert rgb(open_image(img))[0].tolist() == [[0, 0, 0], [255, 255, 255]]


def test_LA_transparent_pixel_becomes_white_opaque_keeps_value():
    img = Image.new("LA", (2, 1), (100, 255))
    img.putpixel((1, 0), (100, 0))
    assert rgb(open_image(img))[0].tolist() == [[100, 100, 100], [255, 255, 255]]


def test_RGBA_is_composited_on_white():
    img = Image.new("RGBA", (2, 1), (10, 20, 30, 255))
    img.putpixel((1, 0), (10, 20, 30, 0))
    assert rgb(open_image(img))[0].tolist() == [[10, 20, 30], [255, 255, 255]]


def test_palette_P_uses_the_palette_colours(tmp_path):
    img = Image.new("P", (2, 1), 0)
    img.putpalette([0, 0, 0, 200, 10, 20] + [0] * 762)
    img.putpixel((1, 0), 1)
    out = open_image(save(img, tmp_path / "p.png"))
    assert rgb(out)[0].tolist() == [[0, 0, 0], [200, 10, 20]]


def test_palette_with_transparent_index_becomes_white(tmp_path):
    img = Image.new("P", (2, 1), 0)
    img.putpalette([0, 0, 0, 200, 10, 20] + [0] * 762)
    img.putpixel((1, 0), 1)
    out = open_image(save(img, tmp_path / "p.png", transparency=0))
    assert rgb(out)[0].tolist() == [[255, 255, 255], [200, 10, 20]]


def test_CMYK_converts_to_RGB(tmp_path):
    img = Image.new("CMYK", (2, 1), (0, 0, 0, 0))
    img.putpixel((1, 0), (255, 0, 0, 0))
    out = open_image(save(img, tmp_path / "c.tif"))
    assert rgb(out)[0].tolist() == [[255, 255, 255], [0, 255, 255]]


def test_16bit_png_is_scaled_by_1_over_257_not_clipped(tmp_path):
    arr = np.array([[0, 257, 25700, 65535]], dtype=np.uint16)
    path = save(Image.fromarray(arr), tmp_path / "16.png")
    assert Image.open(path).mode == "I;16"
    assert rgb(open_image(path))[0, :, 0].tolist() == [0, 1, 100, 255]


def test_32bit_I_mode_is_read_as_16bit():
    img = Image.new("I", (2, 1), 65535)
    img.putpixel((1, 0), 25700)
    assert rgb(open_image(img))[0, :, 0].tolist() == [255, 100]


def test_float_F_mode_is_read_as_0_to_1_and_clipped(tmp_path):
    arr = np.array([[0.0, 0.2, 1.0, 2.0, -1.0]], dtype=np.float32)
    path = save(Image.fromarray(arr, mode="F"), tmp_path / "f.tif")
    assert rgb(open_image(path))[0, :, 1].tolist() == [0, 51, 255, 255, 0]


def test_numpy_arrays_of_each_layout_and_dtype():
    assert rgb(open_image(np.full((2, 3), 7, np.uint8))).tolist() == [[[7, 7, 7]] * 3] * 2
    assert (rgb(open_image(np.full((2, 2, 3), 0.2, np.float32))) == 51).all()
    assert (rgb(open_image(np.full((2, 2, 3), 65535, np.uint16))) == 255).all()
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 0] = (1, 2, 3, 255)
    assert rgb(open_image(rgba))[0].tolist() == [[1, 2, 3], [255, 255, 255]]


def test_bytes_input_decodes():
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (1, 2, 3)).save(buf, "PNG")
    out = open_image(buf.getvalue())
    assert out.size == (4, 3) and rgb(out)[0, 0].tolist() == [1, 2, 3]


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (4, 2), (0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0))  # top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    out = open_image(save(img, tmp_path / "o.png", exif=exif.tobytes()))
    assert out.size == (2, 4)
    red = np.argwhere(rgb(out)[:, :, 0] == 255).tolist()
    assert red == [[0, 1]]  # now top-right


def test_load_image_is_float_3HW_in_0_1():
    t = load_image(Image.new("L", (5, 4), 51))
    assert t.shape == (3, 4, 5) and t.dtype == torch.float32
    assert torch.allclose(t, torch.full((3, 4, 5), 0.2))


# ---- broken inputs ---------------------------------------------------------------------------------


def test_truncated_jpeg_raises_naming_the_file(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = save(Image.fromarray(noise), tmp_path / "photo.jpg", quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InpNetError, match=r"cannot read image .*photo\.jpg: truncated or corrupt"):
        open_image(path)


def test_random_bytes_raise(tmp_path):
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(InpNetError, match=r"cannot read image .*noise\.png"):
        open_image(path)


def test_zero_byte_file_raises(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(InpNetError, match=r"cannot read image .*empty\.jpg"):
        open_image(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(InpNetError, match="no such file"):
        open_image(tmp_path / "nope.png")


def test_folder_raises(tmp_path):
    with pytest.raises(InpNetError, match="folder"):
        open_image(tmp_path)


def test_zero_size_array_raises():
    with pytest.raises(InpNetError, match="empty image"):
        open_image(np.zeros((0, 4, 3), np.uint8))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid PNG whose IHDR is patched to declare width x height (CRC fixed)."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


@pytest.mark.parametrize("size", [(20000, 20000), (10000, 10001)])
def test_decompression_bomb_is_refused_before_decoding(tmp_path, no_decoding, size):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(*size))
    with pytest.raises(InpNetError, match=r"bomb\.png: too large"):
        open_image(path)


def test_max_pixels_is_read_at_call_time(monkeypatch):
    monkeypatch.setattr(imageio, "MAX_PIXELS", 100)
    with pytest.raises(InpNetError, match="too large"):
        open_image(Image.new("RGB", (11, 10)))


# ---- masks -----------------------------------------------------------------------------------------


def test_mask_any_nonzero_colour_channel_is_a_hole_alpha_ignored(tmp_path):
    img = Image.new("RGBA", (4, 1), (0, 0, 0, 255))
    img.putpixel((1, 0), (0, 0, 1, 255))  # faint blue: hole
    img.putpixel((2, 0), (0, 0, 0, 0))  # transparent black: keep
    img.putpixel((3, 0), (9, 0, 0, 0))  # transparent red: hole
    m = load_mask(save(img, tmp_path / "m.png"))
    assert m.shape == (1, 1, 4) and m.dtype == torch.float32
    assert m.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_grayscale_mask_value_1_is_a_hole():
    img = Image.new("L", (2, 1), 0)
    img.putpixel((0, 0), 1)
    assert load_mask(img).flatten().tolist() == [1.0, 0.0]


def test_mask_resize_is_nearest_and_stays_binary():
    arr = np.zeros((2, 2), np.uint8)
    arr[0, 0] = 255
    m = load_mask(arr, size=(4, 4))
    expected = torch.zeros(1, 4, 4)
    expected[0, :2, :2] = 1
    assert torch.equal(m, expected)
    odd = load_mask(np.random.default_rng(0).integers(0, 2, (7, 5), dtype=np.uint8), size=(13, 9))
    assert odd.shape == (1, 13, 9) and set(odd.unique().tolist()) <= {0.0, 1.0}


# ---- writing ---------------------------------------------------------------------------------------


def test_to_pil_clamps_and_rounds():
    t = torch.tensor([-0.5, 0.5, 1.5, 0.2]).view(1, 1, 1, 4).expand(1, 3, 1, 4)
    out = to_pil(t)
    assert out.mode == "RGB" and out.size == (4, 1)
    assert np.asarray(out)[0, :, 0].tolist() == [0, 128, 255, 51]


def test_to_pil_rejects_wrong_shape():
    with pytest.raises(InpNetError, match="to_pil expects"):
        to_pil(torch.zeros(2, 3, 4, 4))


def test_save_png_round_trips_exactly_and_leaves_no_temp_file(tmp_path):
    t = torch.rand(3, 5, 7, generator=torch.Generator().manual_seed(0))
    path = save_image(t, tmp_path / "sub" / "out.png")
    assert torch.equal(load_image(path), load_image(to_pil(t)))
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.png"]


def test_save_refuses_to_overwrite_when_asked(tmp_path):
    path = tmp_path / "out.png"
    save_image(Image.new("RGB", (2, 2), (1, 1, 1)), path)
    before = path.read_bytes()
    with pytest.raises(InpNetError, match="exists; pass --overwrite"):
        save_image(Image.new("RGB", (2, 2), (9, 9, 9)), path, overwrite=False)
    assert path.read_bytes() == before


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    save_image(Image.new("RGB", (2, 2), (1, 1, 1)), path)
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(InpNetError, match="cannot write"):
        save_image(Image.new("RGB", (2, 2), (9, 9, 9)), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_save_unknown_suffix_raises(tmp_path):
    with pytest.raises(InpNetError, match="unknown image format '.xyz'"):
        save_image(Image.new("RGB", (2, 2)), tmp_path / "out.xyz")


def test_save_jpeg_from_rgba_writes_rgb(tmp_path):
    path = save_image(Image.new("RGBA", (2, 2), (200, 30, 0, 128)), tmp_path / "out.jpg")
    with Image.open(path) as saved:
        assert saved.mode == "RGB"  # no alpha in a JPEG: composited on white
        assert np.allclose(saved.getpixel((0, 0)), (227, 142, 127), atol=6)  # half-way to white




# ---- listing and pairing ---------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in ["b.png", "A.JPG", "sub/c.TIFF", "sub/deeper/d.webp", ".hidden/e.png", "._f.jpg", "notes.txt"]:
        (tmp_path / rel).write_bytes(b"x")
    return tmp_path


def test_list_images_recursive_case_insensitive_sorted(tree):
    names = [p.relative_to(tree).as_posix() for p in list_images(tree)]
    assert names == ["A.JPG", "b.png", "sub/c.TIFF", "sub/deeper/d.webp"]


def test_list_images_non_recursive(tree):
    assert [p.name for p in list_images(tree, recursive=False)] == ["A.JPG", "b.png"]


def test_list_images_files_pass_through_and_duplicates_merge(tree):
    out = list_images([tree / "b.png", str(tree / "sub"), tree / "sub" / "c.TIFF"])
    assert [p.name for p in out] == ["b.png", "c.TIFF", "d.webp"]


def test_list_images_missing_path_raises(tmp_path):
    with pytest.raises(InpNetError, match="no such file or folder"):
        list_images(tmp_path / "missing")


def test_list_images_empty_folder_raises(tmp_path):
    (tmp_path / "readme.txt").write_text("no pictures")
    with pytest.raises(InpNetError, match="no images found in"):
        list_images(tmp_path)


def test_pair_masks_never_gives_an_image_another_images_mask_when_some_names_match():
    images = [Path("i/a.png"), Path("i/b.png"), Path("i/c.png")]
    masks = [Path("m/b.png"), Path("m/c.png")]  # a has none: it must not get b's or c's
    assert pair_masks(images, masks) == [(images[0], None), (images[1], masks[0]), (images[2], masks[1])]
    assert masks_named_like(images, masks) and not masks_named_like(images, [Path("m/x.png")])


def test_pair_masks_by_stem_and_mask_suffix():
    images = [Path("i/a.jpg"), Path("i/b.jpg")]
    masks = [Path("m/b.png"), Path("m/a_mask.png"), Path("m/z.png")]
    assert pair_masks(images, masks) == [(images[0], Path("m/a_mask.png")), (images[1], Path("m/b.png"))]


def test_a_folder_that_cannot_be_read_or_a_linked_folder_is_named_not_skipped_in_silence(tmp_path, monkeypatch):
    """Review 12: an unreadable subfolder vanished from a folder job (exit 0, no word), and so did a link."""
    import os

    for sub in ("ok", "locked", "real"):
        (tmp_path / sub).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / sub / f"{sub}.png")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    scandir = os.scandir

    def refusing(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refusing)
    with pytest.warns(UserWarning) as said:
        found = list_images(tmp_path)
    assert [p.name for p in found] == ["ok.png", "real.png"]
    messages = " | ".join(str(w.message) for w in said)
    assert "locked: cannot be read (Permission denied); the images in it are left out" in messages
    assert "link is a link to a folder, not followed" in messages


def test_a_photo_given_as_a_mask_gets_a_note_and_a_drawn_mask_none(tmp_path):
    """Review 12: a folder of photos as --masks made every pixel a hole without a word."""
    import warnings

    import skimage.data

    Image.fromarray(skimage.data.coffee()).save(tmp_path / "photo.png")
    with pytest.warns(UserWarning, match="100% of the image a hole: .* .a photo given as a mask.."):
        assert float(load_mask(tmp_path / "photo.png").mean()) == 1.0
    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "photo.jpg")  # a JPEG mask: above mid-grey only
    with pytest.warns(UserWarning, match="of the image a hole: .* .a photo given as a mask.."):
        assert 0.5 < float(load_mask(tmp_path / "photo.jpg").mean()) < 0.9
    drawn = np.zeros((64, 64), np.uint8)
    drawn[8:56, 8:56] = 255
    Image.fromarray(cv2.GaussianBlur(drawn, (0, 0), 3)).save(tmp_path / "soft.png")  # a soft brush: grey edges
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_mask(tmp_path / "soft.png")


def test_pair_masks_in_nested_folders_pairs_by_place_first():
    """Review 12: in/s2/a.png got masks/s1/a.png, the first mask of that stem in the whole tree."""
    images = [Path("i/s1/a.png"), Path("i/s2/a.png"), Path("i/s3/a.png"), Path("i/s3/b.png"), Path("i/c.png")]
    masks = [Path("m/s1/a.png"), Path("m/s2/a_mask.png"), Path("m/b.png"), Path("m/c.png")]
    assert pair_masks(images, masks, Path("i"), Path("m")) == [
        (images[0], masks[0]), (images[1], masks[1]),
        (images[2], None),  # two folders hold an "a" mask, neither at s3: no guess
        (images[3], masks[2]), (images[4], masks[3]),  # a stem only one mask has pairs from anywhere (flat masks)
    ]


def test_pair_masks_cycles_in_sorted_order_when_stems_differ():
    images = [Path("i/a.jpg"), Path("i/b.jpg"), Path("i/c.jpg")]
    masks = [Path("m/2.png"), Path("m/1.png")]
    pairs = pair_masks(images, masks)
    assert [m.name for _, m in pairs] == ["1.png", "2.png", "1.png"]


def test_pair_masks_never_takes_a_photo_as_a_mask():
    images = [Path("d/a.png"), Path("d/b.png")]
    masks = [Path("d/a.png"), Path("d/b.png"), Path("d/a_mask.png")]  # one folder holds both
    assert pair_masks(images, masks) == [(images[0], Path("d/a_mask.png")), (images[1], None)]
    with pytest.raises(InpNetError, match="every file found as a mask is one of the images"):
        pair_masks(images, images)


def test_pair_masks_empty_raises():
    with pytest.raises(InpNetError, match="no masks"):
        pair_masks([Path("a.jpg")], [])


def test_is_grey_needs_equal_channels_in_every_pixel_and_at_least_one_pixel():
    grey = np.repeat(np.arange(12, dtype=np.uint8).reshape(3, 4, 1), 3, axis=-1)
    assert imageio.is_grey(grey)
    grey[2, 3, 1] += 1
    assert not imageio.is_grey(grey)
    assert not imageio.is_grey(np.zeros((0, 3), np.uint8))


def test_is_grey_where_looks_only_at_the_chosen_pixels():
    grey = np.repeat(np.arange(12, dtype=np.uint8).reshape(3, 4, 1), 3, axis=-1)
    grey[2, 3] = (200, 10, 10)  # one coloured pixel ...
    known = np.ones((3, 4), bool)
    assert not imageio.is_grey(grey, where=known)
    known[2, 3] = False  # ... in the hole: the known pixels are grey
    assert imageio.is_grey(grey, where=known)
    assert not imageio.is_grey(grey, where=np.zeros((3, 4), bool))  # no pixel at all


def test_as_grey_sets_each_pixel_to_the_rounded_mean_of_its_channels():
    rgb = np.array([[[10, 20, 31], [0, 0, 1], [255, 255, 254]]], np.uint8)
    assert imageio.as_grey(rgb).tolist() == [[[20] * 3, [0] * 3, [255] * 3]]


def _profile(space: bytes = b"RGB ") -> bytes:
    """An ICC profile (littleCMS's sRGB) with its header's data colour space set to `space`."""
    from PIL import ImageCms

    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[16:20] = space
    return bytes(icc)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tiff"])
def test_an_rgb_icc_profile_survives_open_and_save(tmp_path, suffix):
    icc = _profile()
    src = tmp_path / f"p3{suffix}"
    Image.fromarray(np.full((8, 8, 3), 120, np.uint8)).save(src, icc_profile=icc)
    img = imageio.open_image(src)
    assert imageio.rgb_profile(img) == icc
    out = imageio.save_image(img, tmp_path / f"out{suffix}")
    with Image.open(out) as saved:
        assert saved.info.get("icc_profile") == icc


@pytest.mark.parametrize(("mode", "space"), [("CMYK", b"CMYK"), ("L", b"GRAY")])
def test_a_profile_of_another_colour_space_is_dropped_with_the_conversion(tmp_path, mode, space):
    src = tmp_path / "other.jpg"
    Image.new(mode, (8, 8)).save(src, icc_profile=_profile(space))
    with Image.open(src) as raw:
        assert raw.info.get("icc_profile")  # the file has it
    img = imageio.open_image(src)
    assert img.mode == "RGB" and "icc_profile" not in img.info
    with Image.open(imageio.save_image(img, tmp_path / "out.png")) as saved:
        assert "icc_profile" not in saved.info


def test_a_mask_with_transparent_pixels_is_read_by_colour_with_a_warning_saying_so(tmp_path):
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[4:8, 4:8] = (0, 0, 0, 255)  # a black brush stroke on a transparent layer: no colour, so no hole
    Image.fromarray(rgba).save(tmp_path / "brush.png")
    with pytest.warns(UserWarning, match="transparent pixels"):
        assert not load_mask(tmp_path / "brush.png").any()
    opaque = rgba.copy()
    opaque[..., 3] = 255
    opaque[4:8, 4:8, :3] = 255
    Image.fromarray(opaque).save(tmp_path / "opaque.png")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an opaque RGBA mask: no warning
        assert load_mask(tmp_path / "opaque.png").sum() == 16


def test_webp_is_written_lossless_and_jpeg_is_said_to_be_lossy(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    out = imageio.save_image(Image.fromarray(pixels), tmp_path / "out.webp")
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), pixels)
    assert imageio.is_lossy(tmp_path / "a.JPG") and imageio.is_lossy("b.jpeg")
    assert not any(imageio.is_lossy(f"c{suffix}") for suffix in (".png", ".webp", ".tif", ".bmp"))


@pytest.mark.parametrize(("name", "animation"), [("anim.gif", True), ("pages.tif", False)])
def test_a_file_of_several_images_is_read_as_its_first_with_a_note_at_the_callers_line(tmp_path, name, animation):
    frames = [Image.fromarray(np.full((20, 30, 3), v, np.uint8)) for v in (10, 100, 200)]
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match=r"3 frames or pages; only the first is read") as notes:
        img = imageio.open_image(tmp_path / name)
    assert np.asarray(img).max() == 10  # the first
    (note,) = notes
    assert note.filename == __file__  # the user's line, not one inside the package
    assert ("--video fills every frame" in str(note.message)) == animation
    assert imageio.list_images(tmp_path) == [tmp_path / name]  # a GIF is an input too (not an output)
    with pytest.raises(InpNetError, match="unknown image format '.gif'"):
        imageio.save_image(img, tmp_path / "out.gif")


def test_a_jpeg_mask_is_read_above_mid_grey_so_its_compression_rings_are_not_holes(tmp_path):
    drawn = np.zeros((100, 120), np.uint8)
    drawn[30:70, 40:90] = 255
    Image.fromarray(drawn).save(tmp_path / "mask.jpg", quality=75)
    assert (np.asarray(Image.open(tmp_path / "mask.jpg")) > 0).sum() > (drawn > 0).sum()  # the rings are there
    with pytest.warns(UserWarning, match=r"mask.jpg is a JPEG: its compression smears the mask's edges"):
        hole = imageio.load_mask(tmp_path / "mask.jpg")[0].numpy() > 0.5
    assert np.array_equal(hole, drawn > 0)
    Image.fromarray(drawn // 255).save(tmp_path / "mask.png")  # a PNG: any nonzero pixel, as before
    assert np.array_equal(imageio.load_mask(tmp_path / "mask.png")[0].numpy() > 0.5, drawn > 0)


def test_a_grey_image_is_written_as_one_channel_and_tiff_is_compressed(tmp_path):
    grey = np.repeat(np.random.default_rng(0).integers(0, 256, (30, 40, 1), dtype=np.uint8), 3, axis=2)
    for suffix in (".png", ".jpg", ".tif", ".bmp"):
        with Image.open(imageio.save_image(Image.fromarray(grey), tmp_path / f"g{suffix}")) as saved:
            assert saved.mode == "L", suffix
            if suffix != ".jpg":
                assert np.array_equal(np.asarray(saved.convert("RGB")), grey), suffix  # the same pixels
    with Image.open(imageio.save_image(Image.fromarray(grey), tmp_path / "g.webp")) as saved:
        assert np.array_equal(np.asarray(saved.convert("RGB")), grey)  # WebP has no grey mode: RGB, exact
    colour = grey.copy()
    colour[0, 0, 0] ^= 1  # one pixel off grey: a colour image
    assert Image.open(imageio.save_image(Image.fromarray(colour), tmp_path / "c.png")).mode == "RGB"
    with Image.open(imageio.save_image(Image.fromarray(colour), tmp_path / "c.tif")) as saved:
        assert saved.info.get("compression") == "tiff_adobe_deflate"
