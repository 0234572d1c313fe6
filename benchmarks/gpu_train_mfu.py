"""Model FLOPs utilisation (MFU) of the InP-Net training step on a GPU in bf16 (the issue-8 target: >= 40 %
for `base`).

The step is `inpnet.bench.training_step` (forward, MSE on all pixels, backward, fused AdamW), `inpnet bench`'s, at
mask ratio 0.5.
Its FLOPs are counted, not estimated: one step under `torch.utils.flop_counter.FlopCounterMode` (matmuls,
convolutions and attention, forward and backward). Its time: the median of `--repeats` blocks of `--steps`
steps between CUDA synchronisations. MFU = counted FLOPs / time / peak. Two peaks: the datasheet's dense bf16
rate (`--peak-tflops`, 989 for an H100/H200 SXM) and a bf16 8192^3 matrix product measured in the same run (the
rate this machine actually reaches on one large matmul).

The FLOP count is tested on CPU (tests/test_bench.py); benchmarks/gpu-mfu.json is its run on a lent H200
(2026-11-30), which docs/benchmarks.md's target table reads.

    python benchmarks/gpu_train_mfu.py --preset base --batch-size 64 128 256 512 --json benchmarks/gpu-mfu.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from inpnet.bench import TRAIN_RATIO, training_step
from inpnet.config import ModelConfig


def timed(fn, steps: int, repeats: int) -> float:
    """Median seconds per call over `repeats` blocks of `steps` calls (after one untimed block)."""
    times = []
    for block in range(repeats + 1):
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        torch.cuda.synchronize()
        if block:
            times.append((time.perf_counter() - start) / steps)
    return statistics.median(times)


def counted_flops(step) -> int:
    """FLOPs of one call of `step` (forward and backward matmuls, convolutions, attention)."""
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return counter.get_total_flops()


def matmul_tflops(n: int = 8192) -> float:
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    return 2 * n**3 / timed(lambda: a @ b, 10, 3) / 1e12


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="base")
    p.add_argument("--variant", default="skip-recon")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--patch-size", type=int, default=16)
    p.add_argument("--batch-size", type=int, nargs="+", default=[256])
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--peak-tflops", type=float, default=989.0, help="the datasheet's dense bf16 rate")
    p.add_argument("--json")
    args = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    device = torch.device("cuda")
    config = ModelConfig.from_name(args.variant, preset=args.preset, image_size=args.image_size,
                                  patch_size=args.patch_size)
    measured_peak = matmul_tflops()
    rows = []
    for batch in args.batch_size:
        step = training_step(config, batch, device)
        step()
        flops = counted_flops(step)
        seconds = timed(step, args.steps, args.repeats)
        achieved = flops / seconds / 1e12
        rows.append({"batch": batch, "tflop_per_step": flops / 1e12, "step_ms": seconds * 1e3,
                     "images_per_s": batch / seconds, "achieved_tflops": achieved,
                     "mfu_datasheet": achieved / args.peak_tflops, "mfu_measured_peak": achieved / measured_peak,
                     "peak_mem_gb": torch.cuda.max_memory_allocated() / 2**30})
        print(json.dumps(rows[-1]), flush=True)
        del step  # the model and optimizer it holds
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    result = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "config": config.to_dict(),
              "mask_ratio": TRAIN_RATIO, "peak_tflops_datasheet": args.peak_tflops,
              "peak_tflops_measured_matmul": measured_peak, "rows": rows,
              "command": "python benchmarks/gpu_train_mfu.py " + " ".join(
                  f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                  for k, v in vars(args).items() if v is not None and k != "json")}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("config", "rows")}))


if __name__ == "__main__":
    main()
