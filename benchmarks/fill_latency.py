"""Latency of one fill at a user's photo size: a 1-megapixel photo with a 10 % hole, default pipeline.

    python benchmarks/fill_latency.py --json docs/release-native/latency.json

Measures the median wall time (after one warm-up) of `InpaintPipeline.__call__` on a 1024x1024 photo
(scikit-image's astronaut, upscaled) with a 10 % hole (a centred box and, separately, free-form strokes),
with the texture step off and on (PatchMatch, the default, and the built-in synthesis), at the
torch thread count given (default 2). Goal (issue 14): < 1 s. Also writes the texture ratio of each output
(detail in the hole, output / original).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def _photo(side: int) -> np.ndarray:
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((side, side), Image.Resampling.BICUBIC))


def _holes(side: int, fraction: float) -> dict[str, np.ndarray]:
    from inpnet.masks import irregular_pixel_mask

    box = np.zeros((side, side), dtype=bool)
    s = int(round(side * fraction**0.5))
    box[(side - s) // 2 : (side - s) // 2 + s, (side - s) // 2 : (side - s) // 2 + s] = True
    g = torch.Generator().manual_seed(0)
    # strokes over `fraction` of 32-px cells, counted at half-covered cells: about `fraction` of the area
    masks = irregular_pixel_mask(1, (side, side), "medium", g, ratio=fraction, patch_size=32, threshold=0.5)
    strokes = masks[0, 0].numpy() > 0.5
    return {"box": box, "strokes": strokes}


def measure(repeats: int, threads: int, side: int, fraction: float) -> dict:
    from inpnet.predict import InpaintPipeline

    torch.set_num_threads(threads)
    photo = _photo(side)
    from inpnet.eval.metrics import texture
    from inpnet.predict import rgb_to_tensor

    pipe = InpaintPipeline.from_pretrained(texture=0.0)
    paths = {"network": pipe}
    for method in ("patchmatch", "synthesis"):
        paths[f"network+texture ({method})"] = InpaintPipeline(pipe.model, texture=1.0, texture_method=method)
    rows = []
    for name, hole in _holes(side, fraction).items():
        m = torch.from_numpy(hole)[None, None].float()
        for label, p in paths.items():
            ratio = float(texture(rgb_to_tensor(np.asarray(p(photo, hole))), rgb_to_tensor(photo), m))  # + warm-up
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                p(photo, hole)
                times.append(time.perf_counter() - t0)
            rows.append({"hole": name, "hole_fraction": float(hole.mean()), "method": label,
                         "median_s": statistics.median(times), "times_s": times, "texture": ratio})
    return {"photo": f"{side}x{side}", "threads": threads, "repeats": repeats, "rows": rows,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
            "load_before": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--side", type=int, default=1024)
    ap.add_argument("--fraction", type=float, default=0.10)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = measure(args.repeats, args.threads, args.side, args.fraction)
    for r in result["rows"]:
        print(f"{r['hole']:8s} {r['hole_fraction']:.3f} {r['method']:30s} median {r['median_s']:.3f} s, "
              f"texture {r['texture']:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
