"""Summarise run directories from their metrics.jsonl and training_state.pt (for model cards and notes).

    python scripts/run_stats.py RUN_DIR...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def stats(run: Path) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    vals = [r for r in rows if r.get("event") == "validation"]
    speeds = [r["speed/images_per_s"] for r in rows if r.get("speed/images_per_s")]
    counters = torch.load(run / "training_state.pt", weights_only=True)["counters"]
    best = max(vals, key=lambda r: r["psnr"]) if vals else {}
    return {
        "run": str(run), "step": counters["step"], "epoch": counters["epoch"],
        "images_seen": counters["images_seen"], "wall_min": round(counters["wall_s"] / 60, 1),
        "images_per_s_last": round(speeds[-1], 1) if speeds else None,
        "best_val": {k: round(best[k], 4) for k in ("step", "psnr", "ssim", "l1", "psnr_hole") if k in best},
        "last_val": {k: round(vals[-1][k], 4) for k in ("step", "psnr", "ssim", "psnr_hole")} if vals else {},
    }


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(json.dumps(stats(Path(arg))))
