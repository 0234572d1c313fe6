"""InpaintPipeline: any image size, crop / resize / auto, restoration tiles, all input types, exact pixels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from inpnet import InpNetError
from inpnet.checkpoint import save_model
from inpnet.config import ModelConfig
from inpnet.export import export_onnx
from inpnet.imageio import to_pil
from inpnet.models import build_model
from inpnet.models.output import InpaintOutput, composite
from inpnet.predict import InpaintPipeline
from inpnet.regions import Window, hole_windows, work_size

FILL = 0.25  # what the constant fake model paints: round(0.25 * 255) = 64
FILL_U8 = 64


class FakeModel:
    """A model with the nano config that records its input shapes and predicts a constant (or the input)."""

    def __init__(self, identity: bool = False) -> None:
        self.config = ModelConfig.from_name("skip-recon", preset="nano")  # 32x32, patch 8
        self.identity = identity
        self.shapes: list[tuple[int, ...]] = []

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        self.shapes.append(tuple(images.shape))
        pred = images.clone() if self.identity else torch.full_like(images, FILL)
        return InpaintOutput(pred, composite(images, mask, pred), None)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("skip-recon", preset="nano").eval()


@pytest.fixture(scope="module")
def pipe(model) -> InpaintPipeline:
    return InpaintPipeline(model)


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h, w, 3) uint8 noise with a smooth gradient, so that resampling changes values."""
    rng = np.random.default_rng(seed)
    grad = np.linspace(0, 200, w)[None, :, None] + np.linspace(0, 50, h)[:, None, None]
    return np.clip(grad + rng.integers(0, 56, (h, w, 3)), 0, 255).astype(np.uint8)


def box_hole(h: int, w: int, top: int, left: int, bh: int, bw: int) -> np.ndarray:
    hole = np.zeros((h, w), dtype=bool)
    hole[top : top + bh, left : left + bw] = True
    return hole


# ---- the acceptance test: a large photo with a small hole --------------------------------------


@pytest.mark.parametrize("strategy", ["crop", "resize", "auto"])
def test_1000x750_image_with_small_hole_keeps_size_and_every_pixel_outside_the_hole(pipe, strategy):
    image = photo(750, 1000)
    hole = box_hole(750, 1000, 300, 480, 40, 60)
    out = pipe(Image.fromarray(image), Image.fromarray(hole), strategy=strategy)
    result = np.asarray(out)
    assert out.size == (1000, 750)
    assert np.array_equal(result[~hole], image[~hole])
    assert not np.array_equal(result[hole], image[hole])


def test_auto_crops_around_a_small_hole_and_resizes_for_a_large_one(pipe):
    assert pipe.choose_strategy(box_hole(750, 1000, 300, 480, 40, 60)) == "crop"
    assert pipe.choose_strategy(box_hole(750, 1000, 100, 100, 500, 700)) == "resize"


def test_auto_resizes_an_image_no_larger_than_the_model(pipe):
    assert pipe.choose_strategy(box_hole(32, 32, 4, 4, 2, 2)) == "resize"


# ---- crop windows -----------------------------------------------------------------------------------


def test_a_small_hole_gets_one_model_size_window_containing_it():
    windows = hole_windows(box_hole(750, 1000, 300, 480, 6, 10), (32, 32))
    assert windows == [Window(top=287, left=469, height=32, width=32)]


def test_window_is_twice_the_hole_extent_when_that_exceeds_the_model_size():
    (win,) = hole_windows(box_hole(750, 1000, 300, 480, 40, 60), (32, 32))
    assert (win.height, win.width) == (120, 120)
    assert win.top <= 300 and win.top + win.height >= 340 and win.left <= 480 and win.left + win.width >= 540


def test_window_at_the_image_border_is_shifted_inside():
    (win,) = hole_windows(box_hole(750, 1000, 0, 990, 4, 10), (32, 32))
    assert win == Window(top=0, left=968, height=32, width=32)


def test_far_apart_holes_get_separate_windows_and_close_ones_are_merged():
    far = box_hole(750, 1000, 100, 100, 5, 5) | box_hole(750, 1000, 600, 900, 5, 5)
    assert len(hole_windows(far, (32, 32))) == 2
    close = box_hole(750, 1000, 100, 100, 5, 5) | box_hole(750, 1000, 100, 120, 5, 5)
    (win,) = hole_windows(close, (32, 32))
    assert win.left <= 100 and win.left + win.width >= 125


