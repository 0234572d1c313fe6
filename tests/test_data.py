"""data: deterministic split, reproducible augmentation, bad files skipped, loaders independent of workers."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from PIL import Image
from torch.utils.data import DistributedSampler

from inpnet.data import ImageFolderDataset, make_loader, split_fraction
from inpnet.errors import InpNetError


def make_images(folder: Path, n: int, size: int = 32, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = folder / f"img{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def folder8(tmp_path):
    make_images(tmp_path / "imgs", 8)
    return tmp_path / "imgs"


@pytest.fixture
def folder40(tmp_path):
    make_images(tmp_path / "a", 20, size=8)
    make_images(tmp_path / "a" / "sub", 20, size=8, seed=1)
    return tmp_path / "a"


# ---- split -----------------------------------------------------------------------------------------


def test_split_is_disjoint_and_covers_everything(folder40):
    kw = dict(image_size=8, val_fraction=0.25)
    train = ImageFolderDataset([folder40], split="train", **kw).files
    val = ImageFolderDataset([folder40], split="val", **kw).files
    every = ImageFolderDataset([folder40], split="all", **kw).files
    assert len(every) == 40
    assert not set(train) & set(val)
    assert sorted(train + val) == every


def test_split_follows_sha1_of_the_relative_path(folder40):
    val = ImageFolderDataset([folder40], image_size=8, split="val", val_fraction=0.25).files
    expected = [p for p in sorted(folder40.rglob("*.png"), key=str)
                if split_fraction(p.relative_to(folder40).as_posix()) < 0.25]
    assert val == expected and len(val) > 0


def test_val_max_caps_val_and_keeps_the_rest_out_of_train(folder40):
    kw = dict(image_size=8, val_fraction=0.5)
    full_val = ImageFolderDataset([folder40], split="val", **kw).files
    capped = ImageFolderDataset([folder40], split="val", val_max=2, **kw).files
    train = ImageFolderDataset([folder40], split="train", val_max=2, **kw).files
    assert len(full_val) > 2
    assert capped == full_val[:2]
    assert not set(train) & set(full_val)


def test_tiny_val_fraction_still_gives_one_val_image(folder8):
    val = ImageFolderDataset([folder8], image_size=8, split="val", val_fraction=1e-12).files
    train = ImageFolderDataset([folder8], image_size=8, split="train", val_fraction=1e-12).files
    assert len(val) == 1 and len(train) == 7 and val[0] not in train


def test_empty_folder_raises(tmp_path):
    with pytest.raises(InpNetError, match="no images found"):
        ImageFolderDataset([tmp_path], image_size=8)


def test_unknown_split_raises(folder8):
    with pytest.raises(InpNetError, match="unknown split 'test'"):
        ImageFolderDataset([folder8], image_size=8, split="test")


# ---- samples and augmentation ----------------------------------------------------------------------


def test_sample_is_float_image_of_the_requested_size(folder8):
    ds = ImageFolderDataset([folder8], image_size=(16, 24), split="all")
    item = ds[3]
    assert item["index"] == 3
    assert item["image"].shape == (3, 16, 24) and item["image"].dtype == torch.float32
    assert item["image"].min() >= 0.0 and item["image"].max() <= 1.0


def test_same_seed_epoch_index_gives_identical_tensors(folder8):
    a = ImageFolderDataset([folder8], image_size=16, split="all", seed=5)
    b = ImageFolderDataset([folder8], image_size=16, split="all", seed=5)
    a.set_epoch(2)
    b.set_epoch(2)
    _ = b[0]  # request order must not matter
    assert torch.equal(a[4]["image"], b[4]["image"])


def test_different_epochs_and_seeds_differ(folder8):
    ds = ImageFolderDataset([folder8], image_size=16, split="all", seed=5)
    first = ds[4]["image"]
    ds.set_epoch(1)
    assert not torch.equal(first, ds[4]["image"])
    other = ImageFolderDataset([folder8], image_size=16, split="all", seed=6)
    assert not torch.equal(first, other[4]["image"])


def test_augmentation_leaves_the_global_rng_alone(folder8):
    ds = ImageFolderDataset([folder8], image_size=16, split="all")
    torch.manual_seed(123)
    state = torch.get_rng_state()
    _ = ds[0]
    assert torch.equal(torch.get_rng_state(), state)


def test_eval_mode_center_crops_the_short_side(tmp_path):
    arr = np.zeros((10, 30, 3), np.uint8)
    arr[:, 10:20] = 255  # a white centre square between black sides
    Image.fromarray(arr).save(tmp_path / "wide.png")
    ds = ImageFolderDataset([tmp_path], image_size=10, train=False, split="all")
    assert torch.equal(ds[0]["image"], torch.ones(3, 10, 10))


def test_eval_mode_resizes_to_cover_non_square_sizes(tmp_path):
    Image.fromarray(np.full((40, 20, 3), 128, np.uint8)).save(tmp_path / "tall.png")
    ds = ImageFolderDataset([tmp_path], image_size=(8, 12), train=False, split="all")
    img = ds[0]["image"]
    assert img.shape == (3, 8, 12)
    assert torch.allclose(img, torch.full((3, 8, 12), 128 / 255))


def test_small_images_are_upscaled(tmp_path):
    make_images(tmp_path, 1, size=8)
    for train in (True, False):
        ds = ImageFolderDataset([tmp_path], image_size=32, train=train, split="all")
        assert ds[0]["image"].shape == (3, 32, 32)


def test_rotation_leaves_no_black_corners(tmp_path):
    Image.new("RGB", (48, 32), (255, 255, 255)).save(tmp_path / "white.png")
    ds = ImageFolderDataset([tmp_path], image_size=16, split="all")
    for epoch in range(10):
        ds.set_epoch(epoch)
        assert torch.equal(ds[0]["image"], torch.ones(3, 16, 16))


# ---- bad files -------------------------------------------------------------------------------------


def test_corrupt_file_is_skipped_counted_and_logged_once(folder8, caplog):
    bad = folder8 / "img003b.png"  # sorts right after img003.png
    bad.write_bytes(b"not an image at all")
    ds = ImageFolderDataset([folder8], image_size=16, split="all")
    i = ds.files.index(bad)
    with caplog.at_level(logging.WARNING, logger="inpnet.data"):
        first = ds[i]
        second = ds[i]
    assert first["index"] == i + 1 and second["index"] == i + 1
    assert ds.num_bad == 1 and ds.bad_files == [bad]
    assert len([r for r in caplog.records if "img003b.png" in r.getMessage()]) == 1


def test_all_files_corrupt_raises(tmp_path):
    for name in ("a.png", "b.jpg"):
        (tmp_path / name).write_bytes(b"junk")
    ds = ImageFolderDataset([tmp_path], image_size=8, split="all")
    with pytest.raises(InpNetError, match="none of the 2 images"):
        ds[0]
    assert ds.num_bad == 2


# ---- loaders ---------------------------------------------------------------------------------------


def test_first_batch_is_the_same_with_and_without_workers(folder8):
    ds = ImageFolderDataset([folder8], image_size=16, split="all", seed=1)
    b0 = next(iter(make_loader(ds, batch_size=4, shuffle=True, seed=7, num_workers=0)))
    b2 = next(iter(make_loader(ds, batch_size=4, shuffle=True, seed=7, num_workers=2)))
    assert torch.equal(b0["index"], b2["index"])
    assert torch.equal(b0["image"], b2["image"])
    assert b0["image"].shape == (4, 3, 16, 16)


def test_shuffle_order_depends_on_the_seed(folder8):
    ds = ImageFolderDataset([folder8], image_size=8, train=False, split="all")

    def order(seed):
        return torch.cat([b["index"] for b in make_loader(ds, batch_size=2, shuffle=True, seed=seed)]).tolist()

    assert order(3) == order(3)
    assert order(3) != order(4)
    assert sorted(order(3)) == list(range(8))


def test_batch_larger_than_dataset_raises(folder8):
    ds = ImageFolderDataset([folder8], image_size=8, split="all")
    with pytest.raises(InpNetError, match="batch size 16 is larger"):
        make_loader(ds, batch_size=16, shuffle=True, seed=0)


def test_distributed_loader_uses_a_distributed_sampler(folder8, tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        ds = ImageFolderDataset([folder8], image_size=8, split="all")
        loader = make_loader(ds, batch_size=4, shuffle=True, seed=0, distributed=True)
        assert isinstance(loader.sampler, DistributedSampler)
        assert loader.sampler.seed == 0 and loader.sampler.shuffle
        assert len(loader) == 2
    finally:
        dist.destroy_process_group()


def test_a_16_bit_training_photo_is_read_without_an_output_note(tmp_path):
    """Review 10: "a 16-bit image, read (and written) as 8-bit" was printed (twice) while training, where
    nothing is written."""
    import warnings

    import cv2

    from inpnet.data import _training_copy

    deep = (np.random.default_rng(0).integers(0, 65536, (40, 48, 3))).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), deep)
    grey = (np.random.default_rng(1).integers(0, 65536, (40, 48))).astype(np.uint16)
    Image.fromarray(grey).save(tmp_path / "grey16.png")  # Pillow: mode I;16, which the 8-bit read notes
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any note fails the test
        for name in ("deep.png", "grey16.png"):
            assert _training_copy(tmp_path / name).size == (48, 40)
