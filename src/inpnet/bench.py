"""`inpnet bench`: encoder cost against the mask ratio, InP-Net against MAE, PyTorch against ONNX Runtime,
a training step, parameters and FLOPs — as one JSON-able dict (schema in `run_bench`).

Times are medians of `repeats` calls after `warmup` calls, under `torch.inference_mode` for inference.
What is compared (ratios, InP-Net vs MAE, PyTorch vs ONNX Runtime) is timed in turn within each repeat, so
that a change in machine load falls on both sides. Masks are random patch masks with exact counts, so every image of a batch has the same visible count.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inpnet.config import ModelConfig
from inpnet.devices import resolve_device

RATIOS = (0.0, 0.25, 0.5, 0.75, 0.9)
TRAIN_RATIO = 0.5  # mask ratio of the timed training steps
ONNX_RATIOS = (0.0, 0.5, 0.75)  # mask ratios of the PyTorch / ONNX Runtime comparison (default run)
ONNX_AT_RATIOS = (0.0, 0.75)  # mask ratios of the comparison at another export size (`BenchOptions.onnx_at`)
REALTIME_SIZE = 256  # side of the real-time frame
REALTIME_HOLE = (0.10, 0.30)  # hole fraction of the real-time frame
STREAM_IN_FLIGHT = 2  # frames filled at once in the thread stream measurement (InpaintPipeline.stream)
STREAM_PROCESSES = 2  # worker processes of the process stream measurement (InpaintPipeline.stream(processes=))
STREAM_WARMUP_S = 1.0  # a stream's frames in its first second (after its first output) are not timed
REALTIME_BLOCK = 4  # frames of one path timed in a row before the next path (interleaved_ms's block)
VARIANT = "skip-recon"  # the InP-Net variant benchmarked (the full model: skips + fill stage)


@dataclass
class BenchOptions:
    """What `run_bench` measures. image_size / patch_size None: the preset's. The defaults take about a
    minute on 2 CPU cores; `full_options()` is the thorough run, `quick_options()` the test-sized one."""

    mode: str = "default"  # recorded in the JSON: default, full, quick
    preset: str = "small"
    image_size: int | None = None
    patch_size: int | None = None
    batch_size: int = 4
    repeats: int = 3
    warmup: int = 1
    checkpoint: str | None = None  # ONNX / real-time model; None: shipped weights, else a random preset model
    use_shipped: bool = True  # False: a random preset model when no checkpoint is given (quick runs)
    device: str = "auto"
    compile: bool = False  # torch.compile the InP-Net and MAE models for the inference timings
    ratios: tuple[float, ...] = RATIOS
    onnx: bool = True
    onnx_ratios: tuple[float, ...] = ONNX_RATIOS
    onnx_batches: tuple[int, ...] = (1, 8)
    # > 0: the ONNX comparison again (ratios ONNX_AT_RATIOS) with the model exported at this side in pixels
    # (`InpNet.at_size`): more tokens, where the encoder's share of the cost, and its fall with the mask, grows
    onnx_at: int = 0
    exporter: str = "auto"
    realtime: bool = False  # end-to-end frames/s of InpaintPipeline on one frame (`bench_realtime`)
    realtime_size: int = REALTIME_SIZE
    realtime_frames: int = 20  # timed frames per path (after `warmup` frames)
    clock: str = "wall"  # "cpu": 1 thread, the calling thread's CPU time (load-independent ratios)


def quick_options(**overrides: Any) -> BenchOptions:
    """Tiny settings (nano preset, 32 px, batch 2, 2 repeats, a 64-px real-time frame) for tests."""
    quick = BenchOptions(mode="quick", preset="nano", image_size=32, patch_size=8, batch_size=2, repeats=2,
                         use_shipped=False, onnx_batches=(1, 2), exporter="torchscript", realtime_size=64,
                         realtime_frames=3)
    return replace(quick, **overrides)


def full_options(**overrides: Any) -> BenchOptions:
    """The thorough run (issue 8's settings: batch 8, 5 repeats, every ratio in the ONNX section too) with
    the real-time section."""
    full = BenchOptions(mode="full", batch_size=8, repeats=5, onnx_ratios=RATIOS, realtime=True,
                        realtime_frames=40, onnx_at=REALTIME_SIZE)
    return replace(full, **overrides)


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int = 1, device: torch.device | None = None) -> float:
    """Median wall time of `fn()` in milliseconds over `repeats` calls, after `warmup` untimed calls."""
    return interleaved_ms({"fn": fn}, repeats, warmup, device)["fn"]


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
_clock = CLOCKS["wall"]  # run_bench sets it from BenchOptions.clock for the duration of a run


def interleaved_ms(fns: dict[Any, Callable[[], Any]], repeats: int, warmup: int = 1,
                   device: torch.device | None = None, block: int = 1) -> dict[Any, float]:
    """Median time (ms) of each function, calling them in turn within each repeat (after `warmup`
    rounds), so that a change of machine load falls on all of them rather than on one: `block` calls of
    one function in a row, then the next. Wall time, or the calling thread's CPU time during a
    `clock="cpu"` run (1 thread: what the load cannot stretch).

    Why blocks: a runtime's threads keep spinning for a while after its call (torch's OpenMP pool does),
    and a different runtime called right after loses cores to them; in a block of 3 only the first call
    pays for the switch, and the median ignores it (the 256-px int8 frame: 44 ms interleaved one by one
    after PyTorch, 33 ms in blocks and alone; docs/benchmarks.md)."""
    cuda = device is not None and device.type == "cuda"
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[Any, list[float]] = {key: [] for key in fns}
    for _ in range(max(1, repeats)):
        for key, fn in fns.items():
            for _ in range(max(1, block)):
                if cuda:
                    torch.cuda.synchronize(device)
                start = _clock()
                fn()
                if cuda:
                    torch.cuda.synchronize(device)
                times[key].append((_clock() - start) * 1000.0)
    return {key: statistics.median(values) for key, values in times.items()}


def model_config(opts: BenchOptions, name: str) -> ModelConfig:
    over: dict[str, Any] = {}
    if opts.image_size is not None:
        over["image_size"] = opts.image_size
    if opts.patch_size is not None:
        over["patch_size"] = opts.patch_size
    return ModelConfig.from_name(name, preset=opts.preset, **over)


def random_masks(config: ModelConfig, batch: int, ratio: float, seed: int = 0) -> torch.Tensor:
    """(B, 1, H, W) random patch masks with exactly round(ratio * L) masked patches per image."""
    from inpnet.masks import make_pixel_mask

    return make_pixel_mask("random", batch, config.image_size, config.patch_size, ratio,
                           torch.Generator().manual_seed(seed))


def _images(config: ModelConfig, batch: int, device: torch.device, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, *config.image_size, generator=g).to(device)


# ---- parameters and FLOPs -----------------------------------------------------------------------------
def _count(module: nn.Module | nn.Parameter) -> int:
    if isinstance(module, nn.Parameter):
        return module.numel()
    return sum(p.numel() for p in module.parameters())


def parameter_counts(inpnet: nn.Module, mae: nn.Module) -> dict[str, int]:
    """Parameters of both models, split into encoder (patch embedding, positions, transformer) and the rest."""
    inp_enc = _count(inpnet.patch_embed) + _count(inpnet.pos_embed) + _count(inpnet.encoder)
    mae_enc = sum(_count(m) for m in (mae.patch_embed, mae.blocks, mae.norm, mae.cls_token, mae.pos_embed))
    inp_total, mae_total = _count(inpnet), _count(mae)
    return {
        "inpnet": inp_total,
        "inpnet_encoder": inp_enc,
        "inpnet_decoder": inp_total - inp_enc,
        "mae": mae_total,
        "mae_encoder": mae_enc,
        "mae_decoder": mae_total - mae_enc,
    }


def _encode(model: nn.Module, images: torch.Tensor, mask: torch.Tensor):
    """The encoder part of InP-Net's forward: prefill, model input, patch embedding, visible-only transformer."""
    from inpnet.masks import pixel_to_token_mask

    cfg = model.config
    token_mask = pixel_to_token_mask(mask, cfg.patch_size, cfg.token_threshold)
    return model.forward_encoder(model.embed(model.model_input(model.prefilled(images, mask), mask)), token_mask)


