"""scripts/train_gpu_stage.py (the lent-GPU continuation of the release model) and
scripts/pack_training_photos.py (the photos made small enough to travel there), on CPU with tiny data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from conftest import load_file_module, make_photos
from inpnet.config import ModelConfig, TrainConfig
from inpnet.data import split_fraction
from inpnet.train import _datasets, restore_count

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stage():
    return load_file_module(ROOT / "scripts" / "train_gpu_stage.py")


def _configs(batch: int) -> tuple[ModelConfig, TrainConfig]:
    mcfg = ModelConfig(variant="skip-recon", image_size=(32, 32), patch_size=8, embed_dim=32, depth=2, num_heads=2,
                       in_chans=4, token_threshold=0.5)
    tcfg = TrainConfig(batch_size=batch, restore_fraction=0.5, restore_weight=4, restore_mix=[1, 3, 0.5],
                       restore_jpeg_quality=[10, 40], ratio_range=[0.1, 0.9], val_fraction=0.1, seed=2)
    return mcfg, tcfg


def test_a_step_batch_is_the_training_step_as_uint8(stage, tmp_path):
    mcfg, tcfg = _configs(batch=8)
    train_set, _ = _datasets([str(make_photos(tmp_path / "p", n=20))], mcfg, tcfg)
    batches = stage.Uint8StepBatches(train_set, mcfg, tcfg, stage.Dist(), None, (0, 0, 0), steps=10)
    images, restored, masks = batches[3]
    k = restore_count(tcfg.restore_fraction, 8)
    assert images.shape == (8, 3, 32, 32) and restored.shape == (k, 3, 32, 32) and masks.shape == (8, 1, 32, 32)
    assert images.dtype == restored.dtype == masks.dtype == torch.uint8
    assert masks[:k].sum() == 0 and (masks[k:].flatten(1).amax(1) == 1).all()  # restoration first, then holes
    assert not torch.equal(restored, images[:k])  # degraded inputs
    again = batches[3]
    assert all(torch.equal(a, b) for a, b in zip((images, restored, masks), again, strict=True))  # seeded by step
    assert not torch.equal(batches[4][0], images)
    full, inputs, float_masks = stage.on_device((images, restored, masks), torch.device("cpu"))
    assert torch.equal(inputs[k:], full[k:]) and torch.equal(inputs[:k] * 255, restored.float())
    assert float_masks.dtype == torch.float32 and float_masks.max() == 1


def test_the_learning_rate_warms_up_then_follows_the_clock_down(stage):
    lr = stage.learning_rate
    assert lr(0.0, 0, 10, 1e-3, 1e-5) == pytest.approx(1e-4)
    assert lr(0.0, 10, 10, 1e-3, 1e-5) == pytest.approx(1e-3)
    assert lr(0.5, 500, 10, 1e-3, 1e-5) == pytest.approx(0.5 * (1e-3 + 1e-5))
    assert lr(1.0, 900, 10, 1e-3, 1e-5) == pytest.approx(1e-5) == lr(1.7, 900, 10, 1e-3, 1e-5)


def _cpu_run(tmp_path: Path, out: Path, seconds: float) -> list[str]:
    """The script's command line for a tiny model (saved as the starting weights) on tiny photos, on the CPU."""
    from inpnet.checkpoint import save_model
    from inpnet.models import build_model

    mcfg, tcfg = _configs(batch=4)
    init = tmp_path / "init"
    save_model(build_model(mcfg), init)
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"train": tcfg.to_dict()}))
    return [sys.executable, str(ROOT / "scripts" / "train_gpu_stage.py"), "--data", str(make_photos(tmp_path / "p")),
            "--init", str(init), "--recipe", str(recipe), "--out", str(out), "--seconds", str(seconds),
            "--batch-size", "4", "--workers", "0", "--amp", "off", "--device", "cpu", "--warmup", "1"]


