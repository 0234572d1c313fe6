"""`inpnet.harmonic`: the OpenCV harmonic completion and the seam correction that InpaintPipeline adds to fills."""

from __future__ import annotations

import numpy as np
import torch

from inpnet.config import ModelConfig
from inpnet.harmonic import seam_offset, smooth_fill
from inpnet.models.output import InpaintOutput
from inpnet.predict import InpaintPipeline


def ring_hole(h: int = 48, w: int = 64) -> np.ndarray:
    hole = np.zeros((h, w), bool)
    hole[10:30, 12:40] = True
    hole[30:46, 20:24] = True  # a thin stroke hanging off the box, down to 2 px from the border
    return hole


def test_smooth_fill_keeps_known_pixels_and_reproduces_a_linear_ramp_inside_the_hole():
    ramp = np.broadcast_to(np.linspace(0, 90, 64, dtype=np.float32)[None, :, None], (48, 64, 1)).copy()
    hole = ring_hole()
    filled = smooth_fill(np.where(hole[..., None], 0, ramp).astype(np.float32), hole, sweeps=200)
    assert np.array_equal(filled[~hole], ramp[~hole])
    assert np.abs(filled - ramp)[hole].max() < 1.0  # a ramp is harmonic: the completion finds it (coarse to fine)


def test_a_prediction_that_matches_the_photo_needs_no_correction():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    assert not seam_offset(photo, photo.astype(np.float32), ring_hole()).any()


def test_a_prediction_off_by_a_constant_is_moved_by_that_constant_in_the_hole_and_nowhere_else():
    rng = np.random.default_rng(1)
    photo = rng.integers(60, 200, (48, 64, 3), dtype=np.uint8)
    hole = ring_hole()
    offset = np.array([12.0, -7.0, 3.0], np.float32)
    correction = seam_offset(photo, photo.astype(np.float32) - offset, hole)
    assert correction.shape == photo.shape and correction.dtype == np.float32
    assert not correction[~hole].any()
    np.testing.assert_allclose(correction[hole], np.broadcast_to(offset, correction[hole].shape), atol=1e-3)


def test_only_the_edge_of_the_hole_counts_and_a_hole_without_edge_gets_nothing():
    photo = np.full((32, 32, 3), 100, np.uint8)
    prediction = np.full((32, 32, 3), 100.0, np.float32)
    prediction[:4] = 0.0  # wrong far from the hole: irrelevant
    hole = np.zeros((32, 32), bool)
    hole[12:20, 12:20] = True
    assert not seam_offset(photo, prediction, hole).any()
    everything = np.ones((32, 32), bool)
    assert not seam_offset(photo, prediction - 50, everything).any()  # no known pixel to meet
    strided = np.zeros((32, 64), bool)[:, ::2]  # a non-contiguous view of a hole is fine too
    strided[12:20, 12:20] = True
    assert np.allclose(seam_offset(photo, prediction - 5, strided)[strided], 5.0, atol=1e-3)


class ConstantModel:
    """Predicts one grey level everywhere (a network's fill that is too dark), with the nano config."""

    def __init__(self, level: float) -> None:
        self.config = ModelConfig.from_name("skip-recon", preset="nano")
        self.level = level

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        pred = torch.full_like(images, self.level)
        return InpaintOutput(pred, images * (1 - mask) + pred * mask, None)


def test_the_pipeline_fill_meets_the_photo_at_the_edge_with_the_correction_and_not_without():
    photo = np.full((64, 96, 3), 150, np.uint8)
    photo[:, :, 2] = 90
    hole = np.zeros((64, 96), bool)
    hole[20:44, 30:70] = True
    model = ConstantModel(64 / 255)
    corrected = np.asarray(InpaintPipeline(model, texture=0.0)(photo, hole)).astype(int)
    plain = np.asarray(InpaintPipeline(model, texture=0.0, seam_correction=False)(photo, hole)).astype(int)
    assert np.array_equal(corrected[~hole], photo[~hole]) and np.array_equal(plain[~hole], photo[~hole])
    inner = np.zeros_like(hole)
    inner[26:38, 36:64] = True  # away from the edge, where the plain fill's bicubic resize mixes in the photo
    assert np.abs(plain[inner] - 64).max() <= 1  # the model's dark grey, with a seam all around
    assert np.abs(corrected[hole] - photo[hole]).max() <= 1  # moved onto the flat photo's colour: no seam
