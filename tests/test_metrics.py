"""Metrics: agreement with scikit-image, the PSNR cap, hole-only metrics, the accumulator, optional LPIPS."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from inpnet.errors import InpNetError
from inpnet.eval.metrics import (
    PSNR_CAP,
    MetricAccumulator,
    compute_metrics,
    l1,
    lpips_available,
    optional_lpips,
    psnr,
    ssim,
)

SIZES = [(32, 32), (40, 56), (64, 48)]


def _random_pair(h: int, w: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 3, h, w, generator=g)
    pred = (target + 0.1 * torch.randn(2, 3, h, w, generator=g)).clamp(0, 1)
    return pred, target


def _smooth_pair(h: int, w: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    phase = torch.rand(2, 3, 1, 1, generator=g) * 6
    target = 0.5 + 0.4 * torch.sin(3 * xx + 2 * yy + phase)  # (2,3,H,W)
    pred = (target + 0.05 * torch.cos(5 * yy - phase) + 0.01 * torch.randn(2, 3, h, w, generator=g)).clamp(
        0, 1
    )
    return pred, target


def _np(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).double().numpy()  # (3,H,W) -> (H,W,3)


def _sk_ssim(a: torch.Tensor, b: torch.Tensor, **kw) -> float:
    return structural_similarity(
        _np(a),
        _np(b),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        channel_axis=-1,
        **kw,
    )


@pytest.mark.parametrize("make", [_random_pair, _smooth_pair])
@pytest.mark.parametrize("size", SIZES)
def test_psnr_matches_skimage(make, size):
    pred, target = make(*size, seed=1)
    ours = psnr(pred, target)
    expected = [peak_signal_noise_ratio(_np(t), _np(p), data_range=1.0) for p, t in zip(pred, target)]
    assert ours.shape == (2,)
    assert ours.tolist() == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("make", [_random_pair, _smooth_pair])
@pytest.mark.parametrize("size", SIZES)
def test_ssim_matches_skimage(make, size):
    pred, target = make(*size, seed=2)
    ours = ssim(pred, target)
    expected = [_sk_ssim(p, t) for p, t in zip(pred, target)]
    assert ours.shape == (2,)
    assert ours.tolist() == pytest.approx(expected, abs=1e-3)


def test_identical_images_give_ssim_one_and_psnr_cap():
    image = torch.rand(3, 3, 32, 40, generator=torch.Generator().manual_seed(0))
    metrics = compute_metrics(image, image.clone())
    assert metrics["psnr"].tolist() == [PSNR_CAP] * 3
    assert metrics["ssim"].tolist() == pytest.approx([1.0] * 3, abs=1e-12)
    assert metrics["l1"].tolist() == [0.0] * 3


def test_tiny_error_is_capped_at_psnr_cap():
    image = torch.full((1, 3, 16, 16), 0.5, dtype=torch.float64)
    assert psnr(image + 1e-9, image).item() == PSNR_CAP


def test_constant_image_with_hole_filled_by_same_colour_gives_psnr_cap():
    target = torch.empty(1, 3, 24, 24)
    target[:, 0], target[:, 1], target[:, 2] = 0.2, 0.6, 0.9
    mask = torch.zeros(1, 1, 24, 24)
    mask[..., 8:16, 8:16] = 1
    holed = target * (1 - mask)
    filled = mask * target + (1 - mask) * holed
    metrics = compute_metrics(filled, target, mask)
    assert metrics["psnr"].item() == PSNR_CAP
    assert metrics["psnr_hole"].item() == PSNR_CAP
    assert metrics["l1_hole"].item() == 0.0


def test_compute_metrics_keys_without_and_with_mask():
    pred, target = _random_pair(32, 32, seed=3)
    assert set(compute_metrics(pred, target)) == {"psnr", "ssim", "l1"}
    mask = torch.ones(2, 1, 32, 32)
    assert set(compute_metrics(pred, target, mask)) == {
        "psnr",
        "ssim",
        "l1",
        "psnr_hole",
        "ssim_hole",
        "l1_hole",
        "texture",
    }


def test_full_mask_hole_metrics_equal_full_frame_psnr_and_l1():
    pred, target = _random_pair(32, 32, seed=4)
    metrics = compute_metrics(pred, target, torch.ones(2, 1, 32, 32))
    assert metrics["psnr_hole"].tolist() == pytest.approx(metrics["psnr"].tolist(), abs=1e-9)
    assert metrics["l1_hole"].tolist() == pytest.approx(metrics["l1"].tolist(), abs=1e-12)
    assert metrics["ssim_hole"].tolist() == pytest.approx(metrics["ssim"].tolist(), abs=1e-9)


def test_hole_metrics_ignore_pixels_outside_the_hole():
    pred, target = _random_pair(32, 32, seed=5)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 10:20, 12:24] = 1
    changed = pred.clone()
    changed[..., :5, :] = 1 - changed[..., :5, :]  # rows 0-4 are outside the hole
    before, after = compute_metrics(pred, target, mask), compute_metrics(changed, target, mask)
    assert after["psnr_hole"].tolist() == before["psnr_hole"].tolist()
    assert after["l1_hole"].tolist() == before["l1_hole"].tolist()
    assert after["psnr"].tolist() != before["psnr"].tolist()


def test_hole_psnr_and_l1_equal_a_direct_computation_over_hole_pixels():
    pred, target = _random_pair(24, 24, seed=6)
    mask = torch.zeros(2, 1, 24, 24)
    mask[0, :, 3:9, 4:20] = 1
    mask[1, :, 15:, :7] = 1
    for i in range(2):
        hole = mask[i, 0].bool()
        diff = (pred[i][:, hole] - target[i][:, hole]).double()  # (3, n_hole)
        assert psnr(pred, target, mask)[i].item() == pytest.approx(
            -10 * math.log10(diff.pow(2).mean()), abs=1e-9
        )
        assert l1(pred, target, mask)[i].item() == pytest.approx(diff.abs().mean().item(), abs=1e-12)


def test_hole_ssim_averages_the_skimage_map_over_hole_pixels_in_the_cropped_region():
    pred, target = _smooth_pair(40, 56, seed=7)
    mask = torch.zeros(2, 1, 40, 56)
    mask[..., 2:20, 30:54] = 1  # partly inside the 5-pixel border that SSIM crops
    ours = ssim(pred, target, mask)
    for i in range(2):
        _, smap = _sk_ssim(pred[i], target[i], full=True)  # (H,W,3)
        hole = mask[i, 0].numpy()[5:-5, 5:-5] > 0
        expected = smap.mean(axis=-1)[5:-5, 5:-5][hole].mean()
        assert ours[i].item() == pytest.approx(expected, abs=1e-3)


def test_hole_metrics_are_nan_for_a_sample_without_hole():
    pred, target = _random_pair(32, 32, seed=8)
    mask = torch.zeros(2, 1, 32, 32)
    mask[1, :, 10:20, 10:20] = 1
    metrics = compute_metrics(pred, target, mask)
    for key in ("psnr_hole", "ssim_hole", "l1_hole"):
        assert math.isnan(metrics[key][0].item())
        assert not math.isnan(metrics[key][1].item())


def test_hole_ssim_is_nan_when_the_hole_lies_only_in_the_cropped_border():
    pred, target = _random_pair(32, 32, seed=9)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., :5, :] = 1
    assert torch.isnan(ssim(pred, target, mask)).all()
    assert not torch.isnan(psnr(pred, target, mask)).any()


def test_ssim_rejects_images_smaller_than_the_window():
    image = torch.rand(1, 3, 10, 32)
    with pytest.raises(InpNetError, match="at least 11x11"):
        ssim(image, image)


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(InpNetError, match="one shape"):
        psnr(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 17))
    with pytest.raises(InpNetError, match="mask of shape"):
        l1(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), torch.ones(1, 3, 16, 16))


def test_accumulator_means_skip_nan_and_count_samples():
    acc = MetricAccumulator()
    acc.update({"psnr": torch.tensor([10.0, 20.0]), "psnr_hole": torch.tensor([float("nan"), 30.0])})
    acc.update({"psnr": torch.tensor([30.0]), "psnr_hole": torch.tensor([40.0])})
    summary = acc.summary()
    assert summary["n"] == 3
    assert summary["psnr"] == pytest.approx(20.0)
    assert summary["psnr_hole"] == pytest.approx(35.0)
    assert summary["per_kind"] == {}


def test_accumulator_groups_by_kind():
    acc = MetricAccumulator()
    acc.update({"l1": torch.tensor([0.1, 0.3])}, kind="random")
    acc.update({"l1": torch.tensor([0.5])}, kind="irregular")
    acc.update({"l1": torch.tensor([0.2])}, kind="random")
    summary = acc.summary()
    assert summary["n"] == 4
    assert summary["l1"] == pytest.approx(0.275)
    assert summary["per_kind"]["random"] == {"n": 3, "l1": pytest.approx(0.2)}
    assert summary["per_kind"]["irregular"] == {"n": 1, "l1": pytest.approx(0.5)}


def test_accumulator_summary_is_strict_json_with_none_for_all_nan_metric():
    acc = MetricAccumulator()
    acc.update({"ssim": torch.tensor([0.9]), "ssim_hole": torch.tensor([float("nan")])}, kind="random")
    summary = acc.summary()
    assert summary["ssim_hole"] is None
    assert summary["per_kind"]["random"]["ssim_hole"] is None
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_accumulator_rejects_tensors_of_different_lengths():
    with pytest.raises(ValueError, match="different batch sizes"):
        MetricAccumulator().update({"psnr": torch.zeros(2), "ssim": torch.zeros(3)})


def test_lpips_is_skipped_without_weights():
    assert optional_lpips(None) is None
    assert lpips_available(None) is False


def test_lpips_with_a_missing_file_raises_a_clear_error(tmp_path):
    path = str(tmp_path / "alex.pth")
    assert lpips_available(path) is False
    with pytest.raises(InpNetError, match="LPIPS needs local weights: no file at"):
        optional_lpips(path)


def test_lpips_with_a_wrong_file_raises_a_clear_error(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"lin0.model.1.weight": torch.zeros(1, 64, 1, 1)}, path)
    with pytest.raises(InpNetError, match="not an LPIPS"):
        optional_lpips(str(path))


def test_lpips_loads_a_local_state_dict_and_scores_per_sample(tmp_path):
    from inpnet.eval.metrics import _LpipsAlex

    g = torch.Generator().manual_seed(0)
    # stand-in weights (the real ones come from the `lpips` package); LPIPS heads are non-negative
    state = {k: 0.05 * torch.randn(v.shape, generator=g) for k, v in _LpipsAlex().state_dict().items()}
    state.update({f"lin{i}.model.1.weight": state[f"lin{i}.model.1.weight"].abs() for i in range(5)})
    state["scaling_layer.shift"] = torch.zeros(1, 1, 3, 1, 1)  # the `lpips` package stores these too
    state["scaling_layer.scale"] = torch.ones(1, 1, 3, 1, 1)
    path = tmp_path / "alex.pth"
    torch.save(state, path)
    fn = optional_lpips(str(path))
    image = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    other = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    assert fn(image, image).tolist() == [0.0, 0.0]
    distance = fn(image, other)
    assert distance.shape == (2,)
    assert (distance > 0).all()
