"""Paired margins with intervals: how far method A is from method B on the same images and masks.

A "beats" needs its margin and its uncertainty. Both methods are scored on the same (mask set, image)
samples, so the difference is taken per sample (paired), averaged per image over the sets of a family,
and its 95 % interval comes from a percentile bootstrap over images (the images, not the masks, are the
random draw that a new photo collection would change).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP = 2000  # resamples


def bootstrap_interval(values: np.ndarray, seed: int = 0, n: int = BOOTSTRAP) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the mean of `values` (1-D, NaN dropped)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n, len(v)))].mean(axis=1)
    return (float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5)))


@dataclass(frozen=True)
class Margin:
    """Mean of A - B over images, its 95 % bootstrap interval, images where A > B, images compared."""

    mean: float
    low: float
    high: float
    wins: int
    n: int

    def to_dict(self) -> dict:
        """JSON-ready (an undefined interval, n < 2, is [None, None])."""
        ci = [None if math.isnan(v) else v for v in (self.low, self.high)]
        return {"mean": self.mean, "ci": ci, "wins": self.wins, "n": self.n}

    def text(self) -> str:
        """'+0.74 [+0.52, +0.95], 60/79' (dB for PSNR)."""
        if math.isnan(self.low):
            return f"{self.mean:+.2f}, {self.wins}/{self.n}"
        return f"{self.mean:+.2f} [{self.low:+.2f}, {self.high:+.2f}], {self.wins}/{self.n}"


# samples: {set name: {image index: value}}
Samples = Mapping[str, Mapping[int, float]]


def paired_margin(a: Samples, b: Samples, sets: Sequence[str], seed: int = 0) -> Margin | None:
    """A - B over `sets`: per image, the mean over the sets where both have a value; then the mean over
    images with its bootstrap interval. None when no image has both."""
    per_image: dict[int, list[float]] = {}
    for s in sets:
        left, right = a.get(s, {}), b.get(s, {})
        for index in left.keys() & right.keys():
            d = left[index] - right[index]
            if not math.isnan(d):
                per_image.setdefault(index, []).append(d)
    if not per_image:
        return None
    diffs = np.array([np.mean(v) for _, v in sorted(per_image.items())])
    low, high = bootstrap_interval(diffs, seed)
    return Margin(float(diffs.mean()), low, high, int((diffs > 0).sum()), len(diffs))


def read_samples(path: str | os.PathLike, metric: str) -> dict[str, dict[str, dict[int, float]]]:
    """samples.csv of `inpnet ablate` -> {method: {mask set: {image index: value of `metric`}}}."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["method"], {}).setdefault(row["mask_set"], {})[int(row["image"])] = float(row[metric])
    return out