def test_windows_are_disjoint_and_cover_every_hole_pixel():
    rng = np.random.default_rng(1)
    hole = rng.random((300, 400)) < 0.002
    windows = hole_windows(hole, (32, 32))
    cover = np.zeros(hole.shape, dtype=np.int32)
    for w in windows:
        cover[w.slices] += 1
    assert cover.max() == 1
    assert cover[hole].min() == 1


@pytest.mark.parametrize("count", [3, 40])
def test_window_coverage_is_the_same_by_rectangles_and_by_difference_array(monkeypatch, count):
    """_coverage_labels fills a few windows directly and many through a difference array: same labels."""
    from inpnet import regions

    rng = np.random.default_rng(count)
    tops, lefts = rng.integers(0, 250, count), rng.integers(0, 350, count)
    sizes = rng.integers(5, 50, (count, 2))
    wins = np.stack([tops, lefts, sizes[:, 0], sizes[:, 1]], axis=1)
    monkeypatch.setattr(regions, "FEW_WINDOWS", 10**6)
    by_rectangles = regions._coverage_labels(wins, (300, 400))
    monkeypatch.setattr(regions, "FEW_WINDOWS", 0)
    by_difference = regions._coverage_labels(wins, (300, 400))
    assert np.array_equal(by_rectangles, by_difference) and by_rectangles.max() >= 1


def test_hole_windows_take_any_nonzero_mask_dtype():
    hole = box_hole(300, 400, 100, 100, 20, 30)
    assert hole_windows(hole, (32, 32)) == hole_windows(hole.astype(np.uint8) * 255, (32, 32))
    assert hole_windows(hole, (32, 32)) == hole_windows(np.asfortranarray(hole), (32, 32))


def test_work_size_keeps_the_aspect_ratio_in_multiples_of_the_patch_size():
    assert work_size(750, 1000, (32, 32), 8) == (24, 40)
    assert work_size(32, 32, (32, 32), 8) == (32, 32)
    assert work_size(3, 1000, (32, 32), 8) == (8, 128)


# ---- what the model sees and paints -------------------------------------------------------------------


@pytest.mark.parametrize(("size", "strategy"),
                         [((750, 1000), "resize"), ((750, 1000), "crop"), ((37, 53), "auto")])
def test_model_input_sides_are_multiples_of_the_patch_size(size, strategy):
    fake = FakeModel()
    hole = box_hole(*size, 10, 12, 9, 7)
    InpaintPipeline(fake, fixed_size=False, texture=0.0)(photo(*size), hole, strategy=strategy)
    assert fake.shapes and all(s[2] % 8 == 0 and s[3] % 8 == 0 for s in fake.shapes)


def test_crop_of_a_tiny_hole_runs_at_native_resolution_and_pastes_the_exact_fill():
    fake = FakeModel()
    hole = box_hole(750, 1000, 300, 480, 6, 10)
    pipe = InpaintPipeline(fake, texture=0.0, seam_correction=False)  # the fill as the model gave it
    out = np.asarray(pipe(photo(750, 1000), hole, strategy="crop"))
    assert fake.shapes == [(1, 3, 32, 32)]
    assert (out[hole] == FILL_U8).all()


def test_resize_fills_the_hole_interior_with_the_upsampled_prediction():
    fake = FakeModel()
    hole = box_hole(750, 1000, 200, 300, 300, 400)
    pipe = InpaintPipeline(fake, fixed_size=False, texture=0.0, seam_correction=False)
    out = np.asarray(pipe(photo(750, 1000), hole, strategy="resize"))
    assert fake.shapes == [(1, 3, 24, 40)]  # the photo's 4:3 aspect, about the model's pixel count
    assert (out[260:440, 360:640] == FILL_U8).all()  # away from the seam, where bicubic mixes in the image


def test_a_model_that_is_not_a_module_gets_exactly_its_training_size():
    fake = FakeModel()  # like an ONNX graph: the input size is fixed
    hole = box_hole(750, 1000, 200, 300, 300, 400)
    InpaintPipeline(fake, texture=0.0)(photo(750, 1000), hole, strategy="resize")
    assert fake.shapes == [(1, 3, 32, 32)]


