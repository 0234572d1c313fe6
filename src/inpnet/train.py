"""The training loop, readable top to bottom: data → masks → forward → losses → (D step) → G step → logs.

Determinism: the sample order of epoch e is a permutation seeded by (seed, e); augmentations are seeded by
(seed, epoch, index) in the dataset; the masks of step s are seeded by (seed, s, rank). Resuming at step s
therefore replays exactly what an uninterrupted run would have done, with no RNG state to restore beyond
what `training_state.pt` keeps for safety.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from inpnet.checkpoint import (
    CONFIG_FILE,
    LAST_FILE,
    MODEL_FILE,
    STATE_FILE,
    load_training_state,
    load_weights_into,
    read_state_dict,
    save_model,
    save_training_state,
)
from inpnet.config import ModelConfig, TrainConfig
from inpnet.errors import InpNetError, note
from inpnet.eval.degrade import DEGRADATIONS, EVEN_MIX, TRAIN_JPEG_QUALITY, degrade, random_degradation
from inpnet.fileio import atomic_write_text
from inpnet.losses import (
    discriminator_loss,
    generator_adv_loss,
    mixed_reconstruction_loss,
    total_generator_loss,
)
from inpnet.masks import (
    IRREGULAR_FAMILIES,
    STRUCTURED_PRESETS,
    MaskFolder,
    dynamic_pixel_mask,
    irregular_pixel_mask,
    make_pixel_mask,
    random_token_mask,
    ratio_schedule,
    structured_token_mask,
    token_to_pixel_mask,
    validate_ratio,
)
from inpnet.models import build_model
from inpnet.models.discriminator import PatchDiscriminator

MASK_POLICIES = ("random", "dynamic", "structured", "irregular", "folder")
VAL_MASKS = (("random", 0.5), ("structured", 0.25), ("irregular", 0.3))  # fixed validation mask mix
VAL_RESTORE = (("noise25", 0.0), ("jpeg20", 0.0))  # added when the run trains restoration
RESUME_CHANGES = ("steps", "epochs", "patience", "num_workers")  # what a resumed run takes from the caller


MAX_WARMUP_SHARE = 0.1  # the warm-up takes at most this share of a run's steps
FEW_VALIDATION_PHOTOS = 8  # fewer: a note that the best checkpoint and early stopping rest on too few


def get_lr(step: int, total: int, warmup: int, lr: float, min_lr: float) -> float:
    """Linear warm-up to `lr`, then cosine decay to `min_lr` at `total` steps. The warm-up is at most a tenth
    of the run: the default 100 steps left a 60-step run still warming up at its end, its rate never decayed
    (a review: 20.00 dB of validation PSNR against 22.03 with 6 steps of warm-up)."""
    warmup = min(warmup, max(1, int(total * MAX_WARMUP_SHARE)))
    if step < warmup:
        return lr * (step + 1) / warmup
    return cosine_lr(min(1.0, (step - warmup) / max(1, total - warmup)), lr, min_lr)


def cosine_lr(progress: float, lr: float, min_lr: float) -> float:
    """Cosine from `lr` at progress 0 to `min_lr` at progress 1."""
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The generator of everything random at one step (masks), independent of history."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step * 9_176 + rank * 7_919_317) % (2**63))


def training_masks(
    tcfg: TrainConfig,
    mcfg: ModelConfig,
    batch: int,
    step: int,
    epoch_progress: float,
    rank: int = 0,
    mask_folder: MaskFolder | None = None,
) -> torch.Tensor:
    """Pixel masks (B, 1, H, W) of one training step under the variant's mask policy."""
    g = step_generator(tcfg.seed, step, rank)
    size, p = mcfg.image_size, mcfg.patch_size
    grid = mcfg.grid_size
    policy = tcfg.mask_policy
    if policy == "random":
        return token_to_pixel_mask(random_token_mask(batch, grid, tcfg.mask_ratio, generator=g), grid, p)
    if policy == "dynamic":
        lo, hi = ratio_schedule(epoch_progress, tcfg.ratio_range, tcfg.ratio_warmup_epochs)
        kinds = ("random", "structured", "irregular")
        return dynamic_pixel_mask(batch, size, p, (lo, hi), generator=g, kinds=kinds, mask_folder=mask_folder,
                                  threshold=mcfg.token_threshold)
    if policy == "structured":
        presets = [STRUCTURED_PRESETS[int(i)] for i in torch.randint(len(STRUCTURED_PRESETS), (batch,), generator=g)]
        tm = torch.cat([structured_token_mask(1, grid, tcfg.mask_ratio, pr) for pr in presets])
        return token_to_pixel_mask(tm, grid, p)
    if policy == "irregular":
        fam = IRREGULAR_FAMILIES[int(torch.randint(len(IRREGULAR_FAMILIES), (1,), generator=g))]
        return irregular_pixel_mask(batch, size, fam, generator=g)  # free-form: no ratio to honour
    if policy == "folder":
        if mask_folder is None:
            raise InpNetError("mask policy 'folder' needs --mask-dir")
        return mask_folder.sample(batch, g)
    raise InpNetError(f"unknown mask policy {policy!r}; valid: {', '.join(MASK_POLICIES)}")


def validation_masks(mcfg: ModelConfig, n: int, seed: int, restore: bool = False) -> list[tuple[str, torch.Tensor]]:
    """Fixed (kind, (1,1,H,W) mask) per validation image, cycling through VAL_MASKS (and, with `restore`,
    VAL_RESTORE: an all-zero mask, the input degraded by `validation_inputs`)."""
    kinds = VAL_MASKS + (VAL_RESTORE if restore else ())
    out = []
    for i in range(n):
        kind, ratio = kinds[i % len(kinds)]
        g = torch.Generator().manual_seed(seed * 7_777 + i)
        preset = STRUCTURED_PRESETS[i % len(STRUCTURED_PRESETS)] if kind == "structured" else None
        if kind in DEGRADATIONS:
            m = torch.zeros(1, 1, *mcfg.image_size)
        else:
            m = make_pixel_mask(kind, 1, mcfg.image_size, mcfg.patch_size, ratio, generator=g, preset=preset,
                                threshold=mcfg.token_threshold)
        out.append((kind, m))
    return out


