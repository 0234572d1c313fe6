"""The texture metric, the PatchMatch baseline and the texture step of the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpnet.errors import InpNetError
from inpnet.eval.baselines import ClassicalInpainter
from inpnet.eval.metrics import compute_metrics, erode_hole, texture
from inpnet.texture import hole_regions, patchmatch_inpaint, texture_available, transfer_texture


def _stripes(h: int = 64, w: int = 80, period: int = 6) -> np.ndarray:
    """(H,W,3) uint8: vertical stripes on a gentle gradient: a texture with a known period."""
    xx = np.arange(w)[None, :].repeat(h, 0)
    yy = np.arange(h)[:, None].repeat(w, 1)
    base = 0.45 + 0.25 * ((xx // (period // 2)) % 2) + 0.1 * yy / h
    rgb = np.stack([base, base * 0.9, base * 0.7], -1)
    return np.clip(rgb * 255, 0, 255).astype(np.uint8)


def _box(h: int = 64, w: int = 80) -> np.ndarray:
    hole = np.zeros((h, w), dtype=bool)
    hole[20:44, 26:54] = True
    return hole


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255


def _m(hole: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(hole)[None, None].float()


# ---- the metric ---------------------------------------------------------------------------------------


def test_texture_is_one_for_the_original_and_near_zero_for_a_flat_fill():
    image, hole = _stripes(), _box()
    flat = image.copy()
    flat[hole] = image[hole].mean(0).astype(np.uint8)
    assert texture(_t(image), _t(image), _m(hole)).item() == pytest.approx(1.0)
    assert texture(_t(flat), _t(image), _m(hole)).item() < 0.02


def test_texture_scales_with_contrast_and_is_in_compute_metrics():
    image, hole = _stripes(), _box()
    mean = image[hole].astype(np.float32).mean(0)
    half = image.astype(np.float32)
    half[hole] = mean + 0.5 * (half[hole] - mean)  # half the contrast inside the hole
    ratio = texture(_t(half.round().astype(np.uint8)), _t(image), _m(hole)).item()
    assert 0.45 < ratio < 0.55
    metrics = compute_metrics(_t(half.round().astype(np.uint8)), _t(image), _m(hole))
    assert metrics["texture"].item() == pytest.approx(ratio)


def test_texture_ignores_the_seam_and_is_nan_without_an_inner_hole():
    hole = np.zeros((16, 16), dtype=bool)
    hole[5:9, 5:9] = True  # 4 px wide: eroded by 2 px on each side -> empty
    assert erode_hole(_m(hole)).sum() == 0
    image = _stripes(16, 16)
    assert torch.isnan(texture(_t(image), _t(image), _m(hole))).all()
    flat = np.full((32, 32, 3), 128, np.uint8)  # a flat original: no detail to compare with
    assert torch.isnan(texture(_t(flat), _t(flat), _m(_box(32, 32)[:32, :32]))).all()


# ---- PatchMatch ---------------------------------------------------------------------------------------


def test_patchmatch_is_available_on_this_platform():
    # pypatchmatch is a declared dependency on Linux x86-64 (CI's platform): it must load, not skip
    assert texture_available()


def test_patchmatch_baseline_keeps_known_pixels_bit_exact_and_copies_texture():
    image, hole = _stripes(), _box()
    x = _t(image)
    out = ClassicalInpainter("patchmatch")(x * (1 - _m(hole)), _m(hole)).composite
    assert torch.equal(out[_m(hole).expand_as(out) == 0], x[_m(hole).expand_as(x) == 0])
    assert texture(out, x, _m(hole)).item() > 0.7  # stripes copied, not smeared
    telea = ClassicalInpainter("telea")(x * (1 - _m(hole)), _m(hole)).composite
    assert texture(out, x, _m(hole)).item() > texture(telea, x, _m(hole)).item()


# ---- the texture step ---------------------------------------------------------------------------------


def test_transfer_keeps_outside_pixels_and_brings_back_detail_without_losing_fidelity():
    image, hole = _stripes(), _box()
    smooth = image.copy()
    smooth[hole] = image[hole].mean(0).astype(np.uint8)  # a faithful but flat fill (the mean colour)
    out = transfer_texture(image, hole, smooth)
    assert np.array_equal(out[~hole], image[~hole])
    assert texture(_t(out), _t(image), _m(hole)).item() > 0.7
    assert texture(_t(smooth), _t(image), _m(hole)).item() < 0.05


def test_copied_detail_fades_in_over_the_holes_first_pixels_and_not_at_the_image_border():
    from inpnet.texture import EDGE_RAMP, edge_weight

    hole = np.zeros((8, 10), dtype=bool)
    hole[:, :6] = True  # the hole touches the image's left, top and bottom borders: only column 5 is an edge
    w = edge_weight(hole)
    assert EDGE_RAMP == 2 and np.allclose(w[:, 5], 0) and np.allclose(w[:, 4], 0.5) and np.allclose(w[:, :4], 1)
    assert not w[~hole].any() and np.array_equal(edge_weight(hole, ramp=0), hole.astype(np.float32))
    image, box = _stripes(), _box()
    fill = np.where(box[..., None], 128, image).astype(np.uint8)
    out = transfer_texture(image, box, fill)
    rim = box & (edge_weight(box) == 0)  # the hole's outermost pixels keep the fill; inside, detail comes in
    assert rim.any() and np.array_equal(out[rim], fill[rim])
    inner = edge_weight(box) == 1
    assert np.abs(out[inner].astype(int) - 128).mean() > 5


def test_transfer_strength_zero_is_the_fill_and_bad_strength_is_an_error():
    image, hole = _stripes(), _box()
    fill = image.copy()
    fill[hole] = 100
    assert np.array_equal(transfer_texture(image, hole, fill, strength=0.0), fill)
    with pytest.raises(InpNetError, match="strength"):
        transfer_texture(image, hole, fill, strength=1.5)


def test_transfer_is_deterministic_and_handles_no_hole_and_all_hole():
    image, hole = _stripes(), _box()
    fill = image.copy()
    fill[hole] = 90
    assert np.array_equal(transfer_texture(image, hole, fill), transfer_texture(image, hole, fill))
    none = np.zeros_like(hole)
    assert np.array_equal(transfer_texture(image, none, fill), image)
    full = np.ones_like(hole)
    assert np.array_equal(transfer_texture(image, full, fill), fill)


def test_hole_regions_cover_every_hole_and_merge_overlaps():
    hole = np.zeros((200, 300), dtype=bool)
    hole[10:20, 10:20] = True
    hole[30:40, 30:40] = True  # close to the first: windows overlap -> one region
    hole[150:160, 250:260] = True  # far away: its own region
    regions = hole_regions(hole, context=16)
    assert len(regions) == 2
    covered = np.zeros_like(hole)
    for top, left, bottom, right in regions:
        assert not covered[top:bottom, left:right].any()  # disjoint
        covered[top:bottom, left:right] = True
    assert covered[hole].all()


def test_patchmatch_inpaint_fills_an_image_of_odd_size():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (37, 51, 3), dtype=np.uint8)
    hole = np.zeros((37, 51), dtype=bool)
    hole[10:20, 15:30] = True
    out = patchmatch_inpaint(image, hole)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_the_texture_step_runs_patchmatch_with_its_own_patch_side_and_the_baseline_with_the_default():
    from inpnet.texture import PATCH_SIZE, TEXTURE_PATCH_SIZE, exemplar_fill

    image, hole = _stripes(), _box()
    known = np.where(hole[..., None], 0, image).astype(np.uint8)
    step = exemplar_fill(image, hole)
    assert np.array_equal(step, patchmatch_inpaint(known, hole, patch_size=TEXTURE_PATCH_SIZE))
    assert PATCH_SIZE == 5  # what the baseline and the step run (pypatchmatch 2.2 itself defaults to 15)
    baseline = ClassicalInpainter("patchmatch")(_t(image), _m(hole)).composite
    assert torch.equal(baseline, _t(patchmatch_inpaint(known, hole, patch_size=PATCH_SIZE)))
    assert not np.array_equal(step, patchmatch_inpaint(known, hole, patch_size=3))  # the side matters


def test_a_guide_pulls_patchmatch_towards_it_and_keeps_known_pixels():
    from inpnet.eval.metrics import psnr
    from inpnet.texture import guide_map

    rng = np.random.default_rng(1)
    # dark noise with bright 12-px squares; one square lies inside the hole, where nothing at the border hints
    # at it: only a guide that shows it (the truth) can bring it back; one that does not (the background) cannot
    background = rng.integers(20, 60, (64, 96, 3)).astype(np.uint8)
    image = background.copy()
    for top, left in ((4, 4), (4, 80), (48, 4), (48, 80), (26, 42)):
        image[top : top + 12, left : left + 12] = 220
    hole = np.zeros((64, 96), dtype=bool)
    hole[18:46, 30:66] = True
    guides = {"right": image, "wrong": np.where(hole[..., None], background, image).astype(np.uint8)}
    known = np.where(hole[..., None], 0, image).astype(np.uint8)
    right = patchmatch_inpaint(known, hole, patch_size=3, guide=guides["right"], guide_weight=2.0)
    wrong = patchmatch_inpaint(known, hole, patch_size=3, guide=guides["wrong"], guide_weight=2.0)
    assert np.array_equal(right[~hole], image[~hole]) and np.array_equal(wrong[~hole], image[~hole])
    score = {name: float(psnr(_t(out), _t(image), _m(hole))) for name, out in (("right", right), ("wrong", wrong))}
    assert score["right"] > score["wrong"] + 3
    g = guide_map(image)
    assert g.dtype == np.float32 and g.shape == (64, 96, 3)
    assert g[..., :2].min() >= 0 and g[..., :2].max() < 0.5 and not g[..., 2].any()


def test_guided_texture_step_blends_the_fill_towards_the_guided_exemplar(monkeypatch):
    import inpnet.texture as texture_module

    image, hole = _stripes(), _box()
    fill = np.where(hole[..., None], 128, image).astype(np.uint8)  # a flat "network fill"
    assert texture_module.GUIDE_WEIGHT == 0  # unguided by default (the guided fills looked worse)
    monkeypatch.setattr(texture_module, "GUIDE_WEIGHT", 2.0)
    whole = transfer_texture(image, hole, fill, strength=1.0)
    known = np.where(hole[..., None], 0, image).astype(np.uint8)
    exemplar = patchmatch_inpaint(known, hole, patch_size=texture_module.TEXTURE_PATCH_SIZE, guide=fill, guide_weight=2.0)
    assert np.array_equal(whole, np.where(hole[..., None], exemplar, image))  # one region: the whole photo
    half = transfer_texture(image, hole, fill, strength=0.5).astype(int)
    expected = np.rint(fill.astype(np.float32) + 0.5 * (exemplar.astype(np.float32) - fill)).astype(int)
    assert np.abs(half - np.where(hole[..., None], expected, image)).max() <= 1


def test_the_pipeline_adds_texture_by_default_and_keeps_known_pixels():
    from inpnet.predict import InpaintPipeline

    image, hole = _stripes(96, 120), np.zeros((96, 120), dtype=bool)
    hole[30:66, 40:80] = True
    plain = InpaintPipeline.from_pretrained(texture=0.0)
    textured = InpaintPipeline(plain.model)  # default: the texture step on (pypatchmatch is installed)
    assert textured.texture == 1.0
    a, b = np.asarray(plain(image, hole)), np.asarray(textured(image, hole))
    assert np.array_equal(b[~hole], image[~hole]) and not np.array_equal(a[hole], b[hole])
    assert texture(_t(b), _t(image), _m(hole)).item() > texture(_t(a), _t(image), _m(hole)).item() + 0.3
    with pytest.raises(InpNetError, match="strength"):
        InpaintPipeline(plain.model, texture=2.0)


def test_a_preview_gets_the_network_fill_before_the_texture_step_and_changes_nothing():
    from PIL import Image

    from inpnet.predict import InpaintPipeline

    image, hole = _stripes(96, 120), np.zeros((96, 120), dtype=bool)
    hole[30:66, 40:80] = True
    plain = InpaintPipeline.from_pretrained(texture=0.0)
    textured = InpaintPipeline(plain.model)
    seen: list[Image.Image] = []
    out = textured(image, hole, preview=seen.append)
    assert len(seen) == 1 and np.array_equal(np.asarray(seen[0]), np.asarray(plain(image, hole)))
    assert np.array_equal(np.asarray(out), np.asarray(textured(image, hole)))  # the same result without it
    assert not np.array_equal(np.asarray(out)[hole], np.asarray(seen[0])[hole])
    plain(image, hole, preview=seen.append)  # no texture step: nothing to preview
    textured([image, image], hole, preview=seen.append)  # one preview per image of a batch
    assert len(seen) == 3
    with pytest.raises(InpNetError, match="preview must be a function"):
        textured(image, hole, preview="yes")


def test_a_region_larger_than_max_pixels_gets_its_exemplar_at_reduced_size(monkeypatch):
    import inpnet.texture as texture_module

    image, hole = _stripes(64, 80), _box(64, 80)
    seen = []

    def fake_exemplar(img, region_hole, method, guide=None):  # records the size, fills the hole with 200
        seen.append(region_hole.shape)
        assert img.shape[:2] == region_hole.shape == guide.shape[:2]
        return np.where(region_hole[..., None], 200, img).astype(np.uint8)

    monkeypatch.setattr(texture_module, "exemplar_fill", fake_exemplar)
    fill = np.where(hole[..., None], 128, image).astype(np.uint8)
    transfer_texture(image, hole, fill, max_pixels=10**9)
    (region,) = hole_regions(hole)
    area = (region[2] - region[0]) * (region[3] - region[1])
    reduced = transfer_texture(image, hole, fill, max_pixels=area // 4)
    assert seen[0] == (region[2] - region[0], region[3] - region[1])  # full resolution
    h, w = seen[1]
    assert h * w <= area // 4 * 1.05 and abs(h / w - seen[0][0] / seen[0][1]) < 0.1  # scaled down, same shape
    assert np.array_equal(reduced[~hole], image[~hole])  # known pixels untouched
    # the exemplar scaled back up: known pixels exact, the hole the small fill's colour away from its edge
    ex = texture_module._exemplar_within(image, hole, "patchmatch", fill, max_pixels=image.shape[0] * image.shape[1] // 4)
    inner = erode_hole(_m(hole), 4)[0, 0].numpy() > 0.5
    assert np.array_equal(ex[~hole], image[~hole]) and np.all(ex[inner] == 200)


@pytest.mark.skipif(not texture_available(), reason="pypatchmatch not installed")
def test_a_capped_patchmatch_region_still_fills_with_detail_and_keeps_known_pixels():
    image, hole = _stripes(96, 120), _box(96, 120)
    smooth = np.where(hole[..., None], image[hole].mean(0).astype(np.uint8), image)
    out = transfer_texture(image, hole, smooth, max_pixels=2_000)  # the region is ~9,000 px: run at ~1/2 size
    assert np.array_equal(out[~hole], image[~hole])
    assert texture(_t(out), _t(image), _m(hole)).item() > 0.4
