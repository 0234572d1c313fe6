"""Restoration in the same model (ratio-0 samples on degraded inputs), the test split kept out of training
and checkpoint selection, and irregular mask ratios counted at the model's token threshold."""

from __future__ import annotations

import json

import pytest
import torch

from inpnet.config import ModelConfig, TrainConfig
from inpnet.data import ImageFolderDataset, held_out_files, split_fraction
from inpnet.errors import InpNetError
from inpnet.eval.degrade import random_degradation
from inpnet.eval.metrics import psnr
from inpnet.losses import mixed_reconstruction_loss, reconstruction_loss
from inpnet.masks import dynamic_pixel_mask, irregular_pixel_mask, num_masked, pixel_to_token_mask
from inpnet.train import apply_restoration_mix, restore_count, train, validation_inputs, validation_masks


def _images(b: int = 8, size: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.rand(b, 3, size, size, generator=g) * 0.6 + 0.2


def test_restoration_mix_clears_the_mask_and_degrades_only_the_first_samples():
    images = _images()
    masks = torch.ones(8, 1, 32, 32)
    inputs, out_masks = apply_restoration_mix(images, masks, 0.25, torch.Generator().manual_seed(0))
    assert out_masks[:2].sum() == 0 and torch.equal(out_masks[2:], masks[2:])
    assert not torch.equal(inputs[:2], images[:2])  # degraded
    assert torch.equal(inputs[2:], images[2:])  # untouched
    assert torch.equal(masks, torch.ones(8, 1, 32, 32))  # the caller's tensors are not modified
    same, same_masks = apply_restoration_mix(images, masks, 0.0, torch.Generator().manual_seed(0))
    assert same is images and same_masks is masks


def test_random_degradation_is_seeded_bounded_and_mixes_its_kinds():
    images = _images(48)
    a = random_degradation(images, torch.Generator().manual_seed(3))
    b = random_degradation(images, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == images.shape and a.dtype == images.dtype
    assert a.min() >= 0 and a.max() <= 1
    quality = psnr(a, images)  # (48,): every sample changed, none destroyed
    assert (quality < 60).all() and (quality > 15).all()
    c = random_degradation(images, torch.Generator().manual_seed(4))
    assert not torch.equal(a, c)


def test_restoration_mix_weights_choose_the_kinds_and_the_jpeg_quality_range():
    images = _images(24)
    only_jpeg = random_degradation(images, torch.Generator().manual_seed(5), mix=(0, 1, 0), jpeg_quality=(15, 15))
    assert torch.equal(only_jpeg, degrade_jpeg_at(images, 15))  # every sample the q15 round trip
    only_noise = random_degradation(images, torch.Generator().manual_seed(5), mix=(1, 0, 0))
    residual = (only_noise - images).flatten(1).std(1)  # noise sigma 2..35/255 on every sample, no JPEG
    assert (residual > 1 / 255).all()
    even = random_degradation(images, torch.Generator().manual_seed(5))
    assert torch.equal(even, random_degradation(images, torch.Generator().manual_seed(5), mix=(1.0, 1.0, 1.0)))
    config = TrainConfig(restore_mix=[1, 3, 0.5], restore_jpeg_quality=[10, 40])
    assert config.restore_mix == (1.0, 3.0, 0.5) and config.restore_jpeg_quality == (10, 40)
    for bad in ({"restore_mix": [0, 0, 0]}, {"restore_mix": [1, -1, 1]}, {"restore_mix": [1, 2]},
                {"restore_jpeg_quality": [40, 10]}, {"restore_jpeg_quality": [0, 50]},
                {"restore_jpeg_quality": [10.5, 20]}):
        with pytest.raises(InpNetError, match="restore_"):
            TrainConfig(**bad)


def degrade_jpeg_at(images: torch.Tensor, quality: int) -> torch.Tensor:
    from inpnet.eval.degrade import _jpeg

    return _jpeg(images, quality)


def test_validation_adds_restoration_samples_with_empty_masks_and_degraded_inputs():
    mcfg = ModelConfig.from_name("skip-recon", preset="nano", image_size=32, patch_size=8)
    val = validation_masks(mcfg, 10, seed=0, restore=True)
    kinds = [k for k, _ in val]
    assert "noise25" in kinds and "jpeg20" in kinds and "random" in kinds
    for kind, mask in val:
        assert (mask.sum() == 0) == (kind in ("noise25", "jpeg20"))
    images = _images(len(val))
    seen = validation_inputs(images, kinds, seed=0)
    for i, kind in enumerate(kinds):
        assert torch.equal(seen[i], images[i]) == (kind not in ("noise25", "jpeg20"))
    assert torch.equal(seen, validation_inputs(images, kinds, seed=0))  # fixed across validations


def test_test_split_is_disjoint_from_train_and_val_and_matches_holdout(photos):
    kw = dict(val_fraction=0.2, val_max=None, test_fraction=0.2)
    train_set = ImageFolderDataset(photos, 32, split="train", **kw)
    val_set = ImageFolderDataset(photos, 32, split="val", **kw)
    test = set(held_out_files(photos, 0.2))
    assert test and val_set.files and train_set.files
    assert not test & set(train_set.files) and not test & set(val_set.files)
    assert not set(val_set.files) & set(train_set.files)
    assert len(test) + len(val_set.files) + len(train_set.files) == 24
    for f in val_set.files:
        assert 0.2 <= split_fraction(f.relative_to(photos).as_posix()) < 0.4
    with pytest.raises(InpNetError, match="test_fraction"):
        TrainConfig(val_fraction=0.5, test_fraction=0.6)


@pytest.mark.parametrize("family", ["thin", "medium", "thick"])
@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_irregular_ratio_counts_the_tokens_the_model_drops(family, threshold):
    g = torch.Generator().manual_seed(0)
    masks = irregular_pixel_mask(4, (64, 64), family, g, ratio=0.4, patch_size=8, threshold=threshold)
    tokens = pixel_to_token_mask(masks, 8, threshold)
    assert (tokens.sum(1) == num_masked(0.4, 64)).all()
    if threshold == 0.5:  # at threshold 0.5 the hole area follows the ratio (not only the touched patches)
        assert 0.25 < float(masks.mean()) < 0.6


def test_dynamic_masks_reach_ratio_0_9_at_the_model_threshold():
    g = torch.Generator().manual_seed(2)
    masks, info = dynamic_pixel_mask(16, (64, 64), 8, (0.85, 0.9), generator=g, return_info=True, threshold=0.5)
    tokens = pixel_to_token_mask(masks, 8, 0.5).float().mean(1)
    for (kind, ratio, _), got in zip(info, tokens.tolist()):
        assert got == pytest.approx(num_masked(ratio, 64) / 64), kind


def test_restoration_samples_get_their_own_weighted_loss_term():
    g = torch.Generator().manual_seed(3)
    target = torch.rand(4, 3, 16, 16, generator=g)
    pred = target + 0.1 * torch.randn(4, 3, 16, 16, generator=g)
    mask = torch.zeros(4, 1, 16, 16)
    mask[2:, :, 4:12, 4:12] = 1  # samples 0-1: restoration (no hole); 2-3: inpainting
    restore_mse = ((pred[:2] - target[:2]) ** 2).mean()
    inpaint = reconstruction_loss(pred[2:], target[2:], mask[2:], "weighted", 4.0)
    got = mixed_reconstruction_loss(pred, target, mask, 2, "weighted", 4.0, restore_weight=4.0)
    assert got.item() == pytest.approx(inpaint.item() + 4.0 * restore_mse.item(), rel=1e-6)
    # weight 0 (the old behaviour): one pooled loss over the batch, where the restoration samples count little
    pooled = mixed_reconstruction_loss(pred, target, mask, 2, "weighted", 4.0, restore_weight=0.0)
    assert pooled.item() == pytest.approx(reconstruction_loss(pred, target, mask, "weighted", 4.0).item())
    # a whole batch of restoration samples, and the count the training loop uses
    assert mixed_reconstruction_loss(pred[:2], target[:2], mask[:2], 2, restore_weight=2.0).item() == pytest.approx(
        2.0 * restore_mse.item(), rel=1e-6)
    assert restore_count(0.25, 16) == 4 and restore_count(0.25, 3) == 1
    with pytest.raises(InpNetError, match="restore_weight"):
        TrainConfig(restore_weight=-1.0)


def test_training_with_restoration_and_a_test_split_runs_and_records_them(photos, tmp_path):
    mcfg = ModelConfig.from_name("skip-recon", preset="nano", image_size=32, patch_size=8, prefill="harmonic")
    tcfg = TrainConfig.for_variant("skip-recon", steps=3, batch_size=4, restore_fraction=0.5, test_fraction=0.2,
                                   val_fraction=0.2, ratio_range=(0.1, 0.9), log_every=1, restore_weight=4.0)
    result = train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    assert result.step == 3 and result.best_psnr is not None
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["train"]
    assert saved["restore_fraction"] == 0.5 and saved["test_fraction"] == 0.2 and saved["restore_weight"] == 4.0
