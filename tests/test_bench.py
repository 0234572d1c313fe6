"""`inpnet bench`: the JSON schema of issue 8, token counts against the ratio, timing and FLOP helpers."""

from __future__ import annotations

import json

import pytest
import torch

from inpnet import build_model
from inpnet.bench import RATIOS, inpnet_gflops, interleaved_ms, median_ms
from inpnet.cli import main


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "out.json"
    assert main(["bench", "--quick", "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_bench_json_has_every_schema_key(quick_result):
    r = quick_result
    assert list(r) == ["device", "torch", "threads", "preset", "image_size", "encoder", "inference", "onnx",
                       "train", "params", "gflops"]
    assert all(set(row) == {"ratio", "tokens", "latency_ms"} for row in r["encoder"])
    assert all(set(row) == {"model", "ratio", "batch", "latency_ms", "images_per_s"} for row in r["inference"])
    assert set(r["onnx"]) == {"pytorch_ms", "onnxruntime_ms"}
    assert set(r["train"]) == {"model", "images_per_s", "peak_mem_mb"}
    assert set(r["gflops"]) == {"encoder", "decoder"}
    assert {"inpnet", "mae"} <= set(r["params"])


def test_bench_quick_settings_and_measured_values(quick_result):
    r = quick_result
    assert (r["preset"], r["image_size"], r["torch"]) == ("nano", 32, torch.__version__)
    assert [(row["model"], row["ratio"], row["batch"]) for row in r["inference"]] == [
        (m, ratio, 2) for m in ("inpnet", "mae") for ratio in RATIOS
    ]
    assert all(row["latency_ms"] > 0 for row in r["encoder"] + r["inference"])
    assert r["onnx"]["pytorch_ms"] > 0 and r["onnx"]["onnxruntime_ms"] > 0
    assert r["train"]["images_per_s"] > 0


def test_encoder_token_counts_fall_with_the_ratio(quick_result):
    # nano at 32 px: a 4x4 grid; round(r * 16) patches masked
    assert [(row["ratio"], row["tokens"]) for row in quick_result["encoder"]] == [
        (0.0, 16), (0.25, 12), (0.5, 8), (0.75, 4), (0.9, 2)
    ]


def test_bench_prints_a_table(tmp_path, capsys):
    assert main(["bench", "--quick", "--no-onnx", "--repeats", "1", "--warmup", "0"]) == 0
    printed = capsys.readouterr().out
    assert "encoder (InP-Net, visible tokens only)" in printed
    assert "whole model" in printed and "GFLOPs per image at ratio 0" in printed


def test_bench_rejects_a_zero_batch(capsys):
    assert main(["bench", "--quick", "--batch-size", "0"]) == 2
    assert "--batch-size must be >= 1" in capsys.readouterr().err


def test_median_ms_runs_warmup_then_repeats():
    calls = []
    median_ms(lambda: calls.append(1), repeats=3, warmup=2)
    assert len(calls) == 5


def test_interleaved_ms_calls_the_functions_in_turn():
    calls = []
    result = interleaved_ms({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=2, warmup=1)
    assert calls == ["a", "b"] * 3
    assert set(result) == {"a", "b"}


def nano_encoder_flops(tokens: int) -> int:
    """nano (D 32, 2 blocks, MLP 128) at 32 px: patch embedding of all 16 patches + blocks over `tokens`."""
    embed = 2 * 16 * (8 * 8 * 3) * 32
    linear = 2 * (32 * 96 + 32 * 32 + 32 * 128 + 128 * 32)  # qkv, proj, fc1, fc2 per token
    attention = 2 * 2 * tokens * tokens * 32  # q @ k and attn @ v
    return embed + 2 * (tokens * linear + attention)


def test_encoder_flops_count_only_the_visible_tokens():
    torch.manual_seed(0)
    model = build_model("skip-recon", preset="nano").eval()
    assert inpnet_gflops(model, 0.0)["encoder"] * 1e9 == pytest.approx(nano_encoder_flops(16))
    assert inpnet_gflops(model, 0.75)["encoder"] * 1e9 == pytest.approx(nano_encoder_flops(4))
