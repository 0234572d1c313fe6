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
    print(f"{'variant':<15}{'preset':<8}{'params':>12}  description")
    with torch.device("meta"):  # shapes only: no memory, no init time
        for name, variant in VARIANTS.items():
            for preset in presets:
                n = count_parameters(build_model(name, preset=preset))
                print(f"{name:<15}{preset:<8}{n / 1e6:>10.2f} M  {variant.description}")
    return 0
