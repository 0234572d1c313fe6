"""A photo too large for the page's editor: the editor paints on a smaller copy, the runs use the full photo
(inpnet.web.photo and the page's handlers). The limit is lowered so that tiny photos count as large; the
browser side (the hook that uploads such a photo as it is) is driven in test_web_browser.py."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from conftest import editor_value
from inpnet.imageio import in_srgb
from inpnet.models import build_model
from inpnet.predict import InpaintPipeline
from inpnet.web import events, inputs, photo
from inpnet.web.photo import WorkingPhoto, shown_copy, shown_size
from inpnet.web.runner import WebInpainter

LIMIT = 1200  # pixels: a 48 x 64 photo (3072 px) is "large", its copy 30 x 40


@pytest.fixture(autouse=True)
def small_limit(monkeypatch):
    monkeypatch.setattr(photo, "EDITOR_PIXELS", LIMIT)


@pytest.fixture(scope="module")
def page() -> events.PageEvents:
    torch.manual_seed(0)
    pipe = InpaintPipeline(build_model("skip-recon", preset="nano"))
    return events.PageEvents(WebInpainter(pipe, model_name="m"))


def smooth_photo(h: int = 48, w: int = 64) -> np.ndarray:
    """A photo with structure at every scale that survives downscaling (so copies of it are recognisable)."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([128 + 100 * np.sin(x / 5), 128 + 100 * np.cos(y / 4), (x * 3 + y * 2) % 256], axis=2)
    return rgb.astype(np.uint8)


def save(image: np.ndarray, path) -> str:
    Image.fromarray(image).save(path)
    return str(path)


# ---- the copy ----------------------------------------------------------------------------------------------


def test_a_photo_within_the_limit_is_its_own_copy_and_a_larger_one_keeps_its_shape_under_it():
    assert shown_size(30, 40) == (30, 40) and WorkingPhoto.of(smooth_photo(30, 40)) is None
    for h, w in ((48, 64), (64, 48), (20, 300), (1000, 1000)):
        sh, sw = shown_size(h, w)
        assert sh * sw <= LIMIT and abs(sh / sw - h / w) < 0.06 * h / w + 1 / sw
        assert sh * sw > 0.85 * LIMIT  # no smaller than it needs to be (sides rounded down)
    image, small = smooth_photo(), smooth_photo(30, 40)
    assert shown_copy(image).shape == (30, 40, 3) and shown_copy(small) is small


def test_the_copy_is_recognised_after_a_png_round_trip_and_another_photo_is_not(tmp_path):
    work = WorkingPhoto.of(smooth_photo())
    back = np.asarray(Image.open(save(work.shown, tmp_path / "copy.png")))  # what the browser sends back
    assert work.holds(back)
    assert not work.holds(255 - back)  # another photo of the same size
    assert not work.holds(smooth_photo(30, 41))
    assert not work.holds(np.clip(back.astype(int) + 3, 0, 255).astype(np.uint8))  # 3 levels off everywhere


def test_strokes_on_the_copy_cover_the_same_part_of_the_full_photo():
    work = WorkingPhoto.of(smooth_photo(480, 640))  # copy 30 x 40: 16 x 16 full pixels a copy pixel
    stroke = np.zeros((30, 40), dtype=bool)
    stroke[10:20, 5:15] = True
    full = work.full_hole(stroke)
    expected = np.zeros((480, 640), dtype=bool)
    expected[160:320, 80:240] = True
    assert full.shape == (480, 640)
    assert (full & expected).sum() / (full | expected).sum() > 0.9  # the outline within a copy pixel
    assert not full[:140].any() and not full[340:].any()


# ---- the handlers --------------------------------------------------------------------------------------------


