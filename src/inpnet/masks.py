"""Mask generators and pixel <-> patch conversion.

Conventions (see DESIGN.md):
- pixel mask: (B, 1, H, W) float32, 1 = hole (to fill), 0 = keep;
- token mask: (B, L) bool, True = masked, L = (H/p) * (W/p), row-major over the patch grid;
- ratio: fraction of *patches* masked, in [0, 0.9]; a ratio r masks exactly ``num_masked(r, L)`` patches.

Every random function takes an explicit ``torch.Generator`` (``None`` means a fresh generator seeded
with 0, so results are still reproducible); nothing touches the global RNG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from inpnet.errors import InpNetError

MASK_KINDS = ("random", "structured", "irregular", "dynamic")
# The paper's center_dict: the point each structured box is anchored at.
STRUCTURED_PRESETS = (
    "top_left",
    "top_right",
    "bottom_left",
    "bottom_right",
    "top_middle",
    "center_middle",
    "center_left",
    "center_right",
    "bottom_center",
)
IRREGULAR_FAMILIES = ("thin", "medium", "thick")
MAX_RATIO = 0.9
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")

# Anchor of each preset as (row, col) fractions of the grid: 0 = first edge, 0.5 = centre, 1 = last edge.
_ANCHORS = {
    "top_left": (0.0, 0.0),
    "top_right": (0.0, 1.0),
    "bottom_left": (1.0, 0.0),
    "bottom_right": (1.0, 1.0),
    "top_middle": (0.0, 0.5),
    "center_middle": (0.5, 0.5),
    "center_left": (0.5, 0.0),
    "center_right": (0.5, 1.0),
    "bottom_center": (1.0, 0.5),
}

# LaMa-style families, lengths in pixels of a 256-pixel image (scaled to the actual size).
# strokes: (min, max) count; vertices: max segments per stroke; boxes: (min, max) count;
# box_size: (min, max) side; box_proba: chance that one growth step (exact-ratio mode) is a box.
_FAMILIES = {
    "thin": dict(
        strokes=(4, 50), vertices=5, max_len=40, max_width=10, boxes=(0, 0), box_size=(10, 30), box_proba=0.0
    ),
    "medium": dict(
        strokes=(4, 5), vertices=5, max_len=100, max_width=50, boxes=(0, 2), box_size=(10, 50), box_proba=0.2
    ),
    "thick": dict(
        strokes=(1, 5), vertices=4, max_len=150, max_width=100, boxes=(1, 2), box_size=(30, 100),
        box_proba=0.3,
    ),
}
_MAX_GROWTH_STEPS = 200  # exact-ratio mode: strokes drawn before the remaining patches are filled directly


# ----------------------------------------------------------------------------- validation helpers


def validate_ratio(ratio: float) -> float:
    """Return ``ratio`` as a float if it is a finite number in [0, 0.9]; else raise InpNetError."""
    ok = isinstance(ratio, (int, float, np.floating, np.integer)) and not isinstance(ratio, bool)
    if not ok or not math.isfinite(float(ratio)) or not 0.0 <= float(ratio) <= MAX_RATIO:
        raise InpNetError(f"mask ratio must be in [0, {MAX_RATIO}], got {ratio}")
    return float(ratio)


def num_masked(ratio: float, num_patches: int) -> int:
    """Patches masked at ``ratio``: round(ratio * L), halves rounded up (not Python's banker's rounding)."""
    n = int(math.floor(validate_ratio(ratio) * num_patches + 0.5))
    return min(n, num_patches)


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise InpNetError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _check_pair(pair: Sequence[int], what: str) -> tuple[int, int]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise InpNetError(f"{what} must be a pair (rows, cols) of positive integers, got {pair!r}")
    return _positive_int(pair[0], what), _positive_int(pair[1], what)


def _grid_of(size: Sequence[int], patch_size: int) -> tuple[int, int]:
    """(H, W) -> (H/p, W/p); both must divide."""
    h, w = _check_pair(size, "image size")
    p = _positive_int(patch_size, "patch size")
    if h % p or w % p:
        raise InpNetError(f"image size {h}x{w} must be divisible by the patch size {p}")
    return h // p, w // p


def _generator(generator: torch.Generator | None) -> torch.Generator:
    if generator is None:
        return torch.Generator().manual_seed(0)
    if not isinstance(generator, torch.Generator):
        raise InpNetError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return generator


def _draw_seed(generator: torch.Generator) -> int:
    return int(torch.randint(0, 2**31 - 1, (1,), generator=generator).item())


def _uniform(generator: torch.Generator) -> float:
    return float(torch.rand((), generator=generator).item())


def _choice(options: Sequence[str], generator: torch.Generator) -> str:
    return options[int(torch.randint(0, len(options), (1,), generator=generator).item())]


# ----------------------------------------------------------------------------- conversion


def token_to_pixel_mask(token_mask: torch.Tensor, grid: tuple[int, int], patch_size: int) -> torch.Tensor:
    """(B, L) bool -> (B, 1, gh*p, gw*p) float32, each masked patch becomes a p x p block of ones."""
    gh, gw = _check_pair(grid, "grid")
    p = _positive_int(patch_size, "patch size")
    if token_mask.dim() != 2 or token_mask.shape[1] != gh * gw:
        shape = tuple(token_mask.shape)
        raise InpNetError(f"token mask must have shape (B, {gh * gw}) for grid {gh}x{gw}, got {shape}")
    blocks = token_mask.reshape(-1, 1, gh, gw).float()  # (B, 1, gh, gw)
    return blocks.repeat_interleave(p, dim=2).repeat_interleave(p, dim=3)  # (B, 1, H, W)


def pixel_to_token_mask(pixel_mask: torch.Tensor, patch_size: int, threshold: float = 0.0) -> torch.Tensor:
    """(B, 1, H, W) -> (B, L) bool: a patch is masked when its hole fraction is > ``threshold``.

    threshold 0 masks a patch with any hole pixel. Values are averaged as they are, so a {0, 1} mask gives
    the hole fraction.
    """
    p = _positive_int(patch_size, "patch size")
    if not math.isfinite(threshold) or not 0.0 <= threshold < 1.0:
        raise InpNetError(f"mask threshold must be in [0, 1), got {threshold}")
    shape = tuple(pixel_mask.shape)
    if pixel_mask.dim() != 4 or shape[1] != 1 or shape[2] % p or shape[3] % p:
        raise InpNetError(f"pixel mask must have shape (B, 1, H, W), H and W divisible by {p}, got {shape}")
    fraction = F.avg_pool2d(pixel_mask.float(), kernel_size=p)  # (B, 1, gh, gw)
    return (fraction > threshold).flatten(1)  # (B, L)


# ----------------------------------------------------------------------------- random and structured


def random_token_mask(
    batch: int, grid: tuple[int, int], ratio: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(B, L) bool, exactly ``num_masked(ratio, L)`` uniformly chosen patches per row (FB-MAE's argsort)."""
    b = _positive_int(batch, "batch size")
    gh, gw = _check_pair(grid, "grid")
    length = gh * gw
    n = num_masked(ratio, length)
    noise = torch.rand(b, length, generator=_generator(generator))  # (B, L)
    order = torch.argsort(noise, dim=1)  # the first n indices of each row are masked
    mask = torch.zeros(b, length, dtype=torch.bool)
    mask.scatter_(1, order[:, :n], True)
    return mask


