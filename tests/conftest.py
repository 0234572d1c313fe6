"""Shared fixtures: small synthetic photo folders (never the shared training data)."""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def editor_value(image: np.ndarray, hole: np.ndarray | None = None) -> dict:
    """What the web page's editor sends: the photo (RGBA) and one brush layer, painted (alpha > 0) over the
    hole."""
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    layer = np.zeros_like(rgba)
    if hole is not None:
        layer[hole] = (255, 0, 255, 153)
    return {"background": rgba, "layers": [layer], "composite": rgba}


def make_photos(folder: Path, n: int = 24, size: tuple[int, int] = (48, 64), seed: int = 0) -> Path:
    """Smooth random colour images (gradients + blobs), so that inpainting has something to learn."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    for i in range(n):
        base = rng.random(3)[:, None, None] + rng.normal(0, 0.5, (3, 1, 1)) * (xx + yy)[None]
        cy, cx = rng.random(2) * [h, w]
        blob = np.exp(-(((np.arange(h)[:, None] - cy) ** 2 + (np.arange(w)[None] - cx) ** 2) / (2 * (h / 5) ** 2)))
        img = np.clip(base + rng.normal(0, 0.4, (3, 1, 1)) * blob[None], 0, 1)
        Image.fromarray((img.transpose(1, 2, 0) * 255).astype(np.uint8)).save(folder / f"img_{i:03d}.png")
    return folder


def load_file_module(path: Path):
    """A script or benchmark file (not in a package) imported as a module (registered in sys.modules, as
    importlib's recipe does, so that dataclasses and pickling can find it by name)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return make_photos(tmp_path / "photos")


class Hang(BaseException):  # BaseException: no `except Exception` in the code under test can swallow it
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Fail with `Hang` if the block runs longer than `seconds` (SIGALRM; tests run in the main thread)."""

    def on_alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
