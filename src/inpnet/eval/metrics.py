"""Image-quality metrics on batches: PSNR, SSIM, L1 over the full frame and over the hole only.

Conventions: images (B,C,H,W) in [0, 1] (C is 3 for RGB), masks (B,1,H,W) with 1 = hole. Every metric
returns one value per sample, shape (B,), float64 on the input's device (float32 on MPS, which has no
float64). Callers pass the *composited* image as `pred`, so the full-frame numbers measure what a user sees.

- `texture`: mean Sobel gradient magnitude of the luminance inside the hole (eroded by `TEXTURE_ERODE` px),
  output / original. 1.0 = as much detail as the real photo; a flat fill scores ~0; NaN when the eroded hole
  is empty or the original is flat there. It measures sharpness, not correctness: read it beside PSNR.
- PSNR of identical images is capped at `PSNR_CAP` (never inf), so means stay finite.
- Hole metrics of a sample whose mask has no hole pixel are NaN; `MetricAccumulator` skips NaN.
- SSIM follows Wang et al. 2004 exactly as `skimage.metrics.structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)` computes it: an 11x11 Gaussian
  window, and the SSIM map averaged only where the window fits inside the image (5 pixels cropped per side).

LPIPS is optional and never downloads anything: `optional_lpips(path)` builds the AlexNet variant from a
local file that holds the full LPIPS state dict (backbone + linear heads). FID is not provided: it needs
Inception weights, which this project does not ship; compute it with an external tool if needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from inpnet.errors import InpNetError

PSNR_CAP = 100.0  # dB; the PSNR of identical images (instead of inf)

_SSIM_SIGMA = 1.5
_SSIM_RADIUS = 5  # int(3.5 * sigma + 0.5), as scikit-image / scipy.ndimage truncate the Gaussian
_SSIM_K1, _SSIM_K2 = 0.01, 0.03

METRIC_KEYS = ("psnr", "ssim", "l1")
HOLE_KEYS = ("psnr_hole", "ssim_hole", "l1_hole", "texture")
TEXTURE_ERODE = 2  # pixels the hole is eroded by before `texture` averages gradients (the seam is not texture)


def _work(x: torch.Tensor) -> torch.Tensor:
    # float64 so that PSNR of near-identical images and SSIM's E[x^2] - E[x]^2 stay accurate
    return x.to(torch.float32 if x.device.type == "mps" else torch.float64)


def _check(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> None:
    if pred.ndim != 4 or pred.shape != target.shape:
        raise InpNetError(
            f"metrics expect pred and target of one shape (B,C,H,W), got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if mask is not None:
        b, _, h, w = pred.shape
        if tuple(mask.shape) != (b, 1, h, w):
            raise InpNetError(f"metrics expect a mask of shape {(b, 1, h, w)}, got {tuple(mask.shape)}")


def _hole(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return (mask > 0.5).to(like.dtype)  # (B,1,H,W) 1.0 = hole; soft masks are binarised at 0.5


def _masked_mean(values: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Mean of `values` (B,C,H,W) over hole pixels (B,1,H,W) and all channels -> (B,), NaN for no hole."""
    count = hole.sum(dim=(1, 2, 3)) * values.shape[1]  # (B,)
    total = (values * hole).sum(dim=(1, 2, 3))  # (B,)
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, math.nan))


def _psnr_from_mse(mse: torch.Tensor, data_range: float) -> torch.Tensor:
    # mse (B,) -> dB; zero error gives PSNR_CAP (not inf), NaN (empty hole) stays NaN
    value = 10 * torch.log10(data_range**2 / mse.clamp(min=torch.finfo(mse.dtype).tiny))
    value = torch.where(mse > 0, value.clamp(max=PSNR_CAP), torch.full_like(mse, PSNR_CAP))
    return torch.where(mse.isnan(), mse, value)


