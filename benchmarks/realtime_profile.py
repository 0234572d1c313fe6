"""Where a real-time frame's time goes: cProfile of the ONNX Runtime fp32 pipeline on one 256x256 frame.

    python benchmarks/realtime_profile.py [--frames 40] [--threads 2] [--quantize int8]

Exports the shipped model to a temporary ONNX file (int8-quantized with `--quantize int8`), runs `InpaintPipeline.from_onnx(...)(photo, hole)` on
the frame of `inpnet bench --realtime` (texture step off), and prints the median frame time and the
functions with the most cumulative time per frame.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--quantize", choices=["int8"], help="profile the quantized path")
    args = p.parse_args()
    from inpnet.bench import realtime_frame
    from inpnet.checkpoint import load_model
    from inpnet.export import export_onnx
    from inpnet.predict import InpaintPipeline

    torch.set_num_threads(args.threads)
    photo, hole = realtime_frame(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(load_model(None), path)
        pipe = InpaintPipeline.from_onnx(path, threads=args.threads, quantize=args.quantize, texture=0.0)
        for _ in range(5):
            pipe(photo, hole)
        times = []
        for _ in range(args.frames):
            t0 = time.perf_counter()
            pipe(photo, hole)
            times.append(time.perf_counter() - t0)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.frames):
            pipe(photo, hole)
        profiler.disable()
    print(f"frame {args.size}x{args.size}, hole {hole.mean():.1%}, {args.threads} threads: median "
          f"{1000 * statistics.median(times):.1f} ms ({1 / statistics.median(times):.1f} frames/s)")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    print(out.getvalue())


if __name__ == "__main__":
    main()
