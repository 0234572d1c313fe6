"""Importing pretrained ViTs (timm, FB-MAE, Hugging Face ViT / ViTMAE) into InP-Net and the MAE baseline.

Reference models are built here with random weights (no downloads); every parameter is jittered so that a
swapped norm, bias or q/k/v slice would show up in the outputs.
"""

from __future__ import annotations

import pytest
import timm
import torch
import transformers

from inpnet import InpNetError, build_model
from inpnet.masks import token_to_pixel_mask
from inpnet.models.encoder import resample_pos_embed
from inpnet.models.pretrained import load_backbone

ATOL = 1e-4
TINY_HF = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=128,
    image_size=32,
    patch_size=8,
)
# a fixed token mask on the 4x4 grid of a 32x32 image: 3 and 9 masked patches (ragged visible counts)
FIXED_MASK = torch.zeros(2, 16, dtype=torch.bool)
FIXED_MASK[0, [1, 6, 11]] = True
FIXED_MASK[1, [0, 2, 3, 5, 7, 8, 12, 13, 15]] = True


def jitter(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Perturb every parameter (LayerNorm scales off 1, biases off 0): mapping mistakes change outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model.eval()


def timm_vit(**kw) -> torch.nn.Module:
    torch.manual_seed(0)
    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=10)
    args.update(kw)
    return jitter(timm.models.vision_transformer.VisionTransformer(**args))


def mae(**overrides) -> torch.nn.Module:
    torch.manual_seed(1)
    return build_model("mae", preset="nano", **overrides).eval()


def inpnet(**overrides) -> torch.nn.Module:
    torch.manual_seed(1)
    return build_model("skip-recon", preset="nano", **overrides).eval()


