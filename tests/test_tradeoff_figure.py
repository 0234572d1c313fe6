"""scripts/tradeoff_figure.py: the points it plots come from the two JSON files, and it writes its PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import load_file_module

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def figure():
    return load_file_module(ROOT / "scripts" / "tradeoff_figure.py")


def _oracle(figure) -> dict:
    keys = [k for k, _ in figure.STRENGTHS] + [k for k, _ in figure.ORACLE]
    return {"sets": {family: {k: {"texture": 0.1 * i, "delta_vs_best_classical": 1.0 - 0.2 * i}
                              for i, k in enumerate(keys)} for family in figure.FAMILIES}}


def _native(figure) -> dict:
    methods = {"telea": (15.0, 0.3), "ns": (15.5, 0.35), "biharmonic": (14.0, 0.3), "patchmatch": (14.5, 0.9)}
    return {"summary": {family: {m: {"psnr_hole": {"mean": p}, "texture": {"mean": t}} for m, (p, t) in methods.items()}
                        for family in figure.FAMILIES}}


def test_the_plotted_points_are_the_files_numbers_against_the_best_classical_method(figure):
    p = figure.points(_oracle(figure), _native(figure), "box25")
    assert [label for label, _, _ in p["strengths"]] == ["0", "0.25", "0.5", "0.75", "1"]
    assert p["strengths"][1][1:] == pytest.approx((0.1, 0.8))
    assert p["oracle"][0][1:] == pytest.approx((0.5, 0.0))
    classical = {label: (t, d) for label, t, d in p["classical"]}
    assert classical["Navier-Stokes"] == pytest.approx((0.35, 0.0))  # the best: 0 dB over itself
    assert classical["PatchMatch"] == pytest.approx((0.9, -1.0))


def test_the_script_writes_the_figure(figure, tmp_path):
    (tmp_path / "oracle.json").write_text(json.dumps(_oracle(figure)))
    (tmp_path / "native.json").write_text(json.dumps(_native(figure)))
    figure.main(["--oracle", str(tmp_path / "oracle.json"), "--native", str(tmp_path / "native.json"),
                 "-o", str(tmp_path / "plot.png")])
    image = np.asarray(Image.open(tmp_path / "plot.png").convert("RGB"))
    assert image.shape[0] > 400 and image.shape[1] > 600 and image.std() > 10  # drawn, not blank