def flop_counter():
    """`FlopCounterMode` that also counts the CPU flash-attention kernel (not in torch's own table)."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_flash_flops(query_shape, key_shape, value_shape, *args: Any, **kwargs: Any) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    extra = {}
    cpu_flash = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_flash is not None:
        extra[cpu_flash] = cpu_flash_flops
    return FlopCounterMode(display=False, custom_mapping=extra)


def inpnet_gflops(model: nn.Module, ratio: float = 0.0) -> dict[str, float]:
    """GFLOPs per image of InP-Net's encoder and of everything after it (fill stage + conv decoder), counted
    by `torch.utils.flop_counter.FlopCounterMode` (matmuls, convolutions, attention: 2 FLOPs per MAC)."""
    cfg = model.config
    device = next(model.parameters()).device
    images = _images(cfg, 1, device)
    mask = random_masks(cfg, 1, ratio).to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            with flop_counter() as enc_counter:
                _encode(model, images, mask)
            with flop_counter() as all_counter:
                model(images, mask)
    finally:
        model.train(was_training)
    encoder = enc_counter.get_total_flops() / 1e9
    total = all_counter.get_total_flops() / 1e9
    return {"encoder": encoder, "decoder": total - encoder}


def model_gflops(model: nn.Module, ratio: float = 0.0) -> float:
    """GFLOPs per image of a whole forward pass (any model) at `ratio`."""
    device = next(model.parameters()).device
    images = _images(model.config, 1, device)
    mask = random_masks(model.config, 1, ratio).to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), flop_counter() as counter:
            model(images, mask)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 1e9


# ---- timed parts -------------------------------------------------------------------------------------
def _peak_memory_mb(device: torch.device) -> Callable[[], float]:
    """Start a peak-memory measurement; the returned function gives the peak in MB since the start.

    CUDA: max_memory_allocated. CPU: growth of the process's peak resident set (ru_maxrss) — a lower bound
    when the process peaked higher before (run this first)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return lambda: torch.cuda.max_memory_allocated(device) / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    return lambda: (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale - before) / 2**20