def validation_inputs(images: torch.Tensor, kinds: Sequence[str], seed: int) -> torch.Tensor:
    """The validation images (B,3,H,W) as the model sees them: restoration kinds degraded (seeded)."""
    rows = []
    for i, kind in enumerate(kinds):
        x = images[i : i + 1]
        if kind in DEGRADATIONS:
            x = degrade(x, kind, torch.Generator().manual_seed(seed * 7_777 + i))
        rows.append(x)
    return torch.cat(rows)


def restore_count(fraction: float, batch: int) -> int:
    """How many leading samples of a batch of `batch` apply_restoration_mix turns into restoration samples
    (the loss relies on the same count: `_reconstruction`)."""
    return int(round(fraction * batch))


def apply_restoration_mix(
    images: torch.Tensor, masks: torch.Tensor, fraction: float, generator: torch.Generator,
    mix: tuple[float, float, float] = EVEN_MIX, jpeg_quality: tuple[int, int] = TRAIN_JPEG_QUALITY,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, masks) of one step: the first round(fraction * B) samples become restoration samples (mask
    all zero, input degraded by a random degradation); the target stays the clean `images`."""
    k = restore_count(fraction, images.shape[0])
    if k == 0:
        return images, masks
    masks = masks.clone()
    masks[:k] = 0
    inputs = images.clone()
    inputs[:k] = random_degradation(images[:k], generator, mix, jpeg_quality)
    return inputs, masks


# ---- distributed helpers -------------------------------------------------------------------
@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str | None = None) -> Dist:
    """Read torchrun's environment; init a process group (nccl on GPU, gloo on CPU) when world > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None or device == "auto":
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank, world, local, dev)


def batches_per_epoch(n: int, world: int, batch_size: int) -> int:
    """Whole batches of `batch_size` in one process's share of `n` training images (the rest is dropped)."""
    return (n // world) // batch_size


class EpochSampler(torch.utils.data.Sampler):
    """Indices of one epoch: a (seed, epoch)-seeded permutation, this rank's share, from batch `start` on.

    Written by hand (instead of DistributedSampler) because exact resume needs to start mid-epoch."""

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, rank: int, world: int, start_batch: int = 0):
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, epoch
        self.rank, self.world, self.start_batch = rank, world, start_batch

    def batches_per_epoch(self) -> int:
        return batches_per_epoch(self.n, self.world, self.batch_size)

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        per_rank = self.n // self.world
        mine = order[self.rank * per_rank : (self.rank + 1) * per_rank]
        usable = self.batches_per_epoch() * self.batch_size
        return iter(mine[self.start_batch * self.batch_size : usable])

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch() - self.start_batch) * self.batch_size


# ---- the trainer ----------------------------------------------------------------------------
@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    best_psnr: float | None
    stopped_because: str
    bad_steps: int
    signal: int | None = None  # the signal (SIGINT, SIGTERM) that stopped the run, after its checkpoint
    main: bool = True  # whether this is the main process (rank 0 under torchrun), which reports for the run


def autocast_context(amp: str, device: torch.device):
    """bf16/fp16 autocast where the device supports it; `auto` = bf16 on CUDA with bf16, off on CPU."""
    if amp == "auto":
        amp = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "off"
    if amp == "off":
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    if amp == "fp16" and device.type != "cuda":
        raise InpNetError("fp16 autocast needs a CUDA device; use --amp bf16 or off on CPU")
    return torch.autocast(device.type, dtype=dtype), dtype


def reinit_parameters(model: nn.Module, config: ModelConfig, prefixes: Sequence[str]) -> list[str]:
    """Reset the parameters and buffers under each module name in `prefixes` to a fresh model's values."""
    fresh = build_model(config).state_dict()
    own = model.state_dict()
    names = []
    for prefix in prefixes:
        found = [k for k in own if k.startswith(prefix + ".")]
        if not found:
            modules = sorted({k.rsplit(".", 1)[0] for k in own})
            raise InpNetError(f"--reinit {prefix!r} names no module of this model; e.g. {', '.join(modules[-3:])}")
        names += found
    with torch.no_grad():
        for k in names:
            own[k].copy_(fresh[k])
    return names