def test_dilate_grows_the_hole_by_that_many_pixels():
    image = photo(64, 64)
    hole = box_hole(64, 64, 30, 30, 2, 2)
    out = np.asarray(InpaintPipeline(FakeModel(), texture=0.0)(image, hole, strategy="crop", dilate=2))
    changed = np.any(out != image, axis=2)
    assert changed[28:34, 30:32].all() and changed[30:32, 28:34].all()
    assert not changed[:27].any() and not changed[35:].any()


def test_default_has_no_dilation():
    image = photo(64, 64)
    hole = box_hole(64, 64, 30, 30, 2, 2)
    out = np.asarray(InpaintPipeline(FakeModel(), texture=0.0)(image, hole, strategy="crop"))
    assert np.array_equal(np.any(out != image, axis=2), hole)


# ---- inputs ------------------------------------------------------------------------------------------


def test_pil_numpy_tensor_and_path_inputs_give_the_same_result(pipe, tmp_path):
    image = photo(40, 56)
    hole = box_hole(40, 56, 10, 20, 8, 12)
    Image.fromarray(image).save(tmp_path / "img.png")
    Image.fromarray(hole).save(tmp_path / "mask.png")
    image_t = torch.from_numpy(image).permute(2, 0, 1).float() / 255  # (3, H, W)
    mask_t = torch.from_numpy(hole)[None].float()  # (1, H, W)
    results = [
        pipe(Image.fromarray(image), Image.fromarray(hole)),
        pipe(image, hole),
        pipe(image_t, mask_t),
        pipe(image_t[None], mask_t[None]),
        pipe(tmp_path / "img.png", tmp_path / "mask.png"),
        pipe(str(tmp_path / "img.png"), str(tmp_path / "mask.png")),
    ]
    for r in results[1:]:
        assert np.array_equal(np.asarray(r), np.asarray(results[0]))


def test_a_list_of_images_gives_a_list_of_results(pipe):
    images = [photo(40, 56, seed=1), photo(48, 32, seed=2)]
    masks = [box_hole(40, 56, 5, 5, 4, 4), box_hole(48, 32, 20, 10, 6, 6)]
    out = pipe(images, masks)
    assert [o.size for o in out] == [(56, 40), (32, 48)]
    assert np.array_equal(np.asarray(out[1]), np.asarray(pipe(images[1], masks[1])))


def test_a_batch_tensor_with_one_mask_for_all(pipe):
    images = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = pipe(images, box_hole(32, 32, 8, 8, 8, 8))
    assert len(out) == 3 and all(o.size == (32, 32) for o in out)


def test_image_and_mask_counts_must_match(pipe):
    with pytest.raises(InpNetError, match="2 images but 1 masks"):
        pipe([photo(32, 32), photo(32, 32)], [box_hole(32, 32, 0, 0, 4, 4)])


def test_a_mask_without_hole_returns_the_image_unchanged_without_running_the_model():
    fake = FakeModel()
    image = photo(40, 56)
    out = InpaintPipeline(fake, texture=0.0)(image, np.zeros((40, 56), dtype=np.uint8))
    assert np.array_equal(np.asarray(out), image)
    assert fake.shapes == []


def test_a_mask_of_another_size_is_resized_with_a_warning():
    image = photo(64, 64)
    with pytest.warns(UserWarning, match="mask 32x32 resized to the image size 64x64") as caught:
        out = InpaintPipeline(FakeModel(), texture=0.0)(image, box_hole(32, 32, 8, 8, 4, 4), strategy="crop")
    assert caught[0].filename == __file__  # the warning points at the caller's line, not into inpnet
    changed = np.any(np.asarray(out) != image, axis=2)
    assert np.array_equal(changed, box_hole(64, 64, 16, 16, 8, 8))


def test_resize_mask_false_refuses_a_mask_of_another_size():
    pipe = InpaintPipeline(FakeModel(), resize_mask=False)
    with pytest.raises(InpNetError, match="mask is 32x32 pixels but the image is 64x48"):
        pipe(photo(48, 64), box_hole(32, 32, 8, 8, 4, 4))