def training_step(config: ModelConfig, batch: int, device: torch.device,
                  ratio: float = TRAIN_RATIO) -> Callable[[], None]:
    """The benchmarked training step, as a closure over a fresh seeded model and its optimizer: forward (bf16
    autocast on a GPU that has it), MSE on all pixels, backward, AdamW (fused where the build has it), on
    seeded images with `ratio` random masks. `bench_train` times it; benchmarks/gpu_train_mfu.py counts its
    FLOPs too."""
    from inpnet.losses import reconstruction_loss
    from inpnet.models import build_model

    torch.manual_seed(0)
    model = build_model(config).to(device).train()
    try:
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    except (RuntimeError, TypeError):  # no fused kernel for this device / build
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = _images(config, batch, device, seed=1)
    mask = random_masks(config, batch, ratio, seed=1).to(device)
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def step() -> None:
        with autocast:
            out = model(images, mask)
            loss = reconstruction_loss(out.prediction.float(), images, mask, mode="all")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def bench_train(config: ModelConfig, opts: BenchOptions, device: torch.device) -> dict[str, Any]:
    """Training steps (`training_step`): images/s and peak memory."""
    B = opts.batch_size
    step = training_step(config, B, device)
    peak = _peak_memory_mb(device)
    ms = median_ms(step, opts.repeats, opts.warmup, device)
    return {"model": f"{config.variant}/{config.preset}", "images_per_s": B * 1000.0 / ms, "peak_mem_mb": peak()}


def bench_encoder(model: nn.Module, opts: BenchOptions, device: torch.device) -> list[dict[str, Any]]:
    """InP-Net encoder latency (patch embedding + visible-only transformer) for each ratio, the ratios
    timed in turn within each repeat."""
    cfg = model.config
    images = _images(cfg, opts.batch_size, device)
    masks = {ratio: random_masks(cfg, opts.batch_size, ratio).to(device) for ratio in opts.ratios}
    with torch.inference_mode():
        fns = {ratio: (lambda mask=mask: _encode(model, images, mask)) for ratio, mask in masks.items()}
        ms = interleaved_ms(fns, opts.repeats, opts.warmup, device)
    return [{"ratio": r, "tokens": int(cfg.num_patches - mask_count(cfg, masks[r])), "latency_ms": ms[r]}
            for r in opts.ratios]


def mask_count(config: ModelConfig, mask: torch.Tensor) -> int:
    """Masked patches of the first image of a (B, 1, H, W) mask."""
    from inpnet.masks import pixel_to_token_mask

    return int(pixel_to_token_mask(mask[:1], config.patch_size, config.token_threshold).sum())


