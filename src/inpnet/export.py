"""ONNX export of an InP-Net or MAE model, a check against PyTorch, and `OnnxInpainter` to run the file.

The exported graph takes `image` (B, 3, H, W) float32 in [0, 1] and `mask` (B, 1, H, W) float32 (1 = hole)
and returns `prediction` and `composite` (B, 3, H, W). The batch axis is dynamic; H, W are the model's
`config.image_size`. The visible tokens are padded to L during export (`model.static_shapes`), so the graph
has no data-dependent shape and gives the same result for every mask. The ModelConfig travels in the
file's metadata (`inpnet_config`), so the file alone is enough to run it.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inpnet.config import ModelConfig, atomic_write_bytes
from inpnet.errors import InpNetError
from inpnet.models.inputs import check_inputs
from inpnet.models.output import InpaintOutput

INPUT_NAMES = ("image", "mask")
OUTPUT_NAMES = ("prediction", "composite")
CONFIG_KEY = "inpnet_config"
EXPORTERS = ("dynamo", "torchscript")
CHECK_TOLERANCE = 1e-4  # max abs difference on the composite, onnxruntime vs PyTorch


class _Exportable(nn.Module):
    """`model(image, mask)` with a tuple output, as exporters want it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(image, mask)
        return out.prediction, out.composite


@contextlib.contextmanager
def _export_mode(model: nn.Module):
    """eval() + static shapes while exporting; the model's own settings afterwards."""
    was_training, was_static = model.training, getattr(model, "static_shapes", False)
    model.eval()
    model.static_shapes = True
    try:
        yield
    finally:
        model.static_shapes = was_static
        model.train(was_training)


