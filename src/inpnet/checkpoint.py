"""Checkpoints: `model.safetensors` + `config.json` folders, run directories, resume state, shipped weights.

Layout of a run directory (`inpnet train --out RUN`):
    RUN/config.json              {"model": ModelConfig, "train": TrainConfig}
    RUN/model.safetensors        best weights so far (by validation PSNR)
    RUN/model-last.safetensors   weights at the last checkpoint
    RUN/training_state.pt        optimizer, scheduler, scaler, discriminator, step, epoch, RNG, early stopping
    RUN/metrics.jsonl, RUN/tb/   logs
A release folder (`weights/...`) holds only `model.safetensors` + `config.json` (+ MODEL_CARD.md).
Every file is written to a temp file and renamed; loading never unpickles arbitrary objects
(safetensors, or `torch.load(weights_only=True)`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from inpnet.config import ModelConfig
from inpnet.devices import resolve_device
from inpnet.errors import InpNetError
from inpnet.fileio import atomic_write_bytes

MODEL_FILE = "model.safetensors"
LAST_FILE = "model-last.safetensors"
STATE_FILE = "training_state.pt"
CONFIG_FILE = "config.json"
DEFAULT_FILE, RESTORE_FILE = "DEFAULT", "RESTORE"  # in a weights folder: the name of its default / restoring model


def save_model(model: nn.Module, folder: str | os.PathLike, filename: str = MODEL_FILE,
               dtype: torch.dtype | None = None, metadata: dict[str, str] | None = None) -> Path:
    """Write the model's weights (optionally cast, e.g. fp16 for shipping) and its config.json."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for k, v in _unwrap(model).state_dict().items():
        v = v.detach().cpu()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.contiguous()
    atomic_write_bytes(folder / filename, st_save(tensors, metadata=metadata))
    config_path = folder / CONFIG_FILE
    if not config_path.exists():
        _unwrap(model).config.save(config_path)
    return folder / filename


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file, restored to fp32 where stored in half precision."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InpNetError(f"no weights file at {path}") from None
    except OSError as exc:
        raise InpNetError(f"cannot read {path}: {exc.strerror}") from None
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise InpNetError(f"{path} is not a valid safetensors file (truncated or corrupt): {exc}") from None
    return {k: v.float() if v.dtype in (torch.float16, torch.bfloat16) else v for k, v in tensors.items()}


def load_weights_into(model: nn.Module, state: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Strict load that names the first mismatching key instead of PyTorch's multi-line report."""
    own = _unwrap(model).state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s) e.g. {missing[0]!r}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s) e.g. {unexpected[0]!r}")
        raise InpNetError(f"{source} does not match this model config: {'; '.join(parts)}")
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise InpNetError(
                f"{source} does not match this model config: {k!r} has shape {tuple(v.shape)}, "
                f"the model expects {tuple(own[k].shape)}"
            )
        if v.is_floating_point() != own[k].is_floating_point():
            raise InpNetError(f"{source} is not a weights file of this model: {k!r} holds {v.dtype} values, "
                              f"the model expects {own[k].dtype}")
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise InpNetError(f"{source} holds NaN or infinite values (in {k!r}): a diverged or damaged checkpoint")
    _unwrap(model).load_state_dict(state, strict=True)


def resolve_checkpoint(path: str | os.PathLike | None) -> Path:
    """A run directory / weights folder / .safetensors file → the folder holding config.json.

    None → the shipped release weights."""
    if path is None:
        return shipped_weights_dir()
    p = Path(path)
    if p.is_file() and p.name == CONFIG_FILE:  # the run's config.json itself: its folder is meant
        p = p.parent
    if p.is_file() and p.suffix.lower() == ".onnx":  # review 12: "m.onnx has no config.json"
        raise InpNetError(f"checkpoint {p} is an ONNX export: this needs the PyTorch checkpoint it came from (run "
                          "directory or weights folder); ONNX files run with inpnet inpaint / serve --checkpoint and "
                          "InpaintPipeline.from_onnx")
    if p.is_file() and p.suffix == ".safetensors":
        if not (p.parent / CONFIG_FILE).is_file():
            raise InpNetError(f"checkpoint {p}: a weights file is read with the {CONFIG_FILE} of its run beside it, "
                              f"and {p.parent} has none (pass the run directory or weights folder)")
        p = p.parent
    if not p.exists():
        raise InpNetError(f"checkpoint {p} does not exist")
    if not (p / CONFIG_FILE).is_file() and (p / DEFAULT_FILE).is_file():  # a folder of weights, as weights/
        p = _named_model(p, DEFAULT_FILE)
    if not (p / CONFIG_FILE).is_file():
        raise InpNetError(f"checkpoint {p} has no {CONFIG_FILE} (expected a run directory or weights folder)"
                          f"{_models_inside(p)}")
    if not (p / MODEL_FILE).is_file() and not (p / LAST_FILE).is_file():
        raise InpNetError(f"checkpoint {p} has no {MODEL_FILE}")
    return p


