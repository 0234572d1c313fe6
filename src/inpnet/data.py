"""Training data: an image-folder dataset with a deterministic train/val split, seeded augmentation, loaders.

Reproducibility contract: the tensor returned for sample `i` depends only on (seed, epoch, i) and the file,
never on the number of DataLoader workers or on the order in which samples are requested.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from inpnet.errors import InpNetError
from inpnet.imageio import EightBitCopy, list_images, open_image

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "all")


def _as_hw(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise InpNetError(f"image_size must be an int or a pair of ints (height, width), got {value!r}")
    h, w = int(value[0]), int(value[1])
    if h <= 0 or w <= 0:
        raise InpNetError(f"image_size must be positive, got {value!r}")
    return (h, w)


def split_fraction(relative_path: str) -> float:
    """A stable number in [0, 1) for a file's relative path (sha1, so equal on every machine and run)."""
    digest = hashlib.sha1(relative_path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The augmentation seed of one sample: well mixed, non-negative, 63 bits."""
    state = np.random.SeedSequence([seed % 2**64, epoch % 2**64, index]).generate_state(1, dtype=np.uint64)
    return int(state[0]) >> 1


class RotateNoCorners:
    """Rotate by a uniform angle in [-degrees, degrees], then center-crop the largest rectangle of the same
    aspect ratio that holds no filled (black) corner. Draws from the global torch RNG, like the v2 transforms.
    """

    def __init__(self, degrees: float) -> None:
        self.degrees = float(degrees)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:  # (C, H, W) -> (C, h, w), h <= H, w <= W
        angle = float(torch.empty(()).uniform_(-self.degrees, self.degrees))
        if angle == 0.0:
            return img
        h, w = img.shape[-2:]
        rotated = TF.rotate(img, angle, interpolation=v2.InterpolationMode.BILINEAR)
        a = math.radians(abs(angle))
        c, s = math.cos(a), math.sin(a)
        scale = min(w / (w * c + h * s), h / (w * s + h * c))
        # 1 px margin per side: bilinear sampling blends the border with the fill.
        ch, cw = max(1, math.floor(h * scale) - 2), max(1, math.floor(w * scale) - 2)
        return TF.center_crop(rotated, [ch, cw])


class Prescale:
    """Downscale (antialiased) so that the short side is at most `max_side`: big photos stay cheap to augment."""

    def __init__(self, max_side: int) -> None:
        self.max_side = int(max_side)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:  # (C, H, W)
        h, w = img.shape[-2:]
        short = min(h, w)
        if short <= self.max_side:
            return img
        f = self.max_side / short
        return TF.resize(img, [max(1, round(h * f)), max(1, round(w * f))], antialias=True)


class CoverCrop:
    """Resize (antialiased) so the image covers `size` (H, W), keeping its aspect ratio, then center-crop."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size

    def __call__(self, img: torch.Tensor) -> torch.Tensor:  # (C, H, W) -> (C, *size)
        th, tw = self.size
        h, w = img.shape[-2:]
        f = max(th / h, tw / w)
        nh, nw = max(th, math.ceil(h * f - 1e-6)), max(tw, math.ceil(w * f - 1e-6))
        if (nh, nw) != (h, w):
            img = TF.resize(img, [nh, nw], antialias=True)
        return TF.center_crop(img, [th, tw])


def train_transform(image_size: tuple[int, int], rotation: float = 5.0) -> v2.Compose:
    """uint8 (3, H, W) -> float (3, *image_size): rotate (no black corners), random resized crop, h-flip."""
    return v2.Compose(
        [
            Prescale(2 * max(image_size)),
            RotateNoCorners(rotation),
            v2.RandomResizedCrop(image_size, scale=(0.5, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )


def eval_transform(image_size: tuple[int, int]) -> v2.Compose:
    """uint8 (3, H, W) -> float (3, *image_size): resize to cover, center crop. No randomness."""
    return v2.Compose([CoverCrop(image_size), v2.ToDtype(torch.float32, scale=True)])


class ImageFolderDataset(Dataset):
    """Images under `roots` (folders searched recursively, or files), as float tensors (3, H, W) in [0, 1].

    Split: a file is a validation candidate when `split_fraction(its path relative to its root)` is below
    `val_fraction` - stable when files are added or removed. With `val_fraction > 0` and at least two
    images, the split always holds one validation image (the lowest fraction). `val_max` keeps the first
    `val_max` candidates in sorted order; the other candidates are in neither split, so train never
    overlaps any validation run with a larger cap. `split="all"` takes every file.

    `test_fraction` > 0 first sets apart a test split (fraction below `test_fraction`) that is in neither
    train nor val, so that checkpoint selection never sees it; validation candidates then lie in
    [test_fraction, test_fraction + val_fraction). `held_out_files(roots, test_fraction)` lists the test split.

    Unreadable files are logged once, counted in `num_bad` / `bad_files` (per process: DataLoader workers
    count in their own copy) and replaced by the next readable file, so an epoch never stops on a bad file.
    """

    def __init__(
        self,
        roots: str | Path | Iterable[str | Path],
        image_size: int | tuple[int, int],
        train: bool = True,
        split: str = "train",
        val_fraction: float = 0.02,
        val_max: int | None = None,
        seed: int = 0,
        test_fraction: float = 0.0,
    ) -> None:
        if split not in SPLITS:
            raise InpNetError(f"unknown split {split!r}; valid splits: {', '.join(SPLITS)}")
        if not 0.0 <= val_fraction <= 1.0:
            raise InpNetError(f"val_fraction must be in [0, 1], got {val_fraction}")
        if val_max is not None and val_max < 0:
            raise InpNetError(f"val_max must be >= 0, got {val_max}")
        if not 0.0 <= test_fraction < 1.0 or test_fraction + val_fraction > 1.0:
            raise InpNetError(f"test_fraction must be in [0, 1 - val_fraction], got {test_fraction}")
        self.image_size = _as_hw(image_size)
        self.train = train
        self.split = split
        self.seed = int(seed)
        self.epoch = 0
        self.num_bad = 0
        self.bad_files: list[Path] = []
        self.files = self._select(_collect(roots), split, val_fraction, val_max, test_fraction)
        if not self.files:
            raise InpNetError(
                f"the {split!r} split is empty ({val_fraction=}, {val_max=}); change it with --set val_fraction=F "
                "or add images"
            )
        self.transform = train_transform(self.image_size) if train else eval_transform(self.image_size)

    @staticmethod
    def _select(
        entries: list[tuple[Path, str]], split: str, val_fraction: float, val_max: int | None,
        test_fraction: float = 0.0,
    ) -> list[Path]:
        if split == "all":
            return [p for p, _ in entries]
        fractions = [split_fraction(rel) for _, rel in entries]
        test = {i for i, f in enumerate(fractions) if f < test_fraction}
        lo, hi = test_fraction, test_fraction + val_fraction
        candidates = [i for i, f in enumerate(fractions) if lo <= f < hi]
        rest = [i for i in range(len(entries)) if i not in test]
        if not candidates and val_fraction > 0 and len(rest) >= 2:
            candidates = [min(rest, key=lambda i: fractions[i])]
        if split == "val":
            keep = candidates if val_max is None else candidates[:val_max]
            return [entries[i][0] for i in keep]
        held_out = set(candidates) | test
        return [p for i, (p, _) in enumerate(entries) if i not in held_out]

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of this epoch. Call before iterating the loader (workers copy it)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.files)

    def _augment(self, img: Image.Image, index: int) -> torch.Tensor:
        x = TF.pil_to_tensor(img)  # (3, H, W) uint8
        if not self.train:
            return self.transform(x)
        # v2 transforms draw from the global torch RNG and take no generator. Forking it and seeding from
        # (seed, epoch, index) makes each sample reproducible regardless of worker count or request order,
        # and leaves the caller's global RNG stream untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed(self.seed, self.epoch, index))
            return self.transform(x)  # (3, H, W) float

    def keep_readable(self) -> list[Path]:
        """Open every file once and drop the unreadable ones (logged): for a split that is read whole and often,
        such as validation, whose fixed masks pair with its images by position. Returns the dropped files;
        an InpNetError when none is left."""
        dropped = []
        for path in self.files:
            try:
                _training_copy(path)
            except InpNetError as exc:
                self._record_bad(path, exc)
                dropped.append(path)
        if len(dropped) == len(self.files):
            raise InpNetError(f"none of the {len(self.files)} images of the {self.split!r} split could be read "
                              f"(first: {dropped[0]}); add readable images or change the split's size (--set val_fraction=F)")
        unreadable = set(dropped)
        self.files = [p for p in self.files if p not in unreadable]
        return dropped

    def _record_bad(self, path: Path, exc: InpNetError) -> None:
        self.num_bad += 1
        self.bad_files.append(path)
        log.warning("skipping unreadable image (%s)", exc)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """{"image": (3, H, W) float in [0, 1], "index": the index of the file actually used}."""
        n = len(self.files)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} images")
        index %= n
        bad = set(self.bad_files)
        for k in range(n):
            i = (index + k) % n  # deterministic replacement: the next file
            path = self.files[i]
            if path in bad:
                continue
            try:
                img = _training_copy(path)
            except InpNetError as exc:
                self._record_bad(path, exc)
                continue
            return {"image": self._augment(img, i), "index": i}
        raise InpNetError(f"none of the {n} images of the {self.split!r} split could be read")


def _training_copy(path: Path) -> Image.Image:
    """The photo as training reads it: its 8-bit RGB copy, without the notes of what that copy leaves out (16-bit
    samples, transparency), which are for a user's output file ("read and written as 8-bit"), not for a training
    photo (a review saw each printed twice, with a torch source line)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EightBitCopy)
        return open_image(path)


def _collect(roots: str | Path | Iterable[str | Path]) -> list[tuple[Path, str]]:
    """(path, path relative to its root as posix text), sorted by path, without duplicates."""
    items = [roots] if isinstance(roots, (str, Path)) else list(roots)
    if not items:
        raise InpNetError("no data folders given")
    seen: dict[Path, str] = {}
    for root in map(Path, items):
        for p in list_images(root):
            rel = p.relative_to(root).as_posix() if root.is_dir() else p.name
            seen.setdefault(p, rel)
    return sorted(seen.items(), key=lambda e: str(e[0]))


def worker_init_fn(worker_id: int) -> None:
    """Seed numpy and `random` in a DataLoader worker from its torch seed (distinct per worker and epoch)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
    drop_last: bool = True,
    distributed: bool = False,
) -> DataLoader:
    """A DataLoader whose order depends only on `seed` (and the epoch, for a DistributedSampler).

    Non-distributed shuffling draws from `loader.generator` (save its state to resume mid-run). With
    `distributed=True` the sampler is a DistributedSampler: call `loader.sampler.set_epoch(epoch)` each
    epoch. Workers are not persistent, so `dataset.set_epoch` reaches them at the next `iter(loader)`.
    """
    if batch_size < 1:
        raise InpNetError(f"batch size must be >= 1, got {batch_size}")
    if num_workers < 0:
        raise InpNetError(f"num_workers must be >= 0, got {num_workers}")
    generator = torch.Generator().manual_seed(seed)
    sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last) if distributed else None
    per_process = len(sampler) if sampler is not None else len(dataset)  # type: ignore[arg-type]
    if drop_last and per_process < batch_size:
        raise InpNetError(
            f"batch size {batch_size} is larger than the {per_process} images per process; "
            "lower --batch-size or add images"
        )
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        generator=generator,
        worker_init_fn=worker_init_fn,
        persistent_workers=False,
        pin_memory=torch.cuda.is_available(),
    )


def held_out_files(roots: str | Path | Iterable[str | Path], val_fraction: float = 0.02) -> list[Path]:
    """Every image that training on `roots` with this `val_fraction` keeps out of its training split
    (the validation candidates, by sha1 of the relative path): the honest evaluation set."""
    return ImageFolderDataset._select(_collect(roots), "val", val_fraction, None)
