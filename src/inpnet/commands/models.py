"""`inpnet models`: the variants and presets, with parameter counts."""

from __future__ import annotations

import argparse

from inpnet.config import PRESETS, VARIANTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", choices=list(PRESETS), default=None, help="only this size preset")


def run(args: argparse.Namespace) -> int:
    import torch

    from inpnet.models import build_model, count_parameters

    presets = [args.preset] if args.preset else list(PRESETS)
    shipped = _shipped()
    print(f"{'variant':<15}{'preset':<8}{'params':>12}  description")
    with torch.device("meta"):  # shapes only: no memory, no init time
        for name, variant in VARIANTS.items():
            for preset in presets:
                n = count_parameters(build_model(name, preset=preset))
                mark = f" [shipped: {shipped[0]}, {shipped[3]}]" if shipped and shipped[1:3] == (name, preset) else ""
                print(f"{name:<15}{preset:<8}{n / 1e6:>10.2f} M  {variant.description}{mark}")
    return 0


def _shipped() -> tuple[str, str, str, str] | None:
    """(folder name, variant, preset, 'W x H px') of the shipped default weights; None when there are none."""
    from inpnet.checkpoint import CONFIG_FILE, shipped_weights_dir
    from inpnet.config import ModelConfig
    from inpnet.errors import InpNetError

    try:
        folder = shipped_weights_dir()
        config = ModelConfig.load(folder / CONFIG_FILE)
    except InpNetError:
        return None
    height, width = config.image_size
    return folder.name, config.variant, config.preset, f"{width}x{height} px"
