"""Training losses: reconstruction (all pixels / hole only / hole-weighted) and adversarial (hinge or
non-saturating). Total generator loss = λ1·L_rec + λ2·L_GAN, as in the paper; for longer adversarial runs also
the discriminator's feature matching (pix2pixHD) and VQGAN's adaptive weight of the adversarial term."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inpnet.errors import InpNetError

REC_MODES = ("all", "hole", "weighted")
GAN_LOSSES = ("hinge", "nonsaturating")


def reconstruction_loss(
    prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, mode: str = "all", hole_weight: float = 6.0
) -> torch.Tensor:
    """MSE between prediction and target (B,3,H,W); mask (B,1,H,W), 1 = hole.

    all: every pixel (the paper; also what trains ratio-0 restoration) · hole: hole pixels only (falls
    back to all pixels when the batch has no hole) · weighted: known pixels weight 1, hole pixels `hole_weight`.
    """
    err = (prediction - target) ** 2  # (B, 3, H, W)
    if mode == "all":
        return err.mean()
    if mode == "hole":
        w = mask.expand_as(err)
        total = w.sum()
        return err.mean() if total == 0 else (err * w).sum() / total
    if mode == "weighted":
        w = (1.0 + (hole_weight - 1.0) * mask).expand_as(err)
        return (err * w).sum() / w.sum()
    raise InpNetError(f"unknown reconstruction loss {mode!r}; valid: {', '.join(REC_MODES)}")


def mixed_reconstruction_loss(
    prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, restore_count: int, mode: str = "all",
    hole_weight: float = 6.0, restore_weight: float = 1.0,
) -> torch.Tensor:
    """Loss of a batch whose first `restore_count` samples are restoration samples (ratio 0, degraded input):
    `reconstruction_loss` over the inpainting samples + restore_weight · all-pixel MSE of the restoration ones.

    A restoration sample's error (residual noise, ~1e-3) is an order smaller than a hole's (~2e-2), and a
    pooled loss leaves it a small share of the gradient; its own weighted term keeps it from being drowned.
    """
    k = restore_count
    if k <= 0 or restore_weight == 0:
        return reconstruction_loss(prediction, target, mask, mode, hole_weight)
    restore = F.mse_loss(prediction[:k], target[:k])
    if k >= prediction.shape[0]:
        return restore_weight * restore
    return reconstruction_loss(prediction[k:], target[k:], mask[k:], mode, hole_weight) + restore_weight * restore


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """Loss of D: real → high, fake → low."""
    if kind == "hinge":
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()
    if kind == "nonsaturating":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    raise InpNetError(f"unknown GAN loss {kind!r}; valid: {', '.join(GAN_LOSSES)}")


def generator_adv_loss(fake_logits: torch.Tensor, kind: str = "hinge") -> torch.Tensor:
    """Adversarial term of the generator: make D score its composites as real."""
    if kind == "hinge":
        return -fake_logits.mean()
    if kind == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    raise InpNetError(f"unknown GAN loss {kind!r}; valid: {', '.join(GAN_LOSSES)}")


def total_generator_loss(rec: torch.Tensor, adv: torch.Tensor | None, lambda_rec: float, lambda_gan: float):
    """λ1·L_rec + λ2·L_GAN (adv None: reconstruction only)."""
    return lambda_rec * rec if adv is None else lambda_rec * rec + lambda_gan * adv


def feature_matching_loss(fake_features: list[torch.Tensor], real_features: list[torch.Tensor]) -> torch.Tensor:
    """Mean L1 distance between the discriminator's features of the fakes and of the real images, averaged over
    layers (pix2pixHD, Wang et al. 2018): a dense target that steadies the adversarial term. Only the fakes
    carry gradient."""
    if len(fake_features) != len(real_features) or not fake_features:
        raise ValueError("feature matching needs the same, non-empty list of layers for fakes and reals")
    return sum(F.l1_loss(f, r.detach()) for f, r in zip(fake_features, real_features)) / len(fake_features)


def adaptive_weight(rec: torch.Tensor, adv: torch.Tensor, last_layer: torch.Tensor,
                    max_weight: float = 1e3) -> torch.Tensor:
    """VQGAN's adaptive weight (Esser et al. 2021): |d rec / d W| / |d adv / d W| at the generator's last layer
    W, detached, clamped to [0, max_weight]. λ · weight · adv then pulls on the last layer with λ times the
    reconstruction's strength, whatever the two losses' scales. Both losses must still have their graphs."""
    g_rec = torch.autograd.grad(rec, last_layer, retain_graph=True)[0].norm()
    g_adv = torch.autograd.grad(adv, last_layer, retain_graph=True)[0].norm()
    return (g_rec / (g_adv + 1e-4)).clamp(0.0, max_weight).detach()
