"""Exemplar texture synthesis as tensor ops: fill a hole with patches copied from the photo's known part.

The texture step (inpnet/texture.py) needs an exemplar fill: the hole filled with the photo's own patches,
from which it takes the detail. PatchMatch from the `pypatchmatch` wheel gives the best one, but it ships
a Linux x86-64 library only and costs ~7 s for a 10 % hole in a 1-megapixel photo on two cores. This
module is the same family of algorithm written over torch tensors (so it runs wherever torch does, and
its cost is a few vectorised passes over the hole pixels):

1. An image pyramid, halving until the hole has at most `COARSE_HOLE_PIXELS` pixels (a few patches wide,
   so its first fill is set by the hole's border) or no fully known patch would be left. A coarse pixel is
   known when all four pixels under it are; a source patch must be entirely known.
2. Coarsest level: the hole starts as the `guide` scaled down (the texture step passes the network's fill,
   which knows the scene's layout), or, without one, as the vote of a random source patch per pixel
   (seeded); then `COARSE_ITERATIONS` rounds of expectation-maximisation (Wexler et al. 2007): each hole
   pixel's patch is matched exactly against every source patch (one matmul) and each hole pixel becomes the
   mean of what the matched patches that cover it hold there ("voting"). From a random start, a large hole
   over structured content settled on whatever structure matched its noise (on the astronaut's chest, 10 %
   of a 1-megapixel photo, a grid of badge-like copies); from the network's fill, on suit (docs/results.md,
   section 3).
3. Finer levels: the nearest-neighbour field (NNF) is upsampled (source x2 + the pixel's offset in its
   coarse pixel) and voted, which carries the coarse layout down; then `FINE_ITERATIONS` rounds of
   PatchMatch (Barnes et al. 2009) over all hole pixels at once: a neighbour's match shifted back
   (propagation) and random candidates in windows that halve from the whole level down to 1 pixel. The
   finest `SKIP_SEARCH_LEVELS` levels only vote along the upsampled field: that copies the photo's full
   resolution detail along coherent matches at a fraction of the search cost.

Written by hand because no maintained Python library offers exemplar inpainting outside that one wheel
(OpenCV's xphoto module, which has shift-map inpainting, is not in the opencv-python wheels).
Opt-in (`texture_method="synthesis"`), because it measured worse than PatchMatch (docs/results.md, section 3):
level on boxes, 0.8-1.2 dB lower and with less detail on thin strokes, and on a large hole over structured
content the coarse levels can pick the wrong structure (a badge copied into a shirt; less so from the
network's fill as the start), which the finest levels, searched only along the upsampled field, never
correct. ~10x faster at a megapixel.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from inpnet.errors import InpNetError

# patch side in pixels, at every level (PatchMatch's patches are 11 x 11: pypatchmatch's patch_size 5 is a radius;
# 7, 9 and 11 here measured more PSNR and less detail, docs/results.md section 3)
PATCH = 5
COARSE_HOLE_PIXELS = 64  # the pyramid stops halving once the hole has at most this many pixels
COARSE_ITERATIONS = 6
FINE_ITERATIONS = 2
SKIP_SEARCH_LEVELS = 2  # the finest levels only vote along the upsampled NNF (measured: 2.5x faster than 1, same quality)
SEARCH_SHRINK = 2  # random-search window radii: max(h, w), then divided by this down to 1 pixel
_CHUNK = 2_048  # queries per block of the exhaustive match (a 2,048 x sources distance matrix)


def synthesize(image: np.ndarray, hole: np.ndarray, *, seed: int = 0, guide: np.ndarray | None = None) -> np.ndarray:
    """image (H,W,3) uint8 (hole content ignored) + hole (H,W) bool -> (H,W,3) uint8 with the hole filled
    by patches of the known part; known pixels bit-exact. Deterministic for a given seed. `guide` (H,W,3)
    uint8, e.g. the network's fill: the coarsest level's first fill (step 2 of the module docstring).

    Raises InpNetError when the photo has no fully known 5x5 patch."""
    if image.ndim != 3 or image.shape[2] != 3 or hole.shape != image.shape[:2]:
        raise InpNetError(f"synthesize needs (H,W,3) and (H,W) arrays, got {image.shape} and {hole.shape}")
    if not hole.any():
        return image.copy()
    levels = _pyramid(image, hole)
    if not levels[0][2].any():
        raise InpNetError("the photo has no fully known 5x5 patch to copy texture from")
    g = torch.Generator().manual_seed(seed)
    nnf = fill = None
    for depth, (img, known, valid) in enumerate(levels):  # coarse -> fine
        holes = (~known).nonzero()  # (T, 2) rows, cols
        if nnf is None:
            nnf = _random_nnf(known, valid, g)
            fill = _vote(img, known, nnf, holes) if guide is None else _coarse_guide(img, known, guide)
            for _ in range(COARSE_ITERATIONS):
                nnf = _exhaustive_match(fill, valid, holes, nnf)
                fill = _vote(img, known, nnf, holes)
            continue
        nnf = _upsample_nnf(nnf, known)
        fill = _vote(img, known, nnf, holes)
        if len(levels) - 1 - depth >= SKIP_SEARCH_LEVELS and valid.any():
            for _ in range(FINE_ITERATIONS):
                nnf = _refine(fill, valid, holes, nnf, g)
                fill = _vote(img, known, nnf, holes)
    out = fill.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, 3)
    return np.where(hole[..., None], out, image)


def _coarse_guide(img: torch.Tensor, known: torch.Tensor, guide: np.ndarray) -> torch.Tensor:
    """The coarsest level's first fill taken from `guide` ((H,W,3) uint8 at full size, e.g. the network's fill)
    scaled down to the level (area average), known pixels the image's."""
    import cv2

    h, w = known.shape
    small = cv2.resize(guide.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    small = torch.from_numpy(np.ascontiguousarray(small)).permute(2, 0, 1)
    return torch.where(known, img, small)


# ---- pyramid -------------------------------------------------------------------------------
def _pyramid(image: np.ndarray, hole: np.ndarray) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """[(image (3,h,w) float 0..255 with holes at 0, known (h,w) bool, valid source centres (h,w) bool)] from
    coarsest to finest."""
    img = torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).float()
    known = torch.from_numpy(~hole)
    img = img * known
    levels = [(img, known, _valid_sources(known))]
    while int((~known).sum()) > COARSE_HOLE_PIXELS and min(known.shape) >= 4 * PATCH:
        weight = F.avg_pool2d(known[None, None].float(), 2, ceil_mode=True)[0, 0]  # known share per coarse px
        total = F.avg_pool2d(img[None], 2, ceil_mode=True)[0]
        coarse_known = weight >= 1.0
        valid = _valid_sources(coarse_known)
        if not valid.any():
            break
        img, known = torch.where(coarse_known, total, torch.zeros_like(total)), coarse_known
        levels.append((img, known, valid))
    return levels[::-1]


