"""Classical inpainting baselines (telea, ns, biharmonic) and restoration-mode degradations."""

from __future__ import annotations

import math

import pytest
import torch

from inpnet.errors import InpNetError
from inpnet.eval.baselines import BASELINES, ClassicalInpainter
from inpnet.eval.degrade import DEGRADATIONS, degrade
from inpnet.eval.metrics import l1, psnr
from inpnet.models.output import InpaintOutput, composite


def _gradient(h: int = 40, w: int = 48) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([0.1 + 0.8 * xx, 0.2 + 0.6 * yy, 0.9 - 0.5 * xx * yy]).unsqueeze(0)  # (1,3,H,W)


def _box_mask(h: int = 40, w: int = 48) -> torch.Tensor:
    mask = torch.zeros(1, 1, h, w)
    mask[..., 14:26, 18:30] = 1
    return mask


@pytest.mark.parametrize("method", BASELINES)
def test_baseline_fills_a_smooth_hole_far_better_than_black(method):
    image, mask = _gradient(), _box_mask()
    out = ClassicalInpainter(method)(image * (1 - mask), mask)
    black_error = l1(image * (1 - mask), image, mask).item()
    filled_error = l1(out.composite, image, mask).item()
    assert filled_error < 0.1 * black_error


@pytest.mark.parametrize("method", BASELINES)
def test_baseline_keeps_pixels_outside_the_hole_bit_exact(method):
    image = torch.rand(2, 3, 32, 36, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(2, 1, 32, 36)
    mask[0, :, 5:15, 6:20] = 1
    mask[1, :, 20:30, 1:9] = 1
    out = ClassicalInpainter(method)(image, mask)
    keep = (mask == 0).expand_as(image)
    assert torch.equal(out.composite[keep], image[keep])


@pytest.mark.parametrize("method", BASELINES)
def test_baseline_returns_the_image_unchanged_for_an_empty_mask(method):
    image = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    out = ClassicalInpainter(method)(image, torch.zeros(1, 1, 24, 24))
    assert torch.equal(out.composite, image)
    assert torch.equal(out.prediction, image)


@pytest.mark.parametrize("method", BASELINES)
def test_baseline_fills_an_all_hole_image_with_mid_grey(method):
    image = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(2))
    out = ClassicalInpainter(method)(image, torch.ones(1, 1, 24, 24))
    assert torch.equal(out.composite, torch.full_like(image, 0.5))


def test_baseline_handles_mixed_batches_per_sample():
    image = _gradient().repeat(3, 1, 1, 1)
    mask = torch.cat([_box_mask(), torch.zeros(1, 1, 40, 48), torch.ones(1, 1, 40, 48)])
    out = ClassicalInpainter("telea")(image, mask)
    assert torch.equal(out.composite[1], image[1])
    assert torch.equal(out.composite[2], torch.full_like(image[2], 0.5))
    assert l1(out.composite[:1], image[:1], mask[:1]).item() < 0.05  # black would be about 0.59


def test_baseline_output_has_the_model_interface():
    image = _gradient().double()
    out = ClassicalInpainter("ns", radius=5)(image, _box_mask().double())
    assert isinstance(out, InpaintOutput)
    assert out.token_mask is None
    assert out.prediction.shape == out.composite.shape == image.shape
    assert out.prediction.dtype == out.composite.dtype == torch.float64


def test_unknown_baseline_names_the_valid_ones():
    with pytest.raises(InpNetError, match="telea, ns, biharmonic"):
        ClassicalInpainter("photoshop")


def test_baseline_rejects_a_mask_of_the_wrong_shape():
    with pytest.raises(InpNetError, match="mask of shape"):
        ClassicalInpainter("telea")(_gradient(), torch.zeros(1, 1, 40, 40))


def test_composite_takes_prediction_in_the_hole_and_image_elsewhere():
    image, prediction = torch.full((1, 3, 4, 4), 0.25), torch.full((1, 3, 4, 4), 1.5)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., :2, :] = 1
    out = composite(image, mask, prediction)
    assert torch.equal(out[..., :2, :], torch.ones(1, 3, 2, 4))  # clamped to 1
    assert torch.equal(out[..., 2:, :], image[..., 2:, :])


@pytest.mark.parametrize("kind", ["noise10", "noise25"])
def test_noise_is_reproducible_with_a_seed(kind):
    image = _gradient()
    a = degrade(image, kind, torch.Generator().manual_seed(3))
    b = degrade(image, kind, torch.Generator().manual_seed(3))
    c = degrade(image, kind, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize(("kind", "sigma"), [("noise10", 10 / 255), ("noise25", 25 / 255)])
def test_noise_has_the_stated_strength(kind, sigma):
    image = torch.full((2, 3, 64, 64), 0.5)  # mid-grey: clamping never bites at 5 sigma
    noisy = degrade(image, kind, torch.Generator().manual_seed(5))
    assert psnr(noisy, image).mean().item() == pytest.approx(-20 * math.log10(sigma), abs=0.1)


def test_jpeg_lowers_psnr_and_is_deterministic():
    image = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(6))
    a, b = degrade(image, "jpeg20", None), degrade(image, "jpeg20", None)
    assert torch.equal(a, b)
    assert a.shape == image.shape and a.dtype == image.dtype
    assert (psnr(a, image) < 25).all()


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_degrade_stays_in_range_and_leaves_the_input_alone(kind):
    image = _gradient()
    before = image.clone()
    out = degrade(image, kind, torch.Generator().manual_seed(7))
    assert torch.equal(image, before)
    assert out.min().item() >= 0 and out.max().item() <= 1


def test_unknown_degradation_names_the_valid_ones():
    with pytest.raises(InpNetError, match="noise10, noise25, jpeg20"):
        degrade(_gradient(), "blur3", None)
