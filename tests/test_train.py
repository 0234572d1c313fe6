"""The training loop: learning, run directory, TensorBoard, exact resume, NaN guard, GAN, DDP, signals."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import timm
import torch

import inpnet.train as train_module
from inpnet import InpNetError
from inpnet.checkpoint import LAST_FILE, MODEL_FILE, read_state_dict
from inpnet.cli import main
from inpnet.config import ModelConfig, TrainConfig
from inpnet.models.discriminator import PatchDiscriminator
from inpnet.models.mae import MAE, patchify
from inpnet.train import EpochSampler, get_lr, train

NANO = dict(image_size=32)


def configs(variant="skip-recon", **train_over):
    mcfg = ModelConfig.from_name(variant, preset="nano", **NANO)
    values = dict(batch_size=4, steps=12, warmup_steps=2, val_fraction=0.2, val_max=4, log_every=1, image_every=5,
                  ckpt_every_s=1e9, lr=3e-3)
    values.update(train_over)
    return mcfg, TrainConfig.for_variant(variant, **values)


def read_jsonl(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_get_lr_warms_up_then_decays_to_min():
    assert get_lr(0, 100, 10, 1e-3, 1e-5) == pytest.approx(1e-4)
    assert get_lr(9, 100, 10, 1e-3, 1e-5) == pytest.approx(1e-3)
    assert get_lr(100, 100, 10, 1e-3, 1e-5) == pytest.approx(1e-5)
    assert get_lr(55, 100, 10, 1e-3, 1e-5) == pytest.approx(0.5 * (1e-3 + 1e-5))


def test_the_warm_up_takes_at_most_a_tenth_of_a_short_run():
    """Review 10: 100 steps of warm-up in a 60-step run never reached the peak rate, nor decayed."""
    assert get_lr(5, 60, 100, 1e-3, 1e-5) == pytest.approx(1e-3)  # warmed up after 6 steps (a tenth)
    assert get_lr(59, 60, 100, 1e-3, 1e-5) < 2e-5  # and decayed by the end
    assert get_lr(0, 10_000, 100, 1e-3, 1e-5) == pytest.approx(1e-5)  # a long run keeps its 100 steps


def test_epoch_sampler_splits_ranks_and_resumes_mid_epoch():
    full = list(EpochSampler(20, 4, seed=1, epoch=0, rank=0, world=1))
    assert sorted(full) == list(range(20))
    assert list(EpochSampler(20, 4, 1, 0, 0, 1, start_batch=2)) == full[8:]
    r0 = list(EpochSampler(20, 4, 1, 0, 0, 2))
    r1 = list(EpochSampler(20, 4, 1, 0, 1, 2))
    assert len(r0) == len(r1) == 8 and not set(r0) & set(r1)


def test_training_lowers_the_loss_and_writes_the_run_directory(photos, tmp_path):
    mcfg, tcfg = configs(steps=30)
    result = train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert result.step == 30 and result.stopped_because == "done"
    for name in ("config.json", MODEL_FILE, LAST_FILE, "training_state.pt", "metrics.jsonl"):
        assert (run / name).is_file(), name
    rows = [r for r in read_jsonl(run) if "loss/rec" in r]
    first = sum(r["loss/rec"] for r in rows[:5]) / 5
    last = sum(r["loss/rec"] for r in rows[-5:]) / 5
    assert last < 0.7 * first
    assert any(r.get("event") == "validation" and r["psnr"] > 0 for r in read_jsonl(run))


def test_tensorboard_event_files_hold_the_scalars_and_images(photos, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    mcfg, tcfg = configs(steps=6)
    train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    acc = EventAccumulator(str(tmp_path / "run" / "tb"))
    acc.Reload()
    tags = acc.Tags()
    assert {"loss/total", "loss/rec", "lr", "mask/hole_fraction", "val/psnr"} <= set(tags["scalars"])
    assert "input_output_target" in tags["images"]


def test_resume_continues_exactly(photos, tmp_path):
    mcfg, tcfg = configs(steps=10)
    train(mcfg, tcfg, [str(photos)], tmp_path / "straight", progress=False)
    result = train(mcfg, tcfg, [str(photos)], tmp_path / "split", progress=False, stop_at_step=4)
    assert result.step == 4
    train(mcfg, tcfg, [str(photos)], tmp_path / "split", resume=True, progress=False)
    a = read_state_dict(tmp_path / "straight" / LAST_FILE)
    b = read_state_dict(tmp_path / "split" / LAST_FILE)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_stop_at_an_epochs_end_validates_there_so_a_resumed_run_validates_at_the_same_steps(photos, tmp_path):
    mcfg, tcfg = configs(steps=12)
    whole = train(mcfg, tcfg, [str(photos)], tmp_path / "straight", progress=False)
    straight = [(r["step"], r["psnr"]) for r in read_jsonl(tmp_path / "straight") if r.get("event") == "validation"]
    per_epoch = straight[0][0]
    assert per_epoch < 12 and len(straight) >= 2
    train(mcfg, tcfg, [str(photos)], tmp_path / "split", progress=False, stop_at_step=per_epoch)
    result = train(mcfg, tcfg, [str(photos)], tmp_path / "split", resume=True, progress=False)
    split = [(r["step"], r["psnr"]) for r in read_jsonl(tmp_path / "split") if r.get("event") == "validation"]
    assert split == straight and result.epoch == whole.epoch
    with pytest.raises(InpNetError, match="--stop-at-step 5: the run is already at step 12"):
        train(mcfg, tcfg, [str(photos)], tmp_path / "split", resume=True, progress=False, stop_at_step=5)


def test_a_time_limit_ends_the_invocation_with_a_checkpoint_that_resumes(photos, tmp_path):
    mcfg, tcfg = configs(steps=6)
    result = train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False, max_seconds=0.0)
    assert (result.step, result.stopped_because) == (1, "time limit 0s")  # one step, then the limit
    events = [r for r in read_jsonl(tmp_path / "run") if r.get("event") == "stopped"]
    assert events and events[-1]["reason"] == "time limit 0s"
    assert train(mcfg, tcfg, [str(photos)], tmp_path / "run", resume=True, progress=False).step == 6


def test_workers_build_the_same_steps_as_the_main_process(photos, tmp_path):
    """Whole steps (photos, masks, restoration degradations) built in DataLoader workers (StepBatches): the same
    weights and validations as without workers, across a mid-epoch resume and a mid-epoch end of schedule."""
    runs = {}
    for workers in (0, 2):
        mcfg, tcfg = configs(steps=11, num_workers=workers, restore_fraction=0.5, restore_weight=4,
                             ratio_range=[0.1, 0.9])
        run = tmp_path / f"w{workers}"
        train(mcfg, tcfg, [str(photos)], run, progress=False, stop_at_step=6)
        result = train(mcfg, tcfg, [str(photos)], run, resume=True, progress=False)
        assert result.step == 11
        runs[workers] = (read_state_dict(run / LAST_FILE),
                         [(r["step"], r["psnr"]) for r in read_jsonl(run) if r.get("event") == "validation"])
    (a, val_a), (b, val_b) = runs[0], runs[2]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert val_a == val_b and val_a[-1][0] == 11  # the last validation: the schedule's end, mid-epoch


def test_a_command_line_resume_keeps_the_runs_length_and_patience_unless_told(photos, tmp_path, capsys):
    from inpnet.cli import main

    run = tmp_path / "run"
    base = ["train", "--variant", "skip-recon", "--preset", "nano", "--image-size", "32", "--batch-size", "4",
            "--data", str(photos), "--out", str(run), "--no-progress"]
    assert main([*base, "--steps", "6", "--set", "patience=1000", "val_fraction=0.2", "--stop-at-step", "2"]) == 0
    assert main([*base, "--resume", "--lr", "0.5"]) == 0  # no --steps, no patience: the run's own are kept
    out = capsys.readouterr()
    assert "step 6," in out.out and "ignored: lr" in out.err
    saved = json.loads((run / "config.json").read_text())["train"]
    assert (saved["steps"], saved["patience"], saved["lr"]) == (6, 1000, TrainConfig.for_variant("skip-recon").lr)
    assert main([*base, "--resume", "--steps", "8"]) == 0  # given: a longer run
    assert "step 8," in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 8
    other = [a if a != "skip-recon" else "random-recon" for a in base]  # review 10: another variant, no word
    assert main([*other, "--resume"]) == 0
    assert "ignored: --variant random-recon (the run is skip-recon)" in capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["model"]["variant"] == "skip-recon"


def test_resuming_a_finished_run_adds_nothing_and_a_shorter_length_is_refused(photos, tmp_path, capsys):
    """Review 10: each resume of a finished run added a validation at its last step to metrics.jsonl, and a
    --steps below the run's step was written into its config.json; the summary's epoch was one above the
    last validation's (0-based) epoch, and a one-photo validation split stopped runs early without a word."""
    from inpnet.cli import main

    run = tmp_path / "run"
    base = ["train", "--variant", "skip-recon", "--preset", "nano", "--image-size", "32", "--batch-size", "4",
            "--data", str(photos), "--out", str(run), "--no-progress"]
    assert main([*base, "--steps", "6", "--set", "val_fraction=0.1", "val_max=1"]) == 0
    out = capsys.readouterr()
    assert "inpnet train: note: validation uses 1 photo(s); the best checkpoint and early stopping" in out.err
    validations = [r for r in read_jsonl(run) if r.get("event") == "validation"]
    epoch_ends = [v for v in validations if v["step"] % validations[0]["step"] == 0]  # the first ends epoch 0
    assert len(epoch_ends) < len(validations)  # the schedule ended mid-epoch: that epoch is not done
    assert f"step 6, {len(epoch_ends)} epoch(s) done," in out.out
    rows = read_jsonl(run)
    assert main([*base, "--resume"]) == 0 and main([*base, "--resume"]) == 0
    assert read_jsonl(run) == rows  # nothing to do, nothing logged twice
    # review 11: --resume required --variant and --data, then ignored them; the run records its data folders
    assert json.loads((run / "config.json").read_text())["data"] == [str(photos.absolute())]
    assert main(["train", "--out", str(run), "--resume", "--steps", "7", "--no-progress"]) == 0
    assert "step 7," in capsys.readouterr().out
    config = (run / "config.json").read_text()
    assert main([*base, "--resume", "--steps", "4"]) == 2
    assert "cannot resume: --steps 4 ends before step 7, where the run is already" in capsys.readouterr().err
    assert (run / "config.json").read_text() == config


