"""The evaluation engine behind `inpnet evaluate` and `inpnet ablate`.

One evaluation = a method (a checkpoint, a classical inpainter, or a classical restorer) x a set of
images x a mask source, all at one size. The steps, each a function:

    load_method(spec)                   -> a callable `method(images, mask) -> InpaintOutput`
    load_eval_images(paths, size)       -> EvalImages: resized (short side) + center-cropped, bad files skipped
    prepare(source, images, patch, seed) -> PreparedSet: what every method sees (masks, or degraded inputs)
    run_method(method, prepared)        -> summary dict (MetricAccumulator means, per kind)
    evaluate(...)                       -> all of the above in one call

Determinism: the mask (or the noise) of image i depends only on (seed, i), never on the batch size or the
method, so every method sees exactly the same inputs. No method ever sees hole pixels: they are zeroed
before the call. Metrics are computed on the composite `mask * prediction + (1 - mask) * image`.

Restoration mode (ratio 0): the input is a degraded image (`inpnet.eval.degrade`), the mask is empty,
and the clamped `prediction` is compared with the clean image. There is no hole, so the hole metrics are
None. Classical comparisons: "identity" (the degraded input itself) and "nlmeans" (OpenCV's
fastNlMeansDenoisingColored, for the noise degradations only).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from inpnet.devices import resolve_device
from inpnet.errors import InpNetError
from inpnet.eval.baselines import BASELINES, ClassicalInpainter
from inpnet.eval.degrade import DEGRADATIONS, degrade
from inpnet.eval.metrics import HOLE_KEYS, METRIC_KEYS, MetricAccumulator, compute_metrics
from inpnet.models.output import InpaintOutput, composite

Method = Callable[[torch.Tensor, torch.Tensor], InpaintOutput]

RESTORATION_BASELINES = ("identity", "nlmeans")
GENERATED_KINDS = ("random", "structured", "irregular", "dynamic")
BASELINE_IMAGE_SIZE = 128  # eval size of a classical baseline when none is given
BASELINE_PATCH_SIZE = 8  # patch grid of generated masks for baselines (the shipped model's patch size)
# NVIDIA irregular-mask test protocol (Liu et al. 2018): hole-area buckets of the resized mask.
AREA_BUCKETS = ((0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6))

_NLMEANS_H = {"noise10": 10.0, "noise25": 25.0}  # filter strength = the noise sigma in 8-bit units
_MASK_STREAM, _NOISE_STREAM = 0, 1


# ---- methods ---------------------------------------------------------------------------------------


class RestorationBaseline:
    """A classical restoration reference with a model's interface (the mask is ignored).

    "identity": the degraded input unchanged. "nlmeans": OpenCV's non-local means for colour images,
    strength `h` (8-bit units; `for_degradation` picks it from the noise level).
    """

    def __init__(self, method: str, h: float | None = None) -> None:
        if method not in RESTORATION_BASELINES:
            raise InpNetError(
                f"unknown restoration baseline {method!r}; expected one of {', '.join(RESTORATION_BASELINES)}"
            )
        self.method = method
        self.h = h

    def __repr__(self) -> str:
        return f"RestorationBaseline(method={self.method!r}, h={self.h})"

    def for_degradation(self, kind: str) -> RestorationBaseline:
        """This baseline set up for degradation `kind`; InpNetError where it does not apply."""
        if self.method == "identity":
            return self
        if kind not in _NLMEANS_H:
            raise InpNetError(f"nlmeans is a denoiser ({', '.join(_NLMEANS_H)}); for {kind} compare with identity")
        return RestorationBaseline("nlmeans", _NLMEANS_H[kind] if self.h is None else self.h)

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        """images (B,3,H,W) in [0,1] -> InpaintOutput whose prediction is the restored image."""
        if self.method == "identity":
            prediction = images.clone()
        else:
            h = _NLMEANS_H["noise10"] if self.h is None else self.h
            array = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
            array = array.permute(0, 2, 3, 1).cpu().numpy()  # (B,H,W,3) RGB
            out = []
            for image in array:
                bgr = np.ascontiguousarray(image[:, :, ::-1])  # OpenCV's Lab conversion expects BGR
                den = cv2.fastNlMeansDenoisingColored(bgr, None, h, h, 7, 21)
                out.append(den[:, :, ::-1])
            prediction = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)  # (B,3,H,W) uint8
            prediction = prediction.to(device=images.device, dtype=images.dtype) / 255
        return InpaintOutput(prediction, composite(images, mask.to(images.dtype), prediction), None)


def load_method(spec: str | os.PathLike | None, device: str | torch.device = "cpu") -> Method:
    """A callable `method(images, mask) -> InpaintOutput` from a spec.

    "telea" / "ns" / "biharmonic" / "harmonic": a ClassicalInpainter; "identity" / "nlmeans": a RestorationBaseline;
    anything else is a checkpoint (run directory, weights folder or .safetensors file) loaded in eval mode
    on `device`; None: the shipped weights.
    """
    if isinstance(spec, str) and spec in BASELINES:
        return ClassicalInpainter(spec)
    if isinstance(spec, str) and spec in RESTORATION_BASELINES:
        return RestorationBaseline(spec)
    from inpnet.checkpoint import load_model

    return load_model(spec, device=device)


def method_name(spec: str | os.PathLike | None) -> str:
    """A short label: the baseline's name, the run directory's folder name, or "shipped"."""
    if spec is None:
        return "shipped"
    if isinstance(spec, str) and spec in BASELINES + RESTORATION_BASELINES:
        return spec
    path = Path(spec)
    return path.parent.name if path.suffix == ".safetensors" else path.name


def method_image_size(method: Method) -> tuple[int, int]:
    """The model's training size (H, W); BASELINE_IMAGE_SIZE for classical methods."""
    config = getattr(method, "config", None)
    if config is not None:
        return tuple(config.image_size)
    return (BASELINE_IMAGE_SIZE, BASELINE_IMAGE_SIZE)


