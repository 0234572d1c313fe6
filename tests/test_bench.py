"""`inpnet bench`: the JSON schema, fields that agree with each other, ONNX / real-time outputs that match PyTorch,
token counts against the ratio, timing and FLOP helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from inpnet import build_model
from inpnet.bench import (
    NO_SEAM_PATH,
    ONNX_RATIOS,
    RATIOS,
    REALTIME_HOLE,
    BenchOptions,
    full_options,
    inpnet_gflops,
    interleaved_ms,
    median_ms,
    realtime_frame,
)
from inpnet.cli import main
from inpnet.export import INT8_TOLERANCE


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "out.json"
    threads = torch.get_num_threads()
    try:
        assert main(["bench", "--quick", "--realtime", "--onnx-at", "48", "--threads", "1", "--json", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)  # --threads sets the process's torch threads
    return json.loads(out.read_text())


def test_bench_json_has_every_schema_key(quick_result):
    r = quick_result
    assert list(r) == ["mode", "clock", "device", "torch", "onnxruntime", "threads", "preset", "image_size", "seconds",
                       "encoder", "inference", "onnx", "onnx_at", "realtime", "train", "params", "gflops"]
    assert all(set(row) == {"ratio", "tokens", "latency_ms"} for row in r["encoder"])
    assert all(set(row) == {"model", "ratio", "batch", "latency_ms", "images_per_s"} for row in r["inference"])
    assert set(r["onnx"]) == {"model", "image_size", "export_s", "exporter", "max_diff_fp32", "max_diff_int8",
                              "quantize_s", "threads", "latency"}
    assert all(set(row) == {"batch", "ratio", "visible_tokens", "pytorch_ms", "onnxruntime_ms",
                            "onnxruntime_padded_ms", "onnxruntime_int8_ms"} for row in r["onnx"]["latency"])
    assert set(r["onnx_at"]) == set(r["onnx"]) | {"seconds"}
    assert 0 < r["onnx_at"]["seconds"] < r["seconds"] and 0 < r["realtime"]["seconds"] < r["seconds"]
    assert all(set(row) == set(r["onnx"]["latency"][0]) for row in r["onnx_at"]["latency"])
    assert set(r["realtime"]) == {"frame", "image", "hole_fraction", "strategy", "threads", "paths", "streams",
                                  "seconds"}
    assert all(set(row) == {"name", "workers", "processes", "in_flight", "frames", "fps", "ms_per_frame", "start_s",
                            "max_abs_diff_vs_pytorch"} for row in r["realtime"]["streams"])
    assert set(r["train"]) == {"model", "images_per_s", "peak_mem_mb"}
    assert set(r["gflops"]) == {"encoder", "decoder"}
    assert {"inpnet", "mae"} <= set(r["params"])


def test_bench_quick_settings(quick_result):
    r = quick_result
    assert (r["mode"], r["clock"], r["preset"], r["image_size"], r["torch"], r["threads"]) == (
        "quick", "wall", "nano", 32, torch.__version__, 1)
    assert [(row["model"], row["ratio"], row["batch"]) for row in r["inference"]] == [
        (m, ratio, 2) for m in ("inpnet", "mae") for ratio in RATIOS
    ]
    assert [(row["batch"], row["ratio"]) for row in r["onnx"]["latency"]] == [
        (b, ratio) for b in (1, 2) for ratio in ONNX_RATIOS
    ]


def test_bench_fields_agree_with_each_other(quick_result):
    r = quick_result
    for row in r["inference"]:  # throughput is the batch over the latency of the same row
        assert row["images_per_s"] == pytest.approx(row["batch"] * 1000.0 / row["latency_ms"])
    for path in r["realtime"]["paths"]:
        assert path["fps"] == pytest.approx(1000.0 / path["ms"])
    threads, processes = r["realtime"]["streams"]
    for stream in (threads, processes):
        assert stream["fps"] == pytest.approx(1000.0 / stream["ms_per_frame"]) and stream["frames"] >= 4
    assert (threads["workers"], threads["processes"], threads["in_flight"]) == ("threads", 0, 2)
    assert (processes["workers"], processes["processes"], processes["in_flight"]) == ("processes", 2, 3)
    assert processes["start_s"] > 0  # spawning workers that import torch is not free
    # the ONNX model (a random nano skip-recon) has the encoder's grid: same visible tokens at each ratio
    tokens = {row["ratio"]: row["tokens"] for row in r["encoder"]}
    assert all(row["visible_tokens"] == tokens[row["ratio"]] for row in r["onnx"]["latency"])
    timed = [row[k] for row in r["onnx"]["latency"] for k in ("pytorch_ms", "onnxruntime_ms",
                                                             "onnxruntime_padded_ms", "onnxruntime_int8_ms")]
    assert all(t > 0 for t in timed)
    assert 0 < r["onnx"]["export_s"] < r["seconds"]
    assert sum(row["latency_ms"] for row in r["inference"]) / 1000 < r["seconds"]


def test_bench_onnx_at_another_size_runs_more_tokens_at_ratios_0_and_075(quick_result):
    at = quick_result["onnx_at"]
    assert at["image_size"] == [48, 48] and at["max_diff_fp32"] <= 1e-4
    assert [(row["batch"], row["ratio"], row["visible_tokens"]) for row in at["latency"]] == [
        (b, ratio, tokens) for b in (1, 2) for ratio, tokens in ((0.0, 36), (0.75, 9))]


def test_bench_rejects_a_negative_onnx_at(capsys):
    assert main(["bench", "--quick", "--onnx-at", "-8"]) == 2
    assert "--onnx-at" in capsys.readouterr().err


def test_bench_onnx_and_realtime_outputs_match_pytorch(quick_result):
    onnx, rt = quick_result["onnx"], quick_result["realtime"]
    assert onnx["max_diff_fp32"] <= 1e-4
    assert 0 < onnx["max_diff_int8"] <= INT8_TOLERANCE
    assert [p["name"] for p in rt["paths"]] == ["pytorch", "onnxruntime_fp32", "onnxruntime_int8", NO_SEAM_PATH]
    diffs = {p["name"]: p["max_abs_diff_vs_pytorch"] for p in rt["paths"]}
    assert diffs["pytorch"] == 0 and diffs["onnxruntime_fp32"] <= 1
    assert diffs["onnxruntime_int8"] <= round(255 * INT8_TOLERANCE)
    assert diffs[NO_SEAM_PATH] > 0  # without the seam correction: another fill (its cost: benchmarks/quality.py)
    for stream in rt["streams"]:  # the same frames as one at a time, on threads and in worker processes
        assert stream["max_abs_diff_vs_pytorch"] == diffs["onnxruntime_int8"]
    assert rt["frame"] == [64, 64] and REALTIME_HOLE[0] <= rt["hole_fraction"] <= REALTIME_HOLE[1]


def test_realtime_frame_is_seeded_and_has_a_10_to_30_percent_hole():
    photo, hole = realtime_frame(256)
    again = realtime_frame(256)[1]
    assert photo.shape == (256, 256, 3) and photo.dtype == np.uint8
    assert np.array_equal(hole, again)
    assert 0.10 <= hole.mean() <= 0.30


def test_default_run_is_the_short_one_and_full_the_thorough_one():
    default, full = BenchOptions(), full_options()
    assert (default.mode, default.batch_size, default.repeats, default.realtime) == ("default", 4, 3, False)
    assert (full.mode, full.batch_size, full.repeats, full.realtime) == ("full", 8, 5, True)
    assert full.onnx_ratios == RATIOS and (default.onnx_at, full.onnx_at) == (0, 256)


def test_cpu_time_clock_runs_on_one_thread_and_restores_the_threads(tmp_path):
    from dataclasses import replace

    from inpnet.bench import quick_options, run_bench

    before = torch.get_num_threads()
    r = run_bench(replace(quick_options(), clock="cpu", onnx=False, ratios=(0.0, 0.9), repeats=1))
    assert (r["clock"], r["threads"]) == ("cpu", 1)
    assert torch.get_num_threads() == before
    assert [row["tokens"] for row in r["encoder"]] == [16, 2]


def test_bench_prints_a_table(tmp_path, capsys):
    assert main(["bench", "--quick", "--no-onnx", "--repeats", "1", "--warmup", "0"]) == 0
    printed = capsys.readouterr().out
    assert "encoder (InP-Net, visible tokens only)" in printed
    assert "whole model" in printed and "GFLOPs per image at ratio 0" in printed
    assert "ONNX" not in printed and "real time" not in printed


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
    calls.clear()
    interleaved_ms({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=2, warmup=0, block=3)
    assert calls == ["a"] * 3 + ["b"] * 3 + ["a"] * 3 + ["b"] * 3  # blocks of one function, then the next


def test_encoder_token_counts_fall_with_the_ratio(quick_result):
    # nano at 32 px: a 4x4 grid; round(r * 16) patches masked
    assert [(row["ratio"], row["tokens"]) for row in quick_result["encoder"]] == [
        (0.0, 16), (0.25, 12), (0.5, 8), (0.75, 4), (0.9, 2)
    ]


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


def test_the_gpu_mfu_benchmark_counts_the_training_steps_flops():
    """benchmarks/gpu_train_mfu.py: its FLOP count (run here on CPU) grows with the batch and matches the
    forward + backward of the model's linear layers to within the other layers' share."""
    from pathlib import Path

    from conftest import load_file_module
    from inpnet.bench import training_step
    from inpnet.config import ModelConfig

    mfu = load_file_module(Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_train_mfu.py")
    config = ModelConfig.from_name("skip-recon", preset="nano", image_size=32, patch_size=8)
    counts = [mfu.counted_flops(training_step(config, batch, torch.device("cpu"), ratio=0.0)) for batch in (1, 2)]
    model = build_model(config)
    tokens = config.num_patches  # ratio 0: every token through the encoder
    linear = sum(m.weight.numel() for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and n.startswith("encoder.blocks"))
    assert counts[1] == pytest.approx(2 * counts[0], rel=0.02)
    assert counts[0] >= 3 * 2 * linear * tokens  # forward 2 FLOPs per MAC, backward twice that


def test_full_with_no_onnx_is_accepted_and_only_a_given_onnx_at_is_refused_with_it(monkeypatch, capsys):
    """Review 13: --full sets its own --onnx-at, so the new refusal of --onnx-at with --no-onnx refused
    `inpnet bench --full --no-onnx` too."""
    import inpnet.bench
    from inpnet.cli import main

    class Reached(Exception):
        pass

    def reached(opts, log):
        raise Reached

    monkeypatch.setattr(inpnet.bench, "run_bench", reached)
    with pytest.raises(Reached):
        main(["bench", "--full", "--no-onnx"])
    assert main(["bench", "--quick", "--no-onnx", "--onnx-at", "64"]) == 2
    assert "--onnx-at is an ONNX export size: it does nothing with --no-onnx" in capsys.readouterr().err