def _valid_sources(known: torch.Tensor) -> torch.Tensor:
    """(h,w) bool: centres whose whole PATCH x PATCH window lies inside the image and is known."""
    r = PATCH // 2
    valid = torch.zeros_like(known)
    if min(known.shape) < PATCH:
        return valid
    inside = F.avg_pool2d(known[None, None].float(), PATCH, stride=1)[0, 0] >= 1.0  # (h-2r, w-2r)
    valid[r : known.shape[0] - r, r : known.shape[1] - r] = inside
    return valid


# ---- nearest-neighbour field: (h, w, 2) long, the source (row, col) of each pixel's patch ----------
def _identity(shape: tuple[int, int]) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(shape[0]), torch.arange(shape[1]), indexing="ij")
    return torch.stack([rows, cols], dim=-1)


def _random_nnf(known: torch.Tensor, valid: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    nnf = _identity(known.shape)
    sources = valid.nonzero()
    holes = (~known).nonzero()
    nnf[holes[:, 0], holes[:, 1]] = sources[torch.randint(len(sources), (len(holes),), generator=g)]
    return nnf


def _upsample_nnf(coarse: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The next finer level's NNF: source x2 + the pixel's offset inside its coarse pixel, clamped to the
    image (a source that is not valid here is outvoted or replaced by the search); known pixels: themselves."""
    h, w = known.shape
    fine = _identity((h, w))
    src = coarse[fine[..., 0] // 2, fine[..., 1] // 2] * 2 + fine % 2
    src[..., 0].clamp_(0, h - 1)
    src[..., 1].clamp_(0, w - 1)
    return torch.where(known[..., None], fine, src)


def _patches(img: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """(3,h,w) image, centres (N,) -> (N, 3*PATCH^2) patch vectors (replicated border)."""
    r = PATCH // 2
    pad = F.pad(img[None], (r, r, r, r), mode="replicate")[0]  # (3, h+2r, w+2r)
    wp = pad.shape[2]
    d = torch.arange(PATCH)
    offsets = (d[:, None] * wp + d[None, :]).reshape(-1)  # (P*P,) row-major inside the window
    index = (rows * wp + cols)[:, None] + offsets[None, :]  # (N, P*P): in padded coordinates the window
    flat = pad.reshape(3, -1)  # of centre (r, c) starts at (r, c)
    return flat[:, index.reshape(-1)].reshape(3, len(rows), -1).transpose(0, 1).reshape(len(rows), -1)


def _exhaustive_match(fill: torch.Tensor, valid: torch.Tensor, holes: torch.Tensor, nnf: torch.Tensor):
    """Every hole pixel's nearest valid source patch (L2 over the patch), by a chunked distance matmul."""
    sources = valid.nonzero()  # (S, 2)
    src = _patches(fill, sources[:, 0], sources[:, 1])  # (S, D); valid sources are known: fill = image
    src_sq = (src * src).sum(1)  # (S,)
    q = _patches(fill, holes[:, 0], holes[:, 1])  # (T, D)
    best = torch.empty(len(holes), dtype=torch.long)
    for start in range(0, len(holes), _CHUNK):
        dist = src_sq[None, :] - 2.0 * q[start : start + _CHUNK] @ src.T  # (chunk, S) = |q - s|^2 - |q|^2
        best[start : start + _CHUNK] = dist.argmin(1)
    out = nnf.clone()
    out[holes[:, 0], holes[:, 1]] = sources[best]
    return out


def _refine(fill: torch.Tensor, valid: torch.Tensor, holes: torch.Tensor, nnf: torch.Tensor,
            g: torch.Generator) -> torch.Tensor:
    """One PatchMatch round over all hole pixels at once: the current match, the 4 neighbours' matches
    shifted back, and one random candidate per window radius max(h, w), /2, ..., 1 around the current one;
    each hole pixel keeps its closest valid candidate."""
    h, w = valid.shape
    rows, cols = holes[:, 0], holes[:, 1]
    current = nnf[rows, cols]  # (T, 2)
    candidates = [current]
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        nr, nc = (rows + dr).clamp(0, h - 1), (cols + dc).clamp(0, w - 1)
        candidates.append(nnf[nr, nc] - torch.stack([nr - rows, nc - cols], 1))
    radius = max(h, w)
    while radius >= 1:
        candidates.append(current + torch.randint(-radius, radius + 1, current.shape, generator=g))
        radius //= SEARCH_SHRINK
    cand = torch.stack(candidates, 1)  # (T, C, 2)
    cand[..., 0].clamp_(0, h - 1)
    cand[..., 1].clamp_(0, w - 1)
    q = _patches(fill, rows, cols)  # (T, D)
    flat = cand.reshape(-1, 2)
    s = _patches(fill, flat[:, 0], flat[:, 1]).reshape(len(holes), cand.shape[1], -1)  # (T, C, D)
    dist = ((s - q[:, None, :]) ** 2).sum(-1)  # (T, C)
    dist = torch.where(valid[cand[..., 0], cand[..., 1]], dist, torch.full_like(dist, float("inf")))
    out = nnf.clone()
    out[rows, cols] = cand[torch.arange(len(holes)), dist.argmin(1)]
    return out


def _vote(img: torch.Tensor, known: torch.Tensor, nnf: torch.Tensor, holes: torch.Tensor) -> torch.Tensor:
    """(3,h,w) image whose hole pixels are the mean, over the patches that cover them, of what those
    patches' matches hold at that place (only known source pixels vote; none: the pixel stays 0)."""
    h, w = known.shape
    rows, cols = holes[:, 0], holes[:, 1]
    flat_img, flat_known, flat_nnf = img.reshape(3, -1), known.reshape(-1), nnf.reshape(-1, 2)
    total = torch.zeros(3, len(holes))
    count = torch.zeros(len(holes))
    r = PATCH // 2
    for dr in range(-r, r + 1):
        cr = rows - dr  # centre row of a patch that covers the hole pixel
        row_in = (cr >= 0) & (cr < h)
        cr = cr.clamp(0, h - 1)
        for dc in range(-r, r + 1):
            cc = cols - dc
            inside = row_in & (cc >= 0) & (cc < w)
            src = flat_nnf[cr * w + cc.clamp(0, w - 1)]  # (T, 2) the covering patch's match
            sr, sc = src[:, 0] + dr, src[:, 1] + dc
            ok = inside & (sr >= 0) & (sr < h) & (sc >= 0) & (sc < w)
            at = sr.clamp(0, h - 1) * w + sc.clamp(0, w - 1)
            ok = (ok & flat_known[at]).float()
            total += flat_img[:, at] * ok
            count += ok
    out = img.clone()
    out[:, rows, cols] = total / count.clamp_min(1)
    return out