def load_model(path: str | os.PathLike | None = None, *, which: str = "best",
               device: str | torch.device = "cpu") -> nn.Module:
    """Build the model described by the checkpoint's config.json and load its weights (eval mode).

    `path`: run directory, weights folder or .safetensors file; None → shipped weights.
    `which`: "best" (model.safetensors) or "last" (model-last.safetensors).
    """
    from inpnet.models import build_model

    if which not in ("best", "last"):  # "worst" loaded the best without a word (review 12)
        raise InpNetError(f"which must be 'best' or 'last', got {which!r}")
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise InpNetError(f"a checkpoint is a path (run directory, weights folder or .safetensors), got "
                          f"{type(path).__name__}")
    folder = resolve_checkpoint(path)
    config = ModelConfig.load(folder / CONFIG_FILE)
    try:
        model = build_model(config)
    except (RuntimeError, MemoryError) as exc:  # e.g. absurd sizes in a corrupt config.json
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InpNetError(f"cannot build the model of {folder / CONFIG_FILE}: {first}") from None
    if path is not None and Path(path).is_file():
        weights = Path(path)
    else:
        weights = folder / (LAST_FILE if which == "last" else MODEL_FILE)
        if not weights.exists():
            weights = folder / (MODEL_FILE if which == "last" else LAST_FILE)
    load_weights_into(model, read_state_dict(weights), source=str(weights))
    try:
        return model.to(resolve_device(device)).eval()
    except (RuntimeError, AssertionError, ValueError, TypeError) as exc:  # "bogus", or cuda without CUDA
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InpNetError(f"cannot use device {str(device)!r}: {first}") from None


def repo_root() -> Path:
    """The source checkout (src/inpnet/checkpoint.py → three levels up)."""
    return Path(__file__).resolve().parents[2]


def shipped_restore_dir() -> Path:
    """Folder of the shipped weights for restoration (ratio 0): the model named in `RESTORE` of the weights
    folder (`weights_root`), else the default weights. Since 2026-11-29 (stage 5) RESTORE names the default
    itself: one model inpaints and restores; the file lets a release ship a separate restorer again.
    $INPNET_WEIGHTS naming one model's folder: that model for both."""
    root = weights_root()
    if (root / CONFIG_FILE).is_file() or not (root / RESTORE_FILE).is_file():
        return shipped_weights_dir()
    return _named_model(root, RESTORE_FILE)


def shipped_weights_dir() -> Path:
    """Folder of the shipped (default) weights: the model named in `DEFAULT` (one line) of the weights folder
    (`weights_root`), or $INPNET_WEIGHTS itself when it is one model's folder."""
    root = weights_root()
    if (root / CONFIG_FILE).is_file():
        return root
    if not (root / DEFAULT_FILE).is_file():
        if os.environ.get("INPNET_WEIGHTS"):
            raise InpNetError(f"shipped weights: INPNET_WEIGHTS={root} holds no model: point it at a weights folder (one with a "
                              f"{DEFAULT_FILE} file, as the checkout's weights/) or at one model's folder (with "
                              f"{CONFIG_FILE}){_models_inside(root)}")
        raise InpNetError(f"no shipped weights found ({root / DEFAULT_FILE} missing); pass --checkpoint")
    return _named_model(root, DEFAULT_FILE)


def weights_root() -> Path:
    """Where the shipped weights are: $INPNET_WEIGHTS (a weights folder like the checkout's, or one model's
    folder), else `weights/` in the checkout."""
    env = os.environ.get("INPNET_WEIGHTS")
    return Path(env) if env else repo_root() / "weights"


def _named_model(root: Path, list_file: str) -> Path:
    """The model folder that `root / list_file` (DEFAULT or RESTORE: one line, a folder name) names."""
    try:
        name = (root / list_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InpNetError(f"cannot read {root / list_file} ({exc}); it should name one model folder") from None
    if not name or len(name.splitlines()) > 1:
        raise InpNetError(f"{root / list_file} should hold one line, the name of a model folder in {root}; "
                          f"it holds {'nothing' if not name else f'{len(name.splitlines())} lines'}"
                          f"{_models_inside(root)}")
    folder = root / name
    if not (folder / CONFIG_FILE).is_file():
        raise InpNetError(f"shipped weights {folder} (named in {root / list_file}) are missing; pass --checkpoint")
    return folder


def _models_inside(folder: Path) -> str:
    """'; the models inside it: a, b (pass one)' when subfolders of `folder` hold a config.json, else ''."""
    try:
        names = sorted(child.name for child in folder.iterdir() if (child / CONFIG_FILE).is_file())
    except OSError:
        return ""
    return f"; the models inside it: {', '.join(names)} (pass one)" if names else ""


# ---- training state (resume) ------------------------------------------------------------
def save_training_state(state: dict[str, Any], folder: str | os.PathLike) -> None:
    """Optimizer / scheduler / scaler / discriminator / counters / RNG states, atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(folder) / STATE_FILE, buffer.getvalue())


def load_training_state(folder: str | os.PathLike) -> dict[str, Any]:
    """Read `training_state.pt` with `weights_only=True` (tensors, numbers, strings, dicts only)."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise InpNetError(f"cannot resume: {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors have many types; all mean the same to the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InpNetError(f"cannot load {path} safely (corrupt, truncated or not a training state): {first}") from None


def _unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / torch.compile wrappers."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model