def test_unknown_strategy_is_refused(pipe):
    with pytest.raises(InpNetError, match="unknown strategy 'tile'"):
        pipe(photo(32, 32), box_hole(32, 32, 0, 0, 4, 4), strategy="tile")


def test_exif_orientation_is_applied(tmp_path):
    image = photo(40, 60)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(image).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    out = InpaintPipeline(FakeModel(), texture=0.0)(tmp_path / "phone.jpg", box_hole(60, 40, 10, 10, 4, 4))
    assert out.size == (40, 60)


def test_a_model_without_config_is_refused():
    with pytest.raises(InpNetError, match="needs a model with a .config"):
        InpaintPipeline(lambda images, mask: None)


# ---- restoration (ratio 0) ----------------------------------------------------------------------------


def test_restore_of_a_model_size_image_is_the_models_prediction(model):
    image = photo(32, 32)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        expected = to_pil(model(x, torch.zeros(1, 1, 32, 32)).prediction)
    one_view = InpaintPipeline(model, texture=0.0, self_ensemble=1)
    assert np.array_equal(np.asarray(one_view.restore(image)), np.asarray(expected))


@pytest.mark.parametrize("views", [1, 2, 4, 8])
def test_restore_self_ensemble_averages_the_views_mapped_back(model, views):
    """Each view is the tile flipped / rotated, run, and turned back: an identity model gives the image back
    for any number of views, and the real model's mean over the views is what restore returns."""
    from inpnet.restoration import ENSEMBLE_VIEWS

    image = photo(32, 32)
    assert np.array_equal(np.asarray(InpaintPipeline(FakeModel(identity=True), self_ensemble=views).restore(image)),
                          image)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    preds = []
    with torch.no_grad():
        for turns, flip in ENSEMBLE_VIEWS[:views]:
            view = torch.rot90(x, turns, (-2, -1))
            view = view.flip(-1) if flip else view
            pred = model(view, torch.zeros(1, 1, 32, 32)).prediction
            preds.append(torch.rot90(pred.flip(-1) if flip else pred, -turns, (-2, -1)))
    expected = to_pil(torch.stack(preds).mean(0).clamp(0, 1))
    got = InpaintPipeline(model, texture=0.0, self_ensemble=views).restore(image)
    assert np.abs(np.asarray(got, np.int16) - np.asarray(expected, np.int16)).max() <= 1  # float summation order


def test_self_ensemble_default_and_bad_values():
    assert InpaintPipeline(FakeModel(identity=True)).self_ensemble == 4
    with pytest.raises(InpNetError, match="self_ensemble must be"):
        InpaintPipeline(FakeModel(identity=True), self_ensemble=3)
    from inpnet.restoration import check_views

    assert check_views(4, (32, 48)) == 4  # flips keep a non-square tile's shape
    with pytest.raises(InpNetError, match="not square"):
        check_views(8, (32, 48))


@pytest.mark.parametrize("size", [(50, 75), (20, 27), (100, 9)])
def test_restore_tiles_blend_back_to_the_exact_image_with_an_identity_model(size):
    fake = FakeModel(identity=True)
    image = photo(*size)
    out = InpaintPipeline(fake, batch_size=4).restore(image)
    assert np.array_equal(np.asarray(out), image)
    assert all(s[2:] == (32, 32) for s in fake.shapes)


def test_restore_tiles_a_non_multiple_size_with_the_real_model(pipe):
    out = pipe.restore(photo(50, 75))
    assert out.size == (75, 50)


class TintModel(FakeModel):
    """The identity plus a colour tint (+6 levels red, -6 blue): what the real network does faintly to a
    black-and-white photo, exaggerated and exact."""

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        self.shapes.append(tuple(images.shape))
        pred = images + torch.tensor([6.0, 0.0, -6.0]).view(1, 3, 1, 1) / 255
        return InpaintOutput(pred, composite(images, mask, pred), None)


def grey_photo(h: int, w: int) -> Image.Image:
    """An L image whose levels stay 6 away from 0 and 255, so that the tint is not clipped."""
    return Image.fromarray(np.clip(photo(h, w)[..., 0], 6, 249), mode="L")


def channel_spread(image: Image.Image) -> int:
    arr = np.asarray(image).astype(int)
    return int((arr.max(-1) - arr.min(-1)).max())


