"""Texture transfer: give the network's smooth fill the photo's own detail, at the photo's own resolution.

An MSE-trained network fills a hole faithfully but smoothly: it predicts the mean of what could be there,
and the pipeline often runs it below the photo's resolution. Exemplar methods (PatchMatch, Barnes et al.
2009, the algorithm behind Photoshop's Content-Aware Fill) copy real patches of the photo into the hole, so
their fills are as sharp as the photo, but on their own they know nothing of the scene's layout. This step
joins the two, per hole region (the bounding box of each connected hole, grown by its context, at the
photo's resolution; only hole pixels change):

- default (unguided exemplar): the fills are split by frequency and the better half of each kept:
  result = blur(fill) + s * detail(exemplar) + (1 - s) * detail(fill), with blur a Gaussian of `sigma` px,
  detail(x) = x - blur(x) and s = strength * edge_weight: 0 on the hole's outermost pixels, rising linearly to
  1 at EDGE_RAMP + 1 px inside. There the fill (with the pipeline's seam correction) already carries the
  photo's own edge, and copied detail costs more than it brings (docs/results.md section 3: +0.02 to +0.19 dB
  hole PSNR at the same texture);
- with GUIDE_WEIGHT > 0 (measured, not the default): PatchMatch guided by the network's fill (below), and
  the result is the fill blended towards that exemplar: result = fill + strength * (exemplar - fill).

Measured on the test photos in docs/results.md section 3 and docs/release-native/texture-patch.md.

The exemplar fill (`method`):
- "patchmatch" (default): PatchMatch from the `pypatchmatch` package (MIT; a compiled library in its Linux
  x86-64 wheel); its cost grows faster than the region (~0.4 s at 216 x 216, ~7 s at 648 x 648 on one core,
  unguided; the guided search about twice that), so a region above MAX_EXEMPLAR_PIXELS is filled at reduced
  size and scaled back up.
  Where it does not load, `texture_available()` is False and the pipeline returns the plain network fill.
  *Guided by the network's fill* (GUIDE_WEIGHT > 0; off by default): PatchMatch's patch distance gets a
  second term that compares a guide image between the hole patch and the candidate (pypatchmatch's
  `inpaint_regularity`, whose guide is a float map of "regularity coordinates"); the guide is the network's
  fill, blurred, as two channels (brightness, blue-red balance). On 12 native test photos it scored more
  texture at about the same hole PSNR, but it looks worse: in a large hole the network's fill is flat, so
  the guide asks for patches of flat mean colour, and PatchMatch fills the middle with a mottled patchwork
  that stands out from the grass or brick around it (docs/texture-figure.png was rendered both ways;
  docs/release-native/texture-patch.md). Kept measurable, not used.
- "synthesis" (opt-in, experimental): inpnet/synthesis.py, the same family of algorithm as torch tensor ops;
  runs everywhere and ~10x faster at a megapixel, but measured worse (docs/results.md, section 3): on large
  holes over structured content it can copy the wrong structure (a badge into a shirt), and it is 0.8-1.2 dB
  below PatchMatch on thin strokes.

What was tried first and dropped (docs/results.md, "levers"): matching each hole patch independently
against known patches by the fill's low frequencies (image analogies / quilting as tensor ops) - fast, but
in the middle of a large hole the smooth fill gives every patch the same guide, so one patch repeats on the
query grid; a coherent search (random start, propagated offsets, voting over overlapping patches, coarse
to fine: PatchMatch, and synthesis.py) does not have that flaw.
"""

from __future__ import annotations

import cv2
import numpy as np

from inpnet.errors import InpNetError

