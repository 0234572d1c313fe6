"""PatchMatch in the texture step, its patch size and guide weight: texture and hole PSNR on native test photos.

The sizes are pypatchmatch's `patch_size`, a radius: size N compares patches of (2N + 1)^2 pixels.

    python scripts/texture_patch_sweep.py --limit 40 --sizes 3 --guide-weights 0     # the texture step
    python scripts/texture_patch_sweep.py --limit 12 --sizes 3 5 9 15 --alone        # PatchMatch alone
    python scripts/texture_patch_sweep.py --limit 12 --sizes 3 --guide-weights 0 0.25 1 2 3 4

Runs the default pipeline with the texture step (or, with `--alone`, PatchMatch by itself, unguided) at
each patch size and guide weight (0 = unguided; the guide is the network's fill, `texture.guide_map`) on the
first `--limit` photos of `--holdout 0.02` at their own size, with the masks of `inpnet ablate --native`
(thick, medium, box25, nvidia; seed 0), and prints the mean texture, hole PSNR and median seconds per
(mask set, patch size, weight). Results: docs/release-native/texture-patch.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import inpnet.texture as texture_module
from inpnet.commands import select_images
from inpnet.eval.metrics import psnr, texture
from inpnet.eval.native import native_mask
from inpnet.imageio import list_images, open_image
from inpnet.predict import InpaintPipeline, rgb_to_tensor

SETS = ("thick", "medium", "box25", "nvidia")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="../shared/data/train")
    ap.add_argument("--masks", default="../shared/data/masks/nvidia_irregular")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--sizes", type=int, nargs="+", default=[3, 5])
    ap.add_argument("--guide-weights", type=float, nargs="+", default=[texture_module.GUIDE_WEIGHT])
    ap.add_argument("--alone", action="store_true", help="PatchMatch by itself, not the pipeline's texture step")
    args = ap.parse_args()
    photos = select_images([args.images], 0.02)[: args.limit]
    nvidia = list_images([args.masks])
    pipe = InpaintPipeline.from_pretrained(texture=1.0)
    original = texture_module.patchmatch_inpaint
    scores: dict[tuple[str, int, float], dict[str, list[float]]] = {}
    settings = [(size, 0.0) for size in args.sizes] if args.alone else [
        (size, weight) for size in args.sizes for weight in args.guide_weights]
    for index, path in enumerate(photos):
        image = np.asarray(open_image(path))
        for set_name in SETS:
            hole = native_mask(set_name, image.shape[:2], index, 0, nvidia)
            mask = torch.from_numpy(hole)[None, None].float()
            for size, weight in settings:
                start = time.perf_counter()
                if args.alone:
                    out = original(np.where(hole[..., None], 0, image).astype(np.uint8), hole, patch_size=size)
                else:
                    defaults = texture_module.TEXTURE_PATCH_SIZE, texture_module.GUIDE_WEIGHT
                    # both read by exemplar_fill at each call
                    texture_module.TEXTURE_PATCH_SIZE, texture_module.GUIDE_WEIGHT = size, weight
                    try:
                        out = np.asarray(pipe(image, hole))
                    finally:
                        texture_module.TEXTURE_PATCH_SIZE, texture_module.GUIDE_WEIGHT = defaults
                seconds = time.perf_counter() - start
                got, want = rgb_to_tensor(out), rgb_to_tensor(image)
                row = scores.setdefault((set_name, size, weight), {"texture": [], "psnr": [], "seconds": []})
                row["texture"].append(float(texture(got, want, mask)))
                row["psnr"].append(float(psnr(got, want, mask)))
                row["seconds"].append(seconds)
    for (set_name, size, weight), row in scores.items():
        print(f"{set_name} p{size} guide {weight:g}: texture {np.nanmean(row['texture']):.3f} hole PSNR {np.mean(row['psnr']):.2f} "
              f"median {np.median(row['seconds']):.2f} s ({len(row['psnr'])} photos)")


if __name__ == "__main__":
    main()