def test_a_black_and_white_photo_is_restored_without_colour():
    grey = grey_photo(32, 32)
    out = InpaintPipeline(TintModel(), self_ensemble=1).restore(grey)
    # the tint averages out over the channels: the identity's grey comes back exactly
    assert np.array_equal(np.asarray(out), np.asarray(grey.convert("RGB")))
    colour = InpaintPipeline(TintModel(), self_ensemble=1).restore(photo(32, 32))
    assert channel_spread(colour) > 0  # a colour photo keeps what the model gives it


def test_a_black_and_white_photo_gets_a_grey_fill_and_its_known_pixels_exact():
    grey = grey_photo(48, 40)
    hole = box_hole(48, 40, 10, 8, 20, 16)
    out = np.asarray(InpaintPipeline(TintModel(), texture=0)(grey, hole))
    assert channel_spread(Image.fromarray(out)) == 0
    assert np.array_equal(out[~hole], np.asarray(grey.convert("RGB"))[~hole])
    almost = np.asarray(grey.convert("RGB")).copy()
    almost[0, 0] = (10, 20, 30)  # one coloured known pixel: a colour photo, the model's fill is kept as it is
    tinted = np.asarray(InpaintPipeline(TintModel(), texture=0, seam_correction=False)(almost, hole))  # (a constant
    # tint is what the seam correction takes out: off, to see that the grey rule leaves a colour photo alone)
    assert channel_spread(Image.fromarray(tinted[hole].reshape(-1, 1, 3))) > 0


@given(n=st.integers(1, 1200), tile=st.sampled_from([32, 96, 128, 224]))
def test_restore_tiles_cover_the_padded_side_and_start_on_the_jpeg_grid(n, tile):
    """Tiles start on multiples of TILE_GRID (a JPEG's blocks fall on every tile's grid as in training), cover
    the side padded by `grid_length` end to end, and overlap by at least the overlap asked for."""
    from inpnet.restoration import TILE_GRID, grid_length, tile_starts

    overlap = tile // 4
    padded = max(tile, grid_length(n, tile, TILE_GRID))
    assert padded == tile if n <= tile else n <= padded < n + TILE_GRID
    starts = tile_starts(padded, tile, overlap, TILE_GRID)
    assert starts[0] == 0 and starts[-1] + tile == padded and starts == sorted(set(starts))
    assert all(s % TILE_GRID == 0 for s in starts)
    assert all(b - a <= tile - overlap for a, b in zip(starts, starts[1:]))


def test_restore_reports_each_batch_of_tiles_and_a_one_batch_image_gets_no_bar(capsys):
    from inpnet.restoration import restore_tiled

    calls: list[tuple[int, int]] = []
    x = torch.rand(1, 3, 100, 100)  # 32-px tiles overlapping by 8: 4 x 4 = 16 tiles
    out = restore_tiled(lambda tiles, empty: tiles, x, (32, 32), batch_size=5, views=1,
                        on_batch=lambda done, total: calls.append((done, total)))
    assert calls == [(5, 16), (10, 16), (15, 16), (16, 16)]
    assert torch.allclose(out, x, atol=1e-6)
    pipe = InpaintPipeline(FakeModel(identity=True), batch_size=16)
    pipe.restore(photo(100, 100), progress=True)  # 16 tiles: one batch
    assert capsys.readouterr().err == ""


