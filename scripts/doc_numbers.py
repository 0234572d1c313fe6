"""Numbers quoted in README.md, docs/results.md and the model cards that no evaluation table holds.

    python scripts/doc_numbers.py flops            # -> docs/ablation-64/flops.json (counted, deterministic)
    /work/runs/quiet.sh python scripts/doc_numbers.py prefill-time   # -> docs/release-128/prefill_time.json

flops: GFLOPs per image of the equal-budget models as shipped (weights/ablation-64/*, weights/mae-64) at
random-patch ratios 0 / 0.5 / 0.75, counted by `torch.utils.flop_counter` (inpnet.bench.model_gflops); for
reference also `skip-recon` and `mae` at the `small` preset, 224 px (the benchmark size; FLOPs do not depend
on the weights, so these are freshly built models).
prefill-time: CPU time of the release model's harmonic prefill alone (`model.prefilled`) at its training
size, batch 1, 1 torch thread, median of repeated calls, for a 50 % random-patch mask and medium strokes.
Thread CPU time (`time.thread_time`), as in docs/benchmarks.md, because wall times on a shared machine move
by up to 2x between identical calls.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from inpnet.bench import model_gflops, random_masks
from inpnet.checkpoint import load_model
from inpnet.fileio import atomic_write_text
from inpnet.masks import make_pixel_mask
from inpnet.models import build_model

ROOT = Path(__file__).resolve().parents[1]
ABLATION = ["random-recon", "random-gan", "dynamic-recon", "dynamic-gan", "skip-recon", "skip-gan"]
RATIOS = (0.0, 0.5, 0.75)


def machine() -> dict[str, object]:
    return {"python": platform.python_version(), "torch": torch.__version__, "cpu": platform.processor() or
            platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}


def flops() -> dict[str, object]:
    folders = {name: ROOT / "weights" / "ablation-64" / name for name in ABLATION}
    folders["mae-64"] = ROOT / "weights" / "mae-64"
    models = {name: load_model(folder) for name, folder in folders.items()}
    models.update({f"small-224/{name}": build_model(name, preset="small") for name in ("skip-recon", "mae")})
    table = {name: {f"{r:g}": round(model_gflops(model, r), 4) for r in RATIOS} for name, model in models.items()}
    mae = table["mae-64"]
    small_mae = table["small-224/mae"]
    return {
        "what": "GFLOPs per image (2 per MAC; matmul, conv, attention), random patch masks, batch 1",
        "command": "python scripts/doc_numbers.py flops",
        "image_size": {"ablation and mae-64": 64, "small-224/*": 224},
        "gflops": table,
        "fraction_of_mae": {name: {r: round(v / mae[r], 4) for r, v in row.items()}
                            for name, row in table.items() if name != "mae-64" and "/" not in name},
        "small_224_fraction_of_mae": {r: round(v / small_mae[r], 4)
                                      for r, v in table["small-224/skip-recon"].items()},
        "machine": machine(),
    }


def prefill_time(repeats: int = 30, batches: tuple[int, ...] = (1, 16)) -> dict[str, object]:
    torch.set_num_threads(1)
    folder = ROOT / "weights" / "inpnet-skip-recon-128"
    model = load_model(folder).eval()
    cfg = model.config
    result = {}
    for batch in batches:
        g = torch.Generator().manual_seed(0)
        images = torch.rand(batch, 3, *cfg.image_size, generator=g)
        masks = {"random-50": random_masks(cfg, batch, 0.5),
                 "medium": make_pixel_mask("irregular", batch, cfg.image_size, cfg.patch_size, 0.3, g,
                                           family="medium")}
        with torch.inference_mode():
            for name, mask in masks.items():
                for _ in range(3):
                    model.prefilled(images, mask)
                times = []
                for _ in range(repeats):
                    start = time.thread_time()
                    model.prefilled(images, mask)
                    times.append((time.thread_time() - start) * 1e3 / batch)
                result[f"batch{batch}/{name}"] = {"median_ms_per_image": round(statistics.median(times), 3),
                                                  "min_ms_per_image": round(min(times), 3), "repeats": repeats}
    return {
        "what": "harmonic prefill alone (model.prefilled), 1 thread, thread CPU time per image in ms",
        "command": "/work/runs/quiet.sh python scripts/doc_numbers.py prefill-time",
        "model": str(folder.relative_to(ROOT)), "image_size": list(cfg.image_size),
        "prefill_sweeps": cfg.prefill_sweeps, "times": result, "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["flops", "prefill-time"])
    args = ap.parse_args()
    if args.what == "flops":
        out, data = ROOT / "docs" / "ablation-64" / "flops.json", flops()
    else:
        out, data = ROOT / "docs" / "release-128" / "prefill_time.json", prefill_time()
    atomic_write_text(out, json.dumps(data, indent=2) + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