def train(
    mcfg: ModelConfig,
    tcfg: TrainConfig,
    data: str | os.PathLike | Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    resume: bool = False,
    init_from: str | None = None,
    init_from_backbone: str | None = None,
    reinit: tuple[str, ...] = (),
    device: str | None = None,
    progress: bool = True,
    max_seconds: float | None = None,
    stop_at_step: int | None = None,
    resume_changes: Collection[str] | None = None,
) -> TrainResult:
    """Train `mcfg` with `tcfg` on image folders `data`, writing the run directory `out`.

    `resume=True` continues the run in `out` with its own saved configs; of `tcfg` it takes only what a
    resume may change (RESUME_CHANGES: the length, early-stopping patience, workers), and of those only the
    fields named in `resume_changes` (None: all of them; the command line names the options it was given, so
    that a default never replaces the run's own value).

    `reinit` names modules (e.g. "decoder.head") reset to their initial values after `init_from`: a
    fine-tune that keeps the features but starts a changed output fresh.
    `max_seconds` / `stop_at_step` end this invocation early with a checkpoint (the schedule still
    targets the full length, so `resume=True` later continues exactly where it stopped)."""

    data = [str(data)] if isinstance(data, (str, os.PathLike)) else [str(folder) for folder in data]  # one or many
    run = _start_run(mcfg, tcfg, data, out, resume=resume, init_from=init_from,
                     init_from_backbone=init_from_backbone, reinit=reinit, device=device,
                     resume_changes=resume_changes)
    if stop_at_step is not None and stop_at_step <= run.state["step"]:
        raise InpNetError(f"--stop-at-step {stop_at_step}: the run is already at step {run.state['step']}")
    ddp_model, ddp_disc = _distributed(run.model, run.disc, run.d)

    # the run directory is created only now, so that a setup error (bad data, options, checkpoint) leaves nothing
    _prepare_run_dir(run.run_dir, run.mcfg, run.tcfg, run.d, data)
    loop = _Loop(run, progress, max_seconds, stop_at_step)
    old_handlers = _install_signal_handlers(loop.on_signal)
    try:
        for batch in _step_loader(run.train_set, run.mcfg, run.tcfg, run.d, run.mask_folder, loop.step,
                                  run.total_steps, loop.epoch, loop.batch_in_epoch):
            if loop.stop:
                break
            loop.train_step(_forward_step(run, ddp_model, ddp_disc, batch, loop.step))
            if loop.stop:
                break
        loop.finish()
    finally:
        _restore_signal_handlers(old_handlers)
        loop.close()
    if run.d.world > 1 and dist.is_initialized():
        dist.barrier()
    if "non-finite" in loop.stop:
        raise InpNetError(f"training stopped at step {loop.step}: {loop.stop} (checkpoint saved in {run.run_dir})")
    if not all(bool(torch.isfinite(t).all()) for t in run.model.state_dict().values() if t.is_floating_point()):
        # e.g. --lr 1e30 in a run too short for the NaN guard to stop it (BatchNorm statistics included)
        raise InpNetError(f"training diverged: the weights hold NaN or infinite values at step {loop.step} (a "
                          f"learning rate too high?); the last weights in {run.run_dir} are unusable")
    return TrainResult(run.run_dir, loop.step, run.state["epoch"], run.state["best_psnr"], loop.stop,
                       run.state["bad_steps"], loop.signal, run.d.main)


class _Loop:
    """The steps of one `train` invocation: each update, its logging and checkpoints, validation at each
    epoch's end (the best weights kept, early stopping), and why the invocation stopped (`stop`: "" while
    it goes on; a signal, a limit, early stopping, too many non-finite losses; "done" at the schedule's end)."""

    def __init__(self, run: _Run, progress: bool, max_seconds: float | None, stop_at_step: int | None) -> None:
        self.run, self.max_seconds, self.stop_at_step = run, max_seconds, stop_at_step
        self.logger = RunLogger(run.run_dir, enabled=run.d.main)
        self.val_masks = validation_masks(run.mcfg, len(run.val_set), run.tcfg.seed,
                                          restore=run.tcfg.restore_fraction > 0)
        state = run.state
        state.setdefault("batch_in_epoch", 0)  # a checkpoint from before the counter was saved
        self.step_at_start = state["step"]
        self.stop, self.signal = "", None
        self.t_start = self.last_ckpt = time.time()
        self.wall_before = state["wall_s"]
        self.bar = _progress_bar(run.total_steps, self.step, enabled=progress and run.d.main)
        run.model.train()

    # the counters are the run's state (what a checkpoint saves): read there, never kept twice
    @property
    def step(self) -> int:
        return self.run.state["step"]

    @property
    def epoch(self) -> int:
        return self.run.state["epoch"]

    @property
    def batch_in_epoch(self) -> int:
        return self.run.state["batch_in_epoch"]

    def on_signal(self, signum, frame) -> None:  # save and stop at the end of the current step
        self.stop, self.signal = f"signal {signal.Signals(signum).name}", signum

    def train_step(self, s: _StepOutput) -> None:
        """The update of one step (skipped when its loss is not finite), then the step's bookkeeping."""
        run, tcfg = self.run, self.run.tcfg
        if not torch.isfinite(s.loss):  # skip the update, count it, stop after too many in a row
            too_many = _skip_non_finite(run.state, s.loss, self.step, run.opt, self.logger, self.bar,
                                        tcfg.max_bad_steps)
            if too_many:
                self.stop = too_many
                return
        else:
            run.state["consecutive_bad"] = 0
            grad_norm = _update(s.loss, run.opt, run.scaler, run.model, tcfg.grad_clip)
            self._log(s, grad_norm)
        self._count_step(s)
        self._checkpoint_when_due()
        self.stop = self.stop or _limit_reached(self.step, time.time() - self.t_start, self.max_seconds,
                                                self.stop_at_step) or ""
        if self.batch_in_epoch >= self.run.per_epoch:  # the end of an epoch: validate, keep the best, checkpoint
            self._end_epoch()  # (also when stopping here, so that a resumed run validates at the same steps)

    def finish(self) -> None:
        """After the last step of this invocation: a validation where the schedule ended mid-epoch (not on a
        resume of a finished run: its last step was validated already), the checkpoint, the reason logged."""
        if not self.stop and self.step >= self.run.total_steps and self.run.state.get("validated_at") != self.step:
            self._validate_and_checkpoint(epoch_done=False)
        self.stop = self.stop or "done"
        self.run.checkpoint()
        if self.stop != "done":
            self.logger.event(self.step, "stopped", reason=self.stop)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.logger.close()

    def _log(self, s: _StepOutput, grad_norm: torch.Tensor) -> None:
        tcfg, d = self.run.tcfg, self.run.d
        if self.step % tcfg.log_every == 0:
            done = self.step - self.step_at_start + 1  # steps finished by this invocation (this one too)
            ips = done * tcfg.batch_size * d.world / max(time.time() - self.t_start, 1e-6)
            _log_step(self.logger, self.step, s.loss, s.rec, s.adv, s.d_loss, s.lr, grad_norm, s.masks, ips)
        if self.step % tcfg.image_every == 0:
            self.logger.images(self.step, s.images, s.masks, s.out.composite.detach().float())

    def _count_step(self, s: _StepOutput) -> None:
        tcfg, state = self.run.tcfg, self.run.state
        state.update(step=state["step"] + 1, batch_in_epoch=state["batch_in_epoch"] + 1,
                     images_seen=state["images_seen"] + tcfg.batch_size * self.run.d.world,
                     wall_s=self.wall_before + time.time() - self.t_start)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{float(s.loss.detach()):.4f}", epoch=self.epoch)

    def _checkpoint_when_due(self) -> None:
        tcfg = self.run.tcfg
        due_steps = tcfg.ckpt_every_steps and self.step % tcfg.ckpt_every_steps == 0
        if time.time() - self.last_ckpt >= tcfg.ckpt_every_s or due_steps:
            self.run.checkpoint()
            self.last_ckpt = time.time()

    def _end_epoch(self) -> None:
        self._validate_and_checkpoint(epoch_done=True)  # the epoch counters advance
        self.last_ckpt = time.time()
        patience = self.run.tcfg.patience
        if not self.stop and self.run.state["bad_epochs"] >= patience:
            self.stop = f"early stopping (no validation gain in {patience} epochs)"

    def _validate_and_checkpoint(self, epoch_done: bool) -> None:
        run = self.run
        summary = _validate(run.model, run.val_set, self.val_masks, run.tcfg.batch_size, run.tcfg.seed,
                            run.autocast, run.d.device)
        _record_validation(run.state, summary, run.state["step"], self.epoch, epoch_done, run.model, run.run_dir,
                           self.logger, run.d)
        run.checkpoint()