def _span(extent: int, size: int, anchor: float) -> int:
    """First index of a run of ``size`` cells at ``anchor`` (0 start, 0.5 centre, 1 end) within ``extent``."""
    if anchor == 0.0:
        return 0
    if anchor == 1.0:
        return extent - size
    return (extent - size) // 2


def _box_rows(gh: int, gw: int, n: int, anchor: tuple[float, float]) -> np.ndarray:
    """(gh, gw) bool: n cells as full rows of width b plus one partial row on the side away from anchor."""
    mask = np.zeros((gh, gw), dtype=bool)
    if n == 0:
        return mask
    # Width following the grid's aspect (a box of n cells with rows/cols ~ gh/gw), then just enough rows.
    b = min(max(1, round(math.sqrt(n * gw / gh))), gw, n)
    a = math.ceil(n / b)
    if a > gh:
        a = gh
        b = math.ceil(n / gh)
        a = math.ceil(n / b)
    top = _span(gh, a, anchor[0])
    left = _span(gw, b, anchor[1])
    mask[top : top + a, left : left + b] = True
    partial = n - (a - 1) * b  # cells kept in the row farthest from the anchor, 1..b
    far_row = top if anchor[0] == 1.0 else top + a - 1
    mask[far_row, left : left + b] = False
    start = left + _span(b, partial, anchor[1])
    mask[far_row, start : start + partial] = True
    return mask


