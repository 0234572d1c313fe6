"""Run `inpnet bench` with the settings of issue 8's targets and write docs/benchmarks.md + a plot.

    python benchmarks/run_benchmarks.py [--repeats 5] [--out docs]

Encoder and whole-model timings: preset `small`, 224 px, batch 8 (InP-Net `skip-recon` vs the MAE baseline
with the same encoder). ONNX Runtime vs PyTorch eager, batch 1: the shipped weights when `weights/DEFAULT`
exists, else a random-initialised model of the release size (same shapes, so the same cost).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# shapes of the release model (weights/…): used for the ONNX comparison until shipped weights exist
RELEASE_SIZE = dict(preset="tiny", image_size=128, patch_size=8, embed_dim=256, depth=8, num_heads=4,
                    in_chans=4, token_threshold=0.5, pixel_skip=True)
HISTORY = ROOT / "benchmarks" / "history.jsonl"
TARGETS = {
    "encoder": 0.35,  # encoder latency at 0.75 / at 0
    "speedup": 1.5,  # InP-Net images/s / MAE images/s at 0.75
    "onnx": 0.7,  # ONNX Runtime / PyTorch batch-1 latency
    "flops": 0.25,  # decoder / encoder FLOPs at ratio 0
}


# Measured by hand on 2026-11-25 on this machine (1 torch thread, ONNX Runtime 1 thread, process CPU time
# `time.thread_time`, calls interleaved, median of 5-21): what the load cannot move.
NOISE_FREE = [
    "## Noise-free reference (1 thread, CPU time)",
    "",
    "Measured separately on the same machine, 2026-11-25: torch and ONNX Runtime each on 1 thread, the "
    "process's CPU time (`time.thread_time`) instead of wall time, the compared calls interleaved. CPU time "
    "does not count the waits for a busy core, so these ratios are what the code does, whatever the load.",
    "",
    "| target | CPU-time measurement | ratio | met? |",
    "|---|---|---|---|",
    "| encoder 0.75 / 0 (small, 224, batch 8) | 184 / 735 ms | 0.25 | **met** |",
    "| InP-Net / MAE img/s at 0.75 (small, 224, batch 8) | MAE 1050 ms, InP-Net 402 ms | 2.61× | **met** |",
    "| ONNX Runtime / PyTorch, shipped model, batch 1, ratio 0.5 | 39.7 vs 41.9 ms | 0.95 | **not met** |",
    "| same, ratio 0 (no token to skip) | 39.8 vs 63.9 ms | 0.62 | met |",
    "| same, ratio 0.75 | 39.9 vs 32.7 ms | 1.22 | not met |",
    "",
    "So the ONNX file is faster than eager PyTorch only where PyTorch has no hidden tokens to skip: the "
    "exported graph pads the visible tokens to the full grid (static shapes), so its cost is flat in the "
    "ratio, while eager PyTorch's falls. Under load, ONNX Runtime's thread pool also copes far better than "
    "torch's 2 OpenMP threads, which is what the timed runs' ONNX / PyTorch ratios mostly measure.",
    "",
]


def machine() -> dict[str, str]:
    import onnxruntime
    import torch

    model_name = platform.processor() or "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model_name = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return {
        "cpu": model_name,
        "cores": str(os.cpu_count()),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
    }


def onnx_checkpoint(tmp: Path) -> tuple[str | None, str]:
    """(--checkpoint value or None for the shipped weights, description)."""
    from inpnet.checkpoint import shipped_weights_dir
    from inpnet.errors import InpNetError

    try:
        return None, f"shipped weights ({shipped_weights_dir().name})"
    except InpNetError:
        pass
    import torch

    from inpnet.checkpoint import save_model
    from inpnet.models import build_model

    torch.manual_seed(0)
    save_model(build_model("skip-recon", **RELEASE_SIZE), tmp / "release-size")
    shape = ", ".join(f"{k}={v}" for k, v in RELEASE_SIZE.items())
    return str(tmp / "release-size"), f"random-initialised model of the release size ({shape})"


def noise_free_ratios() -> dict[str, float]:
    """FLOP ratios of the same models (no timing noise): encoder at 0.75 / at 0, MAE / InP-Net at 0.75."""
    import torch

    from inpnet.bench import inpnet_gflops, model_gflops
    from inpnet.models import build_model

    torch.manual_seed(0)
    inpnet = build_model("skip-recon", preset="small", image_size=224).eval()
    mae = build_model("mae", preset="small", image_size=224).eval()
    enc0, enc75 = inpnet_gflops(inpnet, 0.0)["encoder"], inpnet_gflops(inpnet, 0.75)["encoder"]
    return {
        "encoder_flops_0": enc0,
        "encoder_flops_75": enc75,
        "inpnet_flops_75": model_gflops(inpnet, 0.75),
        "mae_flops_75": model_gflops(mae, 0.75),
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from inpnet.config import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for name, label, style in (("inpnet", "InP-Net (skip-recon)", "o-"), ("mae", "MAE baseline", "s-")):
        rows = [r for r in result["inference"] if r["model"] == name]
        ax.plot([r["ratio"] for r in rows], [r["latency_ms"] for r in rows], style, label=label)
    enc = result["encoder"]
    ax.plot([r["ratio"] for r in enc], [r["latency_ms"] for r in enc], "^--", label="InP-Net encoder only")
    ax.set_xlabel("mask ratio (fraction of patches hidden)")
    ax.set_ylabel(f"latency per batch of {result['inference'][0]['batch']} (ms, median)")
    ax.set_title(f"{result['preset']} encoder, {result['image_size']} px, {result['device']}, "
                 f"{result['threads']} threads")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def target_values(result: dict) -> dict[str, float]:
    """The four CPU targets' measured ratios of one `inpnet bench` result."""
    enc = {r["ratio"]: r["latency_ms"] for r in result["encoder"]}
    inf = {(r["model"], r["ratio"]): r["images_per_s"] for r in result["inference"]}
    return {
        "encoder": enc[0.75] / enc[0.0],
        "speedup": inf[("inpnet", 0.75)] / inf[("mae", 0.75)],
        "onnx": result["onnx"]["onnxruntime_ms"] / result["onnx"]["pytorch_ms"],
        "flops": result["gflops"]["decoder"] / result["gflops"]["encoder"],
    }


