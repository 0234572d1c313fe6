"""Which torch device a command or a pipeline runs on: one reading of `--device` for every command."""

from __future__ import annotations

from typing import Any

import torch

from inpnet.errors import InpNetError


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" -> cuda when available, else cpu; anything else as torch reads it. A name torch does not know,
    or cuda on a machine without it, is a one-line InpNetError."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = _parse(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InpNetError(f"cannot use device {str(device)!r}: no CUDA device is available (use --device cpu)")
    return resolved


def onnx_providers(device: str | torch.device, available: list[str] | None = None) -> list[Any]:
    """onnxruntime execution providers for `--device` (the same reading as `resolve_device`), in the form
    `InferenceSession(providers=...)` takes: "cpu" -> the CPU provider; "auto" -> CUDA first when this
    onnxruntime has it (the onnxruntime-gpu package), else the CPU; "cuda[:N]" -> CUDA on device N or a
    one-line InpNetError. `available`: the providers to choose from (default:
    `onnxruntime.get_available_providers()`)."""
    if available is None:
        import onnxruntime as ort

        available = ort.get_available_providers()
    has_cuda = "CUDAExecutionProvider" in available
    name = str(device)
    if name == "auto":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"] if has_cuda else ["CPUExecutionProvider"]
    resolved = _parse(device)
    if resolved.type == "cpu":
        return ["CPUExecutionProvider"]
    if resolved.type != "cuda":
        raise InpNetError(f"an ONNX model runs on cpu or cuda, not {name!r}")
    if not has_cuda:
        raise InpNetError(f"cannot run the ONNX model on {name!r}: this onnxruntime has no CUDA provider "
                          "(pip install onnxruntime-gpu), or use --device cpu")
    return [("CUDAExecutionProvider", {"device_id": resolved.index or 0}), "CPUExecutionProvider"]


def _parse(device: str | torch.device) -> torch.device:
    """A device name as torch reads it; one it does not know is a one-line InpNetError."""
    try:
        return torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise InpNetError(f"unknown device {str(device)!r}; use auto, cpu or cuda[:N]") from None
