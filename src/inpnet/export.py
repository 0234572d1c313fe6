"""ONNX export of an InP-Net or MAE model, a check against PyTorch, and `OnnxInpainter` to run the file.

InP-Net graphs ("packed" layout) hold the network from the packed visible tokens on, and take
- `image` (B, 3, H, W) float32 in [0, 1], `mask` (B, 1, H, W) float32 (1 = hole),
- `prefilled` (B, 3, H, W): the image the network sees (hole zeroed or harmonic-filled: `models.prefill`),
- `ids` (B, N) int64 and `valid` (B, N) bool: the grid index of each packed visible token, and which slots
  are real (N = the batch's largest visible count, at least 1; `pack_visible` gives both),
and return `prediction` and `composite` (B, 3, H, W). B and N are symbolic axes: onnxruntime's cost falls
with the mask ratio as eager PyTorch's does. The parameter-free prefill and the packing (data-dependent
shapes) run outside the graph, in the same torch code for both runtimes (`graph_inputs`); unrolling the
prefill's 32 Jacobi sweeps x 7 pyramid levels into the graph made the export take minutes.

MAE graphs and files exported before this layout ("padded") take `image` and `mask` only, with the visible
tokens padded to the full grid (`model.static_shapes`): their cost does not fall with the ratio.

The ModelConfig travels in the file's metadata (`inpnet_config`), so the file alone is enough to run it.
`quantize="int8"` (export or load) quantizes with onnxruntime's tools: the decoder's convolutions statically
(`quantize_static`, QDQ, int8 weights per channel, uint8 activations whose ranges come from a fixed calibration
set: `calibration_feeds`, bundled scikit-image photos), then the MatMul weights dynamically
(`quantize_dynamic`). Its error against PyTorch is measured, not zero.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inpnet.config import ModelConfig
from inpnet.devices import onnx_providers
from inpnet.errors import InpNetError
from inpnet.fileio import atomic_write_bytes, make_parent_folders
from inpnet.models.inputs import check_inputs
from inpnet.models.output import InpaintOutput

PACKED_INPUTS = ("image", "mask", "prefilled", "ids", "valid")
PADDED_INPUTS = ("image", "mask")
INPUT_NAMES = PADDED_INPUTS  # the inputs every inpnet graph has
OUTPUT_NAMES = ("prediction", "composite")
CONFIG_KEY = "inpnet_config"
LAYOUT_KEY = "inpnet_layout"
QUANT_KEY = "inpnet_quantized"
EXPORTERS = ("dynamo", "torchscript")
QUANTIZATIONS = ("int8",)
CHECK_TOLERANCE = 1e-4  # max abs difference of prediction and composite, onnxruntime fp32 vs PyTorch
# int8 (static Conv + dynamic MatMul; `quantize_int8`), max abs difference from PyTorch fp32 of the shipped
# (stage-5) model on `max_diff`'s inputs, random images with ragged masks: 0.039-0.079 (batch 1 / 3 / 8, 3
# seeds each; the stage-2 weights gave 0.004-0.016); ~2x margin. Photos move far less (hole PSNR cost in
# docs/benchmarks.md). `inpnet bench` records the shipped model's value (onnx.max_diff_int8) in every run.
INT8_TOLERANCE = 0.15


# ---- what the graph is --------------------------------------------------------------------------------
class _PackedGraph(nn.Module):
    """InP-Net from the prefilled image and the packed-token indices on: no data-dependent shape."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, mask: torch.Tensor, prefilled: torch.Tensor, ids: torch.Tensor,
                valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from inpnet.models.encoder import VisibleTokens

        model = self.model
        tokens = model.embed(model.model_input(prefilled, mask))  # (B, L, D)
        B, N = ids.shape
        packed = tokens.gather(1, ids[..., None].expand(B, N, tokens.shape[-1]))  # (B, N, D)
        packed = packed * valid[..., None].to(packed.dtype)  # as pack_visible: padding carries nothing
        out = model.forward_packed(image, mask, prefilled, VisibleTokens(packed, ids, valid))
        return out.prediction, out.composite


