"""Copy a run's best weights into `weights/NAME/` for shipping (fp16 storage when it changes nothing).

    python scripts/ship_weights.py RUN_DIR NAME [--default] [--fp32]

Writes `weights/NAME/model.safetensors` + `config.json` (model part only); with `--default`, also
`weights/DEFAULT` so that `InpaintPipeline.from_pretrained()`, `inpnet demo`, `inpnet inpaint` and
`inpnet evaluate` use it. fp16 storage is kept only if the composite of a fixed batch through the
reloaded model matches the fp32 model to 1e-3; otherwise fp32 is written (and the script says so).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from inpnet.checkpoint import load_model, save_model
from inpnet.config import ModelConfig
from inpnet.fileio import atomic_write_text
from inpnet.masks import make_pixel_mask

ROOT = Path(__file__).resolve().parents[1]


def max_output_diff(a: torch.nn.Module, b: torch.nn.Module, config: ModelConfig) -> float:
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, *config.image_size, generator=g)
    mask = make_pixel_mask("random", 4, config.image_size, config.patch_size, 0.5, generator=g)
    with torch.inference_mode():
        return float((a(images, mask).composite - b(images, mask).composite).abs().max())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("name")
    ap.add_argument("--default", action="store_true", help="make it the shipped default")
    ap.add_argument("--fp32", action="store_true", help="store fp32 even if fp16 would do")
    args = ap.parse_args()

    model = load_model(args.run)
    dest = ROOT / "weights" / args.name
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config = model.config
    if config.arch == "inpnet":  # pin the derived shapes, so that a later change of defaults cannot break loading
        config = config.replace(decoder_channels=config.resolved_decoder_channels(),
                                skip_layers=config.resolved_skip_layers() if config.skip else None)
    config.save(tmp / "config.json")
    dtype = None if args.fp32 else torch.float16
    save_model(model, tmp, dtype=dtype, metadata={"source_run": str(args.run)})
    diff = max_output_diff(model, load_model(tmp), model.config)
    if dtype is not None and diff > 1e-3:
        print(f"fp16 storage changes the output by {diff:.2e} > 1e-3: storing fp32")
        save_model(model, tmp, metadata={"source_run": str(args.run)})
        diff = max_output_diff(model, load_model(tmp), model.config)
    card = dest / "MODEL_CARD.md"
    if card.exists():
        shutil.copy2(card, tmp / "MODEL_CARD.md")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    if args.default:
        atomic_write_text(ROOT / "weights" / "DEFAULT", args.name + "\n")
    size = (dest / "model.safetensors").stat().st_size / 1e6
    print(json.dumps({"shipped": str(dest), "size_mb": round(size, 2), "max_abs_diff_vs_run": diff}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