def _box_whole(gh: int, gw: int, n: int, anchor: tuple[float, float]) -> np.ndarray:
    """(gh, gw) bool: one full rectangle of about n cells at anchor, sides within one cell of the ideal
    near-square box (aspect following the grid), the cell count nearest to n among those sides."""
    mask = np.zeros((gh, gw), dtype=bool)
    if n == 0:
        return mask
    ideal_rows = min(float(gh), math.sqrt(n * gh / gw))
    ideal_cols = min(float(gw), n / ideal_rows)
    rows = {min(gh, max(1, math.floor(ideal_rows))), min(gh, max(1, math.ceil(ideal_rows)))}
    cols = {min(gw, max(1, math.floor(ideal_cols))), min(gw, max(1, math.ceil(ideal_cols)))}
    a, b = min(((a, b) for a in rows for b in cols), key=lambda ab: (abs(ab[0] * ab[1] - n), ab))
    top, left = _span(gh, a, anchor[0]), _span(gw, b, anchor[1])
    mask[top : top + a, left : left + b] = True
    return mask


def structured_token_mask(batch: int, grid: tuple[int, int], ratio: float, preset: str, *,
                          exact: bool = True) -> torch.Tensor:
    """(B, L) bool: one box of exactly ``num_masked(ratio, L)`` patches anchored at ``preset``, every row.

    Corners sit in their corner, edge presets are centred on their edge, ``center_middle`` in the middle.
    The box is near-square in grid units (aspect following the grid); the last line of patches, on the side
    away from the anchor, is partial so that the count is exact. Deterministic.
    ``exact=False`` (what a person asking for "a centred box" expects, e.g. the web page): one whole
    rectangle, no partial line, its sides within one patch of the ideal box, so the count may differ from
    ``num_masked`` by less than one line of patches.
    """
    b = _positive_int(batch, "batch size")
    gh, gw = _check_pair(grid, "grid")
    if preset not in _ANCHORS:
        valid = ", ".join(STRUCTURED_PRESETS)
        raise InpNetError(f"unknown structured preset {preset!r}; expected one of {valid}")
    n = num_masked(ratio, gh * gw)
    row_anchor, col_anchor = _ANCHORS[preset]
    if not exact:
        box = _box_whole(gh, gw, n, (row_anchor, col_anchor))
    elif preset in ("center_left", "center_right"):
        # Away from a left/right anchor is a column: build in the transposed grid.
        box = _box_rows(gw, gh, n, (col_anchor, row_anchor)).T
    else:
        box = _box_rows(gh, gw, n, (row_anchor, col_anchor))
    return torch.from_numpy(np.ascontiguousarray(box)).reshape(1, -1).expand(b, -1).clone()


# ----------------------------------------------------------------------------- irregular