class _PaddedGraph(nn.Module):
    """`model(image, mask)` with a tuple output (MAE; visible tokens padded to L by `static_shapes`)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(image, mask)
        return out.prediction, out.composite


def layout_of_inputs(names: tuple[str, ...]) -> str:
    """"packed" for a graph whose inputs are PACKED_INPUTS, else "padded" (check the names first)."""
    return "packed" if tuple(names) == PACKED_INPUTS else "padded"


def model_at_size(model: nn.Module, image_size: int | tuple[int, int], option: str) -> nn.Module:
    """`model.at_size(image_size)` (an InP-Net exported at another fixed size); for a model without it (the MAE
    baseline) a one-line error that names the user's `option`."""
    if not hasattr(model, "at_size"):
        raise InpNetError(f"{option} needs an InP-Net model, not {type(model).__name__}")
    return model.at_size(image_size)


def layout_of(model: nn.Module) -> str:
    """"packed" for InP-Net (it has `forward_packed`), "padded" for the MAE baseline."""
    return "packed" if hasattr(model, "forward_packed") else "padded"


def graph_inputs(config: ModelConfig, images: torch.Tensor, mask: torch.Tensor,
                 full_length: bool = False) -> dict[str, np.ndarray]:
    """The feeds of a packed graph: images (B,3,H,W), mask (B,1,H,W) in {0,1} -> numpy arrays.

    `prefilled` is `models.prefill.prefill` (the code InpNet.forward runs); `ids` / `valid` are
    `pack_visible`'s, with N = the largest visible count of the batch, or L with `full_length` (the padded
    graph's cost, same outputs)."""
    from inpnet.masks import pixel_to_token_mask
    from inpnet.models.encoder import pack_visible
    from inpnet.models.prefill import prefill

    images, mask = images.detach().float().cpu(), mask.detach().float().cpu()
    with torch.inference_mode():
        token_mask = pixel_to_token_mask(mask, config.patch_size, config.token_threshold)  # (B, L)
        slots = pack_visible(torch.zeros(*token_mask.shape, 1), token_mask, full_length=full_length)
        known = prefill(images, mask, config.prefill, config.prefill_sweeps)
    return {
        "image": images.contiguous().numpy(), "mask": mask.contiguous().numpy(),
        "prefilled": known.contiguous().numpy(), "ids": slots.ids.contiguous().numpy(),
        "valid": slots.valid.contiguous().numpy(),
    }


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


# ---- export -------------------------------------------------------------------------------------------
def _export_proto(model: nn.Module, exporter: str, opset: int | None, layout: str):
    """The onnx.ModelProto of `model` from one exporter (exceptions propagate)."""
    import onnx

    images, masks = sample_inputs(model.config, batch=2, seed=0)
    if layout == "packed":
        wrapper, names = _PackedGraph(model).eval(), PACKED_INPUTS
        feeds = graph_inputs(model.config, images, masks)
        example = tuple(torch.from_numpy(feeds[name]) for name in names)
    else:
        wrapper, names, example = _PaddedGraph(model).eval(), PADDED_INPUTS, (images, masks)
    quiet = contextlib.redirect_stdout(io.StringIO())  # the exporters print progress lines
    with warnings.catch_warnings(), quiet:
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            batch = torch.export.Dim("batch", min=1, max=4096)
            visible = torch.export.Dim("visible", min=1, max=model.config.num_patches)
            axes = {"image": {0: batch}, "mask": {0: batch}, "prefilled": {0: batch},
                    "ids": {0: batch, 1: visible}, "valid": {0: batch, 1: visible}}
            program = torch.onnx.export(
                wrapper, example, None, dynamo=True, opset_version=opset, verbose=False,
                input_names=list(names), output_names=list(OUTPUT_NAMES),
                dynamic_shapes=tuple(axes[name] for name in names),
            )
            return program.model_proto
        buffer = io.BytesIO()
        axes = {name: {0: "batch"} for name in names + OUTPUT_NAMES}
        for name in ("ids", "valid"):
            if name in names:
                axes[name][1] = "visible"
        torch.onnx.export(
            wrapper, example, buffer, dynamo=False, opset_version=opset or 17,
            input_names=list(names), output_names=list(OUTPUT_NAMES), dynamic_axes=axes,
        )
        return onnx.load_from_string(buffer.getvalue())


