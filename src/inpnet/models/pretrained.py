"""Import pretrained ViT weights (timm, FB-MAE, Hugging Face ViT / ViTMAE) into InP-Net or the MAE baseline.

`load_backbone(model, path_or_state_dict)` reads a local checkpoint, recognises its layout, renames it onto
the model, checks every shape, and only then copies; a failed load leaves the model untouched.

Layouts (the `source` names):
  timm       `patch_embed.proj`, `cls_token`, `pos_embed`, `norm`, `blocks.N.{norm1, attn.qkv, attn.proj,
             norm2, mlp.fc1, mlp.fc2}` (+ `head`, `fc_norm`: unused)
  fbmae      the same encoder names (FB-MAE builds on timm), wrapped as {"model": ...}, often with the
             decoder: `decoder_embed`, `mask_token`, `decoder_pos_embed`, `decoder_blocks.N`, `decoder_norm`,
             `decoder_pred`
  hf-legacy  Hugging Face ViT / ViTMAE before transformers 5 (also what `save_pretrained` writes):
             `[vit.]embeddings.*`, `[vit.]encoder.layer.N.attention.attention.query|key|value`,
             `attention.output.dense`, `intermediate.dense`, `output.dense`, `layernorm_before|after`
  hf         transformers 5 modules: `[vit.]layers.N.attention.q_proj|k_proj|v_proj|o_proj`, `mlp.fc1|fc2`

InP-Net has no cls token: the checkpoint's cls token and the cls row of its position table are dropped, and
the table is resampled to the model's grid. A 4-channel patch embedding (RGB of the known pixels + mask) gets
the RGB filters and a zero mask filter, so at start the mask channel changes nothing.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inpnet.errors import InpNetError
from inpnet.models.encoder import resample_pos_embed

SOURCES = ("timm", "fbmae", "hf-legacy", "hf")
_OUR_LN_EPS = 1e-6

# Hugging Face block names -> timm block names (`attn.q|k|v` are fused into `attn.qkv` afterwards).
_HF_BLOCK = {
    # transformers < 5 (and `save_pretrained` of transformers 5)
    "attention.attention.query": "attn.q",
    "attention.attention.key": "attn.k",
    "attention.attention.value": "attn.v",
    "attention.output.dense": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "output.dense": "mlp.fc2",
    # transformers 5 modules
    "attention.q_proj": "attn.q",
    "attention.k_proj": "attn.k",
    "attention.v_proj": "attn.v",
    "attention.o_proj": "attn.proj",
    "mlp.fc1": "mlp.fc1",
    "mlp.fc2": "mlp.fc2",
    # both
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
}
_HF_EMBED = {
    "embeddings.cls_token": "cls_token",
    "embeddings.position_embeddings": "pos_embed",
    "embeddings.patch_embeddings.projection.weight": "patch_embed.proj.weight",
    "embeddings.patch_embeddings.projection.bias": "patch_embed.proj.bias",
    "layernorm.weight": "norm.weight",
    "layernorm.bias": "norm.bias",
}
_HF_DECODER = {  # ViTMAEForPreTraining's decoder -> FB-MAE names
    "decoder.decoder_embed.weight": "decoder_embed.weight",
    "decoder.decoder_embed.bias": "decoder_embed.bias",
    "decoder.mask_token": "mask_token",
    "decoder.decoder_pos_embed": "decoder_pos_embed",
    "decoder.decoder_norm.weight": "decoder_norm.weight",
    "decoder.decoder_norm.bias": "decoder_norm.bias",
    "decoder.decoder_pred.weight": "decoder_pred.weight",
    "decoder.decoder_pred.bias": "decoder_pred.bias",
}
_HF_PATCH_KEY = "embeddings.patch_embeddings.projection.weight"
_HF_LEGACY_RE = re.compile(r"(^|\.)encoder\.layer\.\d+\.attention\.attention\.query\.weight$")
_HF_NEW_RE = re.compile(r"(^|\.)layers\.\d+\.attention\.q_proj\.weight$")
_TIMM_RE = re.compile(r"^blocks\.\d+\.attn\.qkv\.weight$")
# Checkpoint tensors that may stay unused without changing what the encoder computes.
_HARMLESS_RE = re.compile(
    r"^(head|head_drop|fc_norm|pooler|classifier|decoder|mask_token|embeddings\.mask_token)(\.|_|$)"
)
_DECODER_RE = re.compile(r"^(decoder_|mask_token$)")


@dataclass
class LoadReport:
    """What `load_backbone` did. Names: `loaded`, `missing`, `initialised` are the model's state-dict keys;
    `unexpected` are the checkpoint's keys that were not used."""

    source: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(
        default_factory=list
    )  # backbone tensors of the model the checkpoint did not cover
    unexpected: list[str] = field(default_factory=list)
    initialised: list[str] = field(
        default_factory=list
    )  # outside the backbone (decoder, mask token, ...): as built
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        unused = ", ".join(self.unexpected[:4]) + (", ..." if len(self.unexpected) > 4 else "")
        parts = [
            f"{self.source} checkpoint: loaded {len(self.loaded)} tensors",
            f"{len(self.missing)} missing",
            f"{len(self.unexpected)} unused" + (f" ({unused})" if unused else ""),
            f"{len(self.initialised)} left as initialised",
        ]
        return "; ".join(parts + self.notes)