def test_outputs_carry_the_photos_rgb_icc_profile(tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "tagged.png"
    Image.fromarray(photo(32, 40)).save(path, icc_profile=icc)
    pipe = InpaintPipeline(FakeModel(), texture=0)
    hole = box_hole(32, 40, 8, 8, 10, 12)
    for out in (pipe(path, hole), pipe(path, np.zeros((32, 40), bool)), pipe.restore(path)):
        assert out.info.get("icc_profile") == icc
    assert "icc_profile" not in pipe(photo(32, 40), hole).info  # an untagged photo stays untagged


def test_restore_of_a_list_gives_a_list(pipe):
    assert [o.size for o in pipe.restore([photo(32, 32), photo(40, 24)])] == [(32, 32), (24, 40)]


# ---- loading ------------------------------------------------------------------------------------------


def test_from_pretrained_loads_a_saved_checkpoint(model, pipe, tmp_path):
    save_model(model, tmp_path / "ck")
    loaded = InpaintPipeline.from_pretrained(tmp_path / "ck")
    image, hole = photo(40, 56), box_hole(40, 56, 10, 20, 8, 12)
    # its decoder's BatchNorms are folded into the convolutions (the same output up to float rounding)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.model.modules())
    diff = np.abs(np.asarray(loaded(image, hole), np.int16) - np.asarray(pipe(image, hole), np.int16))
    assert diff.max() <= 1


def test_from_pretrained_without_shipped_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("INPNET_WEIGHTS", str(tmp_path / "none"))
    with pytest.raises(InpNetError, match=r"shipped weights: INPNET_WEIGHTS=.* holds no model: point it at"):
        InpaintPipeline.from_pretrained()


def _fake_model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    return folder


def test_inpnet_weights_may_name_a_weights_folder_or_one_model(tmp_path, monkeypatch):
    from inpnet.checkpoint import repo_root, resolve_checkpoint, shipped_restore_dir, shipped_weights_dir

    checkout = repo_root() / "weights"
    default = checkout / (checkout / "DEFAULT").read_text().strip()
    monkeypatch.setenv("INPNET_WEIGHTS", str(checkout))  # the checkout's weights/, as the README invites
    assert shipped_weights_dir() == default and shipped_restore_dir() == default
    monkeypatch.setenv("INPNET_WEIGHTS", str(default))  # one model's folder: that model for both
    assert shipped_weights_dir() == default and shipped_restore_dir() == default
    root = tmp_path / "weights"  # a copy with a separate restorer
    inpainter, restorer = _fake_model(root / "a"), _fake_model(root / "b")
    (root / "DEFAULT").write_text("a\n")
    (root / "RESTORE").write_text("b\n")
    monkeypatch.setenv("INPNET_WEIGHTS", str(root))
    assert shipped_weights_dir() == inpainter and shipped_restore_dir() == restorer
    assert resolve_checkpoint(root) == inpainter  # --checkpoint weights/ too
    (root / "DEFAULT").unlink()
    with pytest.raises(InpNetError, match=r"holds no model: .*the models inside it: a, b \(pass one\)"):
        shipped_weights_dir()
    with pytest.raises(InpNetError, match=r"has no config.json .*the models inside it: a, b \(pass one\)"):
        resolve_checkpoint(root)
    (root / "DEFAULT").write_text("gone\n")
    with pytest.raises(InpNetError, match=r"shipped weights .*gone \(named in .*DEFAULT\) are missing"):
        shipped_weights_dir()
    (root / "DEFAULT").write_text("\n")  # emptied by hand: said to be "weights/ ... missing" before
    with pytest.raises(InpNetError, match=r"DEFAULT should hold one line.*it holds nothing; the models inside it: a, b"):
        shipped_weights_dir()
    (root / "DEFAULT").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InpNetError, match=r"cannot read .*DEFAULT"):
        shipped_weights_dir()


def test_from_onnx_runs_the_exported_model_like_pytorch(model, tmp_path):
    export_onnx(model, tmp_path / "nano.onnx")
    onnx_pipe = InpaintPipeline.from_onnx(tmp_path / "nano.onnx")
    torch_pipe = InpaintPipeline(model, fixed_size=True)
    image, hole = photo(750, 1000), box_hole(750, 1000, 300, 480, 40, 60) | box_hole(750, 1000, 10, 10, 5, 5)
    got = np.asarray(onnx_pipe(image, hole)).astype(int)
    expected = np.asarray(torch_pipe(image, hole)).astype(int)
    assert np.abs(got - expected).max() <= 1  # 1e-4 apart before rounding to 8 bits
    assert np.array_equal(got[~hole], image[~hole])
    assert onnx_pipe.restore(photo(50, 75)).size == (75, 50)


# ---- streams --------------------------------------------------------------------------------------------