# ---- the named steps of train() ------------------------------------------------------------------
@dataclass
class _Run:
    """What one invocation of `train` works with: the process group, the configs (the run's own on a resume),
    the data, the model and its optimizers, and the counters a checkpoint saves (`state`)."""

    d: Dist
    run_dir: Path
    mcfg: ModelConfig
    tcfg: TrainConfig
    train_set: Any
    val_set: Any
    per_epoch: int  # steps per epoch for each process
    total_steps: int
    mask_folder: MaskFolder | None
    model: nn.Module
    disc: nn.Module | None
    opt: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    autocast: Any  # a context manager
    scaler: torch.amp.GradScaler
    state: dict[str, Any]

    def checkpoint(self) -> None:
        """Save the weights and the training state (the main process only)."""
        if self.d.main:
            _save_checkpoint(self.run_dir, self.model, self.opt, self.scaler, self.disc, self.opt_d, self.state)


def _start_run(mcfg: ModelConfig, tcfg: TrainConfig, data: Sequence[str], out: str | os.PathLike, *, resume: bool,
               init_from: str | None, init_from_backbone: str | None, reinit: tuple[str, ...],
               device: str | None, resume_changes: Collection[str] | None = None) -> _Run:
    """Everything `train` needs before its first step, checked before anything is written: configs, data,
    model (fresh, fine-tuned or resumed), optimizers, mixed precision and the counters."""
    d = setup_distributed(device)
    run_dir = Path(out)
    _check_run_dir(run_dir, resume)
    mcfg, tcfg = _resolved_configs(run_dir, mcfg, tcfg, resume, resume_changes)
    torch.manual_seed(tcfg.seed)

    train_set, val_set = _datasets(data, mcfg, tcfg)
    per_epoch = batches_per_epoch(len(train_set), d.world, tcfg.batch_size)
    if per_epoch == 0:
        raise InpNetError(
            f"{len(train_set)} training images are fewer than one batch of {tcfg.batch_size} per process"
        )
    total_steps = tcfg.steps if tcfg.steps is not None else tcfg.epochs * per_epoch
    mask_folder = MaskFolder(tcfg.mask_dir, size=mcfg.image_size) if tcfg.mask_dir else None

    model = _initial_model(mcfg, d, init_from, () if resume else reinit, init_from_backbone)
    disc = PatchDiscriminator().to(d.device) if tcfg.gan else None
    opt = _adamw(model.parameters(), tcfg.lr, tcfg.weight_decay, tcfg.betas, d.device)
    opt_d = _adamw(disc.parameters(), tcfg.disc_lr, 0.0, (0.5, 0.999), d.device) if disc is not None else None
    autocast, amp_dtype = autocast_context(tcfg.amp, d.device)
    scaler = torch.amp.GradScaler(d.device.type, enabled=amp_dtype == torch.float16)

    state: dict[str, Any] = dict(step=0, epoch=0, best_psnr=None, bad_epochs=0, bad_steps=0, images_seen=0,
                                 wall_s=0.0)
    if resume:
        state.update(_resume_from(run_dir, model, opt, scaler, disc, opt_d))
        _check_resumed_length(total_steps, state["step"], tcfg)
    if d.main and len(val_set) < FEW_VALIDATION_PHOTOS:
        note(f"validation uses {len(val_set)} photo(s); the best checkpoint and early stopping (after "
             f"{tcfg.patience} epochs without a gain) rest on them. More: --set train.val_fraction=F")
    return _Run(d, run_dir, mcfg, tcfg, train_set, val_set, per_epoch, total_steps, mask_folder, model, disc, opt,
                opt_d, autocast, scaler, state)


@dataclass
class _StepOutput:
    """One step's batch, forward pass and losses (before the update)."""

    images: torch.Tensor  # (B, 3, H, W) the clean photos
    masks: torch.Tensor  # (B, 1, H, W)
    out: Any  # the model's output (InpaintOutput)
    rec: torch.Tensor
    adv: torch.Tensor | None
    d_loss: torch.Tensor | None
    loss: torch.Tensor  # what the generator's update minimises
    lr: float