def _draw_stroke(canvas: np.ndarray, rng: np.random.Generator, spec: dict, scale: float) -> None:
    """One free-form brush stroke: a random walk of thick line segments with round joins."""
    import cv2  # local: only irregular masks need OpenCV

    h, w = canvas.shape
    max_len = max(1, round(spec["max_len"] * scale))
    max_width = max(1, round(spec["max_width"] * scale))
    y, x = int(rng.integers(h)), int(rng.integers(w))
    heading = rng.uniform(0, 2 * math.pi)
    for _ in range(1 + int(rng.integers(spec["vertices"]))):
        heading += rng.uniform(-2.0, 2.0)
        length = 1 + int(rng.integers(max_len))
        width = 1 + int(rng.integers(max_width))
        ny = int(np.clip(y + length * math.sin(heading), 0, h - 1))
        nx = int(np.clip(x + length * math.cos(heading), 0, w - 1))
        cv2.line(canvas, (x, y), (nx, ny), 1, thickness=width)
        cv2.circle(canvas, (nx, ny), max(1, width // 2), 1, thickness=-1)
        y, x = ny, nx


def _draw_box(canvas: np.ndarray, rng: np.random.Generator, spec: dict, scale: float) -> None:
    h, w = canvas.shape
    lo, hi = (max(1, round(s * scale)) for s in spec["box_size"])
    bh = min(h, int(rng.integers(lo, hi + 1)))
    bw = min(w, int(rng.integers(lo, hi + 1)))
    top, left = int(rng.integers(h - bh + 1)), int(rng.integers(w - bw + 1))
    canvas[top : top + bh, left : left + bw] = 1


def _patch_holes(canvas: np.ndarray, p: int) -> np.ndarray:
    """(H, W) uint8 -> (gh, gw) count of hole pixels per patch."""
    h, w = canvas.shape
    return canvas.reshape(h // p, p, w // p, p).sum(axis=(1, 3), dtype=np.int64)


def _masked_patches(holes: np.ndarray, p: int, threshold: float) -> np.ndarray:
    """Hole-pixel counts per patch -> bool, True where the patch is a masked token, exactly as
    ``pixel_to_token_mask(threshold)`` decides it (hole fraction > threshold)."""
    return holes / float(p * p) > threshold


def _irregular_free(size: tuple[int, int], spec: dict, rng: np.random.Generator) -> np.ndarray:
    canvas = np.zeros(size, dtype=np.uint8)
    scale = min(size) / 256
    for _ in range(int(rng.integers(spec["strokes"][0], spec["strokes"][1] + 1))):
        _draw_stroke(canvas, rng, spec, scale)
    for _ in range(int(rng.integers(spec["boxes"][0], spec["boxes"][1] + 1))):
        _draw_box(canvas, rng, spec, scale)
    return canvas


def _irregular_exact(
    size: tuple[int, int], spec: dict, rng: np.random.Generator, p: int, n: int, threshold: float = 0.0
) -> np.ndarray:
    """Strokes (and boxes) until >= n patches are masked tokens (hole fraction > threshold), then clear the
    weakest extra masked patches."""
    canvas = np.zeros(size, dtype=np.uint8)
    if n == 0:
        return canvas
    scale = min(size) / 256
    for _ in range(_MAX_GROWTH_STEPS):
        if rng.random() < spec["box_proba"]:
            _draw_box(canvas, rng, spec, scale)
        else:
            _draw_stroke(canvas, rng, spec, scale)
        if np.count_nonzero(_masked_patches(_patch_holes(canvas, p), p, threshold)) >= n:
            break
    holes = _patch_holes(canvas, p).ravel()  # (L,)
    masked = _masked_patches(holes, p, threshold)
    missing = n - np.count_nonzero(masked)
    if missing > 0:  # strokes too thin to reach the target in time: fill whole patches (as boxes)
        gw = size[1] // p
        for idx in rng.permutation(np.flatnonzero(~masked))[:missing]:
            r, c = divmod(int(idx), gw)
            canvas[r * p : (r + 1) * p, c * p : (c + 1) * p] = 1
        holes = _patch_holes(canvas, p).ravel()
        masked = _masked_patches(holes, p, threshold)
    excess = np.count_nonzero(masked) - n
    if excess > 0:
        masked = np.flatnonzero(masked)
        weakest = masked[np.argsort(holes[masked], kind="stable")[:excess]]
        gw = size[1] // p
        for idx in weakest:
            r, c = divmod(int(idx), gw)
            canvas[r * p : (r + 1) * p, c * p : (c + 1) * p] = 0
    return canvas


def irregular_pixel_mask(
    batch: int,
    size: tuple[int, int],
    family: str = "medium",
    generator: torch.Generator | None = None,
    ratio: float | None = None,
    patch_size: int | None = None,
    threshold: float = 0.0,
) -> torch.Tensor:
    """(B, 1, H, W) float32 in {0, 1}: free-form brush strokes and boxes (LaMa's thin / medium / thick).

    With ``ratio`` (needs ``patch_size``) each mask gives exactly ``num_masked(ratio, L)`` masked tokens under
    ``pixel_to_token_mask(threshold)`` - pass the model's ``token_threshold`` so that "ratio" means the
    fraction of tokens the model drops: strokes are added until the count is reached, then the extra
    masked patches with the fewest hole pixels are cleared. Each sample draws its own seed from ``generator``.
    """
    b = _positive_int(batch, "batch size")
    h, w = _check_pair(size, "image size")
    if family not in _FAMILIES:
        valid = ", ".join(IRREGULAR_FAMILIES)
        raise InpNetError(f"unknown irregular family {family!r}; expected one of {valid}")
    spec = _FAMILIES[family]
    gen = _generator(generator)
    n = None
    if ratio is not None:
        if patch_size is None:
            raise InpNetError("irregular masks with a ratio need patch_size")
        gh, gw = _grid_of((h, w), patch_size)
        n = num_masked(ratio, gh * gw)
    masks = []
    for _ in range(b):
        rng = np.random.default_rng(_draw_seed(gen))
        if n is None:
            canvas = _irregular_free((h, w), spec, rng)
        else:
            canvas = _irregular_exact((h, w), spec, rng, int(patch_size), n, threshold)
        masks.append(torch.from_numpy(canvas.astype(np.float32)))
    return torch.stack(masks).unsqueeze(1)  # (B, 1, H, W)


# ----------------------------------------------------------------------------- mask folders


class MaskFolder:
    """Mask images (*.png, *.jpg, *.bmp) in a folder, sorted by name; any nonzero pixel is a hole.

    ``size`` (H, W): masks are resized to it with nearest-neighbour sampling.
    """

    def __init__(self, path: str | Path, size: tuple[int, int] | None = None) -> None:
        self.path = Path(path)
        self.size = None if size is None else _check_pair(size, "mask size")
        if not self.path.is_dir():
            raise InpNetError(f"mask folder not found: {self.path}")
        files = (f for f in self.path.iterdir() if f.suffix.lower() in MASK_SUFFIXES and f.is_file())
        self.files = sorted(files)
        if not self.files:
            raise InpNetError(f"no mask images ({', '.join(MASK_SUFFIXES)}) in {self.path}")

    def __len__(self) -> int:
        return len(self.files)

    def load(self, i: int) -> torch.Tensor:
        """(1, H, W) float32 in {0, 1} for mask ``i``."""
        if not -len(self.files) <= i < len(self.files):
            raise InpNetError(f"mask index {i} out of range for {len(self.files)} masks in {self.path}")
        file = self.files[i]
        try:
            with Image.open(file) as image:
                image.load()
                hole = np.asarray(image.convert("L")) > 0  # (H, W)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise InpNetError(f"cannot read mask image {file}: {exc}") from None
        if self.size is not None and hole.shape != self.size:
            resized = Image.fromarray(hole.astype(np.uint8) * 255).resize(
                (self.size[1], self.size[0]), Image.Resampling.NEAREST
            )
            hole = np.asarray(resized) > 0
        return torch.from_numpy(hole.astype(np.float32)).unsqueeze(0)

    def sample(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, 1, H, W): ``batch`` masks drawn uniformly with replacement."""
        b = _positive_int(batch, "batch size")
        idx = torch.randint(0, len(self.files), (b,), generator=_generator(generator))
        masks = [self.load(int(i)) for i in idx]
        if len({tuple(m.shape) for m in masks}) > 1:
            raise InpNetError(f"masks in {self.path} differ in size; pass size=(H, W) to MaskFolder")
        return torch.stack(masks)

    def bucket(self, i: int) -> float:
        """Hole-area fraction of mask ``i`` (at ``size`` if given), e.g. for NVIDIA's area buckets."""
        return float(self.load(i).mean())


# ----------------------------------------------------------------------------- dynamic and entry point


def _check_range(ratio_range: Sequence[float]) -> tuple[float, float]:
    if not isinstance(ratio_range, (tuple, list)) or len(ratio_range) != 2:
        raise InpNetError(f"ratio range must be a pair (low, high), got {ratio_range!r}")
    lo, hi = validate_ratio(ratio_range[0]), validate_ratio(ratio_range[1])
    if lo > hi:
        raise InpNetError(f"ratio range must have low <= high, got ({lo}, {hi})")
    return lo, hi


def dynamic_pixel_mask(
    batch: int,
    size: tuple[int, int],
    patch_size: int,
    ratio_range: tuple[float, float] = (0.1, 0.75),
    generator: torch.Generator | None = None,
    kinds: Sequence[str] = ("random", "structured", "irregular"),
    mask_folder: MaskFolder | None = None,
    return_info: bool = False,
    threshold: float = 0.0,
) -> torch.Tensor | tuple[torch.Tensor, list[tuple[str, float, str | None]]]:
    """(B, 1, H, W): per sample, a kind, a ratio uniform in ``ratio_range`` and a preset / family, all drawn.

    With ``mask_folder`` the kind "folder" joins the draw (a mask file, resized to ``size``; its ratio
    is the fraction of patches it masks). ``threshold``: the model's token threshold, so that an irregular
    mask's ratio counts the tokens the model drops (random and structured masks fill whole patches).
    ``return_info=True`` also returns, per sample,
    ``(kind, ratio, preset_or_family_or_file)``.
    """
    b = _positive_int(batch, "batch size")
    gh, gw = _grid_of(size, patch_size)
    h, w = gh * patch_size, gw * patch_size
    lo, hi = _check_range(ratio_range)
    choices = list(kinds)
    for kind in choices:
        if kind not in ("random", "structured", "irregular"):
            raise InpNetError(f"unknown dynamic mask kind {kind!r}; expected random, structured or irregular")
    if mask_folder is not None:
        choices.append("folder")
    if not choices:
        raise InpNetError("dynamic masks need at least one kind or a mask folder")
    gen = _generator(generator)
    masks, info = [], []
    for _ in range(b):
        kind = _choice(choices, gen)
        ratio = min(hi, lo + (hi - lo) * _uniform(gen))  # min: float rounding must not pass hi
        detail: str | None = None
        if kind == "random":
            mask = token_to_pixel_mask(random_token_mask(1, (gh, gw), ratio, gen), (gh, gw), patch_size)
        elif kind == "structured":
            detail = _choice(STRUCTURED_PRESETS, gen)
            tokens = structured_token_mask(1, (gh, gw), ratio, detail)
            mask = token_to_pixel_mask(tokens, (gh, gw), patch_size)
        elif kind == "irregular":
            detail = _choice(IRREGULAR_FAMILIES, gen)
            mask = irregular_pixel_mask(1, (h, w), detail, gen, ratio=ratio, patch_size=patch_size,
                                        threshold=threshold)
        else:
            i = int(torch.randint(0, len(mask_folder), (1,), generator=gen).item())
            detail = mask_folder.files[i].name
            mask = mask_folder.load(i).unsqueeze(0)  # (1, 1, h', w')
            if mask.shape[-2:] != (h, w):
                mask = F.interpolate(mask, size=(h, w), mode="nearest")
            ratio = float(pixel_to_token_mask(mask, patch_size, threshold).float().mean())
        masks.append(mask)
        info.append((kind, ratio, detail))
    out = torch.cat(masks)  # (B, 1, H, W)
    return (out, info) if return_info else out


def ratio_schedule(
    progress_epochs: float, ratio_range: tuple[float, float], warmup_epochs: float
) -> tuple[float, float]:
    """Ratio range at ``progress_epochs``: the upper end grows linearly from the lower end to the full upper
    end over ``warmup_epochs`` (0: the full range at once)."""
    lo, hi = _check_range(ratio_range)
    if not math.isfinite(warmup_epochs) or warmup_epochs < 0:
        raise InpNetError(f"ratio warm-up must be a number of epochs >= 0, got {warmup_epochs}")
    if warmup_epochs == 0:
        return lo, hi
    t = min(max(progress_epochs / warmup_epochs, 0.0), 1.0)
    return lo, (hi if t == 1.0 else min(hi, lo + (hi - lo) * t))


def make_pixel_mask(
    kind: str,
    batch: int,
    size: tuple[int, int],
    patch_size: int,
    ratio: float,
    generator: torch.Generator | None = None,
    preset: str | None = None,
    family: str | None = None,
    threshold: float = 0.0,
) -> torch.Tensor:
    """(B, 1, H, W) mask of ``kind`` at ``ratio`` (exact patch count; for "dynamic", ratios in [0, ratio]).

    ``preset`` applies to "structured" (default center_middle), ``family`` to "irregular" (default medium);
    ``threshold`` is the model's token threshold (irregular masks count the tokens it drops).
    """
    if kind not in MASK_KINDS:
        raise InpNetError(f"unknown mask kind {kind!r}; expected one of {', '.join(MASK_KINDS)}")
    grid = _grid_of(size, patch_size)
    ratio = validate_ratio(ratio)
    if kind == "random":
        return token_to_pixel_mask(random_token_mask(batch, grid, ratio, generator), grid, patch_size)
    if kind == "structured":
        tokens = structured_token_mask(batch, grid, ratio, preset or "center_middle")
        return token_to_pixel_mask(tokens, grid, patch_size)
    if kind == "irregular":
        family = family or "medium"
        return irregular_pixel_mask(batch, size, family, generator, ratio=ratio, patch_size=patch_size,
                                    threshold=threshold)
    return dynamic_pixel_mask(batch, size, patch_size, (0.0, ratio), generator, threshold=threshold)