DEFAULT_SIGMA = 6.0  # pixels: the Gaussian that separates layout (network) from detail (PatchMatch)
# The exemplar fill of a region larger than this runs on a copy scaled down to it and is scaled back up.
# PatchMatch costs ~15 us per pixel of its window on one of these cores: a 6-megapixel phone photo with a
# tenth of it painted took 49 s (a 3-megapixel window), now 8.1 s; at 12 megapixels 10 s instead of ~1.5 min.
# The price is the finest detail (a region at half resolution, measured on native test photos viewed at
# 100 %: texture 0.87 -> 0.70 on thick strokes, 0.73 -> 0.59 on a box, hole PSNR within 0.3 dB), which in a
# photo this large lies below the scale it is seen at. Photos up to ~1 megapixel, and every photo of the
# measured tables, stay below the cap (docs/results.md section 3).
MAX_EXEMPLAR_PIXELS = 500_000
CONTEXT = 48  # pixels of known context (at least) around a hole region given to PatchMatch
# PatchMatch's `patch_size` of the classical baseline. pypatchmatch's patch_size is a *radius*: patches of
# (2 * 5 + 1)^2 = 11 x 11 pixels (pypatchmatch 2.2 itself defaults to 15, 31 x 31).
PATCH_SIZE = 5
# The texture step's PatchMatch patch_size: 5 too. On the 40 native test photos 3 (7 x 7) scored more texture (0.85 /
# 0.85 / 0.68 / 0.82 against 0.90 / 0.83 / 0.65 / 0.79 on thick, medium, box, NVIDIA), the same hole PSNR
# (+0.12 / -0.03 / -0.03 / -0.05 dB) in a third less time, but it looks worse: a large hole in grass fills
# with a fine speckle of short blades instead of grass (docs/release-native/texture-patch.md).
TEXTURE_PATCH_SIZE = PATCH_SIZE
# The copied detail fades out towards the hole's edge: weight 0 on the hole pixels next to a known pixel, 1 from
# EDGE_RAMP + 1 px inside (distance to the nearest known pixel, L2). Chosen on 20 validation photos among ramps
# of 1-4 px (3 and 4 took detail from thin strokes), measured on the 40 test photos (docs/results.md).
EDGE_RAMP = 2
# The guide (see the module docstring): the network's fill blurred by GUIDE_SIGMA px, brightness and blue-red
# balance scaled into [0, GUIDE_SCALE), weighted GUIDE_WEIGHT against the patch distance (pypatchmatch's
# `guide_weight`; 0 = unguided, the default: the guided fills scored well and looked worse). The library
# compares guide values as coordinates; keeping them below 0.5 keeps every difference a plain difference.
GUIDE_SIGMA = 3.0
GUIDE_SCALE = 0.4
GUIDE_WEIGHT = 0.0
METHODS = ("patchmatch", "synthesis")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise InpNetError(f"unknown texture method {method!r}; valid: {', '.join(METHODS)}")
    return method