def _check_resumed_length(total_steps: int, step: int, tcfg: TrainConfig) -> None:
    """A resume told to end before the step the run has reached: refused before config.json records it."""
    if total_steps < step:
        asked = f"--steps {tcfg.steps}" if tcfg.steps is not None else f"--epochs {tcfg.epochs} ({total_steps} steps)"
        raise InpNetError(f"cannot resume: {asked} ends before step {step}, where the run is already; "
                          f"give a longer run to extend it")


def _forward_step(run: _Run, ddp_model: nn.Module, ddp_disc: nn.Module | None, batch: dict[str, torch.Tensor],
                  step: int) -> _StepOutput:
    """Set the step's learning rate, run the model on the batch and compute its losses (with a GAN, the
    discriminator is updated here)."""
    tcfg = run.tcfg
    images, inputs, masks = (batch[k].to(run.d.device, non_blocking=True) for k in ("image", "input", "mask"))
    lr = get_lr(step, run.total_steps, tcfg.warmup_steps, tcfg.lr, tcfg.min_lr)
    for group in run.opt.param_groups:
        group["lr"] = lr
    with run.autocast:
        out = ddp_model(inputs, masks)
        rec = _reconstruction(run.model, run.mcfg, tcfg, out, images, masks)
    adv = d_loss = None
    if ddp_disc is not None:
        adv, d_loss = _adversarial(ddp_disc, run.opt_d, run.scaler, run.autocast, tcfg, out, inputs, images, masks)
    loss = total_generator_loss(rec, adv, tcfg.lambda_rec, tcfg.lambda_gan)
    return _StepOutput(images, masks, out, rec, adv, d_loss, loss, lr)


def _limit_reached(step: int, seconds: float, max_seconds: float | None, stop_at_step: int | None) -> str | None:
    """Why this invocation stops early after `step` steps and `seconds` of its own wall time, if it does."""
    if max_seconds is not None and seconds > max_seconds:
        return f"time limit {max_seconds:.0f}s"
    if stop_at_step is not None and step >= stop_at_step:
        return f"stopped at step {step} as asked"
    return None


def _resolved_configs(run_dir: Path, mcfg: ModelConfig, tcfg: TrainConfig, resume: bool,
                      resume_changes: Collection[str] | None = None) -> tuple[ModelConfig, TrainConfig]:
    """The configs to train with: the run's own on `resume` (with the overrides a resume may change), checked."""
    if resume:
        saved = read_run_config(run_dir)
        mcfg = ModelConfig.from_dict(saved["model"])
        tcfg = TrainConfig.from_dict({**saved.get("train", {}), **_resume_overrides(tcfg, resume_changes)})
    if tcfg.mask_policy not in MASK_POLICIES:
        raise InpNetError(f"unknown mask policy {tcfg.mask_policy!r}; valid: {', '.join(MASK_POLICIES)}")
    validate_ratio(tcfg.mask_ratio)
    for r in tcfg.ratio_range:
        validate_ratio(r)
    return mcfg, tcfg


def _distributed(model: nn.Module, disc: nn.Module | None, d: Dist) -> tuple[nn.Module, nn.Module | None]:
    """The modules the steps call: DistributedDataParallel wrappers with several processes, else themselves."""
    if d.world == 1:
        return model, disc
    ids = [d.device.index] if d.device.type == "cuda" else None
    wrap = lambda m: nn.parallel.DistributedDataParallel(m, device_ids=ids)  # noqa: E731
    return wrap(model), (wrap(disc) if disc is not None else None)


class StepBatches(torch.utils.data.Dataset):
    """Item j = the whole batch of the j-th step from a starting point: {"image": clean photos (B,3,H,W),
    "input": what the model sees (restoration samples degraded), "mask": (B,1,H,W)}.

    The photos of a step are its slice of the epoch's `EpochSampler` order, augmented by the dataset (seeded by
    seed, epoch and index); the masks and degradations come from the step's own generators (`training_masks`,
    `apply_restoration_mix`). So a step's batch depends on (seed, step, epoch, batch in epoch, rank) only, and
    building it in a DataLoader worker gives exactly what the main process would: the workers make masks and
    JPEG round trips in parallel, which a GPU needs (one core builds ~140 images/s at 128 px), and one loader
    spans every epoch, so its workers start once per run instead of once per epoch.
    """

    def __init__(self, train_set, mcfg: ModelConfig, tcfg: TrainConfig, d: Dist, mask_folder,
                 start: tuple[int, int, int], steps: int) -> None:
        self.train_set, self.mcfg, self.tcfg, self.mask_folder = train_set, mcfg, tcfg, mask_folder
        self.rank, self.world, self.steps = d.rank, d.world, steps
        self.step0, epoch0, batch0 = start
        self.per_epoch = batches_per_epoch(len(train_set), d.world, tcfg.batch_size)
        self.first = epoch0 * self.per_epoch + batch0  # the batch index, counted over epochs, of item 0
        self._order: tuple[int, list[int]] = (-1, [])  # (epoch, EpochSampler order) last used

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, j: int) -> dict[str, torch.Tensor]:
        tcfg, batch = self.tcfg, self.tcfg.batch_size
        epoch, k = divmod(self.first + j, self.per_epoch)
        step = self.step0 + j
        if self._order[0] != epoch:  # this process's photo order of the epoch, drawn once per epoch
            self._order = (epoch, list(EpochSampler(len(self.train_set), batch, tcfg.seed, epoch, self.rank,
                                                    self.world)))
        self.train_set.set_epoch(epoch)
        indices = self._order[1][k * batch:(k + 1) * batch]
        images = torch.stack([self.train_set[i]["image"] for i in indices])  # (B, 3, H, W)
        masks = training_masks(tcfg, self.mcfg, batch, step, epoch + k / self.per_epoch, self.rank, self.mask_folder)
        inputs, masks = apply_restoration_mix(images, masks, tcfg.restore_fraction,
                                              step_generator(tcfg.seed + 1, step, self.rank),
                                              tcfg.restore_mix, tcfg.restore_jpeg_quality)
        return {"image": images, "input": inputs, "mask": masks}