def method_patch_size(method: Method) -> int | None:
    """The model's patch size; None for classical methods."""
    config = getattr(method, "config", None)
    return None if config is None else int(config.patch_size)


def is_restoration_method(method: Method) -> bool:
    return isinstance(method, RestorationBaseline)


# ---- images ----------------------------------------------------------------------------------------


def parse_size(size: int | Sequence[int]) -> tuple[int, int]:
    """N or (H, W) -> (H, W), both positive."""
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if len(size) != 2 or any(int(s) <= 0 for s in size):
        raise InpNetError(f"image size must be positive (N or H W), got {size!r}")
    return int(size[0]), int(size[1])


@dataclass
class EvalImages:
    """Readable images at the eval size, in sorted order; what could not be read is listed in `skipped`.

    Kept as 8-bit (a quarter of the memory); `get` returns float, exactly what `eval_transform` gives.
    """

    paths: list[Path]
    images: torch.Tensor  # (N,3,H,W) uint8
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"path", "error"}

    def get(self, index: int | slice | Sequence[int] | None = None) -> torch.Tensor:
        """Images `index` (all by default) as float (B,3,H,W) in [0,1]."""
        chosen = self.images if index is None else self.images[index]
        return TF.to_dtype(chosen, torch.float32, scale=True)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def __len__(self) -> int:
        return len(self.paths)


def load_eval_images(
    paths: Sequence[str | os.PathLike],
    image_size: int | Sequence[int],
    limit: int | None = None,
    progress: bool = False,
) -> EvalImages:
    """Read `paths` in order, resize (short side, antialiased) and center-crop to `image_size`.

    Unreadable files are skipped and listed; `limit` caps the number of *readable* images kept.
    """
    from tqdm.auto import tqdm

    from inpnet.data import CoverCrop
    from inpnet.imageio import open_image

    size = parse_size(image_size)
    paths = list(paths)
    if limit is not None and limit < 1:
        raise InpNetError(f"--limit must be >= 1, got {limit}")
    transform = CoverCrop(size)  # eval_transform without the float conversion
    kept, tensors, skipped = [], [], []
    for path in tqdm(paths, desc="images", unit="img", disable=not progress, leave=False):
        if limit is not None and len(kept) >= limit:
            break
        try:
            image = open_image(path)
        except InpNetError as exc:
            skipped.append({"path": str(path), "error": str(exc)})
            continue
        kept.append(Path(path))
        tensors.append(transform(TF.pil_to_tensor(image)))  # (3,H,W) uint8
    if not kept:
        raise InpNetError(f"none of the {len(paths)} images could be read")
    return EvalImages(kept, torch.stack(tensors), skipped)