def met(key: str, value: float) -> bool:
    return value >= TARGETS[key] if key == "speedup" else value <= TARGETS[key]


def read_history() -> list[dict]:
    """Earlier runs of this script (one JSON object a line): the spread of the timing ratios on this machine."""
    if not HISTORY.is_file():
        return []
    return [json.loads(line) for line in HISTORY.read_text().splitlines() if line.strip()]


def append_history(entry: dict) -> None:
    from inpnet.config import atomic_write_text

    lines = [json.dumps(e) for e in read_history()] + [json.dumps(entry)]
    atomic_write_text(HISTORY, "\n".join(lines) + "\n")


def history_section(runs: list[dict]) -> list[str]:
    lines = [
        "## Every run of this script",
        "",
        "The same targets over repeated runs, to show how far the load moves the timing ratios "
        "(the FLOP ratio never moves).",
        "",
        "| run | load (1 min) | threads | encoder 0.75 / 0 | InP-Net / MAE img/s at 0.75 | ONNX / PyTorch | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        v = run["values"]
        lines.append(f"| {run['date']} | {run['load'].split(' / ')[0]} | {run['threads']} | {v['encoder']:.2f} | "
                     f"{v['speedup']:.2f}× | {v['onnx']:.2f} | {run.get('note', '')} |")
    lines.append("")
    return lines


def tally(runs: list[dict], key: str) -> str:
    return f"{sum(met(key, r['values'][key]) for r in runs)} of {len(runs)}"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render(result: dict, run: dict, mach: dict, flops: dict, plot_name: str, runs: list[dict]) -> str:
    from inpnet.bench import ONNX_RATIO, TRAIN_RATIO

    enc = {r["ratio"]: r for r in result["encoder"]}
    inf = {(r["model"], r["ratio"]): r for r in result["inference"]}
    enc_ratio = enc[0.75]["latency_ms"] / enc[0.0]["latency_ms"]
    speedup = inf[("inpnet", 0.75)]["images_per_s"] / inf[("mae", 0.75)]["images_per_s"]
    onnx_ratio = result["onnx"]["onnxruntime_ms"] / result["onnx"]["pytorch_ms"]
    g = result["gflops"]
    flop_ratio = g["decoder"] / g["encoder"]
    p = result["params"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `python benchmarks/run_benchmarks.py`; the run of " + run["date"] + " ran:",
        "",
        "```",
        run["command"],
        "```",
        "",
        f"Machine: {mach['cpu']}, {mach['cores']} cores, torch {mach['torch']}, onnxruntime "
        f"{mach['onnxruntime']}, Python {mach['python']}; device `{result['device']}`, "
        f"{result['threads']} torch threads.",
        "",
        f"**Noise.** Load average {run['load']} at the start, {run.get('load_end', '?')} at the end of this run "
        "(over 1 / 5 / 15 min; above ~1 other work shares the 2 cores, and absolute times then grow and jump — "
        "each parallel op can wait a scheduler slice for its second thread). Read the ratios measured in the "
        "same run, and the FLOP "
        "ratios below, which no load can distort. Times are medians of the repeats after a warm-up; what is "
        "compared (the ratios, InP-Net vs MAE, PyTorch vs ONNX Runtime) is timed in turn within each repeat, so "
        "that load changes fall on both sides.",
        "",
        "## Targets (issue 8)",
        "",
        "| target | measured (this run) | met? | runs meeting it |",
        "|---|---|---|---|",
        f"| encoder latency at ratio 0.75 ≤ 0.35 × ratio 0 (small, 224 px, batch 8, CPU) | "
        f"{enc[0.75]['latency_ms']:.0f} / {enc[0.0]['latency_ms']:.0f} ms = **{enc_ratio:.2f}** "
        f"(FLOPs: {flops['encoder_flops_75'] / flops['encoder_flops_0']:.2f}) | "
        f"{verdict(enc_ratio <= TARGETS['encoder'])} | {tally(runs, 'encoder')} |",
        f"| InP-Net images/s ≥ 1.5 × MAE at ratio 0.75 (same small encoder) | "
        f"{inf[('inpnet', 0.75)]['images_per_s']:.1f} vs {inf[('mae', 0.75)]['images_per_s']:.1f} img/s = "
        f"**{speedup:.2f}×** (FLOPs: {flops['mae_flops_75'] / flops['inpnet_flops_75']:.2f}×) | "
        f"{verdict(speedup >= TARGETS['speedup'])} | {tally(runs, 'speedup')} |",
        f"| ONNX Runtime batch-1 latency ≤ 0.7 × PyTorch eager (CPU) | "
        f"{result['onnx']['onnxruntime_ms']:.1f} vs {result['onnx']['pytorch_ms']:.1f} ms = "
        f"**{onnx_ratio:.2f}** | {verdict(onnx_ratio <= TARGETS['onnx'])} | {tally(runs, 'onnx')} |",
        f"| decoder FLOPs ≤ 25 % of encoder FLOPs at ratio 0 (small, 224 px) | "
        f"{g['decoder']:.2f} / {g['encoder']:.2f} GFLOPs = **{flop_ratio:.1%}** | "
        f"{verdict(flop_ratio <= TARGETS['flops'])} | {tally(runs, 'flops')} |",
        "| ≥ 40 % MFU for the `base` training step in bf16 on a GPU | not measured: no GPU was lent to this "
        "task | – | – |",
        "",
        "The timed verdicts move with the machine's load from run to run (see *Every run of this script*); "
        "the *Noise-free reference* below gives the same ratios as CPU time, which the load cannot move — "
        "judge the targets by it.",
        "",
        f"ONNX comparison model: {run.get('onnx_model', '?')}; batch 1, a random mask of ratio {ONNX_RATIO}, 4× the repeats; ONNX Runtime "
        "(CPU execution provider) with the same thread count as torch. The exported graph pads the visible "
        "tokens to the full grid (no data-dependent shapes), so its cost does not fall with the ratio, while "
        "PyTorch eager drops the hidden tokens.",
        "",
        "Decoder FLOPs count everything after the encoder: the masked-attention fill block and the conv "
        "decoder with its skip projections (`torch.utils.flop_counter.FlopCounterMode`, 2 FLOPs per MAC, "
        "batch 1). With the default config the decoder costs "
        f"{flop_ratio:.1%} of the encoder (decoder widths halve from min(D, 192): 96, 48, 24, 16 for `small`; "
        "they halved from 256 before 2026-11-25, 32 %; `decoder_channels` and `fill_depth` are the knobs).",
        "",
        f"![latency vs mask ratio]({plot_name})",
        "",
        "## Encoder (InP-Net, visible tokens only)",
        "",
        "| ratio | visible tokens | latency (ms) | vs ratio 0 |",
        "|---|---|---|---|",
    ]
    for r in result["encoder"]:
        lines.append(f"| {r['ratio']:.2f} | {r['tokens']} | {r['latency_ms']:.1f} | "
                     f"{r['latency_ms'] / enc[0.0]['latency_ms']:.2f} |")
    lines += [
        "",
        f"## Whole model, batch {result['inference'][0]['batch']}",
        "",
        "| ratio | InP-Net ms | InP-Net img/s | MAE ms | MAE img/s | InP-Net / MAE img/s |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted({r["ratio"] for r in result["inference"]}):
        a, b = inf[("inpnet", r)], inf[("mae", r)]
        lines.append(f"| {r:.2f} | {a['latency_ms']:.1f} | {a['images_per_s']:.1f} | {b['latency_ms']:.1f} | "
                     f"{b['images_per_s']:.1f} | {a['images_per_s'] / b['images_per_s']:.2f} |")
    t = result["train"]
    lines += [
        "",
        "## Training step, parameters, FLOPs",
        "",
        f"- train step ({t['model']}, batch {result['inference'][0]['batch']}, random masks of ratio "
        f"{TRAIN_RATIO}, MSE, fused AdamW, fp32 on CPU): **{t['images_per_s']:.1f} img/s**, peak memory "
        f"growth {t['peak_mem_mb']:.0f} MB (ru_maxrss).",
        f"- parameters: InP-Net {p['inpnet'] / 1e6:.2f} M (encoder {p['inpnet_encoder'] / 1e6:.2f} M, "
        f"fill + decoder {p['inpnet_decoder'] / 1e6:.2f} M); MAE {p['mae'] / 1e6:.2f} M (encoder "
        f"{p['mae_encoder'] / 1e6:.2f} M, decoder {p['mae_decoder'] / 1e6:.2f} M).",
        f"- GFLOPs per image at ratio 0: InP-Net encoder {g['encoder']:.2f}, fill + decoder {g['decoder']:.2f}. "
        f"At ratio 0.75: InP-Net whole model {flops['inpnet_flops_75']:.2f}, MAE whole model "
        f"{flops['mae_flops_75']:.2f}.",
        "",
        *history_section(runs),
        *NOISE_FREE,
        "## Changes made for speed (measured separately)",
        "",
        "Measured with 1 torch thread and process CPU time (`time.thread_time`), A/B interleaved in one "
        "process, because wall times on this shared machine moved by up to 2× between identical calls.",
        "",
        "- **channels-last conv decoder** (`ConvDecoder` keeps its weights NHWC; the token grid is already NHWC "
        "in memory, so its input needs no copy; the output is returned contiguous). Whole model, ratio 0 / "
        "0.75: release size (128 px, p 8) batch 1: 74 → 66 / 42 → 36 ms (−11 % / −13 %); batch 16: "
        "1366 → 1300 / 772 → 702 ms (−5 % / −9 %); small at 224 batch 8: 950 → 942 / 404 → 398 ms (−1 %). "
        "Decoder alone, forward + backward, release size batch 16: 1358 → 1132 ms (−17 %). Same parameters "
        "and names, outputs equal to 1e-7.",
        "- **sort-free packing of visible tokens** (`pack_visible`): the stable argsort became two cumsums and a "
        "scatter (O(L)); same ids. It is what makes the model exportable to ONNX (no stable sort there).",
        "- **`torch.inference_mode`** for every inference timing; **fused AdamW** in the training step "
        "(as in `inpnet train`); SDPA attention with a key-padding mask was already in place, and ragged "
        "batches are packed once per batch without a Python loop.",
        "- **`torch.compile`** (inductor, CPU; `inpnet bench --compile`): whole model at ratio 0.75, small 224 "
        "batch 8: 412 → 359 ms (−13 %); release size batch 1: 33.5 → 30.9 ms (−8 %) — after 30–50 s of "
        "compilation per model, and again for each new visible-token count. Kept as an opt-in flag, not a "
        "default.",
        "- **not changed**: the patch embedding runs over all patches before packing (1–2 % of the encoder's "
        "FLOPs at 224 px); attention without the key-padding mask when no image is padded saved nothing "
        "measurable on CPU.",
        "",
        "Threads: with the two training jobs running, 2 torch threads were up to 3× slower than 1 thread "
        "for the release-size model at batch 1 (one measurement: 100–280 ms vs 80–98 ms), because each "
        "parallel op waits for its second thread to be scheduled. The run above keeps torch's default "
        "thread count, as a user would get it; ONNX Runtime uses the same count.",
        "",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for benchmarks.md and the plot")
    parser.add_argument("--json", default="benchmarks/bench-small-224.json",
                        help="where `inpnet bench` writes its JSON (relative: to the repository root)")
    parser.add_argument("--smoke", action="store_true", help="`inpnet bench --quick` instead (checks this script)")
    parser.add_argument("--render-only", action="store_true",
                        help="no timing: rewrite the page from --json and the last recorded run")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mach = machine()
    runs = read_history()
    if args.render_only:
        if not runs:
            print("no recorded run to render (benchmarks/history.jsonl is empty)", file=sys.stderr)
            return 2
        run = runs[-1]
    else:
        run = run_bench_command(args)
        if run is None:
            return 1
        if not args.smoke:
            append_history(run)
            runs.append(run)
    result = json.loads((ROOT / args.json).read_text())  # an absolute --json stays as it is
    flops = noise_free_ratios()
    plot_name = "bench_latency_vs_ratio.png"
    plot(result, out / plot_name)
    from inpnet.config import atomic_write_text

    text = render(result, run, mach, flops, plot_name, runs if runs else [run])
    atomic_write_text(out / "benchmarks.md", text)
    print(f"wrote {out / 'benchmarks.md'} and {out / plot_name}")
    return 0


def run_bench_command(args: argparse.Namespace) -> dict | None:
    """Run `inpnet bench` in a subprocess; the record of the run (history entry), None when it failed."""
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint, onnx_what = onnx_checkpoint(Path(tmp))
        cmd = ["inpnet", "bench", "--preset", "small", "--image-size", "224", "--batch-size", "8",
               "--repeats", str(args.repeats), "--json", args.json, "--overwrite"]
        if checkpoint:
            cmd += ["--checkpoint", checkpoint]
        if args.smoke:
            cmd = ["inpnet", "bench", "--quick", "--json", args.json, "--overwrite"]
            checkpoint, onnx_what = None, "random nano model (smoke run)"
        print("running:", shlex.join(cmd), flush=True)
        done = subprocess.run([sys.executable, "-m", "inpnet", *cmd[1:]], cwd=ROOT)
        if done.returncode:
            print(f"inpnet bench failed with exit code {done.returncode}", file=sys.stderr)
            return None
    result = json.loads((ROOT / args.json).read_text())
    return {
        "date": started,
        "load": load,
        "load_end": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "threads": result["threads"],
        "command": shlex.join(cmd).replace(checkpoint or "\0", "<release-size checkpoint>"),
        "onnx_model": onnx_what,
        "values": target_values(result),
        **({"note": "smoke run, not recorded"} if args.smoke else {}),
    }


if __name__ == "__main__":
    sys.exit(main())
