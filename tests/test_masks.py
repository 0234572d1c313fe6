"""Mask generators: exact patch counts, anchors, seeding, conversions, mask folders, the ratio schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from inpnet.errors import InpNetError
from inpnet.masks import (
    IRREGULAR_FAMILIES,
    MASK_KINDS,
    STRUCTURED_PRESETS,
    MaskFolder,
    dynamic_pixel_mask,
    irregular_pixel_mask,
    make_pixel_mask,
    num_masked,
    pixel_to_token_mask,
    random_token_mask,
    ratio_schedule,
    structured_token_mask,
    token_to_pixel_mask,
    validate_ratio,
)

P = 8
RATIOS = (0.0, 0.25, 0.5, 0.9)
GRIDS = ((4, 4), (4, 8), (6, 3))  # (rows, cols) of patches: square and non-square


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def counts(mask: torch.Tensor, patch_size: int = P) -> list[int]:
    return pixel_to_token_mask(mask, patch_size).sum(dim=1).tolist()


# ----------------------------------------------------------------------------- exact counts


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("ratio", RATIOS)
@pytest.mark.parametrize("kind", ["random", "structured", "irregular"])
def test_every_kind_masks_exactly_round_ratio_times_patches(kind, ratio, grid):
    size = (grid[0] * P, grid[1] * P)
    mask = make_pixel_mask(kind, 3, size, P, ratio, gen(1))
    assert mask.shape == (3, 1, *size)
    assert counts(mask) == [num_masked(ratio, grid[0] * grid[1])] * 3


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("ratio", RATIOS)
def test_dynamic_masks_each_sample_at_its_own_drawn_ratio(ratio, grid):
    size = (grid[0] * P, grid[1] * P)
    mask, info = dynamic_pixel_mask(6, size, P, (0.0, ratio), gen(2), return_info=True)
    expected = [num_masked(r, grid[0] * grid[1]) for _, r, _ in info]
    assert counts(mask) == expected


def test_dynamic_draws_ratios_inside_the_range_and_every_kind():
    _, info = dynamic_pixel_mask(40, (32, 32), P, (0.2, 0.6), gen(3), return_info=True)
    assert all(0.2 <= r <= 0.6 for _, r, _ in info)
    assert {k for k, _, _ in info} == {"random", "structured", "irregular"}


def test_dynamic_details_are_a_preset_or_a_family():
    _, info = dynamic_pixel_mask(40, (32, 32), P, (0.2, 0.6), gen(3), return_info=True)
    for kind, _, detail in info:
        expected = {"random": {None}, "structured": set(STRUCTURED_PRESETS), "irregular": set(IRREGULAR_FAMILIES)}
        assert detail in expected[kind]


def test_make_pixel_mask_dynamic_stays_at_or_below_the_ratio():
    mask = make_pixel_mask("dynamic", 20, (32, 64), P, 0.5, gen(4))
    assert max(counts(mask)) <= num_masked(0.5, 32)


def test_num_masked_rounds_halves_up():
    assert num_masked(0.5, 5) == 3
    assert num_masked(0.125, 4) == 1
    assert num_masked(0.9, 1) == 1
    assert num_masked(0.0, 100) == 0


# ----------------------------------------------------------------------------- structured anchors

# Per preset: where the box sits along rows and along columns ("min" touches 0, "max" the last, "mid" centred).
ANCHOR_SIDES = {
    "top_left": ("min", "min"),
    "top_right": ("min", "max"),
    "bottom_left": ("max", "min"),
    "bottom_right": ("max", "max"),
    "top_middle": ("min", "mid"),
    "center_middle": ("mid", "mid"),
    "center_left": ("mid", "min"),
    "center_right": ("mid", "max"),
    "bottom_center": ("max", "mid"),
}


def _check_side(indices: np.ndarray, extent: int, side: str) -> None:
    lo, hi = int(indices.min()), int(indices.max())
    if side == "min":
        assert lo == 0
    elif side == "max":
        assert hi == extent - 1
    else:
        assert abs(lo - (extent - 1 - hi)) <= 1


@pytest.mark.parametrize("grid", [(8, 8), (4, 8), (7, 5), (6, 3)])
@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("preset", STRUCTURED_PRESETS)
def test_structured_box_touches_its_preset_anchor(preset, ratio, grid):
    box = structured_token_mask(1, grid, ratio, preset).reshape(grid).numpy()
    rows, cols = np.nonzero(box)
    row_side, col_side = ANCHOR_SIDES[preset]
    _check_side(rows, grid[0], row_side)
    _check_side(cols, grid[1], col_side)


def test_structured_box_is_near_square_on_a_square_grid():
    box = structured_token_mask(1, (8, 8), 0.25, "center_middle").reshape(8, 8).numpy()
    rows, cols = np.nonzero(box)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (4, 4)


@pytest.mark.parametrize("grid", [(16, 16), (8, 12), (7, 5), (6, 3)])
@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5, 0.9])
@pytest.mark.parametrize("preset", STRUCTURED_PRESETS)
def test_a_whole_structured_box_is_one_rectangle_within_a_patch_of_the_ideal(preset, ratio, grid):
    box = structured_token_mask(1, grid, ratio, preset, exact=False).reshape(grid).numpy()
    rows, cols = np.nonzero(box)
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert box.sum() == height * width  # one full rectangle, no partial line
    n = num_masked(ratio, grid[0] * grid[1])
    ideal_height = min(grid[0], math.sqrt(n * grid[0] / grid[1]))
    assert abs(height - ideal_height) < 1 and abs(width - min(grid[1], n / ideal_height)) < 1
    row_side, col_side = ANCHOR_SIDES[preset]
    _check_side(rows, grid[0], row_side)
    _check_side(cols, grid[1], col_side)


def test_a_whole_centre_box_at_half_the_area_is_centred():
    # the web page's "structured center_middle" at ratio 0.5 on a 500x500 photo (a 16x16 grid): before,
    # an 11x11 box plus 7 patches of a 12th row below it (neither one box nor centred)
    box = structured_token_mask(1, (16, 16), 0.5, "center_middle", exact=False).reshape(16, 16).numpy()
    rows, cols = np.nonzero(box)
    assert {(rows.min(), rows.max()), (cols.min(), cols.max())} == {(2, 13), (2, 12)}
    assert box.sum() == 132  # 12 x 11, the nearest to 128 of the boxes with sides 11-12


def test_structured_mask_is_the_same_for_every_sample():
    mask = structured_token_mask(4, (5, 7), 0.3, "bottom_right")
    assert torch.equal(mask, mask[:1].expand(4, -1))


def test_structured_rejects_an_unknown_preset_listing_the_valid_ones():
    with pytest.raises(InpNetError, match="center_middle"):
        structured_token_mask(1, (4, 4), 0.5, "middle")


# ----------------------------------------------------------------------------- ratio validation


@pytest.mark.parametrize("bad", [0.95, -0.1, math.nan, math.inf, "0.5", True])
def test_out_of_range_or_non_numeric_ratios_raise(bad):
    with pytest.raises(InpNetError, match=r"mask ratio must be in \[0, 0.9\]"):
        validate_ratio(bad)


@pytest.mark.parametrize("kind", MASK_KINDS)
def test_every_kind_rejects_ratio_095(kind):
    with pytest.raises(InpNetError, match="got 0.95"):
        make_pixel_mask(kind, 1, (32, 32), P, 0.95, gen())


def test_ratio_error_message_is_one_exact_line():
    with pytest.raises(InpNetError) as info:
        validate_ratio(0.95)
    assert str(info.value) == "mask ratio must be in [0, 0.9], got 0.95"


def test_dynamic_rejects_a_reversed_or_out_of_range_ratio_range():
    with pytest.raises(InpNetError, match="low <= high"):
        dynamic_pixel_mask(1, (32, 32), P, (0.5, 0.2), gen())
    with pytest.raises(InpNetError, match="got 0.95"):
        dynamic_pixel_mask(1, (32, 32), P, (0.1, 0.95), gen())


def test_dynamic_rejects_kind_dynamic():
    with pytest.raises(InpNetError, match="unknown dynamic mask kind"):
        dynamic_pixel_mask(1, (32, 32), P, kinds=("dynamic",))


def test_make_pixel_mask_rejects_an_unknown_kind_listing_the_valid_ones():
    with pytest.raises(InpNetError, match="random, structured, irregular, dynamic"):
        make_pixel_mask("box", 1, (32, 32), P, 0.5)


def test_make_pixel_mask_rejects_a_size_not_divisible_by_the_patch():
    with pytest.raises(InpNetError, match="divisible by the patch size 8"):
        make_pixel_mask("random", 1, (32, 36), P, 0.5)


def test_irregular_rejects_an_unknown_family_and_a_ratio_without_patch_size():
    with pytest.raises(InpNetError, match="thin, medium, thick"):
        irregular_pixel_mask(1, (32, 32), "huge")
    with pytest.raises(InpNetError, match="patch_size"):
        irregular_pixel_mask(1, (32, 32), ratio=0.5)


# ----------------------------------------------------------------------------- seeding


def test_random_same_seed_same_mask_different_seed_different_mask():
    a = random_token_mask(4, (8, 8), 0.5, gen(7))
    assert torch.equal(a, random_token_mask(4, (8, 8), 0.5, gen(7)))
    assert not torch.equal(a, random_token_mask(4, (8, 8), 0.5, gen(8)))


@pytest.mark.parametrize("ratio", [None, 0.5])
def test_irregular_same_seed_same_mask_different_seed_different_mask(ratio):
    def make(seed):
        return irregular_pixel_mask(2, (64, 64), "medium", gen(seed), ratio=ratio, patch_size=P)

    assert torch.equal(make(7), make(7))
    assert not torch.equal(make(7), make(8))


def test_dynamic_same_seed_same_mask():
    a = dynamic_pixel_mask(6, (32, 48), P, generator=gen(5))
    assert torch.equal(a, dynamic_pixel_mask(6, (32, 48), P, generator=gen(5)))


def test_no_generator_means_a_fixed_seed():
    assert torch.equal(random_token_mask(2, (4, 4), 0.5), random_token_mask(2, (4, 4), 0.5))


def test_random_rows_of_one_batch_differ():
    mask = random_token_mask(2, (8, 8), 0.5, gen(0))
    assert not torch.equal(mask[0], mask[1])


# ----------------------------------------------------------------------------- irregular masks


def test_irregular_mask_is_binary_float32():
    mask = irregular_pixel_mask(3, (64, 48), "thick", gen())
    assert mask.dtype == torch.float32 and mask.shape == (3, 1, 64, 48)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}


def test_irregular_ratio_zero_is_empty():
    assert irregular_pixel_mask(2, (32, 32), "thick", gen(), ratio=0.0, patch_size=P).sum() == 0


def test_thick_strokes_cover_more_than_thin_strokes_on_average():
    thin = irregular_pixel_mask(16, (128, 128), "thin", gen(0)).mean()
    thick = irregular_pixel_mask(16, (128, 128), "thick", gen(0)).mean()
    assert thick > thin


# ----------------------------------------------------------------------------- conversions


def test_pixel_to_token_threshold_compares_the_hole_fraction():
    mask = torch.zeros(1, 1, 8, 16)
    mask[0, 0, :2, :8] = 1  # first patch: 16 of 64 pixels = 0.25; second patch empty
    assert pixel_to_token_mask(mask, 8).tolist() == [[True, False]]
    assert pixel_to_token_mask(mask, 8, threshold=0.2).tolist() == [[True, False]]
    assert pixel_to_token_mask(mask, 8, threshold=0.25).tolist() == [[False, False]]


def test_pixel_to_token_counts_a_single_hole_pixel_at_threshold_zero():
    mask = torch.zeros(1, 1, 8, 8)
    mask[0, 0, 7, 7] = 1
    assert pixel_to_token_mask(mask, 4).tolist() == [[False, False, False, True]]


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 3, 8, 8), (1, 1, 8, 12)])
def test_pixel_to_token_rejects_bad_shapes_naming_the_expected_one(shape):
    with pytest.raises(InpNetError, match=r"\(B, 1, H, W\)"):
        pixel_to_token_mask(torch.zeros(shape), 8)


def test_token_to_pixel_to_token_roundtrip():
    tokens = random_token_mask(3, (4, 6), 0.5, gen(9))
    pixels = token_to_pixel_mask(tokens, (4, 6), 4)
    assert pixels.shape == (3, 1, 16, 24)
    assert torch.equal(pixel_to_token_mask(pixels, 4), tokens)


def test_token_order_is_row_major():
    tokens = torch.zeros(1, 8, dtype=torch.bool)
    tokens[0, 5] = True  # grid 2x4: row 1, column 1
    pixels = token_to_pixel_mask(tokens, (2, 4), 4)
    assert pixels[0, 0, 4:8, 4:8].sum() == 16 and pixels.sum() == 16


def test_token_to_pixel_rejects_a_length_that_does_not_match_the_grid():
    with pytest.raises(InpNetError, match=r"\(B, 8\)"):
        token_to_pixel_mask(torch.zeros(1, 9, dtype=torch.bool), (2, 4), 4)


# ----------------------------------------------------------------------------- mask folders


@pytest.fixture
def mask_dir(tmp_path):
    a = np.zeros((16, 16), dtype=np.uint8)
    a[:8, :8] = 37  # any nonzero value is a hole
    Image.fromarray(a).save(tmp_path / "a.png")
    b = np.zeros((16, 16), dtype=np.uint8)
    b[:, :4] = 255
    Image.fromarray(b).save(tmp_path / "b.bmp")
    (tmp_path / "notes.txt").write_text("not a mask")
    return tmp_path


def test_mask_folder_lists_mask_images_sorted(mask_dir):
    folder = MaskFolder(mask_dir)
    assert len(folder) == 2
    assert [f.name for f in folder.files] == ["a.png", "b.bmp"]


def test_mask_folder_load_marks_nonzero_as_hole(mask_dir):
    mask = MaskFolder(mask_dir).load(0)
    assert mask.shape == (1, 16, 16) and mask.dtype == torch.float32
    assert mask.sum() == 64 and mask[0, :8, :8].sum() == 64


def test_mask_folder_resizes_with_nearest(mask_dir):
    mask = MaskFolder(mask_dir, size=(8, 4)).load(0)
    assert mask.shape == (1, 8, 4)
    assert mask[0].tolist() == [[1, 1, 0, 0]] * 4 + [[0, 0, 0, 0]] * 4


def test_mask_folder_bucket_is_the_hole_fraction(mask_dir):
    folder = MaskFolder(mask_dir)
    assert folder.bucket(0) == 0.25 and folder.bucket(1) == 0.25


def test_mask_folder_sample_draws_seeded_batches(mask_dir):
    folder = MaskFolder(mask_dir, size=(16, 16))
    batch = folder.sample(5, gen(1))
    assert batch.shape == (5, 1, 16, 16)
    assert torch.equal(batch, folder.sample(5, gen(1)))


def test_mask_folder_names_an_unreadable_file(mask_dir):
    (mask_dir / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(InpNetError, match="c.png"):
        MaskFolder(mask_dir).load(2)


def test_mask_folder_rejects_an_empty_or_missing_folder(tmp_path):
    with pytest.raises(InpNetError, match="no mask images"):
        MaskFolder(tmp_path)
    with pytest.raises(InpNetError, match="not found"):
        MaskFolder(tmp_path / "missing")


def test_dynamic_with_only_a_folder_uses_its_masks_at_the_requested_size(mask_dir):
    folder = MaskFolder(mask_dir)
    mask, info = dynamic_pixel_mask(4, (32, 32), P, kinds=(), mask_folder=folder, generator=gen(), return_info=True)
    assert mask.shape == (4, 1, 32, 32)
    assert {k for k, _, _ in info} == {"folder"}
    assert counts(mask) == [num_masked(r, 16) for _, r, _ in info]


# ----------------------------------------------------------------------------- ratio schedule


def test_ratio_schedule_grows_the_upper_end_over_the_warmup():
    assert ratio_schedule(0, (0.1, 0.7), 4) == (0.1, 0.1)
    assert ratio_schedule(2, (0.1, 0.7), 4) == pytest.approx((0.1, 0.4))
    assert ratio_schedule(4, (0.1, 0.7), 4) == (0.1, 0.7)
    assert ratio_schedule(9, (0.1, 0.7), 4) == (0.1, 0.7)


def test_ratio_schedule_without_warmup_gives_the_full_range():
    assert ratio_schedule(0, (0.1, 0.7), 0) == (0.1, 0.7)


def test_ratio_schedule_rejects_a_negative_warmup():
    with pytest.raises(InpNetError, match="warm-up"):
        ratio_schedule(0, (0.1, 0.7), -1)


# ----------------------------------------------------------------------------- property test


@pytest.mark.fuzz
@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 9),
    cols=st.integers(1, 9),
    kind=st.sampled_from(MASK_KINDS),
    ratio=st.floats(0.0, 0.9),
    seed=st.integers(0, 2**16),
)
def test_any_grid_kind_and_ratio_gives_exact_counts(rows, cols, kind, ratio, seed):
    p, length = 4, rows * cols
    size = (rows * p, cols * p)
    if kind == "dynamic":
        mask, info = dynamic_pixel_mask(2, size, p, (0.0, ratio), gen(seed), return_info=True)
        expected = [num_masked(r, length) for _, r, _ in info]
    else:
        preset = STRUCTURED_PRESETS[seed % len(STRUCTURED_PRESETS)]
        family = IRREGULAR_FAMILIES[seed % len(IRREGULAR_FAMILIES)]
        mask = make_pixel_mask(kind, 2, size, p, ratio, gen(seed), preset=preset, family=family)
        expected = [num_masked(ratio, length)] * 2
    assert counts(mask, p) == expected