# ---- mask sources ----------------------------------------------------------------------------------


def area_label(fraction: float) -> str:
    """Hole-area bucket of a mask, e.g. 0.15 -> "10-20%" (outside the buckets: "0-1%" or "60-100%")."""
    for lo, hi in AREA_BUCKETS:
        if lo <= fraction < hi:
            return bucket_label((lo, hi))
    lowest, highest = AREA_BUCKETS[0][0], AREA_BUCKETS[-1][1]
    return bucket_label((0.0, lowest)) if fraction < lowest else bucket_label((highest, 1.0))


def bucket_label(bucket: tuple[float, float]) -> str:
    return f"{round(bucket[0] * 100)}-{round(bucket[1] * 100)}%"


@dataclass(frozen=True)
class MaskSource:
    """Where the masks (or degradations) of an evaluation come from. Build with the class methods."""

    kind: str  # "folder" | "random" | "structured" | "irregular" | "dynamic" | "restore"
    ratio: float | None = None  # generated kinds; None for free-form irregular
    preset: str | None = None  # structured
    family: str | None = None  # irregular
    folder: Path | None = None  # folder
    bucket: tuple[float, float] | None = None  # folder: only masks whose hole area is in [lo, hi)
    degradation: str | None = None  # restore
    name: str = ""

    @classmethod
    def generated(
        cls, kind: str, ratio: float | None, preset: str | None = None, family: str | None = None,
        name: str | None = None,
    ) -> MaskSource:
        """Generated masks. `ratio` None is allowed for "irregular" only (free-form LaMa-style strokes)."""
        from inpnet.masks import IRREGULAR_FAMILIES, STRUCTURED_PRESETS, validate_ratio

        if kind not in GENERATED_KINDS:
            raise InpNetError(f"unknown mask kind {kind!r}; expected one of {', '.join(GENERATED_KINDS)}")
        if ratio is None and kind != "irregular":
            raise InpNetError(f"mask kind {kind} needs a ratio in [0, 0.9]")
        ratio = None if ratio is None else validate_ratio(ratio)
        if preset is not None and kind != "structured":
            raise InpNetError("a structured preset applies to mask kind structured only")
        if family is not None and kind != "irregular":
            raise InpNetError("an irregular family applies to mask kind irregular only")
        if kind == "structured":
            preset = preset or "center_middle"
            if preset not in STRUCTURED_PRESETS:
                raise InpNetError(f"unknown structured preset {preset!r}; expected one of {', '.join(STRUCTURED_PRESETS)}")
        if kind == "irregular":
            family = family or "medium"
            if family not in IRREGULAR_FAMILIES:
                raise InpNetError(f"unknown irregular family {family!r}; expected one of {', '.join(IRREGULAR_FAMILIES)}")
        source = cls(kind=kind, ratio=ratio, preset=preset, family=family)
        return replace(source, name=name or source.describe())

    @classmethod
    def from_folder(
        cls, folder: str | os.PathLike, bucket: tuple[float, float] | None = None, name: str | None = None
    ) -> MaskSource:
        """Mask PNGs (nonzero = hole). Without `bucket`: paired with the images by stem, or cycled in sorted
        order. With `bucket`: the masks whose hole area after resizing is in [lo, hi), cycled in sorted order."""
        path = Path(folder)
        if not path.is_dir():
            raise InpNetError(f"mask folder not found: {path}")
        source = cls(kind="folder", folder=path, bucket=bucket)
        return replace(source, name=name or source.describe())

    @classmethod
    def restore(cls, degradation: str) -> MaskSource:
        """Restoration mode: no mask; the input is the image degraded by `degradation`."""
        if degradation not in DEGRADATIONS:
            raise InpNetError(f"unknown degradation {degradation!r}; expected one of {', '.join(DEGRADATIONS)}")
        return cls(kind="restore", degradation=degradation, name=degradation)

    @property
    def is_restoration(self) -> bool:
        return self.kind == "restore"

    def describe(self) -> str:
        """Human-readable, e.g. "random 50%", "structured top_left 25%", "folder masks/ 10-20%", "noise25"."""
        if self.kind == "restore":
            return f"restore {self.degradation}"
        if self.kind == "folder":
            where = f"folder {self.folder}"
            return where if self.bucket is None else f"{where} {bucket_label(self.bucket)}"
        detail = self.preset or self.family
        ratio = "free-form" if self.ratio is None else f"{self.ratio * 100:g}%"
        return " ".join(x for x in (self.kind, detail, ratio) if x)