def psnr(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, data_range: float = 1.0
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per sample -> (B,), capped at `PSNR_CAP`.

    pred, target: (B,C,H,W). mask: (B,1,H,W), 1 = hole; given, the MSE covers hole pixels only (all
    channels) and a sample without hole pixels gives NaN.
    """
    _check(pred, target, mask)
    err = (_work(pred) - _work(target)) ** 2  # (B,C,H,W)
    mse = err.mean(dim=(1, 2, 3)) if mask is None else _masked_mean(err, _hole(mask, err))
    return _psnr_from_mse(mse, data_range)


def _gaussian_1d(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    x = torch.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1, dtype=dtype, device=device)
    g = torch.exp(-0.5 * (x / _SSIM_SIGMA) ** 2)
    return g / g.sum()  # (11,)


def _ssim_map(pred: torch.Tensor, target: torch.Tensor, data_range: float) -> torch.Tensor:
    """SSIM map averaged over channels, only where the 11x11 window fits -> (B, H-10, W-10)."""
    x, y = _work(pred), _work(target)
    _, c, h, w = x.shape
    size = 2 * _SSIM_RADIUS + 1
    if h < size or w < size:
        raise InpNetError(f"SSIM needs images of at least {size}x{size} pixels, got {h}x{w}")
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)  # (B,5C,H,W)
    g = _gaussian_1d(stack.dtype, stack.device)
    n = stack.shape[1]
    # separable Gaussian, 'valid' convolution == skimage's reflect-padded filter cropped by the radius
    out = F.conv2d(stack, g.view(1, 1, size, 1).expand(n, 1, size, 1), groups=n)
    out = F.conv2d(out, g.view(1, 1, 1, size).expand(n, 1, 1, size), groups=n)  # (B,5C,H-10,W-10)
    ux, uy, uxx, uyy, uxy = out.split(c, dim=1)
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (_SSIM_K1 * data_range) ** 2, (_SSIM_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=1)  # (B,H-10,W-10)


def _ssim_reduce(smap: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return smap.mean(dim=(1, 2))
    r = _SSIM_RADIUS
    hole = _hole(mask, smap)[:, :, r:-r, r:-r]  # (B,1,H-10,W-10), cropped like the map
    return _masked_mean(smap.unsqueeze(1), hole)


def ssim(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, data_range: float = 1.0
) -> torch.Tensor:
    """Structural similarity per sample -> (B,), matching scikit-image's Gaussian-weighted SSIM.

    Per-channel SSIM maps (11x11 Gaussian, sigma 1.5, population covariance), averaged over channels
    and over the pixels whose window fits inside the image. mask: (B,1,H,W), 1 = hole; given, the map
    is averaged over hole pixels inside that cropped region only (NaN when none remain).
    Raises InpNetError for images smaller than 11x11.
    """
    _check(pred, target, mask)
    return _ssim_reduce(_ssim_map(pred, target, data_range), mask)


def l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error per sample -> (B,); over hole pixels (all channels) when `mask` is given."""
    _check(pred, target, mask)
    err = (_work(pred) - _work(target)).abs()  # (B,C,H,W)
    return err.mean(dim=(1, 2, 3)) if mask is None else _masked_mean(err, _hole(mask, err))


def _luma(x: torch.Tensor) -> torch.Tensor:
    """(B,3,H,W) -> (B,1,H,W) ITU-R BT.601 luminance (as OpenCV's RGB2GRAY); 1 channel passes through."""
    if x.shape[1] == 1:
        return x
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """(B,C,H,W) -> (B,1,H,W) Sobel gradient magnitude of the luminance (replicated border)."""
    y = F.pad(_luma(_work(x)), (1, 1, 1, 1), mode="replicate")
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=y.dtype, device=y.device)
    kernels = torch.stack([kx, kx.T]).unsqueeze(1)  # (2,1,3,3): d/dx, d/dy
    g = F.conv2d(y, kernels)  # (B,2,H,W)
    return g.pow(2).sum(dim=1, keepdim=True).sqrt()


def erode_hole(mask: torch.Tensor, pixels: int = TEXTURE_ERODE) -> torch.Tensor:
    """(B,1,H,W) hole -> the hole eroded by `pixels` (a square structuring element); the image border does
    not erode."""
    hole = _hole(mask, mask.float())
    if pixels <= 0:
        return hole
    k = 2 * pixels + 1
    return 1.0 - F.max_pool2d(1.0 - hole, k, stride=1, padding=pixels)


def texture(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, erode: int = TEXTURE_ERODE) -> torch.Tensor:
    """Detail inside the hole relative to the original -> (B,): mean Sobel magnitude of `pred` over the
    eroded hole / the same for `target`. NaN where the eroded hole is empty or `target` is flat there."""
    _check(pred, target, mask)
    inner = erode_hole(mask, erode).to(torch.float64)  # (B,1,H,W)
    count = inner.sum(dim=(1, 2, 3))
    got = (sobel_magnitude(pred) * inner).sum(dim=(1, 2, 3))
    want = (sobel_magnitude(target) * inner).sum(dim=(1, 2, 3))
    ratio = got / want.clamp_min(1e-12)
    return torch.where((count > 0) & (want > 1e-9 * count.clamp_min(1)), ratio, torch.full_like(ratio, math.nan))