def sample_inputs(config: ModelConfig, batch: int = 2, seed: int = 0,
                  device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Random images (B, 3, H, W) and ragged random patch masks (B, 1, H, W): image i hides a different
    number of patches (the first image none), so padding paths are exercised."""
    from inpnet.masks import random_token_mask, token_to_pixel_mask

    g = torch.Generator().manual_seed(seed)
    H, W = config.image_size
    images = torch.rand(batch, 3, H, W, generator=g)
    masks = []
    for i in range(batch):
        ratio = 0.9 * i / max(1, batch - 1)
        tokens = random_token_mask(1, config.grid_size, ratio, generator=g)
        masks.append(token_to_pixel_mask(tokens, config.grid_size, config.patch_size))
    return images.to(device), torch.cat(masks).to(device)


def _export_proto(model: nn.Module, exporter: str, opset: int | None, example: tuple[torch.Tensor, ...]):
    """The onnx.ModelProto of `model` from one exporter (exceptions propagate)."""
    import onnx

    wrapper = _Exportable(model).eval()
    quiet = contextlib.redirect_stdout(io.StringIO())  # the exporters print progress lines
    with warnings.catch_warnings(), quiet:
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            batch = torch.export.Dim("batch", min=1, max=4096)
            program = torch.onnx.export(
                wrapper, example, None, dynamo=True, opset_version=opset, verbose=False,
                input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                dynamic_shapes=({0: batch}, {0: batch}),
            )
            return program.model_proto
        buffer = io.BytesIO()
        axes = {name: {0: "batch"} for name in INPUT_NAMES + OUTPUT_NAMES}
        torch.onnx.export(
            wrapper, example, buffer, dynamo=False, opset_version=opset or 17,
            input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES), dynamic_axes=axes,
        )
        return onnx.load_from_string(buffer.getvalue())


def _session(source: str | bytes, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _max_diff(model: nn.Module, session, batch: int, seed: int) -> float:
    """Max abs difference of the composite, onnxruntime vs PyTorch eager (dynamic shapes) on sample inputs."""
    device = next(model.parameters()).device
    images, masks = sample_inputs(model.config, batch, seed, device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            expected = model(images, masks).composite.float().cpu().numpy()
    finally:
        model.train(was_training)
    feeds = {"image": images.float().cpu().numpy(), "mask": masks.float().cpu().numpy()}
    got = session.run([OUTPUT_NAMES[1]], feeds)[0]
    return float(np.abs(got - expected).max())


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int | None = None,
                exporter: str = "auto") -> Path:
    """Export `model` (InpNet or MAE) to the ONNX file `path` (written atomically) and return the path.

    `exporter`: "dynamo" (torch.export based), "torchscript" (legacy), or "auto": dynamo first, the legacy
    exporter when dynamo fails or its file does not reproduce PyTorch under onnxruntime.
    """
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise InpNetError(f"export_onnx expects an InP-Net or MAE model, got {type(model).__name__}")
    if exporter not in ("auto", *EXPORTERS):
        raise InpNetError(f"unknown exporter {exporter!r}; valid: auto, {', '.join(EXPORTERS)}")
    import onnx

    path = Path(path)
    if not path.parent.is_dir():
        raise InpNetError(f"cannot write {path}: folder {path.parent} does not exist")
    if next(model.parameters()).device.type != "cpu":
        model = copy.deepcopy(model).cpu()  # the graph is for onnxruntime's CPU provider
    example = sample_inputs(config, batch=2, seed=0)
    errors: list[str] = []
    for name in EXPORTERS if exporter == "auto" else (exporter,):
        with _export_mode(model):
            try:
                proto = _export_proto(model, name, opset, example)
            except Exception as exc:  # exporters fail in many ways; the next exporter may work
                errors.append(f"{name}: {_first_line(exc)}")
                continue
        meta = {CONFIG_KEY: json.dumps(config.to_dict()), "inpnet_exporter": name}
        for key, value in meta.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        data = proto.SerializeToString()
        if exporter == "auto":  # keep a file only if onnxruntime reproduces PyTorch
            try:
                diff = _max_diff(model, _session(data), batch=3, seed=1)
            except Exception as exc:
                errors.append(f"{name}: onnxruntime cannot run the export: {_first_line(exc)}")
                continue
            if not diff <= CHECK_TOLERANCE:
                errors.append(f"{name}: onnxruntime differs from PyTorch by {diff:.2e}")
                continue
        onnx.checker.check_model(onnx.load_from_string(data))
        atomic_write_bytes(path, data)
        return path
    raise InpNetError(f"ONNX export failed ({'; '.join(errors)})")


def check_onnx(model: nn.Module, path: str | os.PathLike, batch: int = 3, seed: int = 0) -> float:
    """Max abs difference of the composite between onnxruntime on `path` and PyTorch eager, on `batch`
    random images with ragged masks."""
    return _max_diff(model, OnnxInpainter(path).session, batch, seed)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


class OnnxInpainter:
    """An exported model run by onnxruntime (CPU), callable like the PyTorch model:
    `OnnxInpainter("model.onnx")(images (B,3,H,W), mask (B,1,H,W)) -> InpaintOutput`.

    The ModelConfig comes from the file's metadata unless `config` is given. H, W must equal
    `config.image_size` (the exported graph has a fixed size); the batch is free.
    """

    def __init__(self, path: str | os.PathLike, config: ModelConfig | None = None,
                 threads: int | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise InpNetError(f"no ONNX file at {path}")
        try:
            self.session = _session(str(path), threads)
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise InpNetError(f"{path} is not a valid ONNX model (truncated or corrupt): {_first_line(exc)}") from None
        names = [i.name for i in self.session.get_inputs()]
        if names != list(INPUT_NAMES):
            raise InpNetError(f"{path} has inputs {names}, expected {list(INPUT_NAMES)} (an inpnet export)")
        if config is None:
            meta = self.session.get_modelmeta().custom_metadata_map
            if CONFIG_KEY not in meta:
                raise InpNetError(f"{path} carries no {CONFIG_KEY} metadata; pass config=")
            try:
                config = ModelConfig.from_dict(json.loads(meta[CONFIG_KEY]))
            except (json.JSONDecodeError, TypeError) as exc:
                raise InpNetError(f"{path}: unreadable {CONFIG_KEY} metadata: {exc}") from None
        self.config = config
        self.path = path
        self.device = torch.device("cpu")
        self.training = False

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        from inpnet.masks import pixel_to_token_mask

        cfg = self.config
        mask = check_inputs(images, mask, cfg.patch_size)
        if tuple(images.shape[2:]) != tuple(cfg.image_size):
            H, W = cfg.image_size
            raise InpNetError(
                f"this ONNX model takes {H}x{W} images, got {images.shape[2]}x{images.shape[3]}"
            )
        feeds = {
            "image": images.detach().float().cpu().contiguous().numpy(),
            "mask": mask.detach().float().cpu().contiguous().numpy(),
        }
        prediction, composite = self.session.run(list(OUTPUT_NAMES), feeds)
        device, dtype = images.device, images.dtype
        token_mask = pixel_to_token_mask(mask, cfg.patch_size, cfg.token_threshold)
        return InpaintOutput(
            torch.from_numpy(prediction).to(device, dtype),
            torch.from_numpy(composite).to(device, dtype),
            token_mask,
        )

    # the few nn.Module habits that callers of a model rely on
    def eval(self) -> OnnxInpainter:
        return self

    def to(self, *args: Any, **kwargs: Any) -> OnnxInpainter:
        return self

    def __repr__(self) -> str:
        return f"OnnxInpainter({str(self.path)!r}, variant={self.config.variant!r})"
