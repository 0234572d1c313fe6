"""scripts/detail_oracle.py's measurements on known cases (the oracle itself runs for minutes on the test photos)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import load_file_module

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def oracle():
    return load_file_module(ROOT / "scripts" / "detail_oracle.py")


def test_the_detail_correlation_and_strength_on_known_cases(oracle):
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(16, 16, 3)).astype(np.float32)
    hole = np.zeros((16, 16), dtype=bool)
    hole[4:12, 4:12] = True
    assert oracle.correlation(truth, truth, hole) == pytest.approx((1.0, 1.0), abs=1e-6)
    assert oracle.correlation(-0.5 * truth, truth, hole) == pytest.approx((-1.0, 0.5), abs=1e-6)
    outside = truth.copy()
    outside[hole] = rng.normal(size=(64, 3))  # equal outside the hole only: uncorrelated where it counts
    corr, strength = oracle.correlation(outside, truth, hole)
    assert abs(corr) < 0.3 and strength == pytest.approx(1.0, abs=0.3)


def test_the_shifted_photo_is_the_photo_moved_by_16_to_48_pixels(oracle):
    image = np.arange(100 * 100 * 3, dtype=np.int64).reshape(100, 100, 3)
    hole = np.zeros((100, 100), dtype=bool)
    hole[40:60, 40:60] = True
    moved = oracle.shifted(image, hole)
    dy, dx = divmod(int(np.argwhere(moved[..., 0] == image[0, 0, 0])[0] @ np.array([100, 1])), 100)
    offsets = [min(d, 100 - d) for d in (dy, dx)]
    assert all(16 <= o <= 48 for o in offsets)
    assert np.array_equal(moved, oracle.shifted(image, hole))  # seeded by the hole


def test_the_best_per_photo_choice_spends_the_budget_where_texture_is_cheapest(oracle):
    network = [(20.0, 0.2)] * 4
    default = [(19.0, 0.9), (19.9, 0.9), (20.1, 0.6), (18.0, 0.3)]  # costs 1.0, 0.1, free, 2.0 dB
    free_only = oracle.best_choice(network, default, budget=-0.01)
    assert free_only["photos_with_texture_step"] == 1 and free_only["psnr_loss"] == pytest.approx(-0.1 / 4)
    level = oracle.best_choice(network, default, budget=0.0)  # the free photo's gain pays for the cheap one
    assert level["photos_with_texture_step"] == 2 and level["texture"] == pytest.approx((0.2 + 0.9 + 0.6 + 0.2) / 4)
    assert level["psnr_loss"] == pytest.approx(0.0)
    everything = oracle.best_choice(network, default, budget=10.0)
    assert everything["photos_with_texture_step"] == 4


def test_a_strength_mixes_the_network_and_the_default_in_the_hole_only(oracle):
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    hole = np.zeros((12, 12), dtype=bool)
    hole[3:9, 3:9] = True
    network = np.where(hole[..., None], 100, image).astype(np.uint8)
    default = np.where(hole[..., None], 200, image).astype(np.uint8)
    fake = oracle.Oracle.__new__(oracle.Oracle)  # no model: the fills of this (photo, hole) given
    fake.key, fake.fills = oracle._key(image, hole), oracle.Fills(network, default, None, None, None)
    assert np.array_equal(fake.at_strength(image, hole, 0.0), network)
    assert np.array_equal(fake.at_strength(image, hole, 1.0), default)
    half = fake.at_strength(image, hole, 0.25)
    assert (half[hole] == 125).all() and np.array_equal(half[~hole], image[~hole])


def test_the_summary_refuses_correlations_it_cannot_assign_to_a_mask_set(oracle):
    rows = [{"set": s, "method": m, "psnr_hole": 15.0, "texture": 0.5}
            for _ in range(2) for s in ("thick", "box25") for m in ("network", "default")]
    correlations = {"network": [("k", 0.1, 0.5)] * 4}
    summary = oracle.summarize(rows, correlations, {"thick": 14.5})
    assert summary["sets"]["thick"]["detail_vs_true"]["network"] == {"correlation": 0.1, "strength": 0.5}
    assert summary["sets"]["thick"]["best_per_photo_choice"]["psnr_loss_budget"] == pytest.approx(-0.5)
    assert summary["sets"]["thick"]["default"]["delta_vs_best_classical"] == pytest.approx(0.5)
    assert "delta_vs_best_classical" not in summary["sets"]["box25"]["default"]  # no classical number for it
    with pytest.raises(ValueError, match="lacks a mask set"):
        oracle.summarize(rows[:-2], {"network": [("k", 0.1, 0.5)] * 3}, {})
