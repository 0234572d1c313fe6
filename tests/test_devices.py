"""`--device` is read the same way by every command (`inpnet.devices.resolve_device`): auto, cpu, cuda[:N];
an unknown name or CUDA on a machine without it is a one-line error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from inpnet import InpNetError, build_model
from inpnet.checkpoint import load_model, save_model
from inpnet.cli import main
from inpnet.devices import onnx_providers, resolve_device
from inpnet.predict import InpaintPipeline

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")


def test_auto_is_the_gpu_when_there_is_one_else_the_cpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("name", ["bogus", "gpu", "cuda:x"])
def test_an_unknown_device_name_is_one_line(name):
    with pytest.raises(InpNetError, match=f"unknown device '{name}'; use auto, cpu or cuda"):
        resolve_device(name)


@NO_CUDA
def test_cuda_without_cuda_says_so_and_names_the_way_out():
    with pytest.raises(InpNetError, match="no CUDA device is available .use --device cpu."):
        resolve_device("cuda:0")


def test_the_python_api_takes_auto_too(tmp_path):
    save_model(build_model("skip-recon", preset="nano"), tmp_path / "ck")
    assert next(load_model(tmp_path / "ck", device="auto").parameters()).device == resolve_device("auto")
    pipe = InpaintPipeline.from_pretrained(tmp_path / "ck", device="auto", texture=0)
    assert pipe.device == resolve_device("auto")


@pytest.mark.parametrize("command", ["inpaint", "demo", "serve", "evaluate", "ablate", "train"])
def test_every_command_defaults_to_auto(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--device DEVICE auto (default: a CUDA GPU when there is one, else the CPU)" in help_text


def test_inpaint_runs_with_the_default_device(tmp_path):
    save_model(build_model("skip-recon", preset="nano"), tmp_path / "ck")
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(tmp_path / "photo.png")
    hole = np.zeros((32, 32), np.uint8)
    hole[8:16, 8:16] = 255
    Image.fromarray(hole).save(tmp_path / "hole.png")
    out = tmp_path / "out.png"
    assert main(["inpaint", "--image", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "hole.png"),
                 "-o", str(out), "--checkpoint", str(tmp_path / "ck"), "--texture", "0"]) == 0
    assert Image.open(out).size == (32, 32)  # (a flat grey photo: written as one grey channel)


CPU_ONLY, WITH_CUDA = ["CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_onnx_providers_read_device_like_torch():
    assert onnx_providers("cpu", WITH_CUDA) == ["CPUExecutionProvider"]
    assert onnx_providers("auto", WITH_CUDA) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers("auto", CPU_ONLY) == ["CPUExecutionProvider"]
    assert onnx_providers("cuda", WITH_CUDA) == [("CUDAExecutionProvider", {"device_id": 0}), "CPUExecutionProvider"]
    assert onnx_providers("cuda:1", WITH_CUDA) == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]


def test_onnx_on_cuda_without_the_cuda_provider_names_the_package():
    with pytest.raises(InpNetError, match="no CUDA provider .pip install onnxruntime-gpu., or use --device cpu"):
        onnx_providers("cuda", CPU_ONLY)
    with pytest.raises(InpNetError, match="unknown device 'gpu'"):
        onnx_providers("gpu", WITH_CUDA)
    with pytest.raises(InpNetError, match="runs on cpu or cuda, not 'meta'"):
        onnx_providers("meta", WITH_CUDA)
