"""Model and training configuration: size presets, the six variants of the paper, the MAE baseline.

`ModelConfig.from_name("skip-recon", preset="small", image_size=224)` is the usual entry point.
A config round-trips through `config.json` (`to_dict` / `from_dict` / `save` / `load`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inpnet.errors import InpNetError
from inpnet.fileio import atomic_write_text

MAX_TOKENS = 16384  # patches of one image the model is built for (128x128: a 1024-px side at patch 8)

# Encoder shapes follow timm's ViT names so that pretrained encoders map one-to-one.
PRESETS: dict[str, dict[str, Any]] = {
    "nano": dict(embed_dim=32, depth=2, num_heads=2, image_size=32, patch_size=8,
                 decoder_channels=(32, 16, 16), decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2),
    "tiny": dict(embed_dim=192, depth=12, num_heads=3, image_size=224, patch_size=16,
                 decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16),
    "small": dict(embed_dim=384, depth=12, num_heads=6, image_size=224, patch_size=16,
                  decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16),
    "base": dict(embed_dim=768, depth=12, num_heads=12, image_size=224, patch_size=16,
                 decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16),
}


@dataclass(frozen=True)
class Variant:
    """What distinguishes the paper's ablation variants: mask policy, skip connections, GAN loss."""

    name: str
    arch: str  # "inpnet" or "mae"
    mask_policy: str  # "random" or "dynamic"
    skip: bool
    gan: bool
    description: str


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in [
        Variant("random-recon", "inpnet", "random", False, False, "random masks, MSE (paper's original model)"),
        Variant("random-gan", "inpnet", "random", False, True, "random masks, MSE + GAN"),
        Variant("dynamic-recon", "inpnet", "dynamic", False, False, "dynamic masks, MSE"),
        Variant("dynamic-gan", "inpnet", "dynamic", False, True, "dynamic masks, MSE + GAN"),
        Variant("skip-recon", "inpnet", "dynamic", True, False, "dynamic masks, skip connections, MSE"),
        Variant("skip-gan", "inpnet", "dynamic", True, True, "dynamic masks, skip connections, MSE + GAN"),
        Variant("mae", "mae", "random", False, False, "Facebook MAE baseline (transformer decoder)"),
    ]
}


def _choices(names: Any) -> str:
    return ", ".join(sorted(names))


def get_variant(name: str) -> Variant:
    """The variant called `name`; a clear error listing the valid names otherwise."""
    if name not in VARIANTS:
        raise InpNetError(f"unknown variant {name!r}; valid variants: {_choices(VARIANTS)}")
    return VARIANTS[name]