def test_an_unreadable_validation_photo_is_left_out_at_the_start_and_none_readable_fails_before_writing(photos,
                                                                                                      tmp_path):
    from inpnet.data import ImageFolderDataset

    mcfg, tcfg = configs(steps=2, val_fraction=0.3)
    val = ImageFolderDataset([str(photos)], mcfg.image_size, train=False, split="val", val_fraction=0.3)
    assert len(val) >= 2
    val.files[0].write_bytes(b"not an image")  # one of the validation photos breaks
    result = train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    assert result.step == 2 and result.best_psnr is not None  # validated on the others
    for path in val.files:
        path.write_bytes(b"not an image")
    with pytest.raises(InpNetError, match="none of the .* images of the 'val' split could be read"):
        train(mcfg, tcfg, [str(photos)], tmp_path / "again", progress=False)
    assert not (tmp_path / "again").exists()  # nothing written: the same command works once the photos do


def test_a_run_that_stopped_before_its_first_checkpoint_says_so(photos, tmp_path):
    mcfg, tcfg = configs(steps=2)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text('{"model": {}, "train": {}}')  # a run that failed in its first epoch
    with pytest.raises(InpNetError, match="stopped before its first checkpoint; remove that run's files there"):
        train(mcfg, tcfg, [str(photos)], tmp_path / "run", resume=True, progress=False)
    with pytest.raises(InpNetError, match="stopped before its first checkpoint .nothing to resume.; choose another "
                                          "--out, or remove that run's files there"):
        train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    (tmp_path / "mine").mkdir()  # review 10: a folder of the user's own, whose config.json is another program's
    (tmp_path / "mine" / "config.json").write_text('{"camera": "settings"}')
    with pytest.raises(InpNetError, match="holds a config.json that is not an InP-Net run's; choose another --out"):
        train(mcfg, tcfg, [str(photos)], tmp_path / "mine", progress=False)
    with pytest.raises(InpNetError, match="cannot resume: the config.json in .* is not an InP-Net run's"):
        train(mcfg, tcfg, [str(photos)], tmp_path / "mine", resume=True, progress=False)
    assert (tmp_path / "mine" / "config.json").read_text() == '{"camera": "settings"}'