# Calibration for the static part of int8: bundled scikit-image photos (not the astronaut, which the real-time
# benchmark runs on), each with no hole (restoration) and irregular holes of growing size; the no-hole photos
# also with Gaussian noise (CALIBRATION_NOISE), and one image of uniform noise. The noisy inputs matter since
# the default model restores: calibrated on clean photos only, a ratio-0 pass over a noisy input pushed the
# decoder's activations past their ranges (max difference from PyTorch 0.39 on max_diff's random images).
CALIBRATION_PHOTOS = ("coffee", "chelsea", "rocket")
CALIBRATION_MASK_SEEDS = (0, 1, 2)
CALIBRATION_NOISE = (25 / 255, 50 / 255)


def calibration_feeds(config: ModelConfig, layout: str = "packed") -> list[dict[str, np.ndarray]]:
    """Batch-1 graph inputs for quantization's activation ranges (same every call): each CALIBRATION_PHOTOS
    photo centre-cropped to the model's size with no hole and with an irregular hole per
    CALIBRATION_MASK_SEEDS, the same photo with no hole plus Gaussian noise of each CALIBRATION_NOISE, and one
    image of uniform noise with no hole."""
    import skimage.data
    from PIL import Image, ImageOps

    from inpnet.masks import irregular_pixel_mask

    H, W = config.image_size
    noise = torch.Generator().manual_seed(0)
    no_hole = torch.zeros(1, 1, H, W)
    pairs = []  # (image (1,3,H,W), mask (1,1,H,W))
    for name in CALIBRATION_PHOTOS:
        photo = ImageOps.fit(Image.fromarray(getattr(skimage.data, name)()).convert("RGB"), (W, H),
                             Image.Resampling.LANCZOS)
        image = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 255).permute(2, 0, 1)[None]  # (1,3,H,W)
        pairs.append((image, no_hole))
        pairs += [(image, irregular_pixel_mask(1, (H, W), "medium", torch.Generator().manual_seed(seed)).float())
                  for seed in CALIBRATION_MASK_SEEDS]
        pairs += [((image + sigma * torch.randn(image.shape, generator=noise)).clamp(0, 1), no_hole)
                  for sigma in CALIBRATION_NOISE]
    pairs.append((torch.rand(1, 3, H, W, generator=noise), no_hole))
    if layout == "packed":
        return [graph_inputs(config, image, mask) for image, mask in pairs]
    return [{"image": image.numpy(), "mask": mask.numpy()} for image, mask in pairs]