def _step_loader(train_set, mcfg: ModelConfig, tcfg: TrainConfig, d: Dist, mask_folder, step: int,
                 total_steps: int, epoch: int, batch_in_epoch: int):
    """The DataLoader of this invocation's steps, from (step, epoch, batch_in_epoch) to `total_steps`."""
    steps = max(0, total_steps - step)
    batches = StepBatches(train_set, mcfg, tcfg, d, mask_folder, (step, epoch, batch_in_epoch), steps)
    return step_loader(batches, tcfg.num_workers, d.device)


def step_loader(batches: StepBatches, workers: int, device: torch.device):
    """A DataLoader over a `StepBatches` (each item already a whole step), built by `workers` processes."""
    return torch.utils.data.DataLoader(
        batches, batch_size=None, shuffle=False, num_workers=workers, worker_init_fn=_training_worker_init,
        prefetch_factor=4 if workers else None, pin_memory=device.type == "cuda",
    )


def _update(loss: torch.Tensor, opt, scaler, model: nn.Module, grad_clip: float) -> torch.Tensor:
    """One optimizer step on `loss` (scaled, unscaled, clipped); returns the gradient norm before clipping."""
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.unscale_(opt)
    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    scaler.step(opt)
    scaler.update()
    return grad_norm


def _skip_non_finite(state: dict[str, Any], loss: torch.Tensor, step: int, opt, logger, bar,
                     max_bad: int) -> str | None:
    """Count a step whose loss is not finite (its update skipped); the stop reason after `max_bad` in a row."""
    state["bad_steps"] += 1
    state["consecutive_bad"] = state.get("consecutive_bad", 0) + 1
    logger.event(step, "bad_step", loss=float(loss.detach()))
    if bar is not None:
        bar.write(f"step {step}: non-finite loss ({float(loss.detach())}); update skipped")
    opt.zero_grad(set_to_none=True)
    if state["consecutive_bad"] >= max_bad:
        return f"{state['consecutive_bad']} non-finite losses in a row"
    return None


def _log_step(logger, step: int, loss, rec, adv, d_loss, lr: float, grad_norm, masks: torch.Tensor,
              images_per_s: float) -> None:
    logger.scalars(step, {
        "loss/total": float(loss.detach()), "loss/rec": float(rec.detach()),
        **({"loss/adv": float(adv.detach()), "loss/disc": float(d_loss.detach())} if adv is not None else {}),
        "lr": lr, "grad_norm": float(grad_norm), "mask/hole_fraction": float(masks.mean()),
        "speed/images_per_s": images_per_s,
    })


def _record_validation(state: dict[str, Any], summary: dict[str, Any], step: int, epoch: int, epoch_done: bool,
                       model: nn.Module, run_dir: Path, logger, d: Dist) -> None:
    """After a validation: the best weights saved when it improved, the log, the epoch counters advanced."""
    if _update_best(state, summary) and d.main:
        save_model(model, run_dir, MODEL_FILE)
    logger.scalars(step, {f"val/{k}": v for k, v in summary.items() if isinstance(v, float)})
    logger.event(step, "validation", epoch=epoch, **{k: v for k, v in summary.items() if k != "per_kind"})
    state["validated_at"] = step
    if epoch_done:
        state["epoch"] = epoch + 1
        state["batch_in_epoch"] = 0


def _save_checkpoint(run_dir: Path, model: nn.Module, opt, scaler, disc: nn.Module | None, opt_d,
                     state: dict[str, Any]) -> None:
    """The last weights and the training state (optimizers, scaler, counters, RNG) of the run; the best
    weights too while there are none yet."""
    save_model(model, run_dir, LAST_FILE)
    ts = dict(optimizer=opt.state_dict(), scaler=scaler.state_dict(), counters=dict(state),
              rng_cpu=torch.get_rng_state())
    if disc is not None:
        ts.update(discriminator=disc.state_dict(), optimizer_d=opt_d.state_dict())
    save_training_state(ts, run_dir)
    if not (run_dir / MODEL_FILE).exists():
        save_model(model, run_dir, MODEL_FILE)


def _datasets(data: Sequence[str], mcfg: ModelConfig, tcfg: TrainConfig):
    """(training set, validation set) of the image folders, split by the file-path hash (data.py). The
    validation photos are checked now: an unreadable one is left out (logged) instead of failing the first
    validation, an epoch into the run; none readable is an error before anything is written."""
    from inpnet.data import ImageFolderDataset

    split = dict(val_fraction=tcfg.val_fraction, val_max=tcfg.val_max, seed=tcfg.seed,
                 test_fraction=tcfg.test_fraction)
    val_set = ImageFolderDataset(data, mcfg.image_size, train=False, split="val", **split)
    val_set.keep_readable()
    return ImageFolderDataset(data, mcfg.image_size, train=True, split="train", **split), val_set


