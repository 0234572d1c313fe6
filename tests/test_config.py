"""Configs: presets with timm's ViT shapes, variants by name, overrides, JSON round trip, clear errors."""

from __future__ import annotations

import json

import pytest

from inpnet import InpNetError
from inpnet.config import VARIANTS, ModelConfig, TrainConfig


@pytest.mark.parametrize(
    "preset, dim, depth, heads", [("tiny", 192, 12, 3), ("small", 384, 12, 6), ("base", 768, 12, 12)]
)
def test_presets_have_timm_vit_shapes(preset, dim, depth, heads):
    cfg = ModelConfig.from_name("skip-recon", preset=preset)
    assert (cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.patch_size, cfg.image_size) == (
        dim, depth, heads, 16, (224, 224)
    )


def test_variants_set_skip_mask_policy_and_gan():
    assert ModelConfig.from_name("random-recon").skip is False
    assert ModelConfig.from_name("skip-gan").skip is True
    assert ModelConfig.from_name("mae").arch == "mae"
    t = TrainConfig.for_variant("dynamic-gan")
    assert (t.mask_policy, t.gan) == ("dynamic", True)
    assert TrainConfig.for_variant("random-recon").mask_policy == "random"
    assert len(VARIANTS) == 7


def test_overrides_including_dotted_keys():
    cfg = ModelConfig.from_name("skip-recon", preset="tiny", image_size=128, patch_size=8, **{"model.depth": 6})
    assert cfg.image_size == (128, 128) and cfg.patch_size == 8 and cfg.depth == 6
    assert cfg.grid_size == (16, 16) and cfg.num_stages == 3
    assert cfg.resolved_skip_layers() == (2, 3, 4)  # round(6/4)=2 (banker's), 3, round(4.5)=4


def test_json_round_trip(tmp_path):
    cfg = ModelConfig.from_name("skip-gan", preset="nano", image_size=(32, 64), skip_layers=[1, 2])
    cfg.save(tmp_path / "config.json")
    assert json.loads((tmp_path / "config.json").read_text())["model"]["image_size"] == [32, 64]
    assert ModelConfig.load(tmp_path) == cfg


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(image_size=100), "multiples of patch_size 16"),
        (dict(patch_size=12), "power of two"),
        (dict(num_heads=5), "divisible by num_heads"),
        (dict(skip_layers=[13]), "outside the encoder's blocks 1..12"),
        (dict(decoder_channels=[8]), "needs 4 entries"),
        (dict(colour="red"), "unknown ModelConfig field(s) colour"),
    ],
)
def test_bad_config_values_name_the_field(overrides, message):
    with pytest.raises(InpNetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ModelConfig.from_name("skip-recon", preset="tiny", **overrides)


def test_loading_a_missing_or_corrupt_config_is_a_clear_error(tmp_path):
    with pytest.raises(InpNetError, match="no config.json"):
        ModelConfig.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InpNetError, match="cannot read config"):
        ModelConfig.load(tmp_path)


def test_a_weights_file_without_its_runs_config_names_the_file_and_what_is_missing(tmp_path):
    from inpnet.checkpoint import resolve_checkpoint

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(InpNetError, match=r"checkpoint .*junk.safetensors: a weights file is read with the "
                                          r"config.json of its run beside it"):
        resolve_checkpoint(junk)