def test_early_stopping_then_resume_with_more_patience(photos, tmp_path):
    # lr 1e-30 (updates below float32 resolution) and GroupNorm (no running statistics): the weights never
    # change, so validation never improves
    mcfg = ModelConfig.from_name("skip-recon", preset="nano", decoder_norm="group", **NANO)
    _, tcfg = configs(steps=400, lr=1e-30, patience=1)
    first = train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    assert first.stopped_because.startswith("early stopping") and first.epoch == 2  # best at 1, no gain at 2
    _, more_patience = configs(steps=400, lr=1e-30, patience=3)
    second = train(mcfg, more_patience, [str(photos)], tmp_path / "run", resume=True, progress=False)
    assert second.stopped_because.startswith("early stopping") and second.epoch == 4  # 1 bad epoch + 2 more
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["patience"] == 3


def test_gan_variant_steps_the_discriminator_and_gives_the_generator_an_adversarial_gradient(
        photos, tmp_path, monkeypatch):
    initial: dict[str, torch.Tensor] = {}

    class RecordedDiscriminator(PatchDiscriminator):  # remembers its initial parameters
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            initial.update({k: v.detach().clone() for k, v in self.named_parameters() if v.ndim > 1})

    monkeypatch.setattr(train_module, "PatchDiscriminator", RecordedDiscriminator)
    # λ_rec = 0: every gradient the generator gets comes through the discriminator
    mcfg, tcfg = configs("skip-gan", steps=4, lambda_rec=0.0, lambda_gan=1.0)
    train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    rows = [r for r in read_jsonl(tmp_path / "run") if "loss/adv" in r]
    assert len(rows) == 4
    for r in rows:
        assert r["loss/total"] == pytest.approx(r["loss/adv"])  # λ_rec·rec + λ_gan·adv with (0, 1)
        assert r["grad_norm"] > 0  # the generator learns from D alone
        assert math.isfinite(r["loss/disc"]) and r["loss/disc"] >= 0  # hinge: >= 0
    state = torch.load(tmp_path / "run" / "training_state.pt", weights_only=True)
    assert "optimizer_d" in state
    unchanged = [k for k in initial if torch.equal(state["discriminator"][k], initial[k])]
    # D was stepped: all its weights moved (biases are left out: with the hinge loss the last bias's gradient
    # is -1 + 1 = 0 while every logit lies in (-1, 1))
    assert len(initial) >= 4 and not unchanged


