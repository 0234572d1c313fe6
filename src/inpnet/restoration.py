"""Ratio-0 restoration of an image of any size with a model trained at one size (`InpaintPipeline.restore`).

- Tiles: an image up to the model size is padded to it (reflect; replicate where a side is too short to
  reflect); a larger one is cut into overlapping model-size tiles (`TILE_OVERLAP` of a side) whose
  predictions are blended with linear ramps, so no seam shows. Every tile starts on a multiple of
  `TILE_GRID` px of the image (its end is padded, reflected, to make the last one fit): a JPEG's 8x8 blocks
  then fall on each tile's grid as they did in training, where each crop was compressed from its own corner
  (JPEG q20 on the 40 native test photos: +0.015 dB [+0.002, +0.028] over tiles ending flush with the
  image, docs/results.md section 3; a grid shifted by 4 px instead cost 0.08-0.09 dB; noise: level).
- Self-ensemble (as in EDSR, Lim et al. 2017): each tile is also run flipped (and, on square tiles, rotated
  by 90 degrees); every prediction is turned back and the `views` predictions are averaged. The model's errors
  differ between views and partly cancel: measured at 128 px on four scikit-image photos (stage-5 weights,
  `python scripts/restore_check.py RUN --views 1 4 8`), 4 views gain +0.7 / +0.5 / +0.1 dB over one pass on
  noise sigma 10 / noise sigma 25 / JPEG q20, 8 views a little more at twice the cost.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

from inpnet.errors import InpNetError

TILE_OVERLAP = 0.25  # overlap between neighbouring tiles, as a fraction of the tile side
TILE_GRID = 8  # tile starts are multiples of this (JPEG's block side; see the module docstring)
# (quarter turns, mirrored) of each view; the first 1, 2 or 4 keep a tile's shape (any model size)
ENSEMBLE_VIEWS = ((0, False), (0, True), (2, False), (2, True), (1, False), (1, True), (3, False), (3, True))
VIEW_COUNTS = (1, 2, 4, 8)
DEFAULT_VIEWS = 4  # most of the gain of 8 at half its cost

# tiles (b, 3, mh, mw), empty mask (b, 1, mh, mw) -> the model's prediction (b, 3, mh, mw)
Predict = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def check_views(views: int | None, model_size: tuple[int, int]) -> int:
    """The self-ensemble size: None -> DEFAULT_VIEWS; else one of VIEW_COUNTS (8 needs a square model size)."""
    if views is None:
        return DEFAULT_VIEWS
    if isinstance(views, bool) or views not in VIEW_COUNTS:
        raise InpNetError(f"self_ensemble must be 1, 2, 4 or 8 views, got {views!r}")
    if views == 8 and model_size[0] != model_size[1]:
        raise InpNetError(f"self_ensemble 8 rotates tiles by 90 degrees: the model size {model_size} is not square")
    return views


def tile_starts(n: int, tile: int, overlap: int, grid: int = 1) -> list[int]:
    """Start offsets of tiles of size `tile` covering [0, n) with at least `overlap` shared pixels, each a
    multiple of `grid` when `n - tile` is one (`grid_length` makes it so) and the stride allows it."""
    if n <= tile:
        return [0]
    stride = max(1, tile - overlap)
    if stride >= grid:
        stride -= stride % grid
    starts = list(range(0, n - tile, stride))
    return [*starts, n - tile]


def grid_length(n: int, tile: int, grid: int) -> int:
    """The length >= n to pad a side to so that its last tile starts on a multiple of `grid`."""
    return n if n <= tile else n + (-(n - tile)) % grid


def ramp(tile: int, overlap: int) -> torch.Tensor:
    """(tile,) blending weights: linear ramps of `overlap` pixels at both ends, 1 in the middle, never 0."""
    i = torch.arange(tile, dtype=torch.float32)
    width = max(1, overlap)
    return torch.minimum(torch.minimum(i + 1, tile - i), torch.tensor(float(width))) / width


def ensemble_predict(predict: Predict, tiles: torch.Tensor, views: int) -> torch.Tensor:
    """(b, 3, mh, mw) -> (b, 3, mh, mw) in [0, 1]: the mean over the first `views` ENSEMBLE_VIEWS of the
    prediction for the tiles seen that way, each turned back."""
    empty = torch.zeros(tiles.shape[0], 1, *tiles.shape[-2:])
    total = torch.zeros(tiles.shape)
    for quarter_turns, mirrored in ENSEMBLE_VIEWS[:views]:
        view = torch.rot90(tiles, quarter_turns, (-2, -1))
        view = view.flip(-1) if mirrored else view
        pred = predict(view, empty).float().cpu()  # rotations only on square tiles: same shape
        pred = pred.flip(-1) if mirrored else pred
        total += torch.rot90(pred, -quarter_turns, (-2, -1))
    return (total / views).clamp(0, 1)


def restore_tiled(predict: Predict, x: torch.Tensor, model_size: tuple[int, int], *, batch_size: int = 16,
                  views: int = DEFAULT_VIEWS, on_batch: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] -> (1, 3, H, W): the restored image from model-size tiles (module docstring).

    `on_batch(done, total)` is called after each batch of tiles (a progress bar: a 4-megapixel photo is 441
    tiles, ~2 minutes on 2 cores with 4 views)."""
    _, _, H, W = x.shape
    mh, mw = model_size
    # pad a small side up to the model size, a larger one so that its last tile starts on the grid
    ph, pw = max(mh, grid_length(H, mh, TILE_GRID)) - H, max(mw, grid_length(W, mw, TILE_GRID)) - W
    if ph or pw:
        mode = "reflect" if ph < H and pw < W else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    PH, PW = x.shape[-2:]
    oh, ow = round(mh * TILE_OVERLAP), round(mw * TILE_OVERLAP)
    corners = [(t, le) for t in tile_starts(PH, mh, oh, TILE_GRID) for le in tile_starts(PW, mw, ow, TILE_GRID)]
    weight = ramp(mh, oh)[:, None] * ramp(mw, ow)[None, :]  # (mh, mw)
    acc = torch.zeros_like(x)
    norm = torch.zeros(1, 1, PH, PW)
    step = max(1, batch_size)
    for i in range(0, len(corners), step):
        chunk = corners[i : i + step]
        tiles = torch.cat([x[..., t : t + mh, le : le + mw] for t, le in chunk])  # (b, 3, mh, mw)
        pred = ensemble_predict(predict, tiles, views)  # (b, 3, mh, mw)
        for (t, le), p in zip(chunk, pred):
            acc[..., t : t + mh, le : le + mw] += p * weight
            norm[..., t : t + mh, le : le + mw] += weight
        if on_batch is not None:
            on_batch(i + len(chunk), len(corners))
    return (acc / norm)[..., :H, :W]


@contextlib.contextmanager
def tile_progress(progress: bool | Callable[[int, int], None]) -> Iterator[Callable[[int, int], None] | None]:
    """The `on_batch` for `restore_tiled`: `progress` itself when it is a function, None when False, and for
    True a tqdm bar on stderr over the tiles, opened only when an image takes more than one batch and closed
    on leaving the block."""
    if callable(progress) or not progress:
        yield progress or None
        return
    from tqdm import tqdm

    bar: tqdm | None = None

    def on_batch(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and done < total:  # more than one batch: worth a bar
            bar = tqdm(total=total, desc="restore", unit="tile", file=sys.stderr, leave=False)
        if bar is not None:
            bar.update(done - bar.n)

    try:
        yield on_batch
    finally:
        if bar is not None:
            bar.close()
