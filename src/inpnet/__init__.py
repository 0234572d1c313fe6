"""InP-Net: masked-ViT image inpainting and restoration.

Public API (imported lazily so that `import inpnet` does no work):
`build_model`, `list_models`, `load_model`, `InpaintPipeline`, `ModelConfig`, `InpNetError`.
"""

from __future__ import annotations

from typing import Any

from inpnet.errors import InpNetError

__version__ = "0.1.0"
__all__ = ["InpNetError", "ModelConfig", "build_model", "list_models", "load_model", "InpaintPipeline"]

_LAZY = {
    "ModelConfig": ("inpnet.config", "ModelConfig"),
    "build_model": ("inpnet.models", "build_model"),
    "list_models": ("inpnet.models", "list_models"),
    "load_model": ("inpnet.checkpoint", "load_model"),
    "InpaintPipeline": ("inpnet.predict", "InpaintPipeline"),
}


def __dir__() -> list[str]:
    """The public names too (loaded on first use), for tab completion and `dir(inpnet)`."""
    return sorted({*globals(), *__all__})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'inpnet' has no attribute {name!r}")
