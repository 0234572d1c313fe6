"""Object removal on textured backgrounds (a wall, grass, a launch pad), at the photos' own size:
original | masked | OpenCV Telea | PatchMatch | InP-Net network only | InP-Net default (with the texture step:
the network's fill plus PatchMatch's detail) | InP-Net with the opt-in built-in synthesis as exemplar fill.

    python scripts/texture_figure.py -o docs/texture-figure.png

Photos: scikit-image's bundled brick, grass and rocket (shipped with scikit-image, free to use); the holes
are boxes where an object would be removed (on the rocket photo: the rocket itself).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import skimage.data
from PIL import Image, ImageDraw

from inpnet.predict import InpaintPipeline
from inpnet.texture import patchmatch_inpaint

# name -> hole box (top, left, bottom, right) as fractions of the photo
SCENES = {
    "brick": (0.30, 0.32, 0.62, 0.60),
    "grass": (0.35, 0.30, 0.65, 0.62),
    "rocket": (0.05, 0.44, 0.80, 0.55),
}
COLUMNS = ("original", "masked", "Telea", "PatchMatch", "InP-Net network", "InP-Net default",
           "InP-Net + synthesis")
PANEL = 256  # displayed panel side (pixels) of each crop


def _photo(name: str) -> np.ndarray:
    a = getattr(skimage.data, name)()
    return np.stack([a] * 3, -1) if a.ndim == 2 else a[..., :3]


def _hole(shape: tuple[int, ...], box: tuple[float, float, float, float]) -> np.ndarray:
    H, W = shape[:2]
    hole = np.zeros((H, W), dtype=bool)
    hole[int(box[0] * H) : int(box[2] * H), int(box[1] * W) : int(box[3] * W)] = True
    return hole


def _crop(a: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """A square crop around the hole (twice its extent), resized to the panel size."""
    ys, xs = np.nonzero(hole)
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    side = min(max(np.ptp(ys), np.ptp(xs)) * 2, *hole.shape)
    top = int(np.clip(cy - side // 2, 0, hole.shape[0] - side))
    left = int(np.clip(cx - side // 2, 0, hole.shape[1] - side))
    crop = a[top : top + side, left : left + side]
    return np.asarray(Image.fromarray(crop).resize((PANEL, PANEL), Image.Resampling.LANCZOS))


def render(out: Path) -> None:
    plain = InpaintPipeline.from_pretrained(texture=0.0)
    default = InpaintPipeline(plain.model)  # the default texture setting
    synthesis = InpaintPipeline(plain.model, texture_method="synthesis")
    rows = []
    for name, box in SCENES.items():
        image = _photo(name)
        hole = _hole(image.shape, box)
        masked = image.copy()
        masked[hole] = (255, 0, 255)
        telea = cv2.inpaint(image, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
        panels = [image, masked, telea, patchmatch_inpaint(image, hole), np.asarray(plain(image, hole)),
                  np.asarray(default(image, hole)), np.asarray(synthesis(image, hole))]
        rows.append(np.concatenate([_crop(p, hole) for p in panels], 1))
    grid = np.concatenate(rows, 0)
    header = Image.new("RGB", (grid.shape[1], 22), "white")
    draw = ImageDraw.Draw(header)
    for i, title in enumerate(COLUMNS):
        draw.text((i * PANEL + 6, 5), title, fill="black")
    figure = np.concatenate([np.asarray(header), grid], 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(figure).save(out, optimize=True)
    print(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", type=Path, default=Path("docs/texture-figure.png"))
    render(ap.parse_args().out)