class _CalibrationReader:
    """The `onnxruntime.quantization.CalibrationDataReader` protocol over a list of feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def quantize_int8(data: bytes) -> bytes:
    """A float ONNX model (serialized) -> the same model with statically quantized convolutions (int8 weights,
    uint8 activations calibrated on `calibration_feeds`) and int8 MatMul weights with dynamically quantized
    activations; metadata kept, `inpnet_quantized` = "int8". A quantized model is returned as it is.

    Why both: dynamic quantization of the convolutions (ConvInteger) ran slower than fp32 on this CPU, and
    static quantization of the MatMuls lost more accuracy for no speed over dynamic (measured on the shipped
    model, 256-px frame, 2 threads: fp32 39.3 ms, dynamic MatMul 31.2, this mix 26.3; docs/benchmarks.md)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    proto = onnx.load_from_string(data)
    meta = {e.key: e.value for e in proto.metadata_props}
    if QUANT_KEY in meta:
        return data  # already quantized (an `export-onnx --quantize int8` file)
    config = OnnxInpainter._config_from(meta, Path("<model>"))
    layout = layout_of_inputs(tuple(i.name for i in proto.graph.input))
    with tempfile.TemporaryDirectory() as tmp:
        src, mid, dst = Path(tmp) / "float.onnx", Path(tmp) / "conv.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(data)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantizer logs a "consider pre-processing" warning on the root logger
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                quantize_static(src, mid, _CalibrationReader(calibration_feeds(config, layout)),
                                quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"], per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=CalibrationMethod.MinMax)
                quantize_dynamic(mid, dst, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
        finally:
            root.setLevel(level)
        proto = onnx.load(dst)
    _set_metadata(proto, {**meta, QUANT_KEY: "int8"})
    return proto.SerializeToString()


def _set_metadata(proto: Any, values: dict[str, str]) -> None:
    kept = [(e.key, e.value) for e in proto.metadata_props if e.key not in values]
    del proto.metadata_props[:]
    for key, value in [*kept, *values.items()]:
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def _session(source: str | bytes, threads: int | None = None, providers: list[Any] | None = None):
    """An InferenceSession on `providers` (`devices.onnx_providers`; default the CPU)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # no busy-waiting after a run: the pipeline's own torch / OpenCV steps (prefill, resizing) run between
    # calls on the same cores, and ORT's spinning threads took them: measured 16 -> 9 ms for the prefill
    # of a 256-px frame, 2 threads (docs/benchmarks.md)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(source, options, providers=providers or ["CPUExecutionProvider"])


def _torch_output(model: nn.Module, images: torch.Tensor, masks: torch.Tensor) -> InpaintOutput:
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return model(images, masks)
    finally:
        model.train(was_training)


def max_diff(model: nn.Module, runner: OnnxInpainter, batch: int = 3, seed: int = 0) -> float:
    """Max abs difference, `runner` (onnxruntime) vs PyTorch eager, of the prediction (every pixel: at
    ratio 0 it is the restored image) and the composite, on `batch` random images with ragged masks
    (image i hides 0.9 * i / (batch - 1) of its patches, the first none)."""
    device = next(model.parameters()).device
    images, masks = sample_inputs(model.config, batch, seed, device)
    expected = _torch_output(model, images, masks)
    got = runner(images.float().cpu(), masks.float().cpu())
    return max(float((got.prediction - expected.prediction.float().cpu()).abs().max()),
               float((got.composite - expected.composite.float().cpu()).abs().max()))


MIN_OPSET = 17  # the oldest opset both exporters write this model in (the legacy exporter's default)


def _newest_opset() -> int:
    """The newest opset torch's exporters write (a private constant of torch.onnx, so with a fallback: the
    newest that onnx itself knows, which may be above it)."""
    import onnx

    try:
        from torch.onnx._constants import ONNX_MAX_OPSET
    except ImportError:
        return onnx.defs.onnx_opset_version()
    return min(int(ONNX_MAX_OPSET), onnx.defs.onnx_opset_version())


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int | None = None,
                exporter: str = "auto", quantize: str | None = None) -> Path:
    """Export `model` (InpNet or MAE) to the ONNX file `path` (written atomically) and return the path.

    `exporter`: "dynamo" (torch.export based), "torchscript" (legacy), or "auto": dynamo first, the legacy
    exporter when dynamo fails or its file does not reproduce PyTorch under onnxruntime.
    `quantize="int8"`: write the int8 model (`quantize_int8`) instead of the float one.
    """
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise InpNetError(f"export_onnx expects an InP-Net or MAE model, got {type(model).__name__}")
    if exporter not in ("auto", *EXPORTERS):
        raise InpNetError(f"unknown exporter {exporter!r}; valid: auto, {', '.join(EXPORTERS)}")
    if quantize not in (None, *QUANTIZATIONS):
        raise InpNetError(f"unknown quantization {quantize!r}; valid: {', '.join(QUANTIZATIONS)}")
    import onnx

    newest = _newest_opset()
    if opset is not None and not MIN_OPSET <= opset <= newest:  # outside: the exporters fall back, or fail loudly
        raise InpNetError(f"opset {opset} is outside what the exporters write here ({MIN_OPSET} to {newest})")
    path = make_parent_folders(path)
    if next(model.parameters()).device.type != "cpu":
        model = copy.deepcopy(model).cpu()  # the graph is for onnxruntime's CPU provider
    layout = layout_of(model)
    errors: list[str] = []
    for name in EXPORTERS if exporter == "auto" else (exporter,):
        with _export_mode(model):
            try:
                proto = _export_proto(model, name, opset, layout)
            except Exception as exc:  # exporters fail in many ways; the next exporter may work
                errors.append(f"{name}: {_first_line(exc)}")
                continue
        written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
        if opset is not None and written != opset:
            errors.append(f"{name}: wrote opset {written}, not the {opset} asked for")
            continue
        _set_metadata(proto, {CONFIG_KEY: json.dumps(config.to_dict()), "inpnet_exporter": name,
                              LAYOUT_KEY: layout})
        data = proto.SerializeToString()
        if exporter == "auto":  # keep a file only if onnxruntime reproduces PyTorch
            try:
                diff = max_diff(model, OnnxInpainter.from_bytes(data), batch=3, seed=1)
            except Exception as exc:
                errors.append(f"{name}: onnxruntime cannot run the export: {_first_line(exc)}")
                continue
            if not diff <= CHECK_TOLERANCE:
                errors.append(f"{name}: onnxruntime differs from PyTorch by {diff:.2e}")
                continue
        onnx.checker.check_model(onnx.load_from_string(data))
        if quantize == "int8":
            data = quantize_int8(data)
        atomic_write_bytes(path, data)
        return path
    raise InpNetError(f"ONNX export failed ({'; '.join(errors)})")


def check_onnx(model: nn.Module, path: str | os.PathLike, batch: int = 3, seed: int = 0) -> float:
    """Max abs difference of the composite between onnxruntime on `path` and PyTorch eager, on `batch`
    random images with ragged masks."""
    return max_diff(model, OnnxInpainter(path), batch, seed)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


# ---- running a file -----------------------------------------------------------------------------------
class OnnxInpainter:
    """An exported model run by onnxruntime, callable like the PyTorch model:
    `OnnxInpainter("model.onnx")(images (B,3,H,W), mask (B,1,H,W)) -> InpaintOutput`.

    The ModelConfig comes from the file's metadata unless `config` is given. H, W must equal
    `config.image_size` (the exported graph has a fixed size); the batch is free. `quantize="int8"`
    quantizes a float file on loading (a few seconds). `full_length=True` feeds a packed graph all L
    token slots (the padded cost; same outputs): for comparisons. `device`: "cpu" (default), "auto" or
    "cuda[:N]" (`devices.onnx_providers`; the prefill and packing before the graph run on the CPU either way).
    """

    def __init__(self, path: str | os.PathLike, config: ModelConfig | None = None,
                 threads: int | None = None, quantize: str | None = None, full_length: bool = False,
                 *, device: str = "cpu", _data: bytes | None = None) -> None:
        if quantize not in (None, *QUANTIZATIONS):
            raise InpNetError(f"unknown quantization {quantize!r}; valid: {', '.join(QUANTIZATIONS)}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise InpNetError(f"threads must be a positive number (None: all cores), got {threads!r}")
        path = Path(path)
        if _data is None and not path.is_file():
            raise InpNetError(f"no ONNX file at {path}")
        self.threads = threads
        self.providers = onnx_providers(device)
        try:
            source: str | bytes = _data if _data is not None else str(path)
            if quantize is not None:
                source = quantize_int8(source if isinstance(source, bytes) else path.read_bytes())
            self._source = source
            self._session = _session(source, threads, self.providers)
        except InpNetError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise InpNetError(f"{path} is not a valid ONNX model (truncated or corrupt): {_first_line(exc)}") from None
        names = tuple(i.name for i in self.session.get_inputs())
        if names not in (PACKED_INPUTS, PADDED_INPUTS):
            raise InpNetError(f"{path} has inputs {list(names)}, expected {list(PACKED_INPUTS)} (an inpnet export)")
        self.layout = layout_of_inputs(names)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.quantized = meta.get(QUANT_KEY)
        self.config = config if config is not None else self._config_from(meta, path)
        self._check_size(path)
        self.path = path
        self.full_length = full_length
        self.device = torch.device("cpu")
        self.training = False

    @property
    def session(self) -> Any:
        """The onnxruntime InferenceSession (built on first use after unpickling or `set_threads`)."""
        if self._session is None:
            self._session = _session(self._source, self.threads, self.providers)
        return self._session

    def set_threads(self, threads: int | None) -> None:
        """Run with `threads` intra-op threads from now on (the session is rebuilt on its next use)."""
        if threads != self.threads:
            self.threads, self._session = threads, None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled with the model's bytes, not its session (sessions do not pickle): a worker process
        (`InpaintPipeline.stream(processes=...)`) builds its own session on first use."""
        state = {**self.__dict__, "_session": None}
        if not isinstance(self._source, bytes):
            state["_source"] = Path(self._source).read_bytes()  # a worker does not depend on the file's path
        return state

    @classmethod
    def from_bytes(cls, data: bytes, **kwargs: Any) -> OnnxInpainter:
        """A serialized model (no file)."""
        return cls("<in memory>", _data=data, **kwargs)

    def _check_size(self, path: Path) -> None:
        """The graph's fixed image size is the config's (else onnxruntime fails on the first call, in many lines)."""
        first = self.session.get_inputs()[0]  # "prefilled" or "image": (batch, C, H, W)
        graph = tuple(first.shape[2:])
        if all(isinstance(side, int) for side in graph) and graph != tuple(self.config.image_size):
            (h, w), (H, W) = graph, self.config.image_size
            raise InpNetError(f"{path}: its graph takes {h}x{w} images but its config says {H}x{W} (changed after "
                              "export?); export it again with inpnet export-onnx")

    @staticmethod
    def _config_from(meta: dict[str, str], path: Path) -> ModelConfig:
        if CONFIG_KEY not in meta:
            raise InpNetError(f"{path} carries no {CONFIG_KEY} metadata: not an `inpnet export-onnx` file (in Python, "
                              "pass config=)")
        try:
            return ModelConfig.from_dict(json.loads(meta[CONFIG_KEY]))
        except (json.JSONDecodeError, TypeError) as exc:
            raise InpNetError(f"{path}: unreadable {CONFIG_KEY} metadata: {exc}") from None

    def feeds(self, images: torch.Tensor, mask: torch.Tensor) -> dict[str, np.ndarray]:
        """The graph's inputs for images (B,3,H,W) and a {0,1} mask (B,1,H,W)."""
        if self.layout == "packed":
            return graph_inputs(self.config, images, mask, self.full_length)
        return {"image": images.detach().float().cpu().contiguous().numpy(),
                "mask": mask.detach().float().cpu().contiguous().numpy()}

    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> InpaintOutput:
        from inpnet.masks import pixel_to_token_mask

        cfg = self.config
        mask = check_inputs(images, mask, cfg.patch_size)
        if tuple(images.shape[2:]) != tuple(cfg.image_size):
            H, W = cfg.image_size
            raise InpNetError(
                f"this ONNX model takes {H}x{W} images, got {images.shape[2]}x{images.shape[3]}"
            )
        prediction, composite = self.session.run(list(OUTPUT_NAMES), self.feeds(images, mask))
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
        quant = f", quantized={self.quantized!r}" if self.quantized else ""
        return f"OnnxInpainter({str(self.path)!r}, variant={self.config.variant!r}{quant})"