def check_applicable(method: Method, source: MaskSource) -> Method:
    """The method as it runs on `source` (nlmeans gets its strength); InpNetError where it makes no sense."""
    if is_restoration_method(method):
        if not source.is_restoration:
            raise InpNetError(f"{method.method} is a restoration baseline: use it with --restore")
        return method.for_degradation(source.degradation)
    if source.is_restoration and isinstance(method, ClassicalInpainter):
        raise InpNetError(
            f"{method.method} fills holes and cannot restore; with --restore use --baseline identity or nlmeans"
        )
    return method


def applies(method: Method, source: MaskSource) -> bool:
    """Whether `method` is evaluated on `source` (see check_applicable)."""
    try:
        check_applicable(method, source)
    except InpNetError:
        return False
    return True


# ---- prepared inputs -------------------------------------------------------------------------------


@dataclass
class PreparedSet:
    """What every method sees for one mask source: the kept images, their masks, their per_kind labels.

    `batch(start, end)` gives (inputs, masks, targets) as float; in restoration mode the inputs are
    degraded on the fly, image i with the generator of (seed, i), so the batch size never matters.
    """

    source: MaskSource
    data: EvalImages
    indices: list[int]  # into data
    masks: torch.Tensor  # (N,1,H,W) bool, True = hole (all False in restoration mode)
    kinds: list[str]  # per image: the per_kind label
    seed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # images dropped for an unreadable mask

    def __len__(self) -> int:
        return len(self.indices)

    def batch(self, start: int, end: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """inputs (B,3,H,W), masks (B,1,H,W) float 1 = hole, targets (B,3,H,W) for positions start..end-1."""
        rows = self.indices[start:end]
        targets = self.data.get(rows)
        masks = self.masks[start:end].to(torch.float32)
        if not self.source.is_restoration:
            return targets, masks, targets
        inputs = torch.cat([
            degrade(targets[j : j + 1], self.source.degradation, sample_generator(self.seed, i, _NOISE_STREAM))
            for j, i in enumerate(rows)
        ])
        return inputs, masks, targets


def sample_generator(seed: int, index: int, stream: int = _MASK_STREAM) -> torch.Generator:
    """The generator of image `index`: depends on (seed, index, stream) only, so batches never matter."""
    state = np.random.SeedSequence([int(seed) % 2**63, int(index), int(stream)]).generate_state(1, np.uint64)
    return torch.Generator().manual_seed(int(state[0]) >> 1)


def _generated_mask(
    source: MaskSource, size: tuple[int, int], patch_size: int, gen: torch.Generator
) -> tuple[torch.Tensor, str]:
    """(1,1,H,W) mask and its per_kind label."""
    from inpnet.masks import dynamic_pixel_mask, irregular_pixel_mask, make_pixel_mask

    if source.kind == "dynamic":
        mask, info = dynamic_pixel_mask(1, size, patch_size, (0.0, source.ratio), gen, return_info=True)
        kind, _, detail = info[0]
        return mask, kind if detail is None else f"{kind}:{detail}"
    if source.kind == "irregular" and source.ratio is None:
        return irregular_pixel_mask(1, size, source.family, gen), f"irregular:{source.family}"
    mask = make_pixel_mask(
        source.kind, 1, size, patch_size, source.ratio, gen, preset=source.preset, family=source.family
    )
    label = {"structured": f"structured:{source.preset}", "irregular": f"irregular:{source.family}"}
    return mask, label.get(source.kind, source.kind)


def list_mask_files(folder: str | os.PathLike) -> list[Path]:
    """Mask image files in `folder` (recursively), sorted."""
    from inpnet.imageio import INPUT_EXTENSIONS, list_images

    try:
        return list_images(folder)
    except InpNetError:
        raise InpNetError(f"no mask files in {folder} (looked for {', '.join(INPUT_EXTENSIONS)})") from None


def scan_area_buckets(
    folder: str | os.PathLike,
    size: tuple[int, int],
    buckets: Sequence[tuple[float, float]] = AREA_BUCKETS,
    need: int | None = None,
) -> dict[tuple[float, float], list[torch.Tensor]]:
    """Masks of `folder` (sorted) resized (nearest) to `size`, sorted into hole-area `buckets`.

    Scanning stops once every bucket holds `need` masks. Unreadable masks are ignored. Each mask: (1,H,W).
    """
    from inpnet.imageio import load_mask

    found: dict[tuple[float, float], list[torch.Tensor]] = {b: [] for b in buckets}
    for path in list_mask_files(folder):
        if need is not None and all(len(v) >= need for v in found.values()):
            break
        try:
            mask = load_mask(path, size)
        except InpNetError:
            continue
        fraction = float(mask.mean())
        for lo, hi in buckets:
            if lo <= fraction < hi and (need is None or len(found[(lo, hi)]) < need):
                found[(lo, hi)].append(mask)
    return found


def prepare(
    source: MaskSource,
    data: EvalImages,
    patch_size: int = BASELINE_PATCH_SIZE,
    seed: int = 0,
    bucket_masks: Sequence[torch.Tensor] | None = None,
) -> PreparedSet:
    """Masks (or degraded inputs) for every image of `data`, deterministic in (seed, image index).

    Generated masks use the patch grid `patch_size` (image size must divide by it). For a bucketed folder
    source, `bucket_masks` (from `scan_area_buckets`) avoids rescanning the folder.
    """
    from inpnet.imageio import load_mask, pair_masks

    size = data.size
    n = len(data)
    indices, masks, kinds, skipped = list(range(n)), [], [], []
    if source.is_restoration:
        masks = torch.zeros(n, 1, *size)
        kinds = [source.degradation] * n
    elif source.kind in GENERATED_KINDS:
        for i in range(n):
            mask, label = _generated_mask(source, size, patch_size, sample_generator(seed, i))
            masks.append(mask)
            kinds.append(label)
        masks = torch.cat(masks)
    elif source.bucket is not None:
        if bucket_masks is None:
            bucket_masks = scan_area_buckets(source.folder, size, [source.bucket], need=n)[source.bucket]
        if not bucket_masks:
            raise InpNetError(f"no mask in {source.folder} has a hole area of {bucket_label(source.bucket)}")
        masks = torch.stack([bucket_masks[i % len(bucket_masks)] for i in range(n)])
        kinds = [bucket_label(source.bucket)] * n
    else:
        files = list_mask_files(source.folder)
        kept = []
        for i, (path, mask_path) in enumerate(pair_masks(data.paths, files)):
            if mask_path is None:
                skipped.append({"path": str(path), "error": f"no mask named like it in {source.folder}"})
                continue
            try:
                mask = load_mask(mask_path, size)
            except InpNetError as exc:
                skipped.append({"path": str(path), "error": str(exc)})
                continue
            kept.append(i)
            masks.append(mask)
            kinds.append(area_label(float(mask.mean())))
        if not kept:
            raise InpNetError(f"none of the masks paired with the images in {source.folder} could be read")
        indices, masks = kept, torch.stack(masks)
    return PreparedSet(source, data, indices, masks > 0.5, kinds, int(seed), skipped)


# ---- running a method ------------------------------------------------------------------------------


def _nan_like(values: torch.Tensor) -> torch.Tensor:
    return torch.full_like(values, math.nan)  # same dtype as the metrics (float32 on MPS, else float64)


def _summary(acc: MetricAccumulator) -> dict:
    raw = acc.summary()
    keys = ("n", *METRIC_KEYS, *HOLE_KEYS, "hole_fraction")
    out = {k: raw.get(k) for k in keys}
    out["per_kind"] = {
        kind: {k: values.get(k) for k in keys} for kind, values in sorted(raw["per_kind"].items())
    }
    return out


def run_method(
    method: Method,
    prepared: PreparedSet,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    progress: bool = False,
    keep: Sequence[int] = (),
    per_sample: Sequence[str] = (),
) -> tuple[dict, dict[int, torch.Tensor]]:
    """Run `method` over `prepared` in batches -> (summary, {position: output (3,H,W) for positions in keep}).

    Summary: {"n", "psnr", "ssim", "l1", "psnr_hole", "ssim_hole", "l1_hole", "hole_fraction", "per_kind"},
    and "samples": {metric: [value of each sample, in `prepared` order]} for the metrics in `per_sample`.
    The output is the composite (inpainting) or the clamped prediction (restoration), on the CPU.
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise InpNetError(f"batch size must be >= 1, got {batch_size}")
    method = check_applicable(method, prepared.source)
    dev = resolve_device(device)
    if isinstance(method, nn.Module):
        method = method.to(dev).eval()
    else:
        dev = torch.device("cpu")  # classical methods run in numpy
    restoration = prepared.source.is_restoration
    acc = MetricAccumulator()
    kept: dict[int, torch.Tensor] = {}
    wanted = set(keep)
    n = len(prepared)
    starts = range(0, n, batch_size)
    for start in tqdm(starts, desc=prepared.source.name, unit="batch", disable=not progress, leave=False):
        end = min(start + batch_size, n)
        inputs, mask, target = (t.to(dev) for t in prepared.batch(start, end))  # (B,3|1,H,W)
        known = inputs * (1 - mask)  # no method ever sees a hole pixel
        with torch.inference_mode():
            out = method(known, mask)
            prediction = out.prediction.float()
            if restoration:
                result = prediction.clamp(0, 1)
                metrics = compute_metrics(result, target)
                metrics.update({k: _nan_like(metrics["psnr"]) for k in HOLE_KEYS})
            else:
                result = composite(known, mask, prediction)
                metrics = compute_metrics(result, target, mask)
            metrics["hole_fraction"] = mask.to(metrics["psnr"].dtype).mean(dim=(1, 2, 3))
        metrics = {k: v.detach().cpu() for k, v in metrics.items()}
        for j in range(end - start):  # one sample at a time: the sums never depend on the batch size
            acc.update({k: v[j : j + 1] for k, v in metrics.items()}, kind=prepared.kinds[start + j])
        for j in range(start, end):
            if j in wanted:
                kept[j] = result[j - start].detach().cpu().clone()
    summary = _summary(acc)
    if per_sample:
        summary["samples"] = {k: acc.values(k) for k in per_sample}
    return summary, kept


def evaluate(
    method: Method | str | os.PathLike | None,
    images: Sequence[str | os.PathLike] | EvalImages,
    mask_source: MaskSource,
    image_size: int | Sequence[int] | None = None,
    seed: int = 0,
    batch_size: int = 16,
    progress: bool = False,
    *,
    patch_size: int | None = None,
    limit: int | None = None,
    device: str | torch.device = "cpu",
) -> dict:
    """Evaluate one method on images x mask source -> summary dict (JSON-ready).

    `method`: a spec for `load_method` or an already loaded callable. `image_size`: default the model's
    training size (classical methods: BASELINE_IMAGE_SIZE). `patch_size`: the patch grid of generated
    masks, default the model's (classical methods: BASELINE_PATCH_SIZE). Keys: "n", "psnr", "ssim", "l1",
    "psnr_hole", "ssim_hole", "l1_hole", "hole_fraction", "per_kind", "method", "mask", "image_size",
    "patch_size", "seed", "skipped".
    """
    name = method_name(method) if method is None or isinstance(method, (str, os.PathLike)) else None
    if name is not None:
        method = load_method(method, device=resolve_device(device))
    else:
        name = getattr(method, "method", None) or getattr(getattr(method, "config", None), "variant", "model")
    check_applicable(method, mask_source)
    if isinstance(images, EvalImages):
        size = images.size if image_size is None else parse_size(image_size)
        if size != images.size:
            raise InpNetError(f"images were loaded at {images.size}, not at the requested size {size}")
    else:
        size = parse_size(image_size) if image_size is not None else method_image_size(method)
    model_patch = method_patch_size(method)
    if model_patch is not None and (size[0] % model_patch or size[1] % model_patch):
        raise InpNetError(
            f"image size {size[0]}x{size[1]} is not divisible by the model's patch size {model_patch}"
        )
    patch = patch_size or model_patch or BASELINE_PATCH_SIZE
    data = images if isinstance(images, EvalImages) else load_eval_images(images, size, limit, progress)
    prepared = prepare(mask_source, data, patch, seed)
    summary, _ = run_method(method, prepared, batch_size, device, progress)
    summary.update(
        method=name,
        mask=mask_source.describe(),
        image_size=list(size),
        patch_size=patch,
        seed=int(seed),
        skipped=data.skipped + prepared.skipped,
    )
    return summary
