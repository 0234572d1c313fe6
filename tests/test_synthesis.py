"""The built-in exemplar fill (inpnet.synthesis) and the texture step's choice of exemplar fill."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpnet.errors import InpNetError
from inpnet.eval.metrics import texture
from inpnet.synthesis import synthesize
from inpnet.texture import exemplar_fill, texture_available, transfer_texture


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).permute(2, 0, 1)[None].float() / 255


def _m(hole: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(hole)[None, None].float()


def _stripes(h: int, w: int, period: int = 8) -> np.ndarray:
    """(H,W,3) uint8 vertical sine stripes: every patch of the hole exists outside it."""
    xx = np.arange(w)[None, :].repeat(h, 0)
    gray = (np.sin(2 * np.pi * xx / period) + 1) * 100 + 20
    return np.stack([gray, gray * 0.8, gray * 0.6], -1).astype(np.uint8)


def _blocks(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(H,W,3) uint8 blocky grey noise: a texture with detail everywhere and no layout."""
    base = np.random.default_rng(seed).normal(128, 30, (h // 4, w // 4, 1)).clip(0, 255)
    return np.kron(base, np.ones((4, 4, 3))).astype(np.uint8)


def test_the_hole_content_is_never_read_and_known_pixels_are_untouched():
    image = _stripes(96, 112)
    hole = np.zeros((96, 112), dtype=bool)
    hole[30:70, 35:80] = True
    poisoned = image.copy()
    poisoned[hole] = 255  # what lies under the hole must not matter
    out = synthesize(poisoned, hole)
    assert np.array_equal(out, synthesize(np.where(hole[..., None], 0, image).astype(np.uint8), hole))
    assert out.shape == image.shape and out.dtype == np.uint8 and np.array_equal(out[~hole], image[~hole])


def test_a_periodic_pattern_continues_through_the_hole():
    image = _stripes(96, 112)
    hole = np.zeros((96, 112), dtype=bool)
    hole[30:70, 35:80] = True
    out = synthesize(np.where(hole[..., None], 0, image).astype(np.uint8), hole)
    assert np.abs(out.astype(int) - image)[hole].mean() < 12  # a flat mean-colour fill is ~64 off
    assert texture(_t(out), _t(image), _m(hole)).item() > 0.7


def test_a_guide_decides_which_texture_a_large_hole_continues():
    """Left of the hole horizontal stripes, right of it vertical ones: the random start picks either; with a
    guide (the network's fill, here each half of the hole tinted like its side) each half takes its side's
    texture, so the guide's layout survives the copying."""
    h, w = 128, 160
    rows, cols = np.mgrid[0:h, 0:w]
    image = np.zeros((h, w, 3), np.uint8)
    left = cols < w // 2
    image[left] = np.where(((rows // 4) % 2 == 0)[left][:, None], (200, 60, 60), (120, 20, 20))
    image[~left] = np.where(((cols // 4) % 2 == 0)[~left][:, None], (60, 60, 200), (20, 20, 120))
    hole = np.zeros((h, w), bool)
    hole[24:104, 40:120] = True
    guide = image.copy()
    guide[hole & left] = (160, 40, 40)  # the halves' mean colours: layout, no detail
    guide[hole & ~left] = (40, 40, 160)
    known = np.where(hole[..., None], 0, image).astype(np.uint8)
    out = synthesize(known, hole, guide=guide).astype(int)
    assert np.array_equal(out[~hole], image[~hole])
    red = out[..., 0] > out[..., 2]  # (H, W): which side's colours
    assert red[hole & left].mean() > 0.9 and (~red)[hole & ~left].mean() > 0.9
    assert texture(_t(out.astype(np.uint8)), _t(image), _m(hole)).item() > 0.5  # texture, not the flat guide


def test_a_large_hole_goes_through_the_pyramid_and_keeps_the_detail():
    image = _blocks(160, 200)
    hole = np.zeros((160, 200), dtype=bool)
    hole[30:130, 50:150] = True  # 10,000 hole pixels: several pyramid levels
    out = synthesize(np.where(hole[..., None], 0, image).astype(np.uint8), hole)
    ratio = texture(_t(out), _t(image), _m(hole)).item()
    assert 0.6 < ratio < 1.3
    flat = image.copy()
    flat[hole] = image[~hole].mean(0).astype(np.uint8)
    assert texture(_t(flat), _t(image), _m(hole)).item() < 0.05


def test_it_is_deterministic_per_seed_and_handles_odd_shapes_and_border_holes():
    image = _blocks(40, 56, seed=1)[:37, :53]
    hole = np.zeros((37, 53), dtype=bool)
    hole[0:12, 40:53] = True  # in a corner
    hole[20:30, 5:15] = True
    a, b = synthesize(image, hole, seed=3), synthesize(image, hole, seed=3)
    assert np.array_equal(a, b) and np.array_equal(a[~hole], image[~hole])
    assert np.array_equal(synthesize(image, np.zeros_like(hole)), image)


def test_bad_input_is_a_clear_error():
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    with pytest.raises(InpNetError, match="no fully known 5x5 patch"):
        synthesize(image, np.ones((20, 20), dtype=bool))
    with pytest.raises(InpNetError, match=r"\(H,W,3\)"):
        synthesize(image, np.ones((10, 20), dtype=bool))


def test_the_texture_step_chooses_its_exemplar_fill():
    image = _blocks(64, 80)
    hole = np.zeros((64, 80), dtype=bool)
    hole[20:44, 26:54] = True
    fill = image.copy()
    fill[hole] = 128
    assert texture_available("synthesis")
    synth = transfer_texture(image, hole, fill, method="synthesis")
    assert np.array_equal(synth[~hole], image[~hole])
    assert texture(_t(synth), _t(image), _m(hole)).item() > 0.5
    # the default exemplar fill is PatchMatch; the two differ
    default = transfer_texture(image, hole, fill)
    assert np.array_equal(default, transfer_texture(image, hole, fill, method="patchmatch"))
    assert not np.array_equal(exemplar_fill(image, hole, "patchmatch"), exemplar_fill(image, hole, "synthesis"))
    with pytest.raises(InpNetError, match="unknown texture method 'magic'"):
        transfer_texture(image, hole, fill, method="magic")


def test_the_pipeline_and_cli_take_the_texture_method(tmp_path):
    from PIL import Image

    from inpnet.cli import main
    from inpnet.predict import InpaintPipeline

    image, hole = _blocks(96, 120), np.zeros((96, 120), dtype=bool)
    hole[30:66, 40:80] = True
    pipe = InpaintPipeline.from_pretrained(texture_method="synthesis")
    assert pipe.texture == 1.0 and pipe.texture_method == "synthesis"
    out = np.asarray(pipe(image, hole))
    assert np.array_equal(out[~hole], image[~hole])
    with pytest.raises(InpNetError, match="unknown texture method"):
        InpaintPipeline(pipe.model, texture_method="magic")
    Image.fromarray(image).save(tmp_path / "in.png")
    Image.fromarray((hole * 255).astype(np.uint8)).save(tmp_path / "mask.png")
    args = ["inpaint", "--image", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o"]
    assert main([*args, str(tmp_path / "out.png"), "--texture-method", "synthesis"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png").convert("RGB")), out)  # (grey: one channel)
