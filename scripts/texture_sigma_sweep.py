"""How much of the detail should come from PatchMatch? The texture step's blur sigma, swept.

    python scripts/texture_sigma_sweep.py --json docs/release-native/texture-sigma.json

Six scikit-image photos (brick, coffee, astronaut, chelsea, rocket, immunohistochemistry) at their own size,
a centred box of a quarter of the area, the default weights: hole PSNR and texture of the network alone,
PatchMatch alone, and network + PatchMatch detail at sigma 3 / 6 / 10 / 16 px.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import skimage.data
import torch

from inpnet.eval.metrics import psnr, texture
from inpnet.predict import InpaintPipeline
from inpnet.texture import patchmatch_inpaint, transfer_texture

PHOTOS = ("brick", "coffee", "astronaut", "chelsea", "rocket", "immunohistochemistry")
SIGMAS = (3.0, 6.0, 10.0, 16.0)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(a, dtype=np.float32)).permute(2, 0, 1)[None] / 255


def sweep(checkpoint: str | None) -> dict:
    pipe = InpaintPipeline.from_pretrained(checkpoint, texture=0.0)
    rows = []
    for name in PHOTOS:
        img = getattr(skimage.data, name)()
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
        H, W = img.shape[:2]
        hole = np.zeros((H, W), dtype=bool)
        hole[H // 2 - H // 4 : H // 2 + H // 4, W // 2 - W // 4 : W // 2 + W // 4] = True
        net = np.asarray(pipe(img, hole))
        outs = {"network": net, "patchmatch": patchmatch_inpaint(img, hole)}
        outs |= {f"sigma{s:g}": transfer_texture(img, hole, net, sigma=s) for s in SIGMAS}
        m = torch.from_numpy(hole)[None, None].float()
        for method, out in outs.items():
            rows.append({"photo": name, "method": method, "psnr_hole": float(psnr(_t(out), _t(img), m)),
                         "texture": float(texture(_t(out), _t(img), m))})
    means = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        sel = [r for r in rows if r["method"] == method]
        means[method] = {k: float(np.mean([r[k] for r in sel])) for k in ("psnr_hole", "texture")}
    return {"checkpoint": checkpoint or "shipped default", "rows": rows, "means": means}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = sweep(args.checkpoint)
    for method, v in result["means"].items():
        print(f"{method:12s} hole PSNR {v['psnr_hole']:.2f}  texture {v['texture']:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
