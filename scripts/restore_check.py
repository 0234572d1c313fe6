"""Does a checkpoint restore? Ratio-0 output vs the clean photo for noise10 / noise25 / jpeg20 at the model
size, on four scikit-image photos (astronaut, coffee, chelsea, rocket, fitted to 128x128): the model's
prediction in one pass (`output_psnr`) and `InpaintPipeline.restore` with each `--views` self-ensemble
(`views_psnr`: {views: PSNR}).

    python scripts/restore_check.py weights/inpnet-skip-recon-128 weights/stage1-no-prefill-128 \\
        [--views 4 8] --json docs/release-native/restore-128.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import skimage.data
import torch
from PIL import Image, ImageOps

from inpnet.checkpoint import load_model
from inpnet.eval.degrade import DEGRADATIONS, degrade
from inpnet.eval.metrics import psnr

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def check(path: str, views: tuple[int, ...] = ()) -> dict:
    from inpnet.predict import InpaintPipeline

    model = load_model(path)
    pipes = {n: InpaintPipeline(model, texture=0.0, self_ensemble=n) for n in views}
    h, w = model.config.image_size
    images = torch.stack([torch.from_numpy(np.array(ImageOps.fit(
        Image.fromarray(getattr(skimage.data, n)()).convert("RGB"), (w, h)))).permute(2, 0, 1).float() / 255
        for n in PHOTOS])
    out = {}
    for kind in DEGRADATIONS:
        x = degrade(images, kind, torch.Generator().manual_seed(0))
        with torch.inference_mode():
            y = model(x, torch.zeros(len(PHOTOS), 1, h, w)).prediction.clamp(0, 1)
        out[kind] = {"input_psnr": float(psnr(x, images).mean()), "output_psnr": float(psnr(y, images).mean())}
        for n, pipe in pipes.items():
            z = torch.stack([torch.from_numpy(np.array(pipe.restore(
                (x[i].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()))).permute(2, 0, 1).float() / 255
                for i in range(len(PHOTOS))])
            out[kind].setdefault("views_psnr", {})[n] = float(psnr(z, images).mean())
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--views", type=int, nargs="*", default=[], help="self-ensemble sizes to run restore with")
    args = ap.parse_args()
    result = {c: check(c, tuple(args.views)) for c in args.checkpoints}
    for c, kinds in result.items():
        print(c, " | ".join(f"{k}: {v['input_psnr']:.2f} -> {v['output_psnr']:.2f}"
                            + "".join(f", {n} views {p:.2f}" for n, p in v.get("views_psnr", {}).items())
                            for k, v in kinds.items()))
    if args.json:
        args.json.write_text(json.dumps({"photos": PHOTOS, "results": result}, indent=1) + "\n")