def _as_hw(value: Any, what: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (int(value[0]), int(value[1]))
    raise InpNetError(f"{what} must be an int or a pair of ints (height, width), got {value!r}")


@dataclass
class ModelConfig:
    """Every shape and switch of an InP-Net or MAE model. Units: pixels, tokens, channels."""

    variant: str = "skip-recon"
    preset: str = "tiny"
    arch: str = "inpnet"  # "inpnet" | "mae"
    image_size: tuple[int, int] = (224, 224)  # (H, W) of the training grid
    patch_size: int = 16
    in_chans: int = 3  # 3: RGB of visible patches; 4: RGB*(1-mask) + mask, so partial patches can be kept
    embed_dim: int = 192
    depth: int = 12
    num_heads: int = 3
    mlp_ratio: float = 4.0
    # A patch becomes a masked token when its hole fraction is > token_threshold (0.0: any hole pixel).
    token_threshold: float = 0.0
    # InP-Net
    skip: bool = True
    skip_layers: tuple[int, ...] | None = None  # encoder block indices (1-based outputs); None: L/4, L/2, 3L/4
    fill_depth: int = 1  # cross-attention blocks: every grid token attends to the visible tokens
    decoder_channels: tuple[int, ...] | None = None  # one per upsampling stage; None: derived from D
    decoder_norm: str = "batch"  # "batch" | "group"
    pixel_skip: bool = False  # full-resolution conv path from the known pixels into the last stage
    pixel_skip_channels: int = 16
    # "harmonic": hole pre-filled by a smooth pyramid solve (models/prefill.py); the network sees the
    # pre-filled image (encoder input and pixel path) and predicts a correction added to it.
    prefill: str = "none"  # "none" | "harmonic"
    prefill_sweeps: int = 32  # Jacobi sweeps per pyramid level (models/prefill.py DEFAULT_SWEEPS)
    # MAE baseline
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    norm_pix_loss: bool = False

    def __post_init__(self) -> None:
        self.image_size = _as_hw(self.image_size, "image_size")
        for name in ("skip_layers", "decoder_channels"):
            value = getattr(self, name)
            if value is not None:
                if not isinstance(value, (list, tuple)) or not all(_is_int(v) for v in value):
                    raise InpNetError(f"{name} must be a list of integers, got {value!r}")
                setattr(self, name, tuple(int(v) for v in value))
        check_field_types(self)
        self.validate()

    # ---- derived shapes -------------------------------------------------------------------
    @property
    def grid_size(self) -> tuple[int, int]:
        """(h, w) of the token grid."""
        return (self.image_size[0] // self.patch_size, self.image_size[1] // self.patch_size)

    @property
    def num_patches(self) -> int:
        h, w = self.grid_size
        return h * w

    @property
    def num_stages(self) -> int:
        """Upsampling stages of the conv decoder: log2(patch_size)."""
        return self.patch_size.bit_length() - 1

    def resolved_skip_layers(self) -> tuple[int, ...]:
        """Encoder block indices whose outputs feed the decoder (1-based: output of block i)."""
        if self.skip_layers is not None:
            return self.skip_layers
        picks = sorted({max(1, round(self.depth * f)) for f in (0.25, 0.5, 0.75)})
        return tuple(picks)

    def resolved_decoder_channels(self) -> tuple[int, ...]:
        """Channels after each upsampling stage, halving from min(D, 192) and floored at 16.

        192 keeps the decoder light: for `small` at 224 px, fill block + decoder cost 24.8 % of the encoder's
        FLOPs at ratio 0 (32 % when halving from 256). Shipped configs pin their widths explicitly."""
        if self.decoder_channels is not None:
            return self.decoder_channels
        c = min(self.embed_dim, 192)
        chans = []
        for _ in range(self.num_stages):
            c = max(16, c // 2)
            chans.append(c)
        return tuple(chans)

    # ---- validation -----------------------------------------------------------------------
    def validate(self) -> None:
        """Raise InpNetError naming the first inconsistent field."""
        if self.arch not in ("inpnet", "mae"):
            raise InpNetError(f"arch must be 'inpnet' or 'mae', got {self.arch!r}")
        p = self.patch_size
        if p < 2 or p & (p - 1):
            raise InpNetError(f"patch_size must be a power of two >= 2, got {p}")
        for side in self.image_size:
            if side <= 0 or side % p:
                raise InpNetError(f"image_size {self.image_size} must be positive multiples of patch_size {p}")
        tokens = (self.image_size[0] // p) * (self.image_size[1] // p)
        if tokens > MAX_TOKENS:  # e.g. 100000 px: the position table alone fills the memory, then a silent kill
            raise InpNetError(f"image_size {self.image_size} at patch_size {p} is {tokens} tokens, above the "
                              f"{MAX_TOKENS} this model takes (a larger patch, or photos filled in windows by "
                              "InpaintPipeline, which takes any size)")
        for name in ("embed_dim", "num_heads", "mlp_ratio", "decoder_embed_dim", "decoder_num_heads"):
            if getattr(self, name) <= 0:
                raise InpNetError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.embed_dim % self.num_heads:
            raise InpNetError(f"embed_dim {self.embed_dim} must be divisible by num_heads {self.num_heads}")
        if self.depth < 1:
            raise InpNetError(f"depth must be >= 1, got {self.depth}")
        if self.in_chans not in (3, 4):
            raise InpNetError(f"in_chans must be 3 or 4, got {self.in_chans}")
        if not 0.0 <= self.token_threshold < 1.0:
            raise InpNetError(f"token_threshold must be in [0, 1), got {self.token_threshold}")
        if self.prefill not in ("none", "harmonic"):
            raise InpNetError(f"prefill must be 'none' or 'harmonic', got {self.prefill!r}")
        if self.prefill_sweeps < 1:
            raise InpNetError(f"prefill_sweeps must be >= 1, got {self.prefill_sweeps}")
        if self.decoder_norm not in ("batch", "group"):
            raise InpNetError(f"decoder_norm must be 'batch' or 'group', got {self.decoder_norm!r}")
        if self.decoder_channels is not None and len(self.decoder_channels) != self.num_stages:
            raise InpNetError(
                f"decoder_channels needs {self.num_stages} entries (log2 of patch_size {p}), "
                f"got {len(self.decoder_channels)}"
            )
        for i in self.resolved_skip_layers():
            if not 1 <= i <= self.depth:
                raise InpNetError(f"skip layer {i} outside the encoder's blocks 1..{self.depth}")
        if self.arch == "mae" and self.decoder_embed_dim % self.decoder_num_heads:
            raise InpNetError("decoder_embed_dim must be divisible by decoder_num_heads")

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_name(cls, name: str, preset: str = "tiny", **overrides: Any) -> ModelConfig:
        """Config of variant `name` at size `preset`; keyword overrides win (dotted keys allowed)."""
        variant = get_variant(name)
        if preset not in PRESETS:
            raise InpNetError(f"unknown preset {preset!r}; valid presets: {_choices(PRESETS)}")
        values: dict[str, Any] = dict(PRESETS[preset])
        values.update(variant=name, preset=preset, arch=variant.arch, skip=variant.skip)
        values.update(_undot(overrides))
        return cls(**_known_fields(cls, values))

    def replace(self, **changes: Any) -> ModelConfig:
        """A copy with `changes` applied (and re-validated)."""
        return dataclasses.replace(self, **_known_fields(type(self), _undot(changes)))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return cls(**_known_fields(cls, d))

    def save(self, path: str | os.PathLike) -> None:
        """Write `config.json` atomically."""
        atomic_write_text(Path(path), json.dumps({"model": self.to_dict()}, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> ModelConfig:
        """Read a `config.json` (or a folder that holds one)."""
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise InpNetError(f"no config.json at {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InpNetError(f"cannot read config {path}: {exc}") from None
        model = data.get("model", data) if isinstance(data, dict) else None
        if not isinstance(model, dict):
            raise InpNetError(f"config {path} is not a JSON object with a \"model\" object")
        try:
            return cls.from_dict(model)
        except InpNetError as exc:
            raise InpNetError(f"config {path}: {exc}") from None


@dataclass
class TrainConfig:
    """Optimisation and data settings. Defaults are the paper's recipe, scaled by the CLI for CPU runs."""

    variant: str = "skip-recon"
    mask_policy: str = "dynamic"  # random | dynamic | structured | irregular | folder
    gan: bool = False
    lr: float = 1e-3
    min_lr: float = 1e-5
    weight_decay: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 100
    batch_size: int = 32
    epochs: int = 30
    steps: int | None = None  # overrides epochs when set
    grad_clip: float = 1.0
    lambda_rec: float = 1.0  # λ1
    lambda_gan: float = 0.01  # λ2
    gan_loss: str = "hinge"  # hinge | nonsaturating
    disc_lr: float = 2e-4
    rec_loss: str = "all"  # all | hole | weighted
    hole_weight: float = 6.0
    mask_ratio: float = 0.75  # random policy
    ratio_range: tuple[float, float] = (0.1, 0.75)  # dynamic policy
    ratio_warmup_epochs: float = 0.0  # the dynamic range's upper end grows from its lower end over these epochs
    mask_dir: str | None = None  # extra mask PNG folder for the dynamic/folder policy
    val_fraction: float = 0.02
    val_max: int = 64
    # > 0: a test split below this sha1 fraction, kept out of training and of checkpoint selection; the
    # validation candidates then follow it (see data.ImageFolderDataset). 0.02 = `--holdout 0.02`'s photos.
    test_fraction: float = 0.0
    # Restoration in the same model: this fraction of each batch is trained at ratio 0 on a degraded
    # input (noise, JPEG, blur; eval/degrade.random_degradation) against the clean photo.
    restore_fraction: float = 0.0
    # > 0: the restoration samples' loss is their own all-pixel MSE times this weight, added to the inpainting
    # samples' loss (rec_loss over those only). 0: one rec_loss over the whole batch (stage 3, where the
    # restoration samples were ~12 % of the loss and the model did not learn to denoise).
    restore_weight: float = 0.0
    # Relative weights of the restoration kinds (noise, jpeg, blur) and the JPEG quality range drawn from
    # (eval.degrade's EVEN_MIX and TRAIN_JPEG_QUALITY; written out here so that configs need no torch).
    restore_mix: tuple[float, float, float] = (1.0, 1.0, 1.0)
    restore_jpeg_quality: tuple[int, int] = (10, 70)
    patience: int = 5
    amp: str = "auto"  # auto | bf16 | fp16 | off
    seed: int = 0
    num_workers: int = 0
    log_every: int = 10
    image_every: int = 200
    ckpt_every_s: float = 120.0  # wall-clock checkpoint interval
    ckpt_every_steps: int | None = None
    max_bad_steps: int = 20

    def __post_init__(self) -> None:
        for name in ("betas", "ratio_range"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(_is_real(v) for v in value):
                raise InpNetError(f"{name} must be a pair of numbers, got {value!r}")
            setattr(self, name, tuple(value))
        self._check_restore_mix()
        check_field_types(self)
        for name in ("batch_size", "epochs", "steps", "log_every", "image_every", "ckpt_every_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InpNetError(f"{name} must be >= 1, got {value}")
        for name in ("lr", "disc_lr"):  # inf passed "> 0" and trained a model of NaNs (review 12)
            if not 0 < getattr(self, name) < math.inf:
                raise InpNetError(f"{name} must be a finite number > 0, got {getattr(self, name)}")
        for name in ("min_lr", "weight_decay", "grad_clip", "lambda_rec", "lambda_gan", "hole_weight", "restore_weight"):
            if not 0 <= getattr(self, name) < math.inf:
                raise InpNetError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")
        if self.num_workers < 0:
            raise InpNetError(f"num_workers must be >= 0, got {self.num_workers}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise InpNetError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if not 0.0 <= self.test_fraction < 1.0 - self.val_fraction:
            raise InpNetError(f"test_fraction must be in [0, 1 - val_fraction), got {self.test_fraction}")
        if not 0.0 <= self.restore_fraction <= 1.0:
            raise InpNetError(f"restore_fraction must be in [0, 1], got {self.restore_fraction}")

    def _check_restore_mix(self) -> None:
        mix, quality = self.restore_mix, self.restore_jpeg_quality
        if (not isinstance(mix, (list, tuple)) or len(mix) != 3 or not all(_is_real(v) and v >= 0 for v in mix)
                or not sum(mix) > 0):
            raise InpNetError(f"restore_mix must be three weights >= 0 (noise, jpeg, blur), not all 0; got {mix!r}")
        self.restore_mix = tuple(float(v) for v in mix)
        if (not isinstance(quality, (list, tuple)) or len(quality) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in quality)
                or not 1 <= quality[0] <= quality[1] <= 95):
            raise InpNetError(f"restore_jpeg_quality must be two integers 1 <= low <= high <= 95, got {quality!r}")
        self.restore_jpeg_quality = tuple(quality)

    @classmethod
    def for_variant(cls, name: str, **overrides: Any) -> TrainConfig:
        """Training defaults of a variant (mask policy, GAN on/off), then overrides."""
        v = get_variant(name)
        values: dict[str, Any] = dict(variant=name, mask_policy=v.mask_policy, gan=v.gan)
        values.update(overrides)
        return cls(**_known_fields(cls, values))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return cls(**_known_fields(cls, d))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


_TYPE_CHECKS = {"int": _is_int, "float": _is_real, "bool": lambda v: isinstance(v, bool),
                "str": lambda v: isinstance(v, str)}


def check_field_types(config: Any) -> None:
    """InpNetError naming the first field whose value does not have its declared type (int, float, bool, str,
    optionally `| None`); tuples and other types are checked where they are converted. A float field takes
    ints; an int field does not take bools. Values read from a corrupt config.json or `--set` land here."""
    for f in dataclasses.fields(config):
        kinds = [k.strip() for k in str(f.type).split("|")]
        value = getattr(config, f.name)
        if value is None and "None" in kinds:
            continue
        check = _TYPE_CHECKS.get(kinds[0])
        if check is not None and not check(value):
            raise InpNetError(f"{type(config).__name__} field {f.name} must be {f.type}, got {value!r}")


def _undot(values: dict[str, Any]) -> dict[str, Any]:
    """Accept `model.depth=6` style keys: only the last component names the field."""
    return {k.split(".")[-1]: v for k, v in values.items()}


def _known_fields(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InpNetError(f"unknown {cls.__name__} field(s) {', '.join(unknown)}; valid: {_choices(names)}")
    return values
