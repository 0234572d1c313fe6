"""Which torch device a command or a pipeline runs on: one reading of `--device` for every command."""

from __future__ import annotations

import torch

from inpnet.errors import InpNetError


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" -> cuda when available, else cpu; anything else as torch reads it. A name torch does not know,
    or cuda on a machine without it, is a one-line InpNetError."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise InpNetError(f"unknown device {str(device)!r}; use auto, cpu or cuda[:N]") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise InpNetError(f"cannot use device {str(device)!r}: no CUDA device is available (use --device cpu)")
    return resolved
