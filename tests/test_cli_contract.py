"""The command-line contract under faults (marker `fault`).

For each subcommand: a missing input, an output location that cannot be written (a path below a regular file:
that fails for root too, unlike chmod), an existing output (single-file outputs need --overwrite), a mask ratio
outside [0, 0.9], a checkpoint whose weights belong to another config, and a truncated or corrupt checkpoint.
Each must end with a non-zero exit code, exactly one line on stderr, no traceback, and no file created or
changed anywhere under the test's folder. Runs in-process through `inpnet.cli.main`; a few cases also run as
`python -m inpnet` to show that nothing else reaches the real stderr.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import inpnet.bench
import inpnet.commands.models as models_command
from conftest import make_photos, time_limit
from inpnet.checkpoint import LAST_FILE, MODEL_FILE, STATE_FILE, save_model
from inpnet.cli import main
from inpnet.config import ModelConfig, TrainConfig
from inpnet.errors import InpNetError
from inpnet.models import build_model
from inpnet.train import train

pytestmark = pytest.mark.fault

CALL_LIMIT_S = 120


@dataclass
class World:
    """Inputs shared by every case; each case may only read them."""

    root: Path
    photos: Path
    image: Path
    mask: Path
    good: Path  # nano skip-recon checkpoint
    other: Path  # config.json of `good`, weights of a deeper model
    truncated: Path  # model.safetensors cut in half
    bad_config: Path  # config.json with a string where an int belongs
    garbage_config: Path  # config.json that is not JSON
    run: Path  # a finished 2-step training run (for --resume)
    file: Path  # a regular file: a path below it can never be created
    existing_json: Path
    existing_png: Path
    existing_onnx: Path
    port: int

    @property
    def under(self) -> Path:
        return self.file / "sub"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def w(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("contract")
    photos = make_photos(root / "photos", n=6, size=(32, 32))
    torch.manual_seed(0)
    good = root / "good"
    save_model(build_model("skip-recon", preset="nano"), good)
    other = root / "other"
    save_model(build_model("skip-recon", preset="nano", depth=3), other)
    shutil.copy(good / "config.json", other / "config.json")
    truncated = root / "truncated"
    shutil.copytree(good, truncated)
    data = (truncated / MODEL_FILE).read_bytes()
    (truncated / MODEL_FILE).write_bytes(data[: len(data) // 2])
    bad_config = root / "bad-config"
    shutil.copytree(good, bad_config)
    config = json.loads((good / "config.json").read_text())
    config["model"]["depth"] = "two"
    (bad_config / "config.json").write_text(json.dumps(config))
    garbage_config = root / "garbage-config"
    shutil.copytree(good, garbage_config)
    (garbage_config / "config.json").write_text("{not json")
    mcfg = ModelConfig.from_name("skip-recon", preset="nano", image_size=32)
    tcfg = TrainConfig.for_variant("skip-recon", batch_size=2, steps=2, warmup_steps=1, val_fraction=0.2,
                                   log_every=1, image_every=1000, ckpt_every_s=1e9)
    train(mcfg, tcfg, [str(photos)], root / "run", progress=False)
    Image.fromarray(np.eye(32, dtype=bool)).save(root / "mask.png")
    (root / "file.txt").write_text("a regular file\n")
    for name in ("existing.json", "existing.png", "existing.onnx"):
        (root / name).write_text("keep me\n")
    return World(root, photos, sorted(photos.iterdir())[0], root / "mask.png", good, other, truncated, bad_config,
                 garbage_config, root / "run", root / "file.txt", root / "existing.json", root / "existing.png",
                 root / "existing.onnx", _free_port())




def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder below `folder`: (size, mtime) of files, (-1, 0) for folders."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (-1, 0)
            for p in folder.rglob("*")}


def assert_refused(capsys, root: Path, argv: list, expected: str, code: int = 2) -> str:
    """Run the CLI; check the exit code, one stderr line holding `expected`, no traceback, nothing written."""
    before = snapshot(root)
    with time_limit(CALL_LIMIT_S):
        rc = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    lines = err.splitlines()
    assert rc == code, err
    assert len(lines) == 1, err
    assert expected in lines[0]
    assert lines[0].startswith(f"inpnet {argv[0]}: ")
    assert "Traceback" not in err
    after = snapshot(root)
    assert after == before, f"written: {sorted(set(after) - set(before))}, changed: " \
                            f"{sorted(k for k in before if after.get(k) != before[k])}"
    return lines[0]


# ---- the cases ---------------------------------------------------------------------------------------------

TRAIN = ["train", "--variant", "skip-recon", "--preset", "nano", "--image-size", "32", "--steps", "2",
         "--batch-size", "2", "--no-progress", "--data", "{photos}"]
EVALUATE = ["evaluate", "--images", "{photos}", "--mask-kind", "random", "--ratio", "0.5", "--no-progress"]
ABLATE = ["ablate", "--images", "{photos}", "--baselines", "telea", "--mask-sets", "random-50", "--limit", "2",
          "--image-size", "32", "--no-progress", "--out", "{root}/ablation"]
INPAINT = ["inpaint", "--image", "{image}", "--mask", "{mask}"]
BENCH = ["bench", "--quick", "--no-onnx", "--repeats", "1"]
SERVE = ["serve", "--port", "{port}"]
MISMATCH = "does not match this model config"
TRUNCATED = "is not a valid safetensors file (truncated or corrupt)"
BAD_CONFIG = "ModelConfig field depth must be int, got 'two'"
GARBAGE_CONFIG = "cannot read config"

# (id, argv with {placeholders}, expected part of the one stderr line, exit code)
CASES = [
    # train
    ("train-missing-data", ["train", *TRAIN[1:-1], "{root}/nope", "--out", "{root}/new-run"],
     "no such file or folder", 2),
    ("train-out-below-a-file", [*TRAIN, "--out", "{under}"], "is not a folder", 2),
    ("train-existing-run", [*TRAIN, "--out", "{run}"], "already holds a run; pass --resume", 2),
    # review 12: an infinite rate trained NaNs to "done"; a huge size was killed for memory without a word
    ("train-infinite-lr", [*TRAIN, "--out", "{root}/new-run", "--lr", "inf"], "lr must be a finite number > 0", 2),
    ("train-negative-minutes", [*TRAIN, "--out", "{root}/new-run", "--max-minutes", "-1"],
     "--max-minutes must be a time above 0", 2),
    ("train-huge-size", [*TRAIN, "--out", "{root}/new-run", "--image-size", "100000"], "tokens, above the 16384", 2),
    ("train-three-sizes", [*TRAIN, "--out", "{root}/new-run", "--image-size", "32", "32", "32"],
     "--image-size takes N or H W", 2),
    ("train-ratio-above-0.9", [*TRAIN, "--out", "{root}/new-run", "--set", "mask_ratio=0.95"],
     "mask ratio must be in [0, 0.9], got 0.95", 2),
    ("train-ratio-range-below-0", [*TRAIN, "--out", "{root}/new-run", "--set", "ratio_range=[-0.1,0.5]"],
     "mask ratio must be in [0, 0.9], got -0.1", 2),
    ("train-init-from-another-config", [*TRAIN, "--out", "{root}/new-run", "--init-from", "{other}"], MISMATCH, 2),
    ("train-init-from-truncated", [*TRAIN, "--out", "{root}/new-run", "--init-from", "{truncated}"], TRUNCATED, 2),
    ("train-init-from-backbone-missing", [*TRAIN, "--out", "{root}/new-run", "--init-from-backbone",
                                          "{root}/nope.pth"], "no checkpoint at", 2),
    ("train-config-value-of-wrong-type", [*TRAIN, "--out", "{root}/new-run", "--set", 'depth="two"'],
     "ModelConfig field depth must be int, got 'two'", 2),
    ("train-train-value-of-wrong-type", [*TRAIN, "--out", "{root}/new-run", "--set", 'lr="fast"'],
     "TrainConfig field lr must be float, got 'fast'", 2),
    ("train-negative-lr", [*TRAIN, "--out", "{root}/new-run", "--lr", "-1"], "lr must be a finite number > 0, got -1.0", 2),
    ("train-zero-batch", [*TRAIN, "--out", "{root}/new-run", "--batch-size", "0"],
     "batch_size must be >= 1, got 0", 2),
    ("train-resume-missing-run", [*TRAIN, "--out", "{root}/nope", "--resume"], "cannot resume", 2),
    ("train-out-inside-data", [*TRAIN, "--out", "{photos}/run"], "is inside the --data folder", 2),  # review 12
    ("train-new-run-without-data", ["train", "--variant", "skip-recon", "--out", "{root}/new-run"],
     "a new run needs --data (--resume continues a run with its own)", 2),
    # evaluate
    ("evaluate-missing-images", ["evaluate", "--images", "{root}/nope", "--mask-kind", "random", "--ratio", "0.5",
                                 "--checkpoint", "{good}"], "no such file or folder", 2),
    ("evaluate-missing-masks", ["evaluate", "--images", "{photos}", "--masks", "{root}/nope", "--checkpoint",
                                "{good}"], "mask folder not found", 2),
    ("evaluate-missing-checkpoint", [*EVALUATE, "--checkpoint", "{root}/nope"], "does not exist", 2),
    ("evaluate-json-below-a-file", [*EVALUATE, "--checkpoint", "{good}", "--json", "{under}/out.json"],
     "is a file, not a folder", 2),
    ("evaluate-existing-json", [*EVALUATE, "--checkpoint", "{good}", "--json", "{existing_json}"],
     "exists; pass --overwrite to replace it", 2),
    # review 12: --json onto one of the photos it evaluates, with --overwrite, replaced the photo
    ("evaluate-json-onto-a-photo", [*EVALUATE, "--checkpoint", "{good}", "--json", "{image}", "--overwrite"],
     "is an image's name; the summary is JSON", 2),
    ("evaluate-ratio-above-0.9", [*EVALUATE, "--ratio", "0.95", "--checkpoint", "{good}"],
     "mask ratio must be in [0, 0.9], got 0.95", 2),
    ("evaluate-ratio-below-0", [*EVALUATE, "--ratio=-0.1", "--checkpoint", "{good}"],
     "mask ratio must be in [0, 0.9], got -0.1", 2),
    ("evaluate-another-config", [*EVALUATE, "--checkpoint", "{other}"], MISMATCH, 2),
    ("evaluate-truncated-checkpoint", [*EVALUATE, "--checkpoint", "{truncated}"], TRUNCATED, 2),
    ("evaluate-bad-config", [*EVALUATE, "--checkpoint", "{bad_config}"], BAD_CONFIG, 2),
    ("evaluate-garbage-config", [*EVALUATE, "--checkpoint", "{garbage_config}"], GARBAGE_CONFIG, 2),
    # ablate
    ("ablate-missing-images", ["ablate", "--images", "{root}/nope", "--baselines", "telea", "--out",
                               "{root}/ablation"], "no such file or folder", 2),
    ("ablate-add-to-without-native", [*ABLATE, "--add-to", "{root}"], "--add-to extends a --native table", 2),
    ("ablate-missing-run", [*ABLATE, "--runs", "{root}/nope"], "does not exist", 2),
    ("ablate-out-below-a-file", [*ABLATE[:-1], "{under}"], "is a file, not a folder", 2),
    ("ablate-ratio-above-0.9", [*ABLATE[:6], "random-95", *ABLATE[7:]], "unknown mask set 'random-95'", 2),
    ("ablate-another-config", [*ABLATE, "--runs", "{other}"], MISMATCH, 2),
    ("ablate-truncated-checkpoint", [*ABLATE, "--runs", "{truncated}"], TRUNCATED, 2),
    ("ablate-bad-config", [*ABLATE, "--runs", "{bad_config}"], BAD_CONFIG, 2),
    # inpaint
    ("inpaint-missing-image", ["inpaint", "--image", "{root}/nope.png", "--mask", "{mask}", "-o", "{root}/o.png",
                               "--checkpoint", "{good}"], "does not exist", 2),
    ("inpaint-missing-mask", ["inpaint", "--image", "{image}", "--mask", "{root}/nope.png", "-o", "{root}/o.png",
                              "--checkpoint", "{good}"], "does not exist", 2),
    ("inpaint-missing-checkpoint", [*INPAINT, "-o", "{root}/o.png", "--checkpoint", "{root}/nope"],
     "does not exist", 2),
    ("inpaint-out-below-a-file", [*INPAINT, "-o", "{under}/o.png", "--checkpoint", "{good}"],
     "cannot create folder", 1),
    ("inpaint-existing-output", [*INPAINT, "-o", "{existing_png}", "--checkpoint", "{good}"],
     "exists; pass --overwrite to replace it", 1),
    ("inpaint-another-config", [*INPAINT, "-o", "{root}/o.png", "--checkpoint", "{other}"], MISMATCH, 2),
    ("inpaint-truncated-checkpoint", [*INPAINT, "-o", "{root}/o.png", "--checkpoint", "{truncated}"],
     TRUNCATED, 2),
    ("inpaint-bad-config", [*INPAINT, "-o", "{root}/o.png", "--checkpoint", "{bad_config}"], BAD_CONFIG, 2),
    ("inpaint-unknown-device", [*INPAINT, "-o", "{root}/o.png", "--checkpoint", "{good}", "--device", "bogus"],
     "unknown device 'bogus'", 2),
    # demo
    ("demo-missing-checkpoint", ["demo", "-o", "{root}/demo", "--checkpoint", "{root}/nope"], "does not exist", 2),
    ("demo-out-below-a-file", ["demo", "-o", "{under}", "--checkpoint", "{good}"], "is a file, not a folder", 2),
    ("demo-another-config", ["demo", "-o", "{root}/demo", "--checkpoint", "{other}"], MISMATCH, 2),
    ("demo-truncated-checkpoint", ["demo", "-o", "{root}/demo", "--checkpoint", "{truncated}"], TRUNCATED, 2),
    ("demo-garbage-config", ["demo", "-o", "{root}/demo", "--checkpoint", "{garbage_config}"], GARBAGE_CONFIG, 2),
    # export-onnx
    ("export-onnx-missing-checkpoint", ["export-onnx", "--checkpoint", "{root}/nope", "-o", "{root}/m.onnx"],
     "does not exist", 2),
    ("export-onnx-out-below-a-file", ["export-onnx", "--checkpoint", "{good}", "-o", "{under}/m.onnx"],
     "cannot create folder", 2),
    ("export-onnx-from-an-onnx-file", ["export-onnx", "--checkpoint", "{existing_onnx}", "-o", "{root}/m.onnx"],
     "is an ONNX export: this needs the PyTorch checkpoint it came from", 2),
    ("export-onnx-opset-above-the-exporters", ["export-onnx", "--checkpoint", "{good}", "-o", "{root}/m.onnx",
                                               "--opset", "26"], "opset 26 is outside what the exporters write", 2),
    ("export-onnx-opset-3", ["export-onnx", "--checkpoint", "{good}", "-o", "{root}/m.onnx", "--opset", "3"],
     "opset 3 is outside what the exporters write here", 2),  # review 12: a traceback, then opset 18, exit 0
    ("export-onnx-existing-output", ["export-onnx", "--checkpoint", "{good}", "-o", "{existing_onnx}"],
     "exists; pass --overwrite to replace it", 2),
    ("export-onnx-another-config", ["export-onnx", "--checkpoint", "{other}", "-o", "{root}/m.onnx"], MISMATCH, 2),
    ("export-onnx-truncated-checkpoint", ["export-onnx", "--checkpoint", "{truncated}", "-o", "{root}/m.onnx"],
     TRUNCATED, 2),
    ("export-onnx-bad-config", ["export-onnx", "--checkpoint", "{bad_config}", "-o", "{root}/m.onnx"],
     BAD_CONFIG, 2),
    # bench
    ("bench-onnx-at-off-the-patch-grid", [*BENCH[:-3], "--repeats", "1", "--onnx-at", "7", "--checkpoint", "{good}"],
     "--onnx-at 7: image_size (7, 7) must be positive multiples of patch_size", 2),  # review 12: after the timings
    ("bench-missing-checkpoint", [*BENCH, "--checkpoint", "{root}/nope"], "does not exist", 2),
    ("bench-json-below-a-file", [*BENCH, "--json", "{under}/b.json"], "is a file, not a folder", 2),
    ("bench-existing-json", [*BENCH, "--json", "{existing_json}"], "exists; pass --overwrite to replace it", 2),
    ("bench-another-config", [*BENCH, "--checkpoint", "{other}"], MISMATCH, 2),
    ("bench-truncated-checkpoint", [*BENCH, "--checkpoint", "{truncated}"], TRUNCATED, 2),
    ("bench-bad-config", [*BENCH, "--checkpoint", "{bad_config}"], BAD_CONFIG, 2),
    # serve (no output, no ratio): refused before anything listens
    ("serve-missing-checkpoint", [*SERVE, "--checkpoint", "{root}/nope"], "does not exist", 2),
    ("serve-another-config", [*SERVE, "--checkpoint", "{other}"], MISMATCH, 2),
    ("serve-truncated-checkpoint", [*SERVE, "--checkpoint", "{truncated}"], TRUNCATED, 2),
    ("serve-garbage-config", [*SERVE, "--checkpoint", "{garbage_config}"], GARBAGE_CONFIG, 2),
]


def fill(argv: list[str], w: World) -> list[str]:
    values = {name: getattr(w, name) for name in ("root", "photos", "image", "mask", "good", "other", "truncated",
                                                   "bad_config", "garbage_config", "run", "under", "existing_json",
                                                   "existing_png", "existing_onnx", "port")}
    return [a.format(**values) for a in argv]


@pytest.mark.parametrize(("argv", "expected", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_invocation_fails_in_one_line_and_writes_nothing(w, capsys, argv, expected, code):
    assert_refused(capsys, w.root, fill(argv, w), expected, code)


def test_every_subcommand_that_takes_files_has_cases():
    commands = {"train", "evaluate", "ablate", "inpaint", "demo", "export-onnx", "bench", "serve"}
    assert {argv[0] for _, argv, _, _ in CASES} == commands
    assert all(name.startswith(argv[0] + "-") for name, argv, _, _ in CASES)


# ---- resuming a damaged run --------------------------------------------------------------------------------


def _damaged_run(w: World, name: str) -> Path:
    run = w.root / f"run-{name}"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(w.run, run)
    return run


def _resume(w: World, run: Path) -> list[str]:
    return [*TRAIN[:-1], str(w.photos), "--out", str(run), "--resume", "--steps", "4"]


def test_resume_with_a_truncated_training_state_fails_in_one_line(w, capsys):
    run = _damaged_run(w, "state")
    data = (run / STATE_FILE).read_bytes()
    (run / STATE_FILE).write_bytes(data[: len(data) // 3])
    assert_refused(capsys, w.root, _resume(w, run), "corrupt, truncated or not a training state")


def test_resume_with_truncated_weights_fails_in_one_line(w, capsys):
    run = _damaged_run(w, "weights")
    data = (run / LAST_FILE).read_bytes()
    (run / LAST_FILE).write_bytes(data[:100])
    assert_refused(capsys, w.root, _resume(w, run), TRUNCATED)


def test_resume_with_a_corrupt_run_config_fails_in_one_line(w, capsys):
    run = _damaged_run(w, "config")
    (run / "config.json").write_text('{"model": ')
    assert_refused(capsys, w.root, _resume(w, run), "cannot resume: cannot read")


def test_resume_with_the_training_state_of_another_config_fails_in_one_line(w, capsys):
    run = _damaged_run(w, "foreign-state")
    deeper = build_model("skip-recon", preset="nano", depth=3)
    opt = torch.optim.AdamW(deeper.parameters())
    deeper(torch.rand(1, 3, 32, 32), torch.ones(1, 1, 32, 32)).prediction.mean().backward()
    opt.step()
    state = torch.load(run / STATE_FILE, weights_only=True)
    state["optimizer"] = opt.state_dict()
    torch.save(state, run / STATE_FILE)
    assert_refused(capsys, w.root, _resume(w, run), "does not fit this run")


# ---- --overwrite, and messages that must stay one line ------------------------------------------------------


def test_evaluate_replaces_an_existing_json_with_overwrite(w, capsys, tmp_path):
    out = tmp_path / "summary.json"
    out.write_text("old\n")
    assert main(fill([*EVALUATE, "--checkpoint", "{good}"], w) + ["--json", str(out), "--overwrite"]) == 0
    assert json.loads(out.read_text())["n"] == 6
    assert capsys.readouterr().err == ""


def test_bench_replaces_an_existing_json_with_overwrite(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(inpnet.bench, "run_bench", lambda opts, log=None: {"preset": opts.preset})  # no timings
    monkeypatch.setattr(inpnet.bench, "format_table", lambda result: "table")
    out = tmp_path / "bench.json"
    out.write_text("old\n")
    assert main([*BENCH, "--json", str(out), "--overwrite"]) == 0
    assert json.loads(out.read_text()) == {"preset": "nano"}


def test_a_multi_line_error_message_is_printed_as_one_line(capsys, monkeypatch):
    def run(args):
        raise InpNetError("first line\n  second line\n")

    monkeypatch.setattr(models_command, "run", run)
    assert main(["models"]) == 2
    assert capsys.readouterr().err == "inpnet models: error: first line second line\n"


def test_an_os_error_is_one_line_without_traceback(capsys, monkeypatch):
    def run(args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(models_command, "run", run)
    assert main(["models"]) == 2
    assert capsys.readouterr().err == "inpnet models: error: [Errno 28] No space left on device\n"


# ---- the real stderr of a real process -------------------------------------------------------------------


@pytest.mark.parametrize("case", ["inpaint-truncated-checkpoint", "evaluate-bad-config",
                                  "train-config-value-of-wrong-type"])
def test_a_subprocess_prints_one_line_and_no_traceback(w, case):
    argv, expected, code = next(c[1:] for c in CASES if c[0] == case)
    before = snapshot(w.root)
    proc = subprocess.run([sys.executable, "-m", "inpnet", *fill(argv, w)], capture_output=True, text=True,
                          timeout=CALL_LIMIT_S)
    assert proc.returncode == code
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(w.root) == before


def test_output_cut_short_by_its_reader_ends_quietly():
    """`inpnet models | head -c 10` printed 'inpnet models: error: [Errno 32] Broken pipe' (review 15's run)."""
    command = f"'{sys.executable}' -m inpnet models | head -c 10; exit ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=CALL_LIMIT_S)
    assert proc.stdout == "shipped: i" and proc.stderr == "", proc.stderr
    assert proc.returncode in (0, 141)  # 141 when a write met the closed pipe; 0 when all was written before