def images(batch: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def mae_tokens(model, x: torch.Tensor, token_mask: torch.Tensor) -> tuple[torch.Tensor, object]:
    """Our MAE encoder: (B, 1 + N, D) with the cls token first, and the packed visible tokens."""
    p = model.config.patch_size
    with torch.no_grad():
        visible, cls = model.forward_encoder(x, token_mask, (x.shape[2] // p, x.shape[3] // p))
    return torch.cat([cls, visible.tokens], dim=1), visible


def inpnet_tokens(model, x: torch.Tensor, token_mask: torch.Tensor):
    with torch.no_grad():
        return model.forward_encoder(model.embed(x), token_mask).visible


def no_mask(batch: int = 2, length: int = 16) -> torch.Tensor:
    return torch.zeros(batch, length, dtype=torch.bool)


def unit_scale_cls(model: torch.nn.Module, embeddings: torch.nn.Module) -> torch.nn.Module:
    """HF's LayerNorm eps is 1e-12, ours 1e-6: the gap grows as a token's variance shrinks, and a random-init
    cls token (std ~0.05) alone sits near 1e-4. A cls token of std 0.5 keeps the test about the mapping."""
    with torch.no_grad():
        embeddings.cls_token.copy_(
            0.5 * torch.randn(embeddings.cls_token.shape, generator=torch.Generator().manual_seed(9))
        )
    return model


def hf_vitmae(mask_ratio: float = 0.0):
    torch.manual_seed(0)
    model = jitter(transformers.ViTMAEModel(transformers.ViTMAEConfig(mask_ratio=mask_ratio, **TINY_HF)))
    return unit_scale_cls(model, model.embeddings)


def hf_vit():
    torch.manual_seed(0)
    model = jitter(transformers.ViTModel(transformers.ViTConfig(**TINY_HF)))
    return unit_scale_cls(model, model.embeddings)


def hf_vitmae_pretraining():
    torch.manual_seed(0)
    config = transformers.ViTMAEConfig(
        mask_ratio=0.0,
        decoder_hidden_size=32,
        decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2,
        decoder_intermediate_size=128,
        **TINY_HF,
    )
    model = jitter(transformers.ViTMAEForPreTraining(config))
    return unit_scale_cls(model, model.vit.embeddings)


# ---- timm -> MAE ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["custom-32px", "vit_tiny_patch16_224"])
def test_timm_into_mae_matches_forward_features_at_ratio_0(name):
    if name == "vit_tiny_patch16_224":
        torch.manual_seed(0)
        ref = jitter(timm.create_model("vit_tiny_patch16_224", pretrained=False))
        torch.manual_seed(1)
        ours = build_model(
            "mae", preset="tiny", decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2
        ).eval()
        x = images(batch=1, size=224)
    else:
        ref, ours, x = timm_vit(), mae(), images()
    report = load_backbone(ours, ref.state_dict())
    L = ours.config.num_patches
    with torch.no_grad():
        expected = ref.forward_features(x)  # (B, 1 + L, D)
    got, _ = mae_tokens(ours, x, no_mask(x.shape[0], L))
    assert report.source == "timm"
    assert torch.allclose(got, expected, atol=ATOL)


def test_timm_into_mae_matches_timm_blocks_on_the_same_visible_tokens():
    ref, ours, x = timm_vit(), mae(), images()
    load_backbone(ours, ref.state_dict())
    got, visible = mae_tokens(ours, x, FIXED_MASK)
    for i in range(2):
        keep = (~FIXED_MASK[i]).nonzero().squeeze(1)  # raster order
        with torch.no_grad():
            t = torch.cat([ref.cls_token, ref.patch_embed(x[i : i + 1])], dim=1) + ref.pos_embed
            t = t[:, torch.cat([torch.zeros(1, dtype=torch.long), keep + 1])]  # cls + visible
            for block in ref.blocks:
                t = block(t)
            t = ref.norm(t)
        n = len(keep)
        assert torch.equal(visible.ids[i, :n], keep)
        assert torch.allclose(got[i, : 1 + n], t[0], atol=ATOL)


# ---- timm -> InP-Net -----------------------------------------------------------------------------
def cls_free_timm(**kw):
    return timm_vit(class_token=False, global_pool="avg", fc_norm=False, **kw)


def test_timm_without_cls_token_into_inpnet_matches_forward_features_at_ratio_0():
    ref, ours, x = cls_free_timm(), inpnet(), images()
    report = load_backbone(ours, ref.state_dict())
    with torch.no_grad():
        expected = ref.forward_features(x)  # (B, L, D)
    assert report.missing == []
    assert torch.allclose(inpnet_tokens(ours, x, no_mask()).tokens, expected, atol=ATOL)


def test_timm_without_cls_token_into_inpnet_matches_timm_blocks_on_the_same_visible_tokens():
    ref, ours, x = cls_free_timm(), inpnet(), images()
    load_backbone(ours, ref.state_dict())
    visible = inpnet_tokens(ours, x, FIXED_MASK)
    for i in range(2):
        keep = (~FIXED_MASK[i]).nonzero().squeeze(1)
        with torch.no_grad():
            t = (ref.patch_embed(x[i : i + 1]) + ref.pos_embed)[:, keep]
            for block in ref.blocks:
                t = block(t)
            t = ref.norm(t)
        assert torch.allclose(visible.tokens[i, : len(keep)], t[0], atol=ATOL)


def test_four_channel_patch_embedding_gets_the_rgb_filters_and_a_zero_mask_filter():
    ref, ours, x = cls_free_timm(), inpnet(in_chans=4), images()
    report = load_backbone(ours, ref.state_dict())
    w = ours.patch_embed.proj.weight
    mask_channel = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = ref.forward_features(x)
    got = inpnet_tokens(ours, torch.cat([x, mask_channel], dim=1), no_mask()).tokens
    assert torch.equal(w[:, :3], ref.patch_embed.proj.weight)
    assert torch.count_nonzero(w[:, 3]) == 0
    assert "mask input channel initialised to zero" in report.notes
    assert torch.allclose(got, expected, atol=ATOL)


def test_vit_tiny_into_inpnet_drops_the_cls_token_and_resamples_positions_to_the_grid():
    torch.manual_seed(0)
    ref = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    torch.manual_seed(1)
    ours = build_model("skip-recon", preset="tiny", image_size=64)  # 4x4 grid instead of 14x14
    report = load_backbone(ours, ref.state_dict())
    expected = resample_pos_embed(ref.pos_embed[:, 1:].detach(), (14, 14), (4, 4))
    assert torch.allclose(ours.pos_embed, expected)
    assert sorted(report.unexpected) == ["cls_token", "head.bias", "head.weight"]
    assert report.notes == [
        "pos_embed resampled 14x14 -> 4x4",
        "cls token and its position dropped (InP-Net has none)",
    ]
    assert report.missing == []
    assert "encoder.blocks.11.mlp.fc2.weight" in report.loaded


# ---- Hugging Face -> MAE -------------------------------------------------------------------------
def test_hf_vitmae_state_dict_matches_last_hidden_state_at_ratio_0():
    ref, ours, x = hf_vitmae(), mae(), images()
    report = load_backbone(ours, ref.state_dict())
    noise = torch.arange(16.0).expand(2, 16)  # argsort = identity: tokens stay in raster order
    with torch.no_grad():
        expected = ref(pixel_values=x, noise=noise).last_hidden_state  # (B, 1 + L, D), after layernorm
    got, _ = mae_tokens(ours, x, no_mask())
    assert report.source == "hf"
    assert torch.allclose(got, expected, atol=ATOL)


def test_hf_vitmae_matches_for_a_fixed_mask():
    token_mask = torch.zeros(2, 16, dtype=torch.bool)  # ViTMAE keeps the same count in every image
    token_mask[0, [0, 5, 10, 15]] = True
    token_mask[1, [2, 3, 8, 9]] = True
    ref, ours, x = hf_vitmae(mask_ratio=0.25), mae(), images()
    load_backbone(ours, ref.state_dict())
    noise = token_mask.float() * 100 + torch.arange(16.0)  # visible first, in raster order
    with torch.no_grad():
        expected = ref(pixel_values=x, noise=noise).last_hidden_state  # (B, 1 + 12, D)
    got, _ = mae_tokens(ours, x, token_mask)
    assert got.shape == expected.shape == (2, 13, 32)
    assert torch.allclose(got, expected, atol=ATOL)


def test_hf_vit_model_state_dict_matches_last_hidden_state_at_ratio_0():
    ref, ours, x = hf_vit(), mae(), images()
    report = load_backbone(ours, ref.state_dict())
    with torch.no_grad():
        expected = ref(pixel_values=x).last_hidden_state
    got, _ = mae_tokens(ours, x, no_mask())
    assert sorted(report.unexpected) == ["pooler.dense.bias", "pooler.dense.weight"]
    assert torch.allclose(got, expected, atol=ATOL)


def test_hf_save_pretrained_folder_loads_in_the_legacy_layout(tmp_path):
    ref, ours, x = hf_vit(), mae(), images()
    ref.save_pretrained(
        tmp_path
    )  # transformers 5 writes the pre-5 names: encoder.layer.N.attention.attention.query
    report = load_backbone(ours, tmp_path)
    with torch.no_grad():
        expected = ref(pixel_values=x).last_hidden_state
    got, _ = mae_tokens(ours, x, no_mask())
    assert report.source == "hf-legacy"
    assert "LayerNorm eps 1e-12 in the checkpoint, 1e-06 in the model" in report.notes
    assert torch.allclose(got, expected, atol=ATOL)


@pytest.mark.parametrize("form", ["state-dict", "save-pretrained-folder"])
def test_hf_vitmae_for_pretraining_loads_the_decoder_too(form, tmp_path):
    ref, ours, x = hf_vitmae_pretraining(), mae(), images()
    if form == "state-dict":
        checkpoint = ref.state_dict()
    else:
        ref.save_pretrained(tmp_path)
        checkpoint = tmp_path
    report = load_backbone(ours, checkpoint)
    with torch.no_grad():
        expected = ref(pixel_values=x, noise=torch.arange(16.0).expand(2, 16)).logits  # (B, L, p*p*3)
        visible, cls = ours.forward_encoder(x, no_mask(), (4, 4))
        got = ours.forward_decoder(visible, cls, (4, 4))
    assert report.missing == [] and report.unexpected == [] and report.initialised == []
    assert torch.allclose(got, expected, atol=ATOL)


def test_hf_vitmae_folder_into_inpnet_drops_the_cls_token_and_leaves_the_decoder_unused(tmp_path):
    ref = hf_vitmae_pretraining()
    ref.save_pretrained(tmp_path)
    ours = inpnet()
    report = load_backbone(ours, tmp_path)
    assert torch.equal(ours.pos_embed, ref.vit.embeddings.position_embeddings[:, 1:])
    assert torch.equal(ours.encoder.norm.weight, ref.vit.layernorm.weight)
    assert "vit.embeddings.cls_token" in report.unexpected
    assert "decoder.decoder_pred.weight" in report.unexpected
    assert report.missing == []


def test_hf_folder_with_other_head_count_is_refused(tmp_path):
    torch.manual_seed(0)
    transformers.ViTModel(transformers.ViTConfig(**{**TINY_HF, "num_attention_heads": 4})).save_pretrained(
        tmp_path
    )
    with pytest.raises(InpNetError, match=r"checkpoint has 4 attention heads, the model 2 \(num_heads\)"):
        load_backbone(mae(), tmp_path)


# ---- FB-MAE and file formats ---------------------------------------------------------------------
def test_fbmae_checkpoint_with_decoder_loads_whole_and_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    source = jitter(build_model("mae", preset="nano"))
    torch.save({"model": source.state_dict()}, tmp_path / "mae_visualize.pth")
    target = mae()
    report = load_backbone(target, tmp_path / "mae_visualize.pth")
    x = images()
    mask = token_to_pixel_mask(FIXED_MASK, (4, 4), 8)
    with torch.no_grad():
        expected, got = source(x, mask).prediction, target(x, mask).prediction
    assert report.source == "fbmae"
    assert report.missing == [] and report.unexpected == [] and report.initialised == []
    assert torch.equal(got, expected)


def test_fbmae_checkpoint_into_inpnet_loads_the_encoder_only():
    torch.manual_seed(0)
    source = jitter(build_model("mae", preset="nano"))
    ours = inpnet()
    report = load_backbone(ours, {"model": source.state_dict()})
    assert torch.equal(ours.encoder.blocks[1].attn.qkv.weight, source.blocks[1].attn.qkv.weight)
    assert torch.equal(ours.pos_embed, source.pos_embed[:, 1:])
    assert sorted(k for k in report.unexpected if not k.startswith("decoder_blocks.")) == [
        "cls_token",
        "decoder_embed.bias",
        "decoder_embed.weight",
        "decoder_norm.bias",
        "decoder_norm.weight",
        "decoder_pos_embed",
        "decoder_pred.bias",
        "decoder_pred.weight",
        "mask_token",
    ]


@pytest.mark.parametrize("form", ["weights.pth", "weights.safetensors", "timm-hub-folder"])
def test_reads_pth_safetensors_and_folders(form, tmp_path):
    from safetensors.torch import save_file

    ref = timm_vit()
    sd = {k: v.contiguous() for k, v in ref.state_dict().items()}
    if form == "weights.pth":
        path = tmp_path / form
        torch.save(sd, path)
    elif form == "weights.safetensors":
        path = tmp_path / form
        save_file(sd, str(path))
    else:
        path = tmp_path
        torch.save(sd, path / "pytorch_model.bin")
        (path / "config.json").write_text('{"architecture": "vit_custom", "num_classes": 10}')
    ours = mae()
    load_backbone(ours, path)
    assert torch.equal(ours.blocks[1].attn.qkv.weight, ref.blocks[1].attn.qkv.weight)


def test_timm_model_without_qkv_bias_loads_a_zero_bias():
    ref, ours, x = timm_vit(qkv_bias=False), mae(), images()
    report = load_backbone(ours, ref.state_dict())
    with torch.no_grad():
        expected = ref.forward_features(x)
    got, _ = mae_tokens(ours, x, no_mask())
    assert "qkv bias absent: zeros" in report.notes
    assert torch.count_nonzero(ours.blocks[0].attn.qkv.bias) == 0
    assert torch.allclose(got, expected, atol=ATOL)


# ---- errors --------------------------------------------------------------------------------------
def test_wrong_embedding_dim_is_named():
    with pytest.raises(InpNetError, match=r"embedding dim mismatch: checkpoint 64, model 32 \(embed_dim\)"):
        load_backbone(inpnet(), timm_vit(embed_dim=64, num_heads=2).state_dict())


def test_depth_mismatch_is_an_error_when_strict():
    with pytest.raises(InpNetError, match=r"checkpoint has 3 encoder blocks, the model 2 \(depth\)"):
        load_backbone(inpnet(), cls_free_timm(depth=3).state_dict())


def test_depth_mismatch_loads_the_shared_blocks_when_not_strict():
    ref, ours = cls_free_timm(depth=3), inpnet()
    report = load_backbone(ours, ref.state_dict(), strict=False)
    assert torch.equal(ours.encoder.blocks[1].mlp.fc2.weight, ref.blocks[1].mlp.fc2.weight)
    assert "blocks.2.attn.qkv.weight" in report.unexpected
    assert report.missing == []


def test_missing_encoder_tensor_is_an_error_when_strict():
    sd = cls_free_timm().state_dict()
    del sd["blocks.1.mlp.fc1.weight"]
    with pytest.raises(
        InpNetError,
        match=r"does not cover 1 backbone tensor\(s\) of the model: encoder\.blocks\.1\.mlp\.fc1\.weight",
    ):
        load_backbone(inpnet(), sd)


def test_missing_encoder_tensor_is_reported_when_not_strict():
    sd = cls_free_timm().state_dict()
    del sd["blocks.1.mlp.fc1.weight"]
    report = load_backbone(inpnet(), sd, strict=False)
    assert report.missing == ["encoder.blocks.1.mlp.fc1.weight"]


def test_shape_mismatch_names_the_key_and_both_shapes():
    sd = cls_free_timm(mlp_ratio=2.0).state_dict()
    with pytest.raises(
        InpNetError,
        match=r"shape mismatch for encoder\.blocks\.0\.mlp\.fc1\.weight \(checkpoint key "
        r"blocks\.0\.mlp\.fc1\.weight\): checkpoint \(64, 32\), model \(128, 32\)",
    ):
        load_backbone(inpnet(), sd)


def test_patch_size_mismatch_is_named():
    sd = cls_free_timm(patch_size=16).state_dict()
    with pytest.raises(InpNetError, match=r"patch size mismatch: checkpoint 16, model 8"):
        load_backbone(inpnet(), sd)


def test_a_random_dict_is_an_unrecognised_layout():
    with pytest.raises(InpNetError, match="unrecognised checkpoint layout"):
        load_backbone(inpnet(), {"foo.weight": torch.zeros(3), "bar": torch.ones(2, 2)})


def test_a_dict_without_tensors_is_refused():
    with pytest.raises(InpNetError, match="holds no tensors"):
        load_backbone(inpnet(), {"epoch": 3})


def test_layer_scale_is_refused_when_strict_and_skipped_otherwise():
    sd = cls_free_timm(
        init_values=0.1
    ).state_dict()  # blocks.N.ls1.gamma: the encoder would compute otherwise
    with pytest.raises(InpNetError, match=r"no place in a plain ViT encoder: blocks\.0\.ls1\.gamma"):
        load_backbone(inpnet(), sd)
    assert "blocks.0.ls1.gamma" in load_backbone(inpnet(), sd, strict=False).unexpected


def test_explicit_source_must_agree_with_the_keys():
    with pytest.raises(InpNetError, match=r"source='hf' but the checkpoint's keys are in the timm layout"):
        load_backbone(inpnet(), timm_vit().state_dict(), source="hf")


def test_a_failed_load_leaves_the_model_unchanged():
    ours = inpnet()
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    sd = cls_free_timm().state_dict()
    del sd["norm.weight"]
    with pytest.raises(InpNetError):
        load_backbone(ours, sd)
    assert all(torch.equal(before[k], v) for k, v in ours.state_dict().items())


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InpNetError, match="no checkpoint at"):
        load_backbone(inpnet(), tmp_path / "nope.pth")


def test_a_checkpoint_pickling_more_than_tensors_is_refused(tmp_path):
    import argparse

    torch.save(
        {"model": timm_vit().state_dict(), "args": argparse.Namespace(lr=1e-3)}, tmp_path / "train.pth"
    )
    with pytest.raises(InpNetError, match="pickles more than tensors"):
        load_backbone(mae(), tmp_path / "train.pth")


def test_report_summary_is_one_line():
    report = load_backbone(inpnet(), timm_vit().state_dict())
    text = str(report)
    assert "\n" not in text
    assert text.startswith(f"timm checkpoint: loaded {len(report.loaded)} tensors; 0 missing; 3 unused (")


# ---- fine-tuning ---------------------------------------------------------------------------------
def test_finetuning_from_a_timm_backbone_lowers_the_loss_and_moves_the_encoder():
    ref = timm_vit()
    model = inpnet(in_chans=4).train()
    load_backbone(model, ref.state_dict())
    start = {k: v.detach().clone() for k, v in model.named_parameters()}
    g = torch.Generator().manual_seed(5)
    x = torch.rand(4, 3, 32, 32, generator=g)
    token_mask = torch.rand(4, 16, generator=g) < 0.4
    mask = token_to_pixel_mask(token_mask, (4, 4), 8)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.mse_loss(model(x, mask).prediction, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    for name in [
        "patch_embed.proj.weight",
        "encoder.blocks.0.attn.qkv.weight",
        "encoder.blocks.1.mlp.fc2.weight",
    ]:
        assert not torch.equal(dict(model.named_parameters())[name], start[name])
