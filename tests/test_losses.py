"""The adversarial run's loss pieces: feature matching and VQGAN's adaptive weight."""

from __future__ import annotations

import pytest
import torch

from inpnet.losses import adaptive_weight, feature_matching_loss


def test_feature_matching_is_zero_on_equal_features_and_pulls_only_the_fakes():
    real = [torch.randn(2, 4, 8, 8, requires_grad=True), torch.randn(2, 8, 4, 4, requires_grad=True)]
    assert feature_matching_loss([r.detach().clone() for r in real], real) == 0
    fake = [r.detach() + 1.0 for r in real]
    fake[0].requires_grad_(True)
    fake[1].requires_grad_(True)
    loss = feature_matching_loss(fake, real)
    assert loss.item() == pytest.approx(1.0)  # every element 1 apart, in both layers
    loss.backward()
    assert real[0].grad is None and real[1].grad is None
    assert fake[0].grad is not None and (fake[0].grad > 0).all()


def test_feature_matching_needs_matching_layers():
    with pytest.raises(ValueError, match="same, non-empty"):
        feature_matching_loss([torch.zeros(1)], [])
    with pytest.raises(ValueError, match="same, non-empty"):
        feature_matching_loss([], [])


def test_the_adaptive_weight_balances_the_two_gradients_at_the_last_layer():
    w = torch.randn(3, 5, requires_grad=True)
    x = torch.randn(5)
    rec = (w @ x).sum()  # gradient at w: x in each row
    adv = 4.0 * (w @ x).sum() + 0.0 * w.sum()  # four times as strong
    weight = adaptive_weight(rec, adv, w)
    assert weight.item() == pytest.approx(0.25, rel=1e-3) and not weight.requires_grad
    (rec + weight * adv).backward()  # both graphs were kept for the generator's step
    assert torch.allclose(w.grad, 2.0 * x.expand(3, 5))
    flat = adaptive_weight((w * 0).sum(), (w @ x).sum(), w)
    assert flat.item() == 0.0  # no reconstruction gradient: no adversarial pull
    huge = adaptive_weight((w @ x).sum(), 0.0 * w.sum(), w, max_weight=10.0)
    assert huge.item() == 10.0  # no adversarial gradient: clamped
