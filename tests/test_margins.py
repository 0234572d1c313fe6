"""Paired margins with bootstrap intervals (inpnet.eval.margins)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inpnet.eval.margins import Margin, bootstrap_interval, paired_margin


def test_a_constant_lead_has_a_zero_width_interval_and_counts_every_image():
    a = {"s1": {i: 20.0 + i for i in range(10)}, "s2": {i: 18.0 for i in range(10)}}
    b = {"s1": {i: 19.0 + i for i in range(10)}, "s2": {i: 17.0 for i in range(10)}}
    m = paired_margin(a, b, ["s1", "s2"])
    assert (m.mean, m.low, m.high, m.wins, m.n) == pytest.approx((1.0, 1.0, 1.0, 10, 10))
    assert m.text() == "+1.00 [+1.00, +1.00], 10/10"


def test_pairing_removes_the_spread_between_images():
    rng = np.random.default_rng(0)
    hard = rng.normal(20, 4, 40)  # images differ a lot; A is 0.3 dB ahead of B on each, plus small noise
    a = {"s": dict(enumerate(hard + 0.3 + rng.normal(0, 0.1, 40)))}
    b = {"s": dict(enumerate(hard))}
    m = paired_margin(a, b, ["s"])
    assert 0.2 < m.low < m.mean < m.high < 0.4 and m.wins >= 38
    unpaired = bootstrap_interval(np.array(list(a["s"].values())))
    assert unpaired[1] - unpaired[0] > 5 * (m.high - m.low)


def test_images_missing_on_one_side_or_nan_are_left_out():
    a = {"s": {0: 10.0, 1: 12.0, 2: float("nan"), 3: 9.0}}
    b = {"s": {0: 11.0, 1: 11.0, 2: 10.0}}
    m = paired_margin(a, b, ["s"])
    assert m.n == 2 and m.mean == pytest.approx(0.0) and m.wins == 1
    assert paired_margin(a, {"t": {0: 1.0}}, ["s"]) is None
    one = paired_margin({"s": {0: 2.0}}, {"s": {0: 1.0}}, ["s"])
    assert math.isnan(one.low) and one.to_dict()["ci"] == [None, None] and one.text() == "+1.00, 1/1"
    assert Margin(0.5, 0.1, 0.9, 3, 4).to_dict() == {"mean": 0.5, "ci": [0.1, 0.9], "wins": 3, "n": 4}