def test_a_short_cpu_run_writes_a_loadable_run_folder(tmp_path):
    from inpnet.predict import load_pipeline

    out = tmp_path / "run"
    cmd = _cpu_run(tmp_path, out, seconds=1)
    done = subprocess.run([*cmd, "--light-decoder", "16", "8", "4", "--light-out", str(tmp_path / "light")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "main done:" in done.stdout and "light done:" in done.stdout
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert rows[0]["event"] == "validation" and rows[0]["step"] == 0 and rows[-1]["event"] == "validation"
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["batch_size"] == 4 and config["gpu_stage"]["seconds"] == 1.0
    assert (out / "model-last.safetensors").is_file()
    assert load_pipeline(str(out)).model_size == (32, 32)
    light = load_pipeline(str(tmp_path / "light"))  # the second model, trained on the same batches
    assert light.model.config.decoder_channels == (16, 8, 4) and light.model_size == (32, 32)
    light_rows = [json.loads(line) for line in (tmp_path / "light" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in light_rows if r.get("event")] == [r["step"] for r in rows if r.get("event")]


def test_the_adversarial_term_trains_the_discriminator_then_pulls_the_generator(stage):
    from inpnet.models import build_model

    mcfg, tcfg = _configs(batch=4)
    torch.manual_seed(0)
    model = build_model(mcfg)
    trainee = stage.Trainee("main", mcfg, model, torch.optim.AdamW(model.parameters(), lr=1e-3), Path("."), None)
    adversary = stage.make_adversary(0.3, warmup=1, lr=2e-4, device=torch.device("cpu"))
    images = torch.rand(4, 3, 32, 32)
    masks = torch.zeros(4, 1, 32, 32)
    masks[2:, :, 8:24, 8:24] = 1  # two restoration samples (no hole), two with a hole
    inputs = images.clone()
    autocast = torch.autocast("cpu", enabled=False)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    before = [p.detach().clone() for p in adversary.disc.parameters()]
    loss, _, stats = stage.train_step(trainee, images, inputs, masks, 1e-3, tcfg, autocast, scaler, adversary, step=0)
    assert set(stats) == {"d_loss"}  # warm-up: the discriminator alone
    assert any(not torch.equal(a, b) for a, b in zip(before, adversary.disc.parameters()))
    plain_loss = stage._reconstruction(model, mcfg, tcfg, model(inputs, masks), images, masks)
    loss, _, stats = stage.train_step(trainee, images, inputs, masks, 1e-3, tcfg, autocast, scaler, adversary, step=1)
    assert set(stats) == {"d_loss", "adv", "adaptive_weight"} and stats["adaptive_weight"] > 0
    assert loss.item() == pytest.approx(plain_loss.item() + 0.3 * stats["adaptive_weight"] * stats["adv"], rel=1e-4)
    assert all(p.requires_grad for p in adversary.disc.parameters())
    no_holes = torch.zeros_like(masks)  # an all-restoration batch: nothing for the discriminator to judge
    loss, _, stats = stage.train_step(trainee, images, inputs, no_holes, 1e-3, tcfg, autocast, scaler, adversary, 5)
    assert stats == {} and torch.isfinite(loss)


def test_an_adversarial_cpu_run_keeps_a_snapshot_per_validation_and_the_discriminator(tmp_path):
    from safetensors.torch import load_file

    from inpnet.models.discriminator import PatchDiscriminator

    out = tmp_path / "run"
    base = _cpu_run(tmp_path, out, seconds=2)
    done = subprocess.run([*base, "--adversarial", "0.3", "--disc-warmup", "1", "--val-every", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    snapshots = sorted(out.glob("model-step*.safetensors"))
    validations = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
                   if '"validation"' in line]
    assert len(snapshots) == len({r["step"] for r in validations}) >= 1  # one per validated step
    assert snapshots[0].name == "model-step000000.safetensors"
    PatchDiscriminator(in_chans=4).load_state_dict(load_file(out / "discriminator.safetensors"))
    refused = subprocess.run([*base, "--adversarial", "0.3", "--light-decoder", "16", "8", "4", "--light-out",
                              str(tmp_path / "l")], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--adversarial" in refused.stderr


def test_a_lighter_decoder_starts_from_every_tensor_whose_shape_still_matches(stage):
    from inpnet.models import build_model

    mcfg, _ = _configs(batch=4)
    torch.manual_seed(0)
    source = build_model(mcfg)
    light = build_model(mcfg.replace(decoder_channels=[16, 8, 4]))
    fresh = stage.load_matching(light, source.state_dict())
    own, theirs = light.state_dict(), source.state_dict()
    assert fresh and all(k.startswith("decoder.") for k in fresh)  # only decoder tensors change shape
    assert "decoder.stem.weight" not in fresh and not any(k.startswith("encoder.") for k in fresh)
    for k in own:
        if k not in fresh:
            assert torch.equal(own[k], theirs[k]), k
        else:
            assert k not in theirs or own[k].shape != theirs[k].shape, k


def test_packed_photos_keep_their_relative_paths_and_split(tmp_path):
    src = make_photos(tmp_path / "src", n=30, size=(300, 400))
    out = tmp_path / "packed"
    cmd = [sys.executable, str(ROOT / "scripts" / "pack_training_photos.py"), str(src), str(out),
           "--short-side", "96", "--test-fraction", "0.1", "--parts", "0.5"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    for p in sorted(src.rglob("*.png")):
        rel = p.relative_to(src).as_posix()
        f = split_fraction(rel)
        where = [d for d in ("part0", "part1") if (out / d / rel).exists()]
        if f < 0.1:
            assert where == []  # the test split never travels
        else:
            assert where == ["part0" if f < 0.5 else "part1"]
            with Image.open(out / where[0] / rel) as im:
                assert min(im.size) == 96 and im.format == "JPEG"
