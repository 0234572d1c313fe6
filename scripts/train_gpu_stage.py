"""Continue the release model on one lent GPU for a fixed wall-clock budget (stages 8 and 9 of the release weights).

The same model and recipe pieces as `inpnet train` (the dataset and its augmentation, `inpnet.train.StepBatches`
— whole steps, masks and degradations included, built by DataLoader workers —, the reconstruction loss,
validation), with what a lent machine of unknown speed needs:

- batches travel from the workers as uint8 (the photos are 8-bit anyway), a quarter of float32's bytes;
- the learning rate follows warmup + cosine over *wall-clock time* (`--seconds`), since the step rate of a
  lent machine is not known in advance; validation every `--val-every` seconds on the fixed validation
  masks keeps the best weights (`model.safetensors`) and the last (`model-last.safetensors`), both in fp16
  (the shipped storage; a file comes back from a lent machine at 16 MiB at most);
- bf16 autocast (the harmonic prefill runs in float32 whatever the autocast state).

`--adversarial LAMBDA` adds the adversarial term to the main model (issue 14's lever that needs more images than a
CPU session gives: an 80-minute CPU test of it on cached features, docs/results.md section 3, drew a grid lattice,
then a uniform grain): a PatchGAN (`inpnet.models.discriminator`) on (image, hole mask), hinge loss, on the
inpainting samples' composites; the generator's term is hinge + the discriminator's feature matching, weighted by
VQGAN's adaptive weight times LAMBDA (0.3 = a pull on the decoder's last layer of 0.3 times the reconstruction's),
after `--disc-warmup` steps of the discriminator alone. Validation PSNR cannot choose among such weights (the
term trades it for detail), so every validation also writes a snapshot `model-step{N}.safetensors` (fp16) to be
judged afterwards by hole PSNR and texture on the test photos (`inpnet ablate --native`) and by looking; the
discriminator is written at the end (`discriminator.safetensors`).

`--light-decoder C1 C2 C3` trains a second model on the same batches beside the first (one data pipeline for
both): the same config with those decoder channels, initialised from `--init` wherever a tensor's shape still
matches (patch embedding, encoder, fill block, decoder stem and pixel path) and freshly elsewhere, written to
`--light-out`. Its purpose: a decoder whose fixed cost is a third of the default's, for the real-time path.

Output: a run folder that `inpnet ablate --runs` and scripts/ship_weights.py read (config.json with the model
and train sections, the weights, metrics.jsonl). Not reproducible step for step (the schedule follows the
clock); the seeds fix each step's photos, augmentations, masks and degradations. (Stage 8 ran an earlier copy
of this script, whose own step batches drew each epoch's order from another permutation seed; it was folded
into `inpnet.train.StepBatches` the same day.)

    PYTHONPATH=src python scripts/train_gpu_stage.py --data PHOTOS --init weights/inpnet-skip-recon-128 \\
        --recipe docs/release-native/stage7-config.json --out RUN --seconds 420 [--adversarial 0.3]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import torch
from safetensors.torch import save_file

from inpnet.checkpoint import LAST_FILE, MODEL_FILE, load_weights_into, read_state_dict, save_model
from inpnet.config import ModelConfig, TrainConfig
from inpnet.fileio import atomic_write_text
from inpnet.losses import adaptive_weight, discriminator_loss, feature_matching_loss, generator_adv_loss
from inpnet.models import build_model
from inpnet.models.discriminator import PatchDiscriminator
from inpnet.train import (
    Dist,
    StepBatches,
    _adamw,
    _datasets,
    _reconstruction,
    _update,
    _validate,
    autocast_context,
    cosine_lr,
    restore_count,
    step_loader,
    validation_masks,
)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


class Uint8StepBatches(StepBatches):
    """`StepBatches` as (clean photos (B,3,H,W), degraded inputs of the k leading restoration samples (k,3,H,W),
    masks (B,1,H,W)), all uint8."""

    def __getitem__(self, j: int):
        batch = super().__getitem__(j)
        restored = restore_count(self.tcfg.restore_fraction, self.tcfg.batch_size)
        return to_uint8(batch["image"]), to_uint8(batch["input"][:restored]), batch["mask"].to(torch.uint8)


def learning_rate(progress: float, step: int, warmup: int, peak: float, floor: float) -> float:
    """Linear warmup over `warmup` steps, then cosine from `peak` to `floor` over the time budget (0..1)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return cosine_lr(min(1.0, progress), peak, floor)