def test_stream_gives_each_frames_own_fill_in_order():
    model = build_model("skip-recon", preset="nano").eval()
    pipe = InpaintPipeline(model, texture=0.0)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(5)]
    holes = [box_hole(40, 48, 4 + i, 6 + i, 9, 11) for i in range(5)]
    one_at_a_time = [np.asarray(pipe(f, h)) for f, h in zip(frames, holes)]
    streamed = [np.asarray(out) for out in pipe.stream(iter(frames), iter(holes), in_flight=3)]
    assert len(streamed) == 5 and all(np.array_equal(a, b) for a, b in zip(streamed, one_at_a_time))
    same_hole = [np.asarray(out) for out in pipe.stream(frames, holes[0])]  # one mask for every frame
    assert all(np.array_equal(a, np.asarray(pipe(f, holes[0]))) for a, f in zip(same_hole, frames))
    import io

    png = io.BytesIO()
    Image.fromarray(holes[1]).save(png, format="PNG")  # an encoded mask (bytes) is one mask too
    from_bytes = [np.asarray(out) for out in pipe.stream(frames, png.getvalue())]
    assert len(from_bytes) == 5 and all(np.array_equal(a, np.asarray(pipe(f, holes[1])))
                                        for a, f in zip(from_bytes, frames))


def test_stream_reads_lazily_and_raises_a_bad_frame_in_its_turn():
    pipe = InpaintPipeline(build_model("skip-recon", preset="nano").eval(), texture=0.0)
    good = np.full((32, 32, 3), 100, np.uint8)
    hole = box_hole(32, 32, 8, 8, 8, 8)
    read = []

    def frames():
        for i in range(100):
            read.append(i)
            yield good if i != 2 else "no-such-photo.png"

    out = pipe.stream(frames(), hole, in_flight=2)
    assert np.asarray(next(out)).shape == (32, 32, 3) and len(read) <= 3  # not all 100 read up front
    next(out)
    with pytest.raises(InpNetError):
        next(out)


def test_a_mask_with_no_hole_or_only_hole_gets_a_note():
    pipe = InpaintPipeline(build_model("skip-recon", preset="nano").eval(), texture=0.0)
    image = photo(32, 32)
    with pytest.warns(UserWarning, match="no hole"):
        assert np.array_equal(np.asarray(pipe(image, np.zeros((32, 32), bool))), image)
    with pytest.warns(UserWarning, match="covers the whole image"):
        pipe(image, np.ones((32, 32), bool))


def test_a_stream_whose_masks_run_out_raises_in_that_frames_turn_instead_of_ending_early():
    pipe = InpaintPipeline(build_model("skip-recon", preset="nano").eval(), texture=0.0)
    frames = [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(5)]
    holes = [box_hole(32, 32, 8, 8, 8, 8)] * 2
    out = pipe.stream(frames, holes)
    assert len([next(out), next(out)]) == 2
    with pytest.raises(InpNetError, match="masks ran out after 2 frames"):
        next(out)


def test_a_float_image_in_0_to_255_is_an_error_not_a_washed_out_fill():
    pipe = InpaintPipeline(build_model("skip-recon", preset="nano").eval(), texture=0.0)
    image = np.random.default_rng(0).uniform(0, 255, (32, 32, 3))
    hole = box_hole(32, 32, 8, 8, 8, 8)
    with pytest.raises(InpNetError, match=r"must be in \[0, 1\]"):
        pipe(image, hole)
    with pytest.raises(InpNetError, match=r"must be in \[0, 1\]"):
        pipe(torch.from_numpy(image).permute(2, 0, 1).float(), hole)
    assert np.asarray(pipe(image / 255.0, hole)).shape == (32, 32, 3)  # the same photo in [0, 1] is fine


@pytest.mark.parametrize(("values", "message"), [
    (np.full((32, 32, 3), np.nan), "NaN or infinite"),
    (np.full((32, 32, 3), -0.5), r"got down to -0.5"),
    (np.full((32, 32, 3), 300, np.int64), "int64 image values must be in 0-255, got 300 to 300"),
    (np.full((32, 32, 3), -3, np.int16), "int16 image values must be in 0-255"),
])
def test_nan_negative_and_out_of_range_integer_images_are_one_line_errors(values, message):
    pipe = InpaintPipeline(build_model("skip-recon", preset="nano").eval(), texture=0.0)
    with pytest.raises(InpNetError, match=message):
        pipe(values, box_hole(32, 32, 8, 8, 8, 8))
    assert np.asarray(pipe(np.full((32, 32, 3), 200, np.int64), box_hole(32, 32, 8, 8, 8, 8))).shape == (32, 32, 3)


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_stream_rejects_a_bad_in_flight_count(bad):
    pipe = InpaintPipeline(build_model("skip-recon", preset="nano").eval(), texture=0.0)
    with pytest.raises(InpNetError, match="in_flight"):
        next(pipe.stream([np.zeros((8, 8, 3), np.uint8)], np.zeros((8, 8), bool), in_flight=bad))