def bench_inference(models: dict[str, nn.Module], opts: BenchOptions, device: torch.device) -> list[dict[str, Any]]:
    """Whole-model latency and throughput for each model and ratio (batch `opts.batch_size`); at each ratio
    the models are timed in turn within each repeat, so that load changes hit them alike."""
    B = opts.batch_size
    runs = {name: torch.compile(model) if opts.compile else model for name, model in models.items()}
    ms: dict[tuple[str, float], float] = {}
    with torch.inference_mode():
        for ratio in opts.ratios:
            fns = {}
            for name, run in runs.items():
                cfg = models[name].config
                images, mask = _images(cfg, B, device), random_masks(cfg, B, ratio).to(device)
                fns[(name, ratio)] = lambda run=run, x=images, mask=mask: run(x, mask)
            ms.update(interleaved_ms(fns, opts.repeats, opts.warmup, device))
    return [{"model": name, "ratio": ratio, "batch": B, "latency_ms": ms[(name, ratio)],
             "images_per_s": B * 1000.0 / ms[(name, ratio)]} for name in models for ratio in opts.ratios]


def onnx_model(opts: BenchOptions) -> tuple[nn.Module, str]:
    """The model of the ONNX comparison and a description: --checkpoint, else the shipped weights (when
    `use_shipped`), else a random-initialised model of the preset."""
    from inpnet.checkpoint import load_model
    from inpnet.errors import InpNetError
    from inpnet.models import build_model

    if opts.checkpoint:
        return load_model(opts.checkpoint), f"checkpoint {opts.checkpoint}"
    if opts.use_shipped:
        try:
            return load_model(None), "shipped weights"
        except InpNetError:
            pass
    torch.manual_seed(0)
    config = model_config(opts, VARIANT)
    return build_model(config).eval(), f"random {config.variant}/{config.preset} {config.image_size[0]}px"


def export_timed(model: nn.Module, path: Path, opts: BenchOptions) -> dict[str, Any]:
    """Export `model` to `path` (what `inpnet export-onnx` does, with its check): seconds and max diff."""
    from inpnet.export import OnnxInpainter, check_onnx, export_onnx

    start = time.perf_counter()
    export_onnx(model, path, exporter=opts.exporter)
    seconds = time.perf_counter() - start
    meta = OnnxInpainter(path).session.get_modelmeta().custom_metadata_map
    return {"export_s": seconds, "exporter": meta.get("inpnet_exporter", "?"),
            "max_diff_fp32": check_onnx(model, path, batch=3)}


def onnx_runners(path: Path, threads: int) -> dict[str, Any]:
    """The three ways to run an export: packed (cost falls with the ratio), padded (all L slots, the old
    graph's cost), int8 (quantized on load)."""
    from inpnet.export import OnnxInpainter

    return {
        "onnxruntime_ms": OnnxInpainter(path, threads=threads),
        "onnxruntime_padded_ms": OnnxInpainter(path, threads=threads, full_length=True),
        "onnxruntime_int8_ms": OnnxInpainter(path, threads=threads, quantize="int8"),
    }


def bench_onnx(model: nn.Module, path: Path, opts: BenchOptions) -> dict[str, Any]:
    """Latency on CPU against the ratio, per batch in `opts.onnx_batches`: PyTorch eager, ONNX Runtime on
    the packed graph, the same graph fed all L slots (padded), and int8 — timed in turn within each repeat
    (same thread count), in blocks of 4 calls (batch 1) or 2 (larger batches) per repeat."""
    from inpnet.export import max_diff

    model = model.cpu().eval()
    cfg = model.config
    threads = torch.get_num_threads()
    start = time.perf_counter()
    runners = onnx_runners(path, threads)
    quantize_s = time.perf_counter() - start
    rows = []
    for batch in opts.onnx_batches:
        images = _images(cfg, batch, torch.device("cpu"))
        for ratio in opts.onnx_ratios:
            mask = random_masks(cfg, batch, ratio)
            with torch.inference_mode():
                fns = {"pytorch_ms": lambda x=images, m=mask: model(x, m)}
                fns.update({key: (lambda r=run, x=images, m=mask: r(x, m)) for key, run in runners.items()})
                ms = interleaved_ms(fns, opts.repeats, opts.warmup, block=4 if batch == 1 else 2)
            rows.append({"batch": batch, "ratio": ratio, "visible_tokens": cfg.num_patches - mask_count(cfg, mask),
                         **ms})
    return {"threads": threads, "quantize_s": quantize_s,
            "max_diff_int8": max_diff(model, runners["onnxruntime_int8_ms"], batch=3), "latency": rows}


