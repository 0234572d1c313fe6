"""Loading safety (marker `fault`): checkpoints are read with safetensors or `torch.load(weights_only=True)`
only, so a pickle that carries code is refused and its code never runs; safetensors files with the wrong
content are refused with a clear one-line error instead of loading garbage.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from inpnet.checkpoint import LAST_FILE, MODEL_FILE, STATE_FILE, load_model, load_training_state, save_model
from inpnet.cli import main
from inpnet.errors import InpNetError
from inpnet.models import build_model
from inpnet.models.pretrained import load_backbone

pytestmark = pytest.mark.fault

SRC = Path(__file__).resolve().parents[1] / "src" / "inpnet"


class Payload:
    """Unpickling this runs a shell command that creates `marker` (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


@pytest.fixture
def marker(tmp_path) -> Path:
    path = tmp_path / "payload-ran"
    assert not path.exists()
    return path


def test_the_payload_really_runs_when_unpickled_unsafely(tmp_path, marker):
    """The control: without weights_only the same file runs its code, so the refusals below mean something."""
    torch.save({"optimizer": Payload(marker)}, tmp_path / "evil.pt")
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("writer", ["torch.save", "raw pickle"])
def test_a_training_state_with_a_payload_is_refused_and_never_runs(tmp_path, marker, writer):
    state = {"optimizer": Payload(marker), "counters": {"step": 3}}
    path = tmp_path / STATE_FILE
    if writer == "torch.save":
        torch.save(state, path)
    else:
        path.write_bytes(pickle.dumps(state))
    with pytest.raises(InpNetError) as exc:
        load_training_state(tmp_path)
    assert one_line(exc).startswith(f"cannot load {path} safely")
    assert not marker.exists()


def test_resuming_a_run_whose_state_carries_a_payload_is_refused_and_never_runs(photos, tmp_path, marker, capsys):
    argv = ["train", "--variant", "skip-recon", "--preset", "nano", "--image-size", "32", "--batch-size", "4",
            "--no-progress", "--data", str(photos), "--out", str(tmp_path / "run"), "--set", "val_fraction=0.2"]
    assert main([*argv, "--steps", "2"]) == 0
    capsys.readouterr()
    torch.save({"optimizer": Payload(marker)}, tmp_path / "run" / STATE_FILE)
    assert main([*argv, "--steps", "4", "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "safely" in err
    assert not marker.exists()


@pytest.mark.parametrize("layout", ["state dict", "wrapped as {'model': ...}", "raw pickle"])
def test_a_pth_backbone_with_a_payload_is_refused_and_never_runs(tmp_path, marker, layout):
    vit = {"patch_embed.proj.weight": torch.zeros(32, 3, 8, 8), "blocks.0.attn.qkv.weight": Payload(marker)}
    path = tmp_path / "vit.pth"
    if layout == "raw pickle":
        path.write_bytes(pickle.dumps(vit))
    else:
        torch.save(vit if layout == "state dict" else {"model": vit}, path)
    with pytest.raises(InpNetError) as exc:
        load_backbone(build_model("skip-recon", preset="nano"), path)
    assert one_line(exc).startswith(f"cannot read checkpoint {path}")
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"hello\n", b""])
def test_a_file_that_is_no_checkpoint_is_named_so(tmp_path, content):
    """A text file given as --init-from-backbone was 'cannot read checkpoint ... weights_only=True): 101'."""
    path = tmp_path / "notes.pth"
    path.write_bytes(content)
    with pytest.raises(InpNetError) as exc:
        load_backbone(build_model("skip-recon", preset="nano"), path)
    assert one_line(exc) == (f"{path} is not a PyTorch checkpoint (neither a zip archive nor a pickle, as torch.save "
                             "writes) nor a .safetensors file")


def test_a_huggingface_folder_whose_bin_carries_a_payload_is_refused_and_never_runs(tmp_path, marker):
    torch.save({"vit.embeddings.cls_token": Payload(marker)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(InpNetError):
        load_backbone(build_model("skip-recon", preset="nano"), tmp_path)
    assert not marker.exists()


def test_training_from_a_backbone_with_a_payload_fails_in_one_line(photos, tmp_path, marker, capsys):
    torch.save({"blocks.0.attn.qkv.weight": Payload(marker)}, tmp_path / "vit.pth")
    rc = main(["train", "--variant", "skip-recon", "--preset", "nano", "--image-size", "32", "--steps", "2",
               "--batch-size", "4", "--no-progress", "--data", str(photos), "--out", str(tmp_path / "run"),
               "--init-from-backbone", str(tmp_path / "vit.pth")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "cannot read checkpoint" in err
    assert not marker.exists() and not (tmp_path / "run").exists()


def test_a_pickle_named_model_safetensors_is_refused_and_never_runs(tmp_path, marker):
    save_model(build_model("skip-recon", preset="nano"), tmp_path / "ckpt")
    torch.save({"w": Payload(marker)}, tmp_path / "ckpt" / MODEL_FILE)
    with pytest.raises(InpNetError) as exc:
        load_model(tmp_path / "ckpt")
    assert "is not a valid safetensors file" in one_line(exc)
    assert not marker.exists()


# The one pickle the package reads: the stream's own private temp file, in which the parent hands its workers the
# pipeline (as multiprocessing's spawn pipe did before); never a file a user names.
OWN_PICKLES = {"streaming.py": 1}


def test_no_loader_in_the_package_unpickles_without_weights_only():
    calls = []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        calls += [(path.name, m.group(0)) for m in re.finditer(r"torch\.load\([^)]*\)", text)]
        unpickles = len(re.findall(r"pickle\.loads?\(", text))
        assert unpickles == OWN_PICKLES.get(path.name, 0), f"{path} unpickles directly"
    assert calls, "no torch.load call found: the scan is broken"
    assert all("weights_only=True" in call for _, call in calls), calls


# ---- safetensors files with the wrong content ------------------------------------------------------------


@pytest.fixture
def ckpt(tmp_path) -> Path:
    torch.manual_seed(0)
    save_model(build_model("skip-recon", preset="nano"), tmp_path / "ckpt")
    return tmp_path / "ckpt"


def _rewrite(ckpt: Path, change) -> dict[str, torch.Tensor]:
    """Rewrite model.safetensors with `change(state_dict)` applied."""
    state = {k: v.clone().contiguous() for k, v in build_model("skip-recon", preset="nano").state_dict().items()}
    state = change(state)
    save_file({k: v.contiguous() for k, v in state.items()}, str(ckpt / MODEL_FILE))
    return state


CONTENT_CASES = {
    "no tensors": (lambda s: {}, "missing"),
    "another model's keys": (lambda s: {f"other.{k}": v for k, v in s.items()}, "missing"),
    "one key too many": (lambda s: {**s, "extra.weight": torch.zeros(3)}, "unexpected 1 key(s) e.g. 'extra.weight'"),
    "a wrong shape": (lambda s: {**s, "pos_embed": torch.zeros(1, 3, 32)}, "'pos_embed' has shape (1, 3, 32)"),
    "integer weights": (lambda s: {k: v.to(torch.int32) if v.is_floating_point() else v for k, v in s.items()},
                        "holds torch.int32 values"),
    "NaN weights": (lambda s: {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                               for k, v in s.items()}, "holds NaN or infinite values"),
}


@pytest.mark.parametrize("case", list(CONTENT_CASES))
def test_a_safetensors_file_with_the_wrong_content_is_refused(ckpt, case):
    change, expected = CONTENT_CASES[case]
    _rewrite(ckpt, change)
    with pytest.raises(InpNetError) as exc:
        load_model(ckpt)
    assert expected in one_line(exc)


@pytest.mark.parametrize("damage", ["empty", "header only", "bad header JSON", "huge header length",
                                    "cut in half", "random bytes"])
def test_a_damaged_safetensors_file_is_refused(ckpt, damage):
    path = ckpt / MODEL_FILE
    data = path.read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    damaged = {
        "empty": b"",
        "header only": data[:header_end],
        "bad header JSON": data[:8] + b"{" * (header_end - 8) + data[header_end:],
        "huge header length": (2**62).to_bytes(8, "little") + data[8:],
        "cut in half": data[: len(data) // 2],
        "random bytes": os.urandom(len(data)),
    }[damage]
    path.write_bytes(damaged)
    with pytest.raises(InpNetError) as exc:
        load_model(ckpt)
    assert one_line(exc).startswith(f"{path} is not a valid safetensors file (truncated or corrupt)")


def test_last_weights_of_another_model_are_refused(ckpt):
    save_file({k: v.contiguous() for k, v in build_model("mae", preset="nano").state_dict().items()},
              str(ckpt / LAST_FILE))
    with pytest.raises(InpNetError) as exc:
        load_model(ckpt, which="last")
    assert "does not match this model config" in one_line(exc)