def test_opening_a_large_photo_shows_the_editor_its_copy_and_keeps_the_full_photo(page, tmp_path):
    image = smooth_photo()
    update, work, picked, status, cleared = page.opened(save(image, tmp_path / "phone.png"), {"box": [1110, 770]},
                                                        40)
    assert np.array_equal(work.full, image) and work.shown.shape == (30, 40, 3)
    sent = np.asarray(Image.open(update.value["background"]["path"]))  # the file the browser loads
    assert np.array_equal(sent[..., :3], work.shown) and update.value["layers"] == []
    assert (picked["name"], picked["width"], picked["height"]) == ("phone.png", 40, 30)
    assert status.startswith("phone.png (64x48; you paint on a 40x30 copy, the result is full size)")
    assert cleared is None  # the hidden upload is emptied, so the same file can be opened again
    assert update.brush.default_size == events.brush_radius(picked, 40)


def test_opening_a_file_that_is_not_an_image_says_so_by_name(page, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.warns(UserWarning):
        *_, status, _ = page.opened(str(tmp_path / "notes.png"), None, 40)
    assert status == "**notes.png: not an image, or an unsupported format**"


def test_the_browsers_report_of_a_large_photo_waits_for_the_copy_or_takes_its_size(page, tmp_path):
    report = '{"name": "phone.png", "ok": true, "width": 64, "height": 48, "box": [1110, 770]}'
    picked, status, editor, _, *_ = page.picked(report, 40)
    assert status == "Opening phone.png (64x48)…" and editor is not None and picked["width"] == 64
    assert type(editor) is type(events.status_update("")[0])  # no editor update: the copy comes with `opened`
    _, work, *_ = page.opened(save(smooth_photo(), tmp_path / "phone.png"), None, 40)
    picked, status, *_ = page.picked(report, 40, work)  # the copy was shown first
    assert (picked["width"], picked["height"]) == (40, 30) and "40x30 copy" in status


def test_remove_fills_the_full_photo_from_strokes_on_the_copy(page, tmp_path):
    image = smooth_photo()
    _, work, *_ = page.opened(save(image, tmp_path / "phone.png"), None, 40)
    stroke = np.zeros((30, 40), dtype=bool)
    stroke[8:22, 10:30] = True
    back = np.asarray(Image.open(save(work.shown, tmp_path / "copy.png")))
    *_, done = list(page.remove(editor_value(back, stroke), {"name": "phone.png"}, None, inputs.NO_PRESET, 0.5, 0,
                               "auto", [], None, work))
    (before, after), download, status, _, _, latest, _ = done
    result = np.asarray(Image.open(latest))
    hole = work.full_hole(stroke)
    assert result.shape == image.shape and download["value"] == latest
    assert np.array_equal(result[~hole], image[~hole]) and (result[hole] != image[hole]).any()
    assert np.asarray(Image.open(before)).shape == after.shape == (30, 40, 3)  # compared at the copy's size
    assert status.startswith("Filled 1 region")


def test_remove_uses_the_editors_own_photo_once_the_user_opened_another(page, tmp_path):
    _, work, *_ = page.opened(save(smooth_photo(), tmp_path / "phone.png"), None, 40)
    other = np.full((30, 40, 3), 90, np.uint8)
    stroke = np.zeros((30, 40), dtype=bool)
    stroke[5:10, 5:10] = True
    *_, done = list(page.remove(editor_value(other, stroke), {"name": "other.png"}, None, inputs.NO_PRESET, 0.5, 0,
                               "auto", [], None, work))
    assert Image.open(done[5]).size == (40, 30)  # the editor's photo (grey: written as one channel)


def test_restore_restores_the_full_photo(page, tmp_path):
    image = smooth_photo()
    _, work, *_ = page.opened(save(image, tmp_path / "phone.png"), None, 40)
    *_, done = list(page.restore(editor_value(work.shown), {"name": "phone.png"}, [], work))
    assert np.asarray(Image.open(done[5])).shape == image.shape


def test_a_large_result_goes_back_into_the_editor_as_its_copy(page, tmp_path):
    result = smooth_photo()
    path = save(result, tmp_path / "phone_inpainted.png")
    value, _, work = page.keep_editing(path)
    assert np.array_equal(work.full, result) and np.array_equal(value["background"], work.shown)
    value, latest, _, work, _, _ = page.from_history([(path, "phone_inpainted.png")], SimpleNamespace(index=0))
    assert latest == path and work.shown.shape == (30, 40, 3)


# ---- colours -----------------------------------------------------------------------------------------------


def rgb_profile_bytes(red_xyz, green_xyz, blue_xyz) -> bytes:
    """A minimal ICC v2 RGB display profile (matrix/TRC, gamma 1), to tag test photos with primaries other
    than sRGB's; Pillow can only create sRGB itself."""

    def xyz(values) -> bytes:
        return b"XYZ " + bytes(4) + b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    desc_text = b"test\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(desc_text)) + desc_text + bytes(4 + 4 + 2 + 1 + 67)
    gamma1 = b"curv" + bytes(4) + struct.pack(">I", 1) + struct.pack(">H", 256) + bytes(2)
    tags = [(b"desc", desc), (b"wtpt", xyz((0.9642, 1.0, 0.8249))), (b"rXYZ", xyz(red_xyz)),
            (b"gXYZ", xyz(green_xyz)), (b"bXYZ", xyz(blue_xyz)), (b"rTRC", gamma1), (b"gTRC", gamma1),
            (b"bTRC", gamma1)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"none" + bytes([2, 0x10, 0, 0]) + b"mntr" + b"RGB " + b"XYZ "
              + bytes(12) + b"acsp" + bytes(24) + bytes(4) + struct.pack(">iii", 63190, 65536, 54061))
    header += bytes(128 - len(header))
    return header + table + data


def test_a_photo_tagged_with_another_colour_space_is_shown_in_srgb(tmp_path):
    # the D50 primaries of sRGB, with red and blue swapped: a pure red pixel of this photo *is* blue
    srgb_red, srgb_green, srgb_blue = (0.4361, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141)
    icc = rgb_profile_bytes(srgb_blue, srgb_green, srgb_red)
    ImageCms.ImageCmsProfile(ImageCms.core.profile_frombytes(icc))  # a profile Little CMS accepts
    image = np.zeros((8, 8, 3), np.uint8)
    image[..., 0] = 255
    Image.fromarray(image).save(tmp_path / "tagged.png", icc_profile=icc)
    seen = inputs.read_image(tmp_path / "tagged.png", "tagged.png", srgb=True)
    assert seen[0, 0, 2] > 240 and seen[0, 0, 0] < 15  # blue, as a browser shows it
    assert np.array_equal(inputs.read_image(tmp_path / "tagged.png", "tagged.png"), image)  # the API: as stored


def test_an_unusable_profile_leaves_the_pixels_alone():
    img = Image.fromarray(np.full((4, 4, 3), 200, np.uint8))
    img.info["icc_profile"] = b"\x00" * 16 + b"RGB " + b"\x00" * 100  # says RGB, is not a profile
    assert np.array_equal(np.asarray(in_srgb(img)), np.asarray(img))


def test_a_photo_over_the_pages_limits_is_refused_when_chosen(page, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_UPLOAD_MB", 1)
    report = '{"name": "huge.tif", "ok": true, "width": 64, "height": 48, "bytes": 3000000, "box": [1110, 770]}'
    with pytest.warns(UserWarning):
        _, status, editor, _, *_ = page.picked(report, 40)
    assert status == "**huge.tif is 2.9 MB; the limit is 1 MB**"
    report = '{"name": "wide.png", "ok": true, "width": 8000, "height": 6000, "bytes": 1000, "box": [1110, 770]}'
    with pytest.warns(UserWarning):
        _, status, _, _, *_ = page.picked(report, 40)
    assert status == "**wide.png is 8000x6000 = 48 Mpx; the limit is 40 Mpx**"


def test_a_large_photo_taken_on_its_side_is_opened_upright(page, tmp_path):
    image = smooth_photo()  # 48 x 64 as stored, EXIF orientation 6: shown turned, 64 x 48
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(image).save(tmp_path / "side.jpg", exif=exif, quality=95)
    _, work, picked, status, _ = page.opened(str(tmp_path / "side.jpg"), None, 40)
    assert work.full.shape == (64, 48, 3) and (picked["width"], picked["height"]) == (30, 40)
    assert status.startswith("side.jpg (48x64;")