def is_strength(value: object) -> bool:
    """Whether `value` is a texture strength: a number (not a bool) in [0, 1]. The pipeline and the web page
    both check it, each wording the error for its own user."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def texture_available(method: str = "patchmatch") -> bool:
    """Whether the texture step can run with `method`: "synthesis" always; "patchmatch" when the PatchMatch
    library loads (pip install pypatchmatch; Linux x86-64 wheels)."""
    if check_method(method) == "synthesis":
        return True
    try:
        from patchmatch import patch_match
    except (ImportError, OSError):
        return False
    return bool(getattr(patch_match, "patchmatch_available", True))


def patchmatch_inpaint(image: np.ndarray, hole: np.ndarray, patch_size: int = PATCH_SIZE,
                       guide: np.ndarray | None = None, guide_weight: float = GUIDE_WEIGHT) -> np.ndarray:
    """(H,W,3) uint8 + (H,W) bool -> (H,W,3) uint8 filled by PatchMatch (pypatchmatch); with `guide`
    ((H,W,3) uint8, e.g. the network's fill), guided by it (`guide_map`, weight `guide_weight`; 0 = unguided)."""
    if not texture_available():
        raise InpNetError('PatchMatch needs pypatchmatch (Linux x86-64): pip install "pypatchmatch>=2.2"')
    from patchmatch import patch_match

    mask = np.ascontiguousarray(hole.astype(np.uint8) * 255)
    if guide is None or guide_weight == 0:
        return patch_match.inpaint(np.ascontiguousarray(image), mask, patch_size=patch_size)
    return patch_match.inpaint_regularity(np.ascontiguousarray(image), mask, guide_map(guide),
                                          patch_size=patch_size, guide_weight=guide_weight)


def guide_map(fill: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 -> (H,W,3) float32 guide for PatchMatch: the image blurred by GUIDE_SIGMA px, its
    brightness and blue-red balance in [0, GUIDE_SCALE) (channels 0 and 1; channel 2 unused, zero)."""
    blurred = _blur(fill.astype(np.float32), GUIDE_SIGMA) / 255  # (H,W,3) in [0, 1]
    brightness = blurred.mean(axis=-1)
    balance = (blurred[..., 0] - blurred[..., 2]) * 0.5 + 0.5  # red minus blue, in [0, 1]
    scale = GUIDE_SCALE * (1 - 1e-6)  # strictly below GUIDE_SCALE
    return np.ascontiguousarray(np.stack([brightness * scale, balance * scale, np.zeros_like(brightness)], -1),
                                dtype=np.float32)


def exemplar_fill(image: np.ndarray, hole: np.ndarray, method: str = "patchmatch",
                  guide: np.ndarray | None = None) -> np.ndarray:
    """(H,W,3) uint8 (hole content ignored) + (H,W) bool -> (H,W,3) uint8: the hole filled with patches of
    the known part by `method` (see the module docstring; PatchMatch with TEXTURE_PATCH_SIZE, guided by
    `guide` (H,W,3) uint8 when given and GUIDE_WEIGHT > 0; the synthesis starts its coarsest level from
    `guide`); known pixels bit-exact."""
    known = np.where(hole[..., None], 0, image).astype(np.uint8)
    if check_method(method) == "patchmatch":
        return patchmatch_inpaint(known, hole, patch_size=TEXTURE_PATCH_SIZE, guide=guide, guide_weight=GUIDE_WEIGHT)
    from inpnet.synthesis import synthesize

    return synthesize(known, hole, guide=guide)


def transfer_texture(
    image: np.ndarray, hole: np.ndarray, fill: np.ndarray, *, strength: float = 1.0, sigma: float = DEFAULT_SIGMA,
    method: str = "patchmatch", max_pixels: int = MAX_EXEMPLAR_PIXELS,
) -> np.ndarray:
    """image (H,W,3) uint8 (hole content ignored), hole (H,W) bool, fill (H,W,3) uint8 = the image with the
    hole filled smoothly (the network) -> (H,W,3) uint8: the fill with the photo's own detail in the hole.

    Pixels outside the hole are `image`'s, bit-exact. `strength` 0 returns the fill; 1 takes all the detail
    of the exemplar fill of `method` ("patchmatch" or "synthesis"; the module docstring's formula). With
    GUIDE_WEIGHT > 0 (not the default) PatchMatch is guided by the fill and the result is the fill blended
    towards that exemplar, 1 = the exemplar itself. Deterministic (both exemplar fills are seeded).
    `max_pixels`: the largest region the exemplar fill runs on at full resolution (a larger one runs scaled
    down to that many pixels, and its fill is scaled back up)."""
    if not is_strength(strength):
        raise InpNetError(f"texture strength must be in [0, 1], got {strength}")
    check_method(method)
    out = np.where(hole[..., None], fill, image)
    if strength == 0 or not hole.any() or hole.all():
        return out
    guided = method == "patchmatch" and GUIDE_WEIGHT > 0
    for top, left, bottom, right in hole_regions(hole):
        win = (slice(top, bottom), slice(left, right))
        region_hole = hole[win]
        exemplar = _exemplar_within(image[win], region_hole, method, out[win], max_pixels)  # unguided at weight 0
        region, ex = out[win].astype(np.float32), exemplar.astype(np.float32)  # (h, w, 3)
        if guided:
            mixed = region + strength * (ex - region)
        else:
            weight = strength * edge_weight(region_hole)[..., None]  # (h, w, 1)
            mixed = region + weight * ((ex - _blur(ex, sigma)) - (region - _blur(region, sigma)))
        out[win] = np.where(region_hole[..., None], np.clip(np.rint(mixed), 0, 255).astype(np.uint8), out[win])
    return out


def _exemplar_within(image: np.ndarray, hole: np.ndarray, method: str, guide: np.ndarray,
                     max_pixels: int) -> np.ndarray:
    """`exemplar_fill` of an (h, w) region, on a copy scaled down to at most `max_pixels` pixels when it is
    larger (INTER_AREA; a cell is hole when any of its pixels is), scaled back up (bicubic) for the hole."""
    h, w = hole.shape
    if h * w <= max_pixels:
        return exemplar_fill(image, hole, method, guide=guide)
    factor = (h * w / max_pixels) ** 0.5
    size = (max(1, round(w / factor)), max(1, round(h / factor)))  # (w, h) for OpenCV
    small_hole = cv2.resize(hole.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_guide = cv2.resize(guide, size, interpolation=cv2.INTER_AREA)
    filled = exemplar_fill(small, small_hole, method, guide=small_guide)
    up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC)  # uint8, saturated
    return np.where(hole[..., None], up, image)


def edge_weight(hole: np.ndarray, ramp: int = EDGE_RAMP) -> np.ndarray:
    """(h, w) bool -> (h, w) float32 in [0, 1]: 0 outside the hole and on its outermost pixels, rising linearly
    with the distance to the nearest known pixel to 1 at `ramp` + 1 px (the image's border is not an edge)."""
    if ramp <= 0:
        return hole.astype(np.float32)
    distance = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 5)  # 0 on known pixels, >= 1 in the hole
    return np.clip((distance - 1) / ramp, 0, 1).astype(np.float32)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def hole_regions(hole: np.ndarray, context: int = CONTEXT) -> list[tuple[int, int, int, int]]:
    """Disjoint windows (top, left, bottom, right) covering every hole pixel: the bounding box of each
    8-connected hole region grown by `context` px or half its larger side (whichever is more); overlapping
    windows are merged (the union's 4-connected components, until stable)."""
    H, W = hole.shape
    _, _, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
    boxes = []
    for x, y, w, h in stats[1:, :4].tolist():
        c = max(context, max(w, h) // 2)
        boxes.append((max(0, y - c), max(0, x - c), min(H, y + h + c), min(W, x + w + c)))
    while True:
        canvas = np.zeros((H, W), dtype=np.uint8)
        for top, left, bottom, right in boxes:
            canvas[top:bottom, left:right] = 1
        _, _, stats, _ = cv2.connectedComponentsWithStats(canvas, connectivity=4)
        merged = [(y, x, y + h, x + w) for x, y, w, h in stats[1:, :4].tolist()]
        if len(merged) == len(boxes):
            return merged
        boxes = merged