def realtime_frame(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A (size, size, 3) uint8 photo (skimage's astronaut) and an (size, size) bool irregular hole covering
    a fraction within REALTIME_HOLE: the first seed from `seed` on whose mask falls in that range."""
    import cv2
    from skimage import data

    from inpnet.masks import irregular_pixel_mask

    photo = cv2.resize(data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
    lo, hi = REALTIME_HOLE
    for s in range(seed, seed + 1000):
        hole = irregular_pixel_mask(1, (size, size), "medium", torch.Generator().manual_seed(s))[0, 0].numpy() > 0.5
        if lo <= hole.mean() <= hi:
            return photo, hole
    raise RuntimeError(f"no irregular mask with a hole fraction in {REALTIME_HOLE}")  # never on a sane size


NO_SEAM_PATH = "onnxruntime_int8_no_seam"  # int8, seam_correction=False


def bench_realtime(model: nn.Module, path: Path, opts: BenchOptions) -> dict[str, Any]:
    """End-to-end `InpaintPipeline` frames/s on one frame (photo in, PIL image out: pre-processing, the
    model, resizing back, compositing), batch 1, for PyTorch eager, ONNX Runtime fp32 and int8, and int8
    without the seam correction, timed in turn; with each path's largest pixel difference from the PyTorch
    output (uint8 levels)."""
    from inpnet.models.decoder import fold_batchnorms
    from inpnet.predict import InpaintPipeline

    start = time.perf_counter()
    threads = torch.get_num_threads()
    photo, hole = realtime_frame(opts.realtime_size)
    pipes = {
        # the real-time path is the network's fill: the texture step (PatchMatch, seconds per photo) is off
        # as `from_pretrained` runs it: the decoder's BatchNorms folded, on a copy (the export uses `model`)
        "pytorch": InpaintPipeline(fold_batchnorms(copy.deepcopy(model).cpu().eval()), texture=0.0),
        "onnxruntime_fp32": InpaintPipeline.from_onnx(path, threads=threads, texture=0.0),
        "onnxruntime_int8": InpaintPipeline.from_onnx(path, threads=threads, quantize="int8", texture=0.0),
        # the fastest path: without the seam correction's harmonic solve (~6 ms a frame; what it costs in
        # hole PSNR is measured by benchmarks/quality.py)
        NO_SEAM_PATH: InpaintPipeline.from_onnx(path, threads=threads, quantize="int8", texture=0.0,
                                                seam_correction=False),
    }
    outputs = {name: np.asarray(pipe(photo, hole), dtype=np.int16) for name, pipe in pipes.items()}
    ms = interleaved_ms({name: (lambda p=pipe: p(photo, hole)) for name, pipe in pipes.items()},
                        max(1, opts.realtime_frames // REALTIME_BLOCK), opts.warmup, block=REALTIME_BLOCK)
    return {
        "frame": [opts.realtime_size, opts.realtime_size],
        "image": "skimage.data.astronaut",
        "hole_fraction": float(hole.mean()),
        "strategy": pipes["pytorch"].choose_strategy(hole),
        "threads": threads,
        "paths": [{"name": name, "ms": ms[name], "fps": 1000.0 / ms[name],
                   "max_abs_diff_vs_pytorch": int(np.abs(outputs[name] - outputs["pytorch"]).max())}
                  for name in pipes],
        "streams": bench_streams(pipes["onnxruntime_int8"], photo, hole, opts, outputs["pytorch"]),
        "seconds": time.perf_counter() - start,
    }


def bench_streams(pipe: Any, photo: np.ndarray, hole: np.ndarray, opts: BenchOptions,
                  reference: np.ndarray) -> list[dict[str, Any]]:
    """Frames/s of `InpaintPipeline.stream` over a stream of `opts.realtime_frames` frames (each batch 1), on
    threads (STREAM_IN_FLIGHT frames at once) and on STREAM_PROCESSES worker processes: total frames over total
    wall time after a warm-up (a throughput, not a per-call median); each output's largest difference from
    PyTorch. The thread stream is timed in two halves, before and after the processes, so that a change of the
    machine's speed falls on both. The processes' start-up (spawn, import, the model) is reported, not timed."""
    frames = max(opts.realtime_frames, 2 * STREAM_IN_FLIGHT)
    first = _time_stream(pipe, photo, hole, frames // 2, warmup_s=STREAM_WARMUP_S)
    processes = _time_stream(pipe, photo, hole, frames, warmup_s=STREAM_WARMUP_S, processes=STREAM_PROCESSES)
    second = _time_stream(pipe, photo, hole, frames - frames // 2, warmup_s=STREAM_WARMUP_S)
    threads = {"frames": first["frames"] + second["frames"], "seconds": first["seconds"] + second["seconds"],
               "outputs": first["outputs"] + second["outputs"], "start_s": 0.0}
    rows = []
    for workers, timed, count, in_flight in (("threads", threads, 0, STREAM_IN_FLIGHT),
                                             ("processes", processes, STREAM_PROCESSES, STREAM_PROCESSES + 1)):
        rows.append({"name": "onnxruntime_int8", "workers": workers, "processes": count, "in_flight": in_flight,
                     "frames": timed["frames"], "fps": timed["frames"] / timed["seconds"],
                     "ms_per_frame": 1000.0 * timed["seconds"] / timed["frames"], "start_s": timed["start_s"],
                     "max_abs_diff_vs_pytorch": int(max(np.abs(out - reference).max() for out in timed["outputs"]))})
    return rows


def _time_stream(pipe: Any, photo: np.ndarray, hole: np.ndarray, frames: int, warmup_s: float,
                 processes: int = 0) -> dict[str, Any]:
    """`frames` frames of an endless stream of `photo`, timed from the first output `warmup_s` seconds after the
    stream's first output (so that every worker has started: spawned workers come up one by one) to the last.
    "start_s": from the call to the first output."""
    outputs: list[np.ndarray] = []
    started, first, timed_from, seconds = time.perf_counter(), None, None, 0.0
    in_flight = STREAM_IN_FLIGHT if processes == 0 else None
    stream = pipe.stream(itertools.repeat(photo), hole, in_flight=in_flight, processes=processes)
    try:
        for out in stream:
            now = time.perf_counter()
            first = now if first is None else first
            if timed_from is None:
                timed_from = now if now - first >= warmup_s else None
                continue
            outputs.append(np.asarray(out, dtype=np.int16))
            if len(outputs) == frames:
                seconds = time.perf_counter() - timed_from
                break
    finally:
        stream.close()  # stops the workers (not timed)
    return {"frames": frames, "seconds": seconds, "outputs": outputs, "start_s": first - started}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"


def run_bench(opts: BenchOptions, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every measurement, as the dict that `inpnet bench --json` writes:

    {"mode", "clock": "wall"|"cpu", "device", "torch", "onnxruntime", "threads", "preset", "image_size", "seconds",
     "encoder": [{"ratio", "tokens", "latency_ms"}],
     "inference": [{"model": "inpnet"|"mae", "ratio", "batch", "latency_ms", "images_per_s"}],
     "onnx": None | {"model", "image_size", "export_s", "exporter", "max_diff_fp32", "max_diff_int8",
                     "quantize_s", "threads", "latency": [{"batch", "ratio", "visible_tokens", "pytorch_ms",
                     "onnxruntime_ms", "onnxruntime_padded_ms", "onnxruntime_int8_ms"}]},
     "onnx_at": None | the "onnx" dict again, at `onnx_at` px and ONNX_AT_RATIOS, + "seconds" (its own time),
     "realtime": None | {"frame", "image", "hole_fraction", "strategy", "threads", "seconds" (its own time),
                         "paths": [{"name", "ms", "fps", "max_abs_diff_vs_pytorch"}],
                         "streams": [{"name", "workers": "threads"|"processes", "processes", "in_flight",
                                      "frames", "fps", "ms_per_frame", "start_s", "max_abs_diff_vs_pytorch"}]},
     "train": {"model", "images_per_s", "peak_mem_mb"}, "params": {...}, "gflops": {"encoder", "decoder"}}
    """
    global _clock

    log = log or (lambda _msg: None)
    started = time.perf_counter()
    device = resolve_device(opts.device)
    threads = torch.get_num_threads()
    if opts.clock == "cpu":  # everything on the calling thread, so that its CPU time is the whole cost
        torch.set_num_threads(1)
    _clock = CLOCKS[opts.clock]
    try:
        return _run_all(opts, device, log, started)
    finally:
        _clock = CLOCKS["wall"]
        torch.set_num_threads(threads)


def _run_all(opts: BenchOptions, device: torch.device, log: Callable[[str], None], started: float) -> dict[str, Any]:
    import onnxruntime

    from inpnet.models import build_model

    inp_cfg = model_config(opts, VARIANT)
    mae_cfg = model_config(opts, "mae")
    result: dict[str, Any] = {
        "mode": opts.mode,
        "clock": opts.clock,
        "device": device_name(device),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "threads": torch.get_num_threads(),
        "preset": opts.preset,
        "image_size": inp_cfg.image_size[0] if inp_cfg.image_size[0] == inp_cfg.image_size[1]
        else list(inp_cfg.image_size),
    }
    # training first: the CPU peak-memory measure (ru_maxrss growth) needs a process that has not peaked yet
    log("train steps ...")
    result["train"] = bench_train(inp_cfg, opts, device)
    torch.manual_seed(0)
    inpnet = build_model(inp_cfg).to(device).eval()
    mae = build_model(mae_cfg).to(device).eval()
    result["params"] = parameter_counts(inpnet, mae)
    log("FLOPs ...")
    result["gflops"] = inpnet_gflops(inpnet, ratio=0.0)
    log("encoder latency vs ratio ...")
    result["encoder"] = bench_encoder(inpnet, opts, device)
    log("InP-Net and MAE latency vs ratio ...")
    result["inference"] = bench_inference({"inpnet": inpnet, "mae": mae}, opts, device)
    result["onnx"] = result["realtime"] = result["onnx_at"] = None
    if opts.onnx or opts.realtime:
        result.update(_bench_deployment(opts, log))
    result["seconds"] = time.perf_counter() - started
    order = ("mode", "clock", "device", "torch", "onnxruntime", "threads", "preset", "image_size", "seconds", "encoder",
             "inference", "onnx", "onnx_at", "realtime", "train", "params", "gflops")
    return {key: result[key] for key in order}


def _bench_deployment(opts: BenchOptions, log: Callable[[str], None]) -> dict[str, Any]:
    """The ONNX section and / or the real-time section, sharing one export of the deployment model."""
    model, what = onnx_model(opts)
    model = model.cpu().eval()
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        log(f"ONNX export ({what}) ...")
        export = export_timed(model, path, opts)
        if opts.onnx:
            log("ONNX Runtime vs PyTorch latency vs ratio ...")
            size = model.config.image_size
            out["onnx"] = {"model": what, "image_size": list(size), **export, **bench_onnx(model, path, opts)}
        if opts.realtime:
            log(f"real-time: pipeline frames/s on a {opts.realtime_size}-px frame ...")
            out["realtime"] = bench_realtime(model, path, opts)
        if opts.onnx and opts.onnx_at:
            log(f"ONNX Runtime vs PyTorch latency at {opts.onnx_at} px ...")
            out["onnx_at"] = bench_onnx_at(model, Path(tmp) / "model_at.onnx", opts, what)
    return out


def bench_onnx_at(model: nn.Module, path: Path, opts: BenchOptions, what: str) -> dict[str, Any]:
    """The ONNX comparison (`bench_onnx`, ratios ONNX_AT_RATIOS) with `model` exported at `opts.onnx_at` px."""
    from inpnet.export import model_at_size

    start = time.perf_counter()
    resized = model_at_size(model, opts.onnx_at, "--onnx-at")
    export = export_timed(resized, path, opts)
    timed = bench_onnx(resized, path, replace(opts, onnx_ratios=ONNX_AT_RATIOS))
    return {"model": what, "image_size": list(resized.config.image_size), **export, **timed,
            "seconds": time.perf_counter() - start}


def format_table(result: dict[str, Any]) -> str:
    """The measurements as plain-text tables."""
    lines = [
        f"{result['mode']} run · {result['clock']} time · device {result['device']} · torch {result['torch']} · threads "
        f"{result['threads']} · preset {result['preset']} · image {result['image_size']} · "
        f"{result['seconds']:.0f} s",
        "",
        "encoder (InP-Net, visible tokens only)",
        f"{'ratio':>6} {'tokens':>7} {'ms':>10} {'vs ratio 0':>11}",
    ]
    base = result["encoder"][0]["latency_ms"] if result["encoder"] else float("nan")
    for row in result["encoder"]:
        lines.append(f"{row['ratio']:>6.2f} {row['tokens']:>7d} {row['latency_ms']:>10.1f} "
                     f"{row['latency_ms'] / base:>11.2f}")
    lines += ["", "whole model", f"{'model':>7} {'ratio':>6} {'batch':>6} {'ms':>10} {'img/s':>9}"]
    for row in result["inference"]:
        lines.append(f"{row['model']:>7} {row['ratio']:>6.2f} {row['batch']:>6d} {row['latency_ms']:>10.1f} "
                     f"{row['images_per_s']:>9.1f}")
    lines += _format_onnx(result["onnx"]) + _format_onnx(result.get("onnx_at")) + _format_realtime(result["realtime"])
    train = result["train"]
    lines += [
        "",
        f"train ({train['model']}, ratio {TRAIN_RATIO}): {train['images_per_s']:.1f} img/s · "
        f"peak memory {train['peak_mem_mb']:.0f} MB",
        "params: " + " · ".join(f"{k} {v / 1e6:.2f} M" for k, v in result["params"].items()),
        f"GFLOPs per image at ratio 0: encoder {result['gflops']['encoder']:.3g} · "
        f"decoder {result['gflops']['decoder']:.3g} "
        f"({result['gflops']['decoder'] / max(result['gflops']['encoder'], 1e-12):.0%} of the encoder)",
    ]
    return "\n".join(lines)


def _format_onnx(onnx: dict[str, Any] | None) -> list[str]:
    if onnx is None:
        return []
    lines = [
        "",
        f"ONNX ({onnx['model']}, {onnx['image_size'][0]} px): export {onnx['export_s']:.1f} s ({onnx['exporter']}), max |diff| vs PyTorch "
        f"fp32 {onnx['max_diff_fp32']:.1e}, int8 {onnx['max_diff_int8']:.1e}; {onnx['threads']} threads",
        f"{'batch':>5} {'ratio':>6} {'tokens':>7} {'PyTorch':>9} {'ORT':>9} {'padded':>9} {'int8':>9} "
        f"{'ORT vs ratio 0':>15}",
    ]
    base = {row["batch"]: row["onnxruntime_ms"] for row in onnx["latency"] if row["ratio"] == 0.0}
    for row in onnx["latency"]:
        rel = row["onnxruntime_ms"] / base[row["batch"]] if row["batch"] in base else float("nan")
        lines.append(f"{row['batch']:>5d} {row['ratio']:>6.2f} {row['visible_tokens']:>7d} {row['pytorch_ms']:>9.1f} "
                     f"{row['onnxruntime_ms']:>9.1f} {row['onnxruntime_padded_ms']:>9.1f} "
                     f"{row['onnxruntime_int8_ms']:>9.1f} {rel:>15.2f}")
    return lines


def _format_realtime(rt: dict[str, Any] | None) -> list[str]:
    if rt is None:
        return []
    h, w = rt["frame"]
    lines = ["", f"real time: InpaintPipeline on a {h}x{w} frame, {rt['hole_fraction']:.0%} hole "
             f"({rt['strategy']}), batch 1, {rt['threads']} threads"]
    for path in rt["paths"]:
        lines.append(f"{path['name']:>17} {path['ms']:>8.1f} ms {path['fps']:>7.1f} frames/s "
                     f"(max diff vs PyTorch {path['max_abs_diff_vs_pytorch']} levels)")
    for st in rt["streams"]:
        lines.append(f"{'stream, ' + st['workers']:>17} {st['ms_per_frame']:>8.1f} ms {st['fps']:>7.1f} frames/s "
                     f"(int8, {_workers_text(st)}, {st['frames']} frames; max diff vs PyTorch "
                     f"{st['max_abs_diff_vs_pytorch']} levels)")
    return lines


def _workers_text(stream: dict[str, Any]) -> str:
    """'2 frames in flight' / '2 processes, 3 frames in flight, start-up 6.1 s' for a stream row."""
    if stream["workers"] == "threads":
        return f"{stream['in_flight']} frames in flight"
    return f"{stream['processes']} processes, {stream['in_flight']} frames in flight, start-up {stream['start_s']:.1f} s"