def _initial_model(mcfg: ModelConfig, d: Dist, init_from: str | None, reinit: Sequence[str],
                   init_from_backbone: str | None) -> nn.Module:
    """The model before training: fresh, or from `init_from` weights (with `reinit` modules reset), or with a
    pretrained encoder (`init_from_backbone`)."""
    model = build_model(mcfg).to(d.device)
    if init_from:
        load_weights_into(model, read_state_dict(_weights_file(init_from)), source=str(init_from))
    if reinit:
        names = reinit_parameters(model, mcfg, reinit)
        if d.main:
            print(f"re-initialised {len(names)} tensors under {', '.join(reinit)}")
    if init_from_backbone:
        from inpnet.models.pretrained import load_backbone

        report = load_backbone(model, init_from_backbone)
        if d.main:
            print(f"backbone: {report}")
    return model


def _resume_from(run_dir: Path, model: nn.Module, opt, scaler, disc: nn.Module | None, opt_d) -> dict[str, Any]:
    """Load the last weights and training state of `run_dir` into the given objects; returns the counters."""
    ts = load_training_state(run_dir)
    load_weights_into(model, read_state_dict(run_dir / LAST_FILE), source=str(run_dir / LAST_FILE))
    try:
        opt.load_state_dict(ts["optimizer"])
        if disc is not None and "discriminator" in ts:
            disc.load_state_dict(ts["discriminator"])
            opt_d.load_state_dict(ts["optimizer_d"])
        if "scaler" in ts:
            scaler.load_state_dict(ts["scaler"])
        torch.set_rng_state(ts["rng_cpu"])
        return dict(ts["counters"])
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:  # another run's or a damaged state
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InpNetError(f"cannot resume: the training state in {run_dir} does not fit this run ({first})") from None


def _reconstruction(model: nn.Module, mcfg: ModelConfig, tcfg: TrainConfig, out, images: torch.Tensor,
                    masks: torch.Tensor) -> torch.Tensor:
    """The reconstruction term of one batch (MAE: its own loss on masked patches)."""
    if mcfg.arch == "mae":
        return model.patch_loss(images, masks, out)
    restored = restore_count(tcfg.restore_fraction, images.shape[0])  # the leading samples apply_restoration_mix made
    return mixed_reconstruction_loss(out.prediction.float(), images, masks, restored, tcfg.rec_loss,
                                     tcfg.hole_weight, tcfg.restore_weight)


def _adversarial(disc: nn.Module, opt_d, scaler, autocast, tcfg: TrainConfig, out, inputs: torch.Tensor,
                 images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One discriminator update on detached fakes, then the generator's adversarial term: (adv, d_loss).
    A fake is the composite, or the whole output for a restoration sample (no hole, degraded input)."""
    restored = (masks.flatten(1).amax(1) == 0).view(-1, 1, 1, 1)
    fake = torch.where(restored & (inputs is not images), out.prediction, out.composite)
    with autocast:
        d_loss = discriminator_loss(disc(images).float(), disc(fake.detach()).float(), tcfg.gan_loss)
    if torch.isfinite(d_loss):
        opt_d.zero_grad(set_to_none=True)
        scaler.scale(d_loss).backward()
        scaler.step(opt_d)
    params = list(disc.parameters())
    for p in params:
        p.requires_grad_(False)
    with autocast:
        adv = generator_adv_loss(disc(fake).float(), tcfg.gan_loss)
    for p in params:
        p.requires_grad_(True)
    return adv, d_loss


def _validate(model: nn.Module, val_set, val_masks: list[tuple[str, torch.Tensor]], batch: int, seed: int,
              autocast, device: torch.device) -> dict[str, Any]:
    """Validation summary (MetricAccumulator) on the fixed validation masks; restoration kinds are scored on
    the whole output, inpainting on the composite."""
    from inpnet.eval.metrics import MetricAccumulator, compute_metrics

    acc = MetricAccumulator()
    model.eval()
    with torch.inference_mode(), autocast:
        for i in range(0, len(val_set), batch):
            idx = range(i, min(len(val_set), i + batch))
            images = torch.stack([val_set[j]["image"] for j in idx]).to(device)
            masks = torch.cat([val_masks[j][1] for j in idx]).to(device)
            kinds = [val_masks[j][0] for j in idx]
            out = model(validation_inputs(images, kinds, seed), masks)
            restored = torch.tensor([k in DEGRADATIONS for k in kinds], device=device).view(-1, 1, 1, 1)
            result = torch.where(restored, out.prediction.clamp(0, 1), out.composite)
            metrics = compute_metrics(result.float(), images, masks)
            for k, j in enumerate(idx):
                acc.update({key: v[k : k + 1] for key, v in metrics.items()}, kind=val_masks[j][0])
    model.train()
    return acc.summary()


def _update_best(state: dict[str, Any], summary: dict[str, Any]) -> bool:
    psnr = summary.get("psnr")
    if psnr is None:
        return state["best_psnr"] is None
    if state["best_psnr"] is None or psnr > state["best_psnr"] + 1e-4:
        state["best_psnr"] = psnr
        state["bad_epochs"] = 0
        return True
    state["bad_epochs"] += 1
    return False


def _resume_overrides(tcfg: TrainConfig, changes: Collection[str] | None = None) -> dict[str, Any]:
    """On resume, the saved recipe wins, except the total length and early-stopping patience (to extend a
    run, also one that stopped early) and the worker count — those of them named in `changes` (None: all).
    A new length in steps replaces one in epochs and the other way round."""
    names = set(RESUME_CHANGES if changes is None else changes) & set(RESUME_CHANGES)
    if names & {"steps", "epochs"}:
        names |= {"steps", "epochs"}
    return {name: getattr(tcfg, name) for name in sorted(names)}


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """The run's config.json as {"model": {...}, "train": {...}}; InpNetError when unreadable."""
    path = run_dir / CONFIG_FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InpNetError(f"cannot resume: cannot read {path}: {exc}") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("model"), dict) \
            or not isinstance(saved.get("train", {}), dict):
        raise InpNetError(f"cannot resume: {path} is not a run config (\"model\" and \"train\" objects)")
    return saved


