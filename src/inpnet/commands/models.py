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
    with torch.device("meta"):  # shapes only: no memory, no init time
        if shipped is not None:  # first, on its own line: the model every command uses without --checkpoint,
            folder, config = shipped  # a preset with other widths, not one of the rows below
            n = count_parameters(build_model(config))
            height, width = config.image_size
            print(f"shipped: {folder}, {config.variant} from the {config.preset} preset with its own settings "
                  f"({_settings(config)}), {n / 1e6:.2f} M, {width}x{height} px: the default of every command "
                  "(--checkpoint chooses another)\n")
        print(f"{'variant':<15}{'preset':<8}{'params':>12}  description")
        for name, variant in VARIANTS.items():
            for preset in presets:
                n = count_parameters(build_model(name, preset=preset))
                print(f"{name:<15}{preset:<8}{n / 1e6:>10.2f} M  {variant.description}")
    return 0


def _shipped():
    """(folder name, ModelConfig) of the shipped default weights; None when there are none."""
    from inpnet.checkpoint import CONFIG_FILE, shipped_weights_dir
    from inpnet.config import ModelConfig
    from inpnet.errors import InpNetError

    try:
        folder = shipped_weights_dir()
        return folder.name, ModelConfig.load(folder / CONFIG_FILE)
    except InpNetError:
        return None


def _settings(config) -> str:
    """The settings of `config` that differ from its preset's, e.g. 'embed_dim 256, depth 8, in_chans 4'."""
    from inpnet.config import ModelConfig

    preset = ModelConfig.from_name(config.variant, preset=config.preset).to_dict()
    return ", ".join(f"{k} {v}" for k, v in config.to_dict().items() if preset.get(k) != v) or "none"