def test_mae_training_loss_ignores_the_visible_patches(photos, tmp_path, monkeypatch):
    real_forward = MAE.forward
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []  # (d loss / d prediction, token mask) per step

    def forward_recording_gradients(self, images, mask):
        out = real_forward(self, images, mask)
        if out.prediction.requires_grad:  # training steps, not validation
            out.prediction.register_hook(lambda grad: seen.append((grad.detach(), out.token_mask)))
        return out

    monkeypatch.setattr(MAE, "forward", forward_recording_gradients)
    mcfg, tcfg = configs("mae", steps=3)
    result = train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    assert result.step == 3 and len(seen) == 3
    for grad, token_mask in seen:
        grad_per_patch = patchify(grad, 8).abs().amax(dim=-1)  # (B, L)
        assert token_mask.any() and (~token_mask).any()
        assert torch.all(grad_per_patch[~token_mask] == 0)  # visible patches: no gradient at all
        assert torch.all(grad_per_patch[token_mask] > 0)  # every masked patch is learnt from


@pytest.mark.fault
def test_nan_guard_skips_bad_steps_and_stops_after_repeated_ones(photos, tmp_path, monkeypatch):
    real = train_module.mixed_reconstruction_loss
    calls = {"n": 0}

    def sometimes_inf(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("inf") if calls["n"] in (2, 3) else loss

    monkeypatch.setattr(train_module, "mixed_reconstruction_loss", sometimes_inf)
    mcfg, tcfg = configs(steps=6)
    result = train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    assert result.bad_steps == 2 and result.step == 6
    assert all(torch.isfinite(v).all() for v in read_state_dict(tmp_path / "run" / LAST_FILE).values())

    monkeypatch.setattr(train_module, "mixed_reconstruction_loss", lambda *a, **k: torch.tensor(float("nan")))
    mcfg, tcfg = configs(steps=50, max_bad_steps=3)
    with pytest.raises(InpNetError, match="3 non-finite losses in a row"):
        train(mcfg, tcfg, [str(photos)], tmp_path / "run2", progress=False)
    assert (tmp_path / "run2" / "training_state.pt").is_file()


def test_existing_run_is_not_overwritten_and_bad_resume_is_clear(photos, tmp_path):
    mcfg, tcfg = configs(steps=2)
    train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    with pytest.raises(InpNetError, match="already holds a run; pass --resume"):
        train(mcfg, tcfg, [str(photos)], tmp_path / "run", progress=False)
    with pytest.raises(InpNetError, match="not a run directory"):
        train(mcfg, tcfg, [str(photos)], tmp_path / "nothing", resume=True, progress=False)


def test_init_from_checks_the_config(photos, tmp_path):
    mcfg, tcfg = configs(steps=2)
    train(mcfg, tcfg, [str(photos)], tmp_path / "a", progress=False)
    train(mcfg, tcfg, [str(photos)], tmp_path / "b", init_from=str(tmp_path / "a"), progress=False)
    other = ModelConfig.from_name("skip-recon", preset="nano", image_size=32, embed_dim=64, num_heads=2)
    with pytest.raises(InpNetError, match="does not match this model config"):
        train(other, tcfg, [str(photos)], tmp_path / "c", init_from=str(tmp_path / "a"), progress=False)


def test_cli_train_with_overrides(photos, tmp_path, capsys):
    rc = main(["train", "--variant", "dynamic-recon", "--preset", "nano", "--data", str(photos), "--image-size", "32",
               "--steps", "3", "--batch-size", "4", "--out", str(tmp_path / "run"), "--no-progress",
               "--set", "val_fraction=0.2", "model.in_chans=4", "token_threshold=0.5", "rec_loss=weighted"])
    assert rc == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"]["in_chans"] == 4 and saved["train"]["rec_loss"] == "weighted"
    assert "step 3" in capsys.readouterr().out


def test_cli_train_bad_ratio_and_empty_folder_are_one_line_errors(tmp_path, photos, capsys):
    (tmp_path / "empty").mkdir()
    rc = main(["train", "--variant", "skip-recon", "--preset", "nano", "--data", str(tmp_path / "empty"),
               "--steps", "1", "--out", str(tmp_path / "r1"), "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no images found" in err[0]
    rc = main(["train", "--variant", "random-recon", "--preset", "nano", "--data", str(photos), "--image-size", "32",
               "--steps", "1", "--out", str(tmp_path / "r2"), "--no-progress", "--set", "mask_ratio=1.5"])
    assert rc == 2 and "mask ratio must be in [0, 0.9], got 1.5" in capsys.readouterr().err


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def _train_cmd(photos: Path, out: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "inpnet", "train", "--variant", "skip-recon", "--preset", "nano", "--data",
            str(photos), "--image-size", "32", "--steps", str(steps), "--batch-size", "4", "--out", str(out),
            "--no-progress", "--set", "val_fraction=0.2", "ckpt_every_steps=2", *extra]


def _wait_for_step(run: Path, step: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (run / "training_state.pt").exists():
            try:
                state = torch.load(run / "training_state.pt", weights_only=True)
                if state["counters"]["step"] >= step:
                    return
            except Exception:  # being replaced right now: try again
                pass
        if proc.poll() is not None:
            raise AssertionError(f"training ended early with {proc.returncode}")
        time.sleep(0.2)
    raise AssertionError("training did not reach the step in time")


@pytest.mark.fault
def test_sigkill_mid_run_then_resume_finishes_a_valid_run(photos, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(_train_cmd(photos, run, 400), env=_env(), stderr=subprocess.PIPE)
    try:
        _wait_for_step(run, 4, proc)
    finally:
        proc.kill()
        proc.wait()
    state = torch.load(run / "training_state.pt", weights_only=True)
    done = state["counters"]["step"]
    assert done >= 4
    resumed = subprocess.run(_train_cmd(photos, run, done + 4, "--resume"), env=_env(), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"step {done + 4}" in resumed.stdout
    weights = read_state_dict(run / LAST_FILE)
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


@pytest.mark.fault
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_save_a_checkpoint_before_exiting(photos, tmp_path, sig):
    run = tmp_path / "run"
    cmd = _train_cmd(photos, run, 100_000)
    cmd[cmd.index("ckpt_every_steps=2")] = "ckpt_every_steps=100000"
    cmd[cmd.index("--no-progress")] = "--workers=1"  # a data worker process shares the process group
    cmd.append("--no-progress")
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() or "loss/total" not in (run / "metrics.jsonl").read_text():
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.2)
    os.killpg(proc.pid, sig)  # like Ctrl-C in a terminal: the main process and its data workers all get it
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err  # the shell's convention: not a success for `train && evaluate`
    assert f"stopped: signal {sig.name}" in out and "continue with the same command and --resume" in err
    state = torch.load(run / "training_state.pt", weights_only=True)
    assert state["counters"]["step"] >= 1


@pytest.mark.slow
def test_two_process_gloo_ddp_run(photos, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "inpnet",
           "train", "--variant", "skip-recon", "--preset", "nano", "--data", str(photos), "--image-size", "32",
           "--steps", "4", "--batch-size", "4", "--out", str(run), "--no-progress", "--set", "val_fraction=0.2"]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count(f"run {run}: step 4") == 1  # the summary once, not once per process (review 11)
    state = torch.load(run / "training_state.pt", weights_only=True)
    assert state["counters"]["step"] == 4
    assert state["counters"]["images_seen"] == 4 * 4 * 2  # both ranks' batches counted


def test_fine_tuning_from_an_imported_timm_backbone(photos, tmp_path, capsys):
    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=0
    )
    torch.save(vit.state_dict(), tmp_path / "vit.pth")
    rc = main(["train", "--variant", "skip-recon", "--preset", "nano", "--data", str(photos), "--image-size", "32",
               "--steps", "3", "--batch-size", "4", "--out", str(tmp_path / "run"), "--no-progress",
               "--init-from-backbone", str(tmp_path / "vit.pth"), "--set", "val_fraction=0.2"])
    assert rc == 0
    assert "backbone: timm checkpoint: loaded" in capsys.readouterr().out
    trained = read_state_dict(tmp_path / "run" / LAST_FILE)
    start = vit.state_dict()["blocks.0.attn.qkv.weight"]
    assert trained["encoder.blocks.0.attn.qkv.weight"].shape == start.shape
    assert not torch.equal(trained["encoder.blocks.0.attn.qkv.weight"], start)  # it trained from there
    assert (trained["encoder.blocks.0.attn.qkv.weight"] - start).abs().max() < 0.1  # ...and started there


def test_a_run_whose_weights_diverged_ends_with_an_error_not_done(photos, tmp_path):
    """Review 13: --lr 1e30 (finite, so accepted) made NaN weights in 3 steps, too few for the NaN guard's
    count, and the run ended "done" with exit 0."""
    mcfg, tcfg = configs(steps=3, lr=1e30)
    with pytest.raises(InpNetError, match="training diverged: the weights hold NaN or infinite values at step 3"):
        train(mcfg, tcfg, str(photos), tmp_path / "run", progress=False)  # one folder as a str (review 13)