def test_paste_copies_the_source_exactly_where_asked_into_views_of_any_layout():
    from inpnet.predict import paste

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    source = np.ascontiguousarray(rng.integers(0, 256, (3, 30, 20), dtype=np.uint8)).transpose(1, 2, 0)  # strided
    where = rng.random((40, 50)) < 0.3
    expected = image.copy()
    expected[5:35, 10:30][where[5:35, 10:30]] = source[where[5:35, 10:30]]
    out = image.copy()
    out[5:35, 10:30] = paste(out[5:35, 10:30], source, where[5:35, 10:30])  # a view of the image, a strided mask
    assert np.array_equal(out, expected)


def test_api_arguments_of_the_wrong_kind_are_one_line_errors(model, pipe, tmp_path):
    """Review 12: these raised TypeError / ValueError from deep inside, or were taken silently (a path to
    `stream` was read character by character; which="worst" loaded the best weights; batch_size=0 became 1)."""
    from inpnet.checkpoint import load_model
    from inpnet.originals import save_result
    from inpnet.video import inpaint_video_file

    hole = box_hole(32, 32, 8, 8, 8, 8)
    cases = [
        (lambda: InpaintPipeline(model, batch_size=0), "batch_size must be a positive number"),
        (lambda: InpaintPipeline(model, batch_size=float("nan")), "batch_size must be a positive number"),
        (lambda: load_model(42), "a checkpoint is a path"),
        (lambda: load_model(None, which="worst"), "which must be 'best' or 'last'"),
        (lambda: list(pipe.stream("video.mp4", hole)), "stream takes an iterable of frames, not a path"),
        (lambda: list(pipe.stream(42, hole)), "stream takes an iterable of frames, got int"),
        (lambda: inpaint_video_file("in.mp4", "m.png", tmp_path / "o.mp4", pipeline="x"),
         "pipeline must be an InpaintPipeline"),
        (lambda: inpaint_video_file("in.mp4", "m.png", tmp_path / "o.mp4", options="fast"),
         "options must be a VideoOptions"),
        (lambda: inpaint_video_file(tmp_path, "m.png", tmp_path / "o.mp4", pipe, fps=float("nan")), "--fps must be"),
    ]
    Image.fromarray(photo(32, 32)).save(tmp_path / "p.png")
    cases += [
        (lambda: save_result(tmp_path / "p.png", np.zeros((32, 32, 3), np.uint8), tmp_path / "o.png"),
         "result must be the pipeline's image"),
        (lambda: save_result(b"p.png", Image.new("RGB", (32, 32)), tmp_path / "o.png"),
         "source must be the photo's file path"),
    ]
    rgba = np.dstack([photo(32, 32), np.full((32, 32), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    cases.append((lambda: save_result(tmp_path / "cut.png", Image.new("RGB", (20, 32)), tmp_path / "o.png"),
                  "the result is 20x32 but cut.png is 32x32: not its result"))
    for call, said in cases:
        with pytest.raises(InpNetError, match=re.escape(said)):
            call()


def test_the_patch_grid_of_the_networks_fill_is_softened_and_a_flat_fill_stays_flat():
    from inpnet.predict import smooth_patch_grid

    flat = torch.full((1, 3, 32, 32), 0.4)
    assert torch.allclose(smooth_patch_grid(flat, 8), flat, atol=1e-6)
    blocks = torch.zeros(1, 3, 32, 32)
    blocks[..., :, 8:16] = blocks[..., :, 24:32] = 1.0  # 8-px columns: the decoded patch grid, exaggerated
    soft = smooth_patch_grid(blocks, 8)
    step = lambda t: (t[..., 8] - t[..., 7]).abs().max().item()  # noqa: E731 - the jump across a block edge
    assert step(blocks) == 1.0 and step(soft) < 0.5
    assert soft.shape == blocks.shape and soft.min() >= 0.0 and soft.max() <= 1.0