def read_resumable_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The config.json of the run in `run_dir` that `train(resume=True)` would continue, as
    {"model": ..., "train": ..., "data": [...] (runs since 2026-12-01)}; InpNetError when there is none."""
    run_dir = Path(run_dir)
    saved = read_run_config(run_dir) if (run_dir / CONFIG_FILE).is_file() else None  # unreadable: says why
    _check_run_dir(run_dir, resume=True)  # no run, or none checkpointed
    return saved


def _is_run_config(path: Path) -> bool:
    """Whether `path`, a folder's config.json, is a run's (`read_run_config` reads it), not some other program's."""
    try:
        read_run_config(path.parent)
    except InpNetError:
        return False
    return True


def _check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse a missing run (resume) or an existing one (new run) before any work is done."""
    checkpointed = (run_dir / STATE_FILE).exists() or (run_dir / LAST_FILE).exists()
    if resume:
        if not (run_dir / CONFIG_FILE).is_file():
            raise InpNetError(f"cannot resume: {run_dir} is not a run directory (no {CONFIG_FILE})")
        if not _is_run_config(run_dir / CONFIG_FILE):
            raise InpNetError(f"cannot resume: the {CONFIG_FILE} in {run_dir} is not an InP-Net run's")
        if not checkpointed:
            raise InpNetError(f"cannot resume: the run in {run_dir} stopped before its first checkpoint; remove that "
                              f"run's files there ({CONFIG_FILE}, metrics.jsonl, tb/) and start it again")
        return
    if (run_dir / CONFIG_FILE).exists():
        if not _is_run_config(run_dir / CONFIG_FILE):  # the user's own file: not ours to judge, nor to delete
            raise InpNetError(f"{run_dir} holds a {CONFIG_FILE} that is not an InP-Net run's; choose another --out")
        if not checkpointed:
            raise InpNetError(f"{run_dir} holds a run that stopped before its first checkpoint (nothing to resume); "
                              f"choose another --out, or remove that run's files there ({CONFIG_FILE}, metrics.jsonl, "
                              "tb/) to start it again")
        raise InpNetError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    here = run_dir.absolute()
    existing = next(q for q in (here, *here.parents) if q.exists())
    if not existing.is_dir():
        raise InpNetError(f"cannot create run directory {run_dir}: {existing} is not a folder")


def _prepare_run_dir(run_dir: Path, mcfg: ModelConfig, tcfg: TrainConfig, d: Dist, data: Sequence[str]) -> None:
    """Create the run directory and write its config.json (main process), with the data folders (absolute, so
    that `--resume` from anywhere finds them); a resumed run's config is rewritten with what the resume
    changed (length, patience, workers)."""
    if d.main:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InpNetError(f"cannot create run directory {run_dir}: {exc.strerror}") from None
        atomic_write_text(run_dir / CONFIG_FILE,
                          json.dumps({"model": mcfg.to_dict(), "train": tcfg.to_dict(),
                                      "data": [str(Path(folder).absolute()) for folder in data]}, indent=2) + "\n")
    if d.world > 1 and dist.is_initialized():
        dist.barrier()


def _weights_file(path: str) -> Path:
    p = Path(path)
    if p.is_file():
        return p
    if (p / MODEL_FILE).is_file():
        return p / MODEL_FILE
    raise InpNetError(f"--init-from {path}: no {MODEL_FILE} there")


def _adamw(params, lr: float, wd: float, betas, device: torch.device) -> torch.optim.Optimizer:
    """AdamW, fused where this torch build supports it on the device (fewer kernels per step)."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, betas=tuple(betas), fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, betas=tuple(betas))


def _training_worker_init(worker_id: int) -> None:
    """Data workers leave SIGINT / SIGTERM to the main process: a Ctrl-C (sent to the whole process group)
    or a `pkill` then stops training through its checkpointing handler instead of killing a worker."""
    from inpnet.data import worker_init_fn

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    worker_init_fn(worker_id)


def _install_signal_handlers(handler):
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        # outside the main thread (e.g. a web worker) signals cannot be caught: leave them alone
        with contextlib.suppress(ValueError):
            old[sig] = signal.signal(sig, handler)
    return old


def _restore_signal_handlers(old) -> None:
    for sig, h in old.items():
        signal.signal(sig, h)


def _progress_bar(total: int, start: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, unit="step", dynamic_ncols=True, smoothing=0.1)


class RunLogger:
    """TensorBoard scalars and image grids + `metrics.jsonl` for tools (rank 0 only)."""

    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.run_dir = run_dir
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(run_dir / "tb"))
            self.jsonl = open(run_dir / "metrics.jsonl", "a")  # noqa: SIM115 (closed in close())

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled or not values:
            return
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)
        self.jsonl.write(json.dumps({"step": step, "time": time.time(), **values}) + "\n")
        self.jsonl.flush()

    def event(self, step: int, kind: str, **values: Any) -> None:
        if not self.enabled:
            return
        self.jsonl.write(json.dumps({"step": step, "time": time.time(), "event": kind, **values}, default=str) + "\n")
        self.jsonl.flush()

    def images(self, step: int, images: torch.Tensor, masks: torch.Tensor, output: torch.Tensor, n: int = 4) -> None:
        if not self.enabled:
            return
        from torchvision.utils import make_grid

        k = min(n, images.shape[0])
        holed = images[:k] * (1 - masks[:k]) + masks[:k] * torch.tensor([1.0, 1.0, 1.0]).view(1, 3, 1, 1)
        grid = make_grid(torch.cat([holed, output[:k].clamp(0, 1), images[:k]]).cpu(), nrow=k)
        self.writer.add_image("input_output_target", grid, step)

    def close(self) -> None:
        if self.enabled:
            self.writer.close()
            self.jsonl.close()