# ---- reading ----------------------------------------------------------------------------------------------
def _unwrap(obj: Any, where: str) -> tuple[dict[str, torch.Tensor], bool]:
    """The tensor dict inside a checkpoint; True when it came wrapped as {"model": ...} (FB-MAE, DeiT)."""
    if not isinstance(obj, Mapping):
        raise InpNetError(f"{where} does not hold a state dict (got {type(obj).__name__})")
    wrapped = False
    for key in ("model", "state_dict"):
        if isinstance(obj.get(key), Mapping):
            obj, wrapped = obj[key], key == "model"
            break
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise InpNetError(f"{where} holds no tensors: expected a state dict of a ViT")
    if all(k.startswith("module.") for k in tensors):  # saved from DistributedDataParallel
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors, wrapped


# torch.save writes a zip archive (PyTorch >= 1.6) or, before it, a pickle (protocol 2+ starts with 0x80)
_TORCH_FILE_STARTS = (b"PK\x03\x04", b"\x80")


def _looks_like_torch_file(path: Path) -> bool:
    """Whether `path` starts as torch.save's files do (a text file gave the unpickler's cryptic "101")."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return True  # let torch.load report it
    return head.startswith(_TORCH_FILE_STARTS)


def _read_file(path: Path) -> Any:
    if path.suffix != ".safetensors" and path.is_file() and not _looks_like_torch_file(path):
        raise InpNetError(f"{path} is not a PyTorch checkpoint (neither a zip archive nor a pickle, as torch.save "
                          "writes) nor a .safetensors file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InpNetError(f"no checkpoint at {path}") from None
    except pickle.UnpicklingError:
        raise InpNetError(
            f"cannot read checkpoint {path}: it pickles more than tensors (e.g. training args), which "
            "weights_only=True refuses; re-save just its state dict from a trusted copy"
        ) from None
    except Exception as exc:  # unpickling refusals, corrupt archives, bad safetensors headers
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InpNetError(
            f"cannot read checkpoint {path} (tensors only, weights_only=True): {first}"
        ) from None


def _read_hf_config(path: Path) -> dict[str, Any] | None:
    """A transformers `config.json` (has `hidden_size`); None for other configs (timm hub folders)."""
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InpNetError(f"cannot read {path}: {exc}") from None
    return config if isinstance(config, dict) and "hidden_size" in config else None


def read_checkpoint(
    path_or_state_dict: str | os.PathLike | Mapping[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None, bool]:
    """(state dict, transformers config or None, wrapped as {"model": ...}) from a dict, a .pth / .pt / .bin /
    .safetensors file, or a folder with config.json + model.safetensors (or shards) or pytorch_model.bin."""
    if isinstance(path_or_state_dict, Mapping):
        tensors, wrapped = _unwrap(path_or_state_dict, "the given dict")
        return tensors, None, wrapped
    path = Path(path_or_state_dict)
    if path.is_dir():
        config = _read_hf_config(path / "config.json")
        index = path / "model.safetensors.index.json"
        if (path / "model.safetensors").is_file():
            obj = _read_file(path / "model.safetensors")
        elif index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InpNetError(f"cannot read shard index {index}: {exc}") from None
            obj = {}
            for shard in shards:
                obj.update(_read_file(path / shard))
        elif (path / "pytorch_model.bin").is_file():
            obj = _read_file(path / "pytorch_model.bin")
        else:
            raise InpNetError(
                f"{path} has no model.safetensors, model.safetensors.index.json or pytorch_model.bin"
            )
    else:
        if not path.exists():
            raise InpNetError(f"no checkpoint at {path}")
        config = _read_hf_config(path.parent / "config.json")
        obj = _read_file(path)
    tensors, wrapped = _unwrap(obj, str(path))
    return tensors, config, wrapped


# ---- layouts ----------------------------------------------------------------------------------------------
def detect_layout(state_dict: Mapping[str, torch.Tensor], wrapped: bool = False) -> str:
    """One of SOURCES from the key names; InpNetError for anything else."""
    keys = list(state_dict)
    if any(_HF_LEGACY_RE.search(k) for k in keys):
        return "hf-legacy"
    if any(_HF_NEW_RE.search(k) for k in keys):
        return "hf"
    if "patch_embed.proj.weight" in state_dict and any(_TIMM_RE.match(k) for k in keys):
        has_decoder = any(_DECODER_RE.match(k) for k in keys)
        return "fbmae" if has_decoder or (wrapped and "head.weight" not in state_dict) else "timm"
    shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
    raise InpNetError(
        "unrecognised checkpoint layout: expected timm / FB-MAE keys (patch_embed.proj.weight, "
        "blocks.0.attn.qkv.weight) or Hugging Face ViT keys (embeddings.patch_embeddings.projection.weight, "
        f"encoder.layer.0... or layers.0...); found {shown}"
    )


def _hf_to_timm(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, list[str]], str]:
    """Rename a Hugging Face ViT / ViTMAE state dict to timm / FB-MAE names, fusing q, k, v into qkv.

    Returns (renamed, origin: new name -> checkpoint keys it came from, prefix of the encoder keys)."""
    patch_keys = [k for k in sd if k.endswith(_HF_PATCH_KEY)]
    prefix = patch_keys[0][: -len(_HF_PATCH_KEY)] if patch_keys else ""
    stacks = {
        f"{prefix}encoder.layer": "blocks",
        f"{prefix}layers": "blocks",
        "decoder.decoder_layers": "decoder_blocks",
        "decoder.decoder_encoder.layer": "decoder_blocks",
    }
    layer_re = re.compile(
        r"^(?P<stack>"
        + "|".join(re.escape(s) for s in stacks)
        + r")\.(?P<i>\d+)\.(?P<name>.+)\.(?P<kind>weight|bias)$"
    )
    out: dict[str, torch.Tensor] = {}
    origin: dict[str, list[str]] = {}
    for key, value in sd.items():
        new = None
        if key.startswith(prefix) and key[len(prefix) :] in _HF_EMBED:
            new = _HF_EMBED[key[len(prefix) :]]
        elif key in _HF_DECODER:
            new = _HF_DECODER[key]
        elif (m := layer_re.match(key)) and m["name"] in _HF_BLOCK:
            new = f"{stacks[m['stack']]}.{m['i']}.{_HF_BLOCK[m['name']]}.{m['kind']}"
        if new is None:
            out[key] = value  # stays under its own name, unused unless the model happens to have it
            origin[key] = [key]
        else:
            out[new] = value
            origin[new] = [key]
    for q_key in [k for k in out if re.search(r"\.attn\.q\.(weight|bias)$", k)]:
        k_key, v_key = q_key.replace(".attn.q.", ".attn.k."), q_key.replace(".attn.q.", ".attn.v.")
        if k_key in out and v_key in out:
            fused = q_key.replace(".attn.q.", ".attn.qkv.")
            out[fused] = torch.cat([out.pop(q_key), out.pop(k_key), out.pop(v_key)], dim=0)  # timm: [q; k; v]
            origin[fused] = origin.pop(q_key) + origin.pop(k_key) + origin.pop(v_key)
    return out, origin, prefix


# ---- mapping onto the model -------------------------------------------------------------------------------
def _model_kind(model: nn.Module) -> str:
    from inpnet.models.inpainter import InpNet
    from inpnet.models.mae import MAE

    if isinstance(model, MAE):
        return "mae"
    if isinstance(model, InpNet):
        return "inpnet"
    raise InpNetError(f"load_backbone expects an InpNet or MAE model, got {type(model).__name__}")


def _target(kind: str, name: str, with_decoder: bool) -> str | None:
    """Model key for a timm / FB-MAE name, or None where the model has no place for it."""
    if kind == "inpnet":
        if name.startswith("patch_embed.proj.") or name == "pos_embed":
            return name
        if name.startswith(("blocks.", "norm.")):
            return "encoder." + name
        return None
    if name.startswith(("patch_embed.proj.", "blocks.", "norm.")) or name in ("cls_token", "pos_embed"):
        return name
    if with_decoder and (_DECODER_RE.match(name)):
        return name
    return None


def _is_backbone(kind: str, key: str, with_decoder: bool) -> bool:
    """Model keys that `strict` requires the checkpoint to cover."""
    if kind == "inpnet":
        return key.startswith(("patch_embed.", "encoder.")) or key == "pos_embed"
    if key.startswith(("patch_embed.", "blocks.", "norm.")) or key in ("cls_token", "pos_embed"):
        return True
    return with_decoder


def _depth(sd: Mapping[str, torch.Tensor], stack: str) -> int:
    idx = [int(m[1]) for k in sd if (m := re.match(rf"^{stack}\.(\d+)\.", k))]
    return max(idx) + 1 if idx else 0


def _split_pos(
    value: torch.Tensor, has_cls: bool, model_grid: tuple[int, int], hint: tuple[int, int] | None, key: str
) -> tuple[torch.Tensor | None, torch.Tensor, tuple[int, int]]:
    """(cls row or None, patch rows (1, h*w, D), (h, w)) of a checkpoint position table."""
    value = value.reshape(1, -1, value.shape[-1]).float()
    rows = value.shape[1]
    candidates = [hint] if hint else [model_grid]
    for cls_rows in (1, 0) if has_cls else (0, 1):
        n = rows - cls_rows
        side = math.isqrt(max(n, 0))
        for grid in [*candidates, (side, side)]:
            if n > 0 and grid[0] * grid[1] == n:
                return (value[:, :1] if cls_rows else None), value[:, cls_rows:], grid
    raise InpNetError(
        f"cannot tell the position grid of {key} with {rows} rows (not a square grid, +1 cls row)"
    )


def _pos_table(
    value: torch.Tensor,
    kind: str,
    has_cls: bool,
    model_grid: tuple[int, int],
    hint: tuple[int, int] | None,
    key: str,
    notes: list[str],
) -> torch.Tensor:
    """A checkpoint position table as the model holds it: resampled to its grid, cls row kept (MAE) or
    dropped (InP-Net)."""
    cls_row, table, grid = _split_pos(value, has_cls, model_grid, hint, key)
    if tuple(grid) != tuple(model_grid):
        table = resample_pos_embed(table, grid, model_grid)
        notes.append(f"{key} resampled {grid[0]}x{grid[1]} -> {model_grid[0]}x{model_grid[1]}")
    if kind == "inpnet":
        if cls_row is not None:
            notes.append("cls token and its position dropped (InP-Net has none)")
        return table
    if cls_row is None:
        cls_row = torch.zeros_like(table[:, :1])  # no_embed_class checkpoints: the cls token has no position
    return torch.cat([cls_row, table], dim=1)


def _hf_checks(
    config: dict[str, Any] | None, model_config: Any, with_decoder: bool, notes: list[str]
) -> tuple[int, int] | None:
    """Check heads / activation of a transformers config; its (h, w) token grid when it says so."""
    if config is None:
        return None
    heads = config.get("num_attention_heads")
    if heads is not None and heads != model_config.num_heads:
        raise InpNetError(
            f"checkpoint has {heads} attention heads, the model {model_config.num_heads} (num_heads)"
        )
    dec_heads = config.get("decoder_num_attention_heads")
    if with_decoder and dec_heads is not None and dec_heads != model_config.decoder_num_heads:
        raise InpNetError(
            f"checkpoint decoder has {dec_heads} attention heads, the model {model_config.decoder_num_heads} "
            f"(decoder_num_heads; --set decoder_num_heads={dec_heads} matches it, or load_decoder=False in Python "
            "loads the encoder alone)"
        )
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        notes.append(f"checkpoint activation {act!r}, the model uses exact GELU")
    eps = config.get("layer_norm_eps")
    if eps is not None and eps != _OUR_LN_EPS:
        notes.append(f"LayerNorm eps {eps:g} in the checkpoint, {_OUR_LN_EPS:g} in the model")
    size, patch = config.get("image_size"), config.get("patch_size")
    if size is None or not isinstance(patch, int):
        return None
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    return (h // patch, w // patch)


def _few(names: list[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def _resolve_source(raw: Mapping[str, torch.Tensor], wrapped: bool, source: str) -> str:
    detected = detect_layout(raw, wrapped)
    if source == "auto":
        return detected
    if source not in SOURCES:
        raise InpNetError(f"unknown source {source!r}; valid: auto, {', '.join(SOURCES)}")
    if source.startswith("hf") != detected.startswith("hf"):
        raise InpNetError(f"source={source!r} but the checkpoint's keys are in the {detected} layout")
    return source  # timm and fbmae (or hf and hf-legacy) read the same way: the caller's label wins


def _check_sizes(
    sd: Mapping[str, torch.Tensor], cfg: Any, with_decoder: bool, strict: bool, notes: list[str]
) -> None:
    """Widths, depths and patch size first: they explain a mismatch better than a list of shapes."""
    if "patch_embed.proj.weight" in sd:
        dim, patch = sd["patch_embed.proj.weight"].shape[0], sd["patch_embed.proj.weight"].shape[-1]
        if dim != cfg.embed_dim:
            raise InpNetError(f"embedding dim mismatch: checkpoint {dim}, model {cfg.embed_dim} (embed_dim)")
        if patch != cfg.patch_size:
            raise InpNetError(f"patch size mismatch: checkpoint {patch}, model {cfg.patch_size} (patch_size)")
    stacks = [("blocks", "encoder blocks", cfg.depth, "depth")]
    if with_decoder:
        dim = sd["decoder_embed.weight"].shape[0] if "decoder_embed.weight" in sd else cfg.decoder_embed_dim
        if dim != cfg.decoder_embed_dim:
            raise InpNetError(
                f"decoder dim mismatch: checkpoint {dim}, model {cfg.decoder_embed_dim} "
                "(decoder_embed_dim); load_decoder=False loads the encoder only"
            )
        stacks.append(("decoder_blocks", "decoder blocks", cfg.decoder_depth, "decoder_depth"))
    for stack, what, ours, option in stacks:
        theirs = _depth(sd, stack)
        if theirs == ours:
            continue
        if strict:
            raise InpNetError(
                f"depth mismatch: checkpoint has {theirs} {what}, the model {ours} ({option}); "
                "strict=False loads the blocks both have"
            )
        notes.append(f"{min(theirs, ours)} of {theirs} checkpoint {what} loaded")


def _zero_missing_qkv_bias(
    sd: dict[str, torch.Tensor], origin: dict[str, list[str]], notes: list[str]
) -> None:
    """Checkpoints built with qkv_bias=False: a zero bias computes the same thing."""
    for w_key in [k for k in sd if re.match(r"^(decoder_)?blocks\.\d+\.attn\.qkv\.weight$", k)]:
        b_key = w_key[: -len("weight")] + "bias"
        if b_key not in sd:
            sd[b_key] = torch.zeros(sd[w_key].shape[0], dtype=sd[w_key].dtype)
            origin[b_key] = []
            if "qkv bias absent: zeros" not in notes:
                notes.append("qkv bias absent: zeros")


def _plan(
    model: nn.Module,
    kind: str,
    sd: Mapping[str, torch.Tensor],
    origin: Mapping[str, list[str]],
    with_decoder: bool,
    grid_hint: tuple[int, int] | None,
    notes: list[str],
) -> tuple[dict[str, torch.Tensor], set[str]]:
    """{model key: tensor to copy} with every shape checked, and the checkpoint keys it uses."""
    targets = model.state_dict()
    grid = model.config.grid_size
    plan: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for name, value in sd.items():
        key = _target(kind, name, with_decoder)
        if key is None or key not in targets:
            continue
        target = targets[key]
        if name in ("pos_embed", "decoder_pos_embed"):
            has_cls = name == "decoder_pos_embed" or "cls_token" in sd
            value = _pos_table(value, kind, has_cls, grid, grid_hint, name, notes)
        elif (
            key == "patch_embed.proj.weight"
            and value.ndim == 4
            and (value.shape[1], target.shape[1]) == (3, 4)
        ):
            value = torch.cat(
                [value, torch.zeros_like(value[:, :1])], dim=1
            )  # mask filter: no effect at start
            notes.append("mask input channel initialised to zero")
        if tuple(value.shape) != tuple(target.shape):
            raw_name = origin[name][0] if origin[name] else name
            raise InpNetError(
                f"shape mismatch for {key} (checkpoint key {raw_name}): checkpoint {tuple(value.shape)}, "
                f"model {tuple(target.shape)}"
            )
        plan[key] = value
        used.update(origin[name])
    return plan, used


def load_backbone(
    model: nn.Module,
    path_or_state_dict: str | os.PathLike | Mapping[str, Any],
    source: str = "auto",
    strict: bool = True,
    *,
    load_decoder: bool = True,
) -> LoadReport:
    """Load a pretrained ViT encoder (and, for the MAE baseline, an MAE decoder) into `model` in place.

    `path_or_state_dict`: a state dict (or {"model": ...} / {"state_dict": ...}), a .pth / .pt / .bin /
    .safetensors file, or a folder (transformers or timm hub). `source`: "auto" or one of SOURCES.
    `strict`: every backbone tensor of the model (patch embedding, positions, blocks, final norm; MAE: + cls
    token, + decoder when the checkpoint has one and `load_decoder`) must come from the checkpoint, block
    counts must agree, and no checkpoint tensor that would change the encoder (layer scale, qk-norm, extra
    tokens, ...) may go unused; heads, decoders and (InP-Net) the cls token may. Width, patch-size and shape
    mismatches always raise InpNetError; nothing is copied unless the whole load is valid.
    """
    kind = _model_kind(model)
    cfg = model.config
    raw, hf_config, wrapped = read_checkpoint(path_or_state_dict)
    detected = _resolve_source(raw, wrapped, source)
    if detected.startswith("hf"):
        sd, origin, prefix = _hf_to_timm(raw)
    else:
        sd, origin, prefix = dict(raw), {k: [k] for k in raw}, ""
    with_decoder = kind == "mae" and load_decoder and any(_DECODER_RE.match(k) for k in sd)
    notes: list[str] = []
    grid_hint = _hf_checks(hf_config, cfg, with_decoder, notes)
    _check_sizes(sd, cfg, with_decoder, strict, notes)
    _zero_missing_qkv_bias(sd, origin, notes)
    plan, used = _plan(model, kind, sd, origin, with_decoder, grid_hint, notes)

    keys = list(model.state_dict())
    missing = [k for k in keys if _is_backbone(kind, k, with_decoder) and k not in plan]
    unexpected = [k for k in raw if k not in used]
    if strict and missing:
        pools = "fc_norm.weight" in sd and "norm.weight" not in sd
        hint = " (it pools with fc_norm instead of a final norm)" if pools else ""
        raise InpNetError(
            f"checkpoint does not cover {len(missing)} backbone tensor(s) of the model: "
            f"{_few(missing)}{hint}; strict=False loads the rest"
        )
    harmful = [k for k in unexpected if not _harmless(k, prefix, kind)]
    if strict and harmful:
        raise InpNetError(
            f"checkpoint tensors with no place in a plain ViT encoder: {_few(harmful)} "
            "(layer scale, qk-norm, extra tokens?); strict=False ignores them"
        )
    targets = model.state_dict()
    with torch.no_grad():
        for key, value in plan.items():
            targets[key].copy_(value)  # state_dict tensors share storage with the parameters
    initialised = [k for k in keys if k not in plan and k not in missing]
    return LoadReport(detected, list(plan), missing, unexpected, initialised, notes)


def _harmless(key: str, prefix: str, kind: str) -> bool:
    """An unused checkpoint key that does not change the encoder's function (heads, decoders, ...)."""
    if prefix and key.startswith(prefix):
        key = key[len(prefix) :]
    if kind == "inpnet" and key in ("cls_token", "embeddings.cls_token"):
        return True
    return bool(_HARMLESS_RE.match(key))