def on_device(batch, device: torch.device):
    """(images, inputs, masks) float on the device from a StepBatches item."""
    images8, restored8, masks8 = (t.to(device, non_blocking=True) for t in batch)
    images = images8.float() / 255
    inputs = images.clone()
    inputs[: restored8.shape[0]] = restored8.float() / 255
    return images, inputs, masks8.float()


@dataclass
class Trainee:
    """One model being trained: its optimizer, run folder, metrics log and best validation PSNR so far."""

    name: str
    mcfg: ModelConfig
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    out: Path
    log: IO[str]
    best: float | None = None


def load_matching(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Load every tensor of `state` whose name and shape the model shares; return the names left as initialised."""
    own = model.state_dict()
    kept = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    model.load_state_dict(kept, strict=False)
    return sorted(set(own) - set(kept))


def make_trainee(name: str, mcfg: ModelConfig, tcfg: TrainConfig, init: Path, out: Path, device: torch.device,
                 run_args: dict, partial: bool = False) -> Trainee:
    """Build, initialise from `init` (strictly, or where shapes match with `partial`) and open the run folder."""
    model = build_model(mcfg).to(device)
    state = read_state_dict(init / MODEL_FILE)
    if partial:
        fresh = load_matching(model, state)
        print(f"{name}: {len(fresh)} tensors freshly initialised, e.g. {fresh[:3]}", flush=True)
    else:
        load_weights_into(model, state, source=str(init))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "config.json", json.dumps({"model": mcfg.to_dict(), "train": tcfg.to_dict(),
                                                        "gpu_stage": run_args}, indent=2))
    opt = _adamw(model.parameters(), tcfg.lr, tcfg.weight_decay, tcfg.betas, device)
    return Trainee(name, mcfg, model, opt, out, (out / "metrics.jsonl").open("a"))


@dataclass
class Adversary:
    """The adversarial term of `--adversarial` (module docstring): a PatchGAN on (image, hole mask)."""

    disc: PatchDiscriminator
    opt: torch.optim.Optimizer
    weight: float  # λ: the term's pull on the generator's last layer, as a fraction of the reconstruction's
    warmup: int  # steps of the discriminator alone before the generator feels it
    lr: float  # the discriminator's peak learning rate (it follows the generator's schedule, scaled)


def make_adversary(weight: float, warmup: int, lr: float, device: torch.device) -> Adversary:
    disc = PatchDiscriminator(in_chans=4).to(device)  # RGB + the hole mask: D knows where the fill is
    return Adversary(disc, torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.9)), weight, warmup, lr)


def adversarial_term(a: Adversary, model: torch.nn.Module, composite: torch.Tensor, images: torch.Tensor,
                     masks: torch.Tensor, rec: torch.Tensor, step: int, lr_scale: float, autocast) -> tuple:
    """One discriminator update on the inpainting samples (restoration samples have no hole), then the
    generator's term: (λ · w · (hinge + feature matching), logged stats). composite, images (B,3,H,W); masks
    (B,1,H,W); rec: the reconstruction loss, with its graph (the adaptive weight w needs it)."""
    holes = masks.flatten(1).amax(1) > 0
    if not holes.any():
        return torch.zeros((), device=rec.device), {}
    fake = torch.cat([composite[holes], masks[holes]], 1)  # (n, 4, H, W)
    real = torch.cat([images[holes], masks[holes]], 1)
    for group in a.opt.param_groups:
        group["lr"] = a.lr * lr_scale
    with autocast:
        d_loss = discriminator_loss(a.disc(real).float(), a.disc(fake.detach()).float(), "hinge")
    if torch.isfinite(d_loss):
        a.opt.zero_grad(set_to_none=True)
        d_loss.backward()
        a.opt.step()
    stats = {"d_loss": float(d_loss.detach())}
    if step < a.warmup:
        return torch.zeros((), device=rec.device), stats
    for p in a.disc.parameters():
        p.requires_grad_(False)
    with autocast:
        fake_logits, fake_features = a.disc.forward_features(fake)
        with torch.no_grad():
            _, real_features = a.disc.forward_features(real)
    adv = generator_adv_loss(fake_logits.float(), "hinge") + feature_matching_loss(
        [f.float() for f in fake_features], [r.float() for r in real_features])
    for p in a.disc.parameters():
        p.requires_grad_(True)
    w = adaptive_weight(rec, adv, model.decoder.head.weight)
    return a.weight * w * adv, stats | {"adv": float(adv.detach()), "adaptive_weight": float(w)}


def train_step(t: Trainee, images: torch.Tensor, inputs: torch.Tensor, masks: torch.Tensor, lr: float,
               tcfg: TrainConfig, autocast, scaler, adversary: Adversary | None = None,
               step: int = 0) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """One optimizer step of one model on the shared batch: (loss, gradient norm before clipping, adversarial
    stats; empty without an adversary)."""
    for group in t.opt.param_groups:
        group["lr"] = lr
    with autocast:
        result = t.model(inputs, masks)
        loss = _reconstruction(t.model, t.mcfg, tcfg, result, images, masks)
    stats: dict = {}
    if adversary is not None:
        term, stats = adversarial_term(adversary, t.model, result.composite, images, masks, loss, step,
                                       lr / tcfg.lr, autocast)
        loss = loss + term
    return loss, _update(loss, t.opt, scaler, t.model, tcfg.grad_clip), stats


def log_row(t: Trainee, row: dict) -> None:
    t.log.write(json.dumps(row, default=str) + "\n")
    t.log.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True, help="photo folders (relative paths define the split)")
    parser.add_argument("--init", required=True, help="weights folder to continue (its config.json is the model)")
    parser.add_argument("--recipe", required=True, help="a run config.json whose train section is the recipe")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=float, default=420.0, help="training time (the schedule's length)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--min-lr", type=float, default=1e-5)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--workers", type=int, default=14)
    parser.add_argument("--val-every", type=float, default=60.0, help="seconds between validations")
    parser.add_argument("--amp", default="bf16", choices=["bf16", "off"])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--light-decoder", type=int, nargs="+", help="also train this decoder (channels per stage)")
    parser.add_argument("--light-out", help="run folder of the --light-decoder model")
    parser.add_argument("--adversarial", type=float, default=0.0, metavar="LAMBDA",
                        help="add the adversarial term at this adaptive weight (0: none)")
    parser.add_argument("--disc-warmup", type=int, default=300, help="steps of the discriminator alone")
    parser.add_argument("--disc-lr", type=float, default=2e-4)
    args = parser.parse_args()
    if args.light_decoder and not args.light_out:
        parser.error("--light-decoder needs --light-out")
    if args.adversarial < 0 or (args.adversarial and args.light_decoder):
        parser.error("--adversarial takes a weight >= 0 and trains the main model only (not with --light-decoder)")

    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    init = Path(args.init)
    mcfg = ModelConfig.load(init / "config.json")
    recipe = json.loads(Path(args.recipe).read_text())["train"]
    recipe.update(batch_size=args.batch_size, lr=args.lr, min_lr=args.min_lr, warmup_steps=args.warmup,
                  seed=args.seed, amp=args.amp, steps=None, num_workers=args.workers)
    tcfg = TrainConfig.from_dict(recipe)
    train_set, val_set = _datasets(args.data, mcfg, tcfg)
    print(f"{len(train_set)} training photos, {len(val_set)} validation photos", flush=True)

    trainees = [make_trainee("main", mcfg, tcfg, init, Path(args.out), device, vars(args))]
    if args.light_decoder:
        light_cfg = mcfg.replace(decoder_channels=list(args.light_decoder))
        trainees.append(make_trainee("light", light_cfg, tcfg, init, Path(args.light_out), device, vars(args),
                                     partial=True))
    adversary = make_adversary(args.adversarial, args.disc_warmup, args.disc_lr, device) if args.adversarial else None
    autocast, _ = autocast_context(tcfg.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    val_masks = validation_masks(mcfg, len(val_set), tcfg.seed, restore=tcfg.restore_fraction > 0)

    def validate_and_keep_best(t: Trainee, step: int) -> None:
        """Validate (the model is back in training mode after), log it, save the weights when they are the best."""
        summary = _validate(t.model, val_set, val_masks, 64, tcfg.seed, autocast, device)
        log_row(t, {"step": step, "time": time.time(), "event": "validation",
                    **{k: v for k, v in summary.items() if k != "per_kind"}})
        print(f"{t.name} step {step}: validation psnr {summary['psnr']:.3f} hole {summary['psnr_hole']:.3f}",
              flush=True)
        if t.best is None or summary["psnr"] > t.best:
            t.best = summary["psnr"]
            save_model(t.model, t.out, MODEL_FILE, dtype=torch.float16)
        if adversary is not None and t.name == "main":  # PSNR cannot choose: keep each for judging
            save_model(t.model, t.out, f"model-step{step:06d}.safetensors", dtype=torch.float16)

    for t in trainees:
        validate_and_keep_best(t, 0)  # the starting point, in this run's own terms
    # one loader for the whole run: its workers start once; every model trains on the same batches
    loader = step_loader(Uint8StepBatches(train_set, mcfg, tcfg, Dist(), None, (0, 0, 0), steps=10**7),
                         args.workers, device)
    start = last_val = time.time()
    step, wait = 0, 0.0
    t_ready = time.time()
    for batch in loader:
        wait += time.time() - t_ready
        progress = (time.time() - start) / args.seconds
        if progress >= 1.0:
            break
        lr = learning_rate(progress, step, args.warmup, args.lr, args.min_lr)
        images, inputs, masks = on_device(batch, device)
        stats = [train_step(t, images, inputs, masks, lr, tcfg, autocast, scaler,
                            adversary if t.name == "main" else None, step) for t in trainees]
        step += 1
        if step % 100 == 0:
            elapsed = time.time() - start
            for t, (loss, grad_norm, adv_stats) in zip(trainees, stats):
                row = {"step": step, "time": time.time(), "loss": float(loss.detach()), "lr": lr,
                       "grad_norm": float(grad_norm), "images_per_s": step * tcfg.batch_size / elapsed,
                       "data_wait_s": wait, **adv_stats}
                log_row(t, row)
                print(t.name, json.dumps(row), flush=True)
        if time.time() - last_val >= args.val_every:
            for t in trainees:
                validate_and_keep_best(t, step)
            last_val = time.time()
        t_ready = time.time()
    for t in trainees:
        save_model(t.model, t.out, LAST_FILE, dtype=torch.float16)
        validate_and_keep_best(t, step)
        print(f"{t.name} done: {step} steps, {step * tcfg.batch_size} images in {time.time() - start:.0f} s; "
              f"best {t.best:.3f}", flush=True)
    if adversary is not None:
        state = {k: v.detach().float().contiguous().cpu() for k, v in adversary.disc.state_dict().items()}
        save_file(state, str(Path(args.out) / "discriminator.safetensors"))


if __name__ == "__main__":
    main()