def compute_metrics(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """All metrics at once -> {"psnr", "ssim", "l1"} (+ "psnr_hole", "ssim_hole", "l1_hole", "texture" with a mask).

    `pred` should be the composited image; every value is a (B,) tensor.
    """
    _check(pred, target, mask)
    smap = _ssim_map(pred, target, 1.0)
    out = {"psnr": psnr(pred, target), "ssim": _ssim_reduce(smap, None), "l1": l1(pred, target)}
    if mask is not None:
        out["psnr_hole"] = psnr(pred, target, mask)
        out["ssim_hole"] = _ssim_reduce(smap, mask)
        out["l1_hole"] = l1(pred, target, mask)
        out["texture"] = texture(pred, target, mask)
    return out


def _nanmean(values: list[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else None


class MetricAccumulator:
    """Collects per-sample metrics over many batches; `summary()` gives NaN-skipping means.

    `update(metrics, kind)` takes a dict of (B,) tensors (as from `compute_metrics`) and an optional
    mask kind (e.g. "random", "irregular") for the per-kind breakdown.
    """

    def __init__(self) -> None:
        self._all: dict[str, list[float]] = {}
        self._by_kind: dict[str, dict[str, list[float]]] = {}
        self._n = 0
        self._kind_n: dict[str, int] = {}

    def update(self, metrics: dict[str, torch.Tensor], kind: str | None = None) -> None:
        """Add one batch: every tensor in `metrics` is (B,) with the same B."""
        sizes = {k: v.numel() for k, v in metrics.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"metric tensors of different batch sizes: {sizes}")
        b = next(iter(sizes.values()), 0)
        self._n += b
        if kind is not None:
            self._kind_n[kind] = self._kind_n.get(kind, 0) + b
        for key, value in metrics.items():
            values = value.detach().flatten().double().cpu().tolist()
            self._all.setdefault(key, []).extend(values)
            if kind is not None:
                self._by_kind.setdefault(kind, {}).setdefault(key, []).extend(values)

    def values(self, key: str) -> list[float]:
        """Every sample's value of `key`, in the order added (NaN kept)."""
        return list(self._all.get(key, []))

    def summary(self) -> dict:
        """{"n": int, <metric>: mean or None, ..., "per_kind": {kind: {"n": int, <metric>: ...}}}.

        Means skip NaN (e.g. hole metrics of samples without a hole); a metric with no value is None,
        so the result is valid JSON.
        """
        out: dict = {"n": self._n}
        out.update({k: _nanmean(v) for k, v in self._all.items()})
        out["per_kind"] = {
            kind: {"n": self._kind_n[kind], **{k: _nanmean(v) for k, v in values.items()}}
            for kind, values in self._by_kind.items()
        }
        return out


# --- optional LPIPS (AlexNet), from local weights only ------------------------------------------------

_LPIPS_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))  # torchvision alexnet.features -> 5 ReLU outputs
_LPIPS_CHANNELS = (64, 192, 384, 256, 256)


class _LpipsAlex(nn.Module):
    """LPIPS v0.1 with an AlexNet trunk; parameter names match the `lpips` package's state dict."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import alexnet

        features = alexnet(weights=None).features
        self.net = nn.Module()
        for i, (a, b) in enumerate(_LPIPS_SLICES, start=1):
            seq = nn.Sequential()
            for j in range(a, b):
                seq.add_module(str(j), features[j])
            setattr(self.net, f"slice{i}", seq)
        for i, c in enumerate(_LPIPS_CHANNELS):
            head = nn.Module()
            head.model = nn.Sequential(nn.Dropout(), nn.Conv2d(c, 1, 1, bias=False))
            setattr(self, f"lin{i}", head)
        self.register_buffer(
            "shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1), persistent=False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # (B,3,H,W) in [0,1] -> (B,)
        x, y = [((2 * t - 1) - self.shift) / self.scale for t in (pred, target)]
        total = torch.zeros(pred.shape[0], device=pred.device, dtype=pred.dtype)
        for i in range(len(_LPIPS_SLICES)):
            stage = getattr(self.net, f"slice{i + 1}")
            x, y = stage(x), stage(y)
            fx = x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            fy = y / (y.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total = total + getattr(self, f"lin{i}").model((fx - fy) ** 2).mean(dim=(1, 2, 3))
        return total


def lpips_available(weights_path: str | None) -> bool:
    """True when `weights_path` names an existing local file (nothing is ever downloaded)."""
    return weights_path is not None and Path(weights_path).is_file()


def optional_lpips(weights_path: str | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """LPIPS (AlexNet, v0.1) as `fn(pred, target) -> (B,)`, or None when `weights_path` is None.

    Nothing is downloaded: the file must hold the full LPIPS state dict, backbone and linear heads, e.g.
    `torch.save(lpips.LPIPS(net="alex").state_dict(), path)` made once on a machine with the `lpips`
    package. Raises InpNetError when the file is missing or holds something else.
    """
    if weights_path is None:
        return None
    if not lpips_available(weights_path):
        raise InpNetError(f"LPIPS needs local weights: no file at {weights_path}")
    try:
        state = torch.load(weights_path, map_location="cpu", weights_only=True)
        model = _LpipsAlex()
        state = {k: v for k, v in state.items() if not k.startswith("scaling_layer.")}
        model.load_state_dict(state)
    except Exception as err:  # a corrupt file, a different network, missing heads
        raise InpNetError(
            f"LPIPS needs local weights: {weights_path} is not an LPIPS(net='alex') state dict ({type(err).__name__})"
        ) from err
    model.eval()

    def lpips_fn(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check(pred, target, None)
        model.to(pred.device)
        with torch.no_grad():
            return model(pred.float(), target.float())

    return lpips_fn
