"""docs/benchmarks.md and its plot from the JSON files of benchmarks/ alone (no number typed here).

    python benchmarks/render_benchmarks.py      # same as run_benchmarks.py --render-only
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLOT = "bench_latency_vs_ratio.png"

# Measured once by hand (benchmarks/onnx_ratio_profile.py), not by run_benchmarks.py: kept on the page when it is
# rendered again.
DECODER_PROFILE_NOTE = (
    'How far a lighter decoder could take it (2026-12-01, session 17; `python benchmarks/onnx_ratio_profile.py`, '
    "ONNX Runtime's own profiler on the shipped 128-px fp32 graph, 2 threads, warm-up runs left out, two runs under"
    " `/work/runs/quiet.sh` with nothing else running): the convolution-type nodes (the decoder's convolutions and "
    'transposed convolutions, their layout reorders, ReLU, Concat, and the patch embedding) took 16.6-17.1 ms of '
    'the graph at ratio 0 and 17.1-18.0 ms at ratio 0.75 at batch 1 (129.7-154.3 / 126.7-141.4 ms at batch 8): the '
    'same at both ratios, about half of the ratio-0.75 graph. With all of them free, ratio 0.75 / ratio 0 would be '
    '0.39-0.45 for the graph alone and 0.47-0.54 with the prefill that runs before it (3.4-3.6 ms at ratio 0.75, '
    'nothing at ratio 0) at batch 1, and 0.30-0.32 / 0.38-0.40 at batch 8 (the graph alone measured 0.58-0.64 and '
    "0.49-0.56 in these runs). So 0.5 at 128 px, batch 1, needs the decoder's convolutions cut to almost nothing "
    'and the prefill too; the half-width decoder trained on a GPU (1.15x faster frames, 0.17 dB lower) is far from '
    "that. At 256 px the encoder's share is larger and the goal is met (table above)."
)


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _rows(bench: dict, key: str = "onnx") -> dict[tuple[int, float], dict]:
    return {(r["batch"], r["ratio"]): r for r in bench[key]["latency"]}


def fall_by_batch(bench: dict, key: str = "onnx") -> dict[int, tuple[float, float]]:
    """batch -> (ORT ms at ratio 0.75, at ratio 0) of one ONNX section."""
    rows = _rows(bench, key)
    return {b: (rows[(b, 0.75)]["onnxruntime_ms"], rows[(b, 0.0)]["onnxruntime_ms"]) for b, _ in sorted(rows)}


def fall_row(bench: dict, limit: float) -> str:
    """The target row 'ORT latency at 0.75 <= limit x ratio 0', at the model's size and (when measured) at
    the `onnx_at` export size."""
    sections = [("onnx", "model size")] + ([("onnx_at", "exported larger")] if bench.get("onnx_at") else [])
    texts, verdicts = [], []
    for key, what in sections:
        fall = fall_by_batch(bench, key)
        ok = all(a / z <= limit for a, z in fall.values())
        verdicts.append(f"{'met' if ok else 'not met'} at {bench[key]['image_size'][0]} px")
        texts.append(f"{bench[key]['image_size'][0]} px ({what}, {_tokens(bench, key)} tokens): " + "; ".join(
            f"batch {b}: {a:.1f} / {z:.1f} ms = **{a / z:.2f}**" for b, (a, z) in fall.items()))
    return f"{'<br>'.join(texts)} | **{', '.join(verdicts)}** |"


def _tokens(bench: dict, key: str) -> int:
    return max(r["visible_tokens"] for r in bench[key]["latency"])


def targets(files: dict) -> list[str]:
    from run_benchmarks import TARGETS

    bench, export, quality, run = files["bench"], files["export"], files["quality"], files["run"]
    onnx = _rows(bench)
    rt = bench["realtime"]
    best = max(rt["paths"], key=lambda p: p["fps"])
    stream = max(rt["streams"], key=lambda p: p["fps"])
    fps_verdict = (verdict(True) if best["fps"] >= TARGETS["fps"] else
                   "**met by a stream** (throughput); not one frame at a time" if stream["fps"] >= TARGETS["fps"]
                   else verdict(False))
    steps = quality["pipeline"]["steps"]
    lost = {name: -s["delta_vs_pytorch"] for name, s in steps.items() if name != "pytorch"}
    enc = {r["ratio"]: r["latency_ms"] for r in bench["encoder"]}
    inf = {(r["model"], r["ratio"]): r["images_per_s"] for r in bench["inference"]}
    enc_ratio, speedup = enc[0.75] / enc[0.0], inf[("inpnet", 0.75)] / inf[("mae", 0.75)]
    per_ratio = {r: onnx[(1, r)]["onnxruntime_ms"] / onnx[(1, r)]["pytorch_ms"] for b, r in onnx if b == 1}
    g, f = bench["gflops"], run["flops"]
    flop_ratio = g["decoder"] / g["encoder"]
    onnx_text = ", ".join(f"{r:g}: {v:.2f}" for r, v in sorted(per_ratio.items()))
    return [
        "| target | measured | met? |",
        "|---|---|---|",
        f"| `inpnet export-onnx` of the shipped model < {TARGETS['export_s']:g} s (issue 15) | "
        f"**{export['seconds']:.1f} s** wall, check max \\|diff\\| {export['max_diff']:.1e} | "
        f"{verdict(export['seconds'] < TARGETS['export_s'])} |",
        f"| `inpnet bench` ({bench['mode']} run) ≤ {TARGETS['bench_s']:g} s (issue 15) | {_bench_seconds_text(bench)} | "
        f"{verdict(_default_seconds(bench) <= TARGETS['bench_s'])} |",
        f"| ONNX Runtime latency at ratio 0.75 ≤ {TARGETS['onnx_fall']:g} × ratio 0, batch 1 and 8 (issue 15) | "
        f"{fall_row(bench, TARGETS['onnx_fall'])}",
        f"| ≥ {TARGETS['fps']:g} frames/s end to end, 256 px, batch 1, {rt['threads']} threads, fastest path (issue 15) | "
        f"one frame at a time, {best['name']}: **{best['fps']:.1f} frames/s** ({best['ms']:.1f} ms); "
        f"a stream (`InpaintPipeline.stream`, int8), {_stream_text(stream)}: "
        f"**{stream['fps']:.1f} frames/s** ({stream['ms_per_frame']:.1f} ms a frame) | {fps_verdict} |",
        f"| ≤ {TARGETS['quality_db']:g} dB hole PSNR lost per path (issue 15) | "
        f"{', '.join(f'{name} {v:+.3f} dB' for name, v in lost.items())} lost against PyTorch (pipeline, "
        f"{quality['pipeline']['n']} held-out photos) | {verdict(all(v <= TARGETS['quality_db'] for v in lost.values()))} |",
        f"| encoder latency at ratio 0.75 ≤ {TARGETS['encoder']:g} × ratio 0 (small, 224 px, batch "
        f"{bench['inference'][0]['batch']}; issue 8) | {enc[0.75]:.0f} / {enc[0.0]:.0f} ms = **{enc_ratio:.2f}** "
        f"(FLOPs: {f['encoder_gflops_75'] / f['encoder_gflops_0']:.2f}) | {verdict(enc_ratio <= TARGETS['encoder'])} |",
        f"| InP-Net images/s ≥ {TARGETS['speedup']:g} × MAE at ratio 0.75 (issue 8) | "
        f"{inf[('inpnet', 0.75)]:.1f} vs {inf[('mae', 0.75)]:.1f} img/s = **{speedup:.2f}×** (FLOPs: "
        f"{f['mae_gflops_75'] / f['inpnet_gflops_75']:.2f}×) | {verdict(speedup >= TARGETS['speedup'])} |",
        f"| ONNX Runtime batch-1 latency ≤ {TARGETS['onnx']:g} × PyTorch eager, at every ratio (issue 8) | "
        f"ORT / PyTorch by ratio: {onnx_text} | {verdict(all(v <= TARGETS['onnx'] for v in per_ratio.values()))} |",
        f"| decoder FLOPs ≤ 25 % of encoder FLOPs at ratio 0 (small, 224 px; issue 8) | {g['decoder']:.2f} / "
        f"{g['encoder']:.2f} GFLOPs = **{flop_ratio:.1%}** | {verdict(flop_ratio <= TARGETS['flops'])} |",
        mfu_row(files.get("gpu_mfu")),
    ]


def mfu_row(mfu: dict | None) -> str:
    """The issue-8 MFU target from benchmarks/gpu-mfu.json (benchmarks/gpu_train_mfu.py on a lent GPU)."""
    what = "| ≥ 40 % MFU for the `base` training step in bf16 on a GPU (issue 8) | "
    if not mfu:
        return what + "not measured here | – |"
    best = max(mfu["rows"], key=lambda r: r["mfu_datasheet"])
    by_batch = ", ".join(f"{r['batch']}: {r['mfu_datasheet']:.1%}" for r in mfu["rows"])
    c = mfu["config"]
    return (what + f"{mfu['gpu']}, torch {mfu['torch']}, `{c['preset']}` {c['image_size'][0]} px / patch "
            f"{c['patch_size']}, ratio {mfu['mask_ratio']:g} (`benchmarks/gpu_train_mfu.py`, `gpu-mfu.json`): "
            f"batch {best['batch']}: {best['achieved_tflops']:.0f} TFLOP/s counted = **{best['mfu_datasheet']:.1%}** "
            f"of the datasheet's {mfu['peak_tflops_datasheet']:.0f} ({best['mfu_measured_peak']:.1%} of the "
            f"{mfu['peak_tflops_measured_matmul']:.0f} TFLOP/s one 8192³ bf16 matmul reached in the same run); "
            f"by batch {by_batch} | {verdict(best['mfu_datasheet'] >= 0.40)} |")


def _default_seconds(bench: dict) -> float:
    """The bench's time without its `--onnx-at` and `--realtime` sections (extras the default run does not have)."""
    return bench["seconds"] - sum((bench.get(key) or {}).get("seconds", 0.0) for key in ("onnx_at", "realtime"))


def _bench_seconds_text(bench: dict) -> str:
    extras = [f"`--realtime` {bench['realtime']['seconds']:.0f} s"] if (bench.get("realtime") or {}).get("seconds") else []
    if at := bench.get("onnx_at"):
        extras.append(f"the {at['image_size'][0]}-px export, `--onnx-at`, {at['seconds']:.0f} s")
    if not extras:
        return f"**{bench['seconds']:.0f} s**"
    return f"**{_default_seconds(bench):.0f} s** (the run also timed {' and '.join(extras)} more)"


def onnx_table(bench: dict, key: str = "onnx") -> list[str]:
    onnx = bench[key]
    base = {r["batch"]: r["onnxruntime_ms"] for r in onnx["latency"] if r["ratio"] == 0.0}
    lines = [
        "| batch | ratio | visible tokens | PyTorch ms | ORT ms | ORT padded ms | ORT int8 ms | ORT / PyTorch | "
        "ORT vs ratio 0 | int8 vs ratio 0 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    base8 = {r["batch"]: r["onnxruntime_int8_ms"] for r in onnx["latency"] if r["ratio"] == 0.0}
    for r in onnx["latency"]:
        lines.append(
            f"| {r['batch']} | {r['ratio']:.2f} | {r['visible_tokens']} | {r['pytorch_ms']:.1f} | "
            f"{r['onnxruntime_ms']:.1f} | {r['onnxruntime_padded_ms']:.1f} | {r['onnxruntime_int8_ms']:.1f} | "
            f"{r['onnxruntime_ms'] / r['pytorch_ms']:.2f} | {r['onnxruntime_ms'] / base[r['batch']]:.2f} | "
            f"{r['onnxruntime_int8_ms'] / base8[r['batch']]:.2f} |")
    return lines


def onnx_at_section(bench: dict) -> list[str]:
    at = bench.get("onnx_at")
    if not at:
        return []
    size = at["image_size"][0]
    return [
        f"### The same model exported at {size} px",
        "",
        f"`inpnet export-onnx --image-size {size}` (`InpNet.at_size`: the position table resampled once, the "
        f"same output as the model fed {size}-px images): {_tokens(bench, 'onnx_at')} tokens instead of "
        f"{_tokens(bench, 'onnx')}. Export {at['export_s']:.1f} s in the bench, max \\|diff\\| vs PyTorch "
        f"{at['max_diff_fp32']:.1e} (fp32), {at['max_diff_int8']:.1e} (int8). Here the encoder's share of the "
        "cost is larger (attention grows with the square of the token count, the decoder only with the "
        "pixels), so the cost falls further with the mask. The real-time pipeline runs the model at its "
        "own size (the table above); this export is for whole frames at full resolution.",
        "",
        *onnx_table(bench, "onnx_at"),
        "",
    ]


def realtime_table(bench: dict) -> list[str]:
    rt = bench["realtime"]
    lines = ["| path | ms per frame (median) | frames/s | max difference from PyTorch (8-bit levels) |",
             "|---|---|---|---|"]
    for p in rt["paths"]:
        lines.append(f"| {p['name']} | {p['ms']:.1f} | {p['fps']:.1f} | {p['max_abs_diff_vs_pytorch']} |")
    for st in rt["streams"]:
        lines.append(f"| stream: onnxruntime_int8, {_stream_text(st)} ({st['frames']} frames; total time / frames, "
                     f"not a median) | {st['ms_per_frame']:.1f} | {st['fps']:.1f} | {st['max_abs_diff_vs_pytorch']} |")
    return lines


def _stream_text(stream: dict) -> str:
    if stream["workers"] == "threads":
        return f"{stream['in_flight']} frames in flight on threads"
    return (f"on {stream['processes']} worker processes (`processes={stream['processes']}`), {stream['in_flight']} "
            f"frames in flight, their start-up ({stream['start_s']:.1f} s) not counted")


def quality_table(quality: dict) -> list[str]:
    lines = ["| step | where | hole PSNR (dB) | vs PyTorch (dB, mean over photos) | 95 % interval | worst photo |",
             "|---|---|---|---|---|---|"]
    for part, label in (("model_size", "evaluation code, {image_size[0]} px, {mask}"),
                        ("pipeline", "InpaintPipeline, {frame[0]} px frames, 10-30 % holes")):
        data = quality[part]
        where = label.format(**data)
        for name, s in data["steps"].items():
            lo, hi = s["delta_interval"]
            lines.append(f"| {name} | {where} | {s['psnr_hole']:.3f} | {s['delta_vs_pytorch']:+.4f} | "
                         f"[{lo:+.4f}, {hi:+.4f}] | {s['worst_photo_delta']:+.4f} |")
    return lines


def model_tables(bench: dict) -> list[str]:
    enc = {r["ratio"]: r for r in bench["encoder"]}
    inf = {(r["model"], r["ratio"]): r for r in bench["inference"]}
    lines = ["## Encoder (InP-Net, visible tokens only)", "",
             "| ratio | visible tokens | latency (ms) | vs ratio 0 |", "|---|---|---|---|"]
    for r in bench["encoder"]:
        lines.append(f"| {r['ratio']:.2f} | {r['tokens']} | {r['latency_ms']:.1f} | "
                     f"{r['latency_ms'] / enc[0.0]['latency_ms']:.2f} |")
    lines += ["", f"## Whole model, batch {bench['inference'][0]['batch']}", "",
              "| ratio | InP-Net ms | InP-Net img/s | MAE ms | MAE img/s | InP-Net / MAE img/s |",
              "|---|---|---|---|---|---|"]
    for r in sorted({r["ratio"] for r in bench["inference"]}):
        a, b = inf[("inpnet", r)], inf[("mae", r)]
        lines.append(f"| {r:.2f} | {a['latency_ms']:.1f} | {a['images_per_s']:.1f} | {b['latency_ms']:.1f} | "
                     f"{b['images_per_s']:.1f} | {a['images_per_s'] / b['images_per_s']:.2f} |")
    t, p, g = bench["train"], bench["params"], bench["gflops"]
    lines += [
        "", "## Training step, parameters, FLOPs", "",
        f"- train step ({t['model']}, batch {bench['inference'][0]['batch']}, random masks of ratio 0.5, MSE, "
        f"fused AdamW, fp32 on CPU): **{t['images_per_s']:.1f} img/s**, peak memory growth "
        f"{t['peak_mem_mb']:.0f} MB (ru_maxrss).",
        f"- parameters: InP-Net {p['inpnet'] / 1e6:.2f} M (encoder {p['inpnet_encoder'] / 1e6:.2f} M, fill + "
        f"decoder {p['inpnet_decoder'] / 1e6:.2f} M); MAE {p['mae'] / 1e6:.2f} M (encoder "
        f"{p['mae_encoder'] / 1e6:.2f} M, decoder {p['mae_decoder'] / 1e6:.2f} M).",
        f"- GFLOPs per image at ratio 0: InP-Net encoder {g['encoder']:.2f}, fill + decoder {g['decoder']:.2f}.",
    ]
    return lines


def plot(bench: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from inpnet.fileio import atomic_write_bytes

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=110)
    for name, label, style in (("inpnet", "InP-Net (skip-recon), PyTorch", "o-"), ("mae", "MAE baseline", "s-")):
        rows = [r for r in bench["inference"] if r["model"] == name]
        left.plot([r["ratio"] for r in rows], [r["latency_ms"] for r in rows], style, label=label)
    enc = bench["encoder"]
    left.plot([r["ratio"] for r in enc], [r["latency_ms"] for r in enc], "^--", label="InP-Net encoder only")
    left.set_title(f"{bench['preset']}, {bench['image_size']} px, batch {bench['inference'][0]['batch']}")
    onnx = bench["onnx"]
    batch = max(r["batch"] for r in onnx["latency"])
    rows = [r for r in onnx["latency"] if r["batch"] == batch]
    for key, label, style in (("pytorch_ms", "PyTorch eager", "o-"), ("onnxruntime_ms", "ONNX Runtime (packed)", "D-"),
                              ("onnxruntime_padded_ms", "ONNX Runtime, padded to L", "x:"),
                              ("onnxruntime_int8_ms", "ONNX Runtime int8", "v-")):
        right.plot([r["ratio"] for r in rows], [r[key] for r in rows], style, label=label)
    right.set_title(f"shipped model, {onnx['image_size'][0]} px, batch {batch}")
    for ax in (left, right):
        ax.set_xlabel("mask ratio (fraction of patches hidden)")
        ax.set_ylabel("latency per batch (ms, median)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{bench['device']}, {bench['threads']} threads")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def _steal_text(bench_run: dict, export: dict) -> str:
    """A sentence on CPU steal (the hypervisor giving this virtual machine's cores to others) during the
    bench and the export, where it was recorded."""
    parts = [f"{share:.0%} during the {name}" for name, share in (("bench", bench_run.get("steal")),
                                                                 ("export", export.get("steal")))
             if share is not None]
    if not parts:
        return ""
    return (f"CPU steal (time the hypervisor gave this virtual machine's cores to other machines): "
            f"{' and '.join(parts)}. Wall times on this virtual machine moved between runs of the same day by up "
            "to 1.5x, with and without steal (the int8 real-time frame: 32.6-33.9 ms in three runs, 36.7-37.1 ms "
            "in two, 50 ms in one check; the next session: 46.5 ms, then 39.2 ms in the committed run 15 minutes later; the session after: 35.1 ms in a quiet profile at 20:50 UTC, 42.1 ms in the committed run at 22:00 UTC, whose ONNX Runtime ratio-0 times were also 15-20 % above the run before; the next: 43.2 ms at 23:18 UTC in a run that shared the cores with other work (its 128-px ONNX Runtime times at ratios 0.5 and 0.75 came out level), 35.5 ms in the committed run at 00:02 UTC with nothing else running; "
            "the next day, with the stage-9 weights (the same network and cost): 44.1 ms at 01:31 UTC and 45.1 ms "
            "in the committed run at 01:43 UTC, both with nothing else running, whose export, quality and PyTorch "
            "times were also 10-25 % above the night before's; later that day, with the decoder's BatchNorms folded "
            "for PyTorch: 44.3 ms at 03:43 UTC and 35.7 ms in the committed run at 03:54 UTC, both with nothing "
            "else running, between which ONNX Runtime's ratio 0.75 / ratio 0 moved from 0.60 to 0.71 at batch 1 "
            "and from 0.73 to 0.57 at batch 8 at 128 px, and from 0.43 to 0.54 at batch 1 at 256 px — and the "
            "same graph fed all its token slots at ratio 0, 'ORT padded', differed from 'ORT' by up to 28 % "
            "within one run; the day after, three runs in a row with nothing else running, after the frame's "
            "paste and grey check lost ~2 ms: 35.2 ms (stream 32.5 frames/s, steal 1 %) at 05:58 UTC, 47.7 ms "
            "(stream 26.8, steal 10 %, its 256-px ratio-0 times 2.5x the run before) at 06:03 UTC and 38.5 ms "
            "(stream 28.8, steal 4 %) in the committed run at 06:07 UTC; the session after, with the same model "
            "and graph, 40.9 ms at 09:41 UTC (steal 0 %; its 128-px ONNX Runtime ratio-0 times 30 % below the run "
            "before, 46.8 against 67.1 ms at batch 1, and so its ratio 0.75 / ratio 0 above it, 0.77 against "
            "0.56), and 46.9 ms in the committed run at 10:40 UTC, the frame now with the pipeline's seam "
            "correction (a harmonic solve over the hole's box, ~6 ms of the frame; `seam_correction=False` skips "
            "it and loses what it adds: +0.06 dB of hole PSNR on this page's 256-px frames, 18.274 → 18.338 dB "
            "below, +0.07 to +0.72 dB on the native test photos, docs/results.md); the session after, on another "
            "virtual machine (an AMD EPYC instead of an Intel Xeon, 2 cores; the export time on this page is still "
            "the Intel machine's), 36.0 ms with the seam correction and 29.6 ms without it "
            "(`onnxruntime_int8_no_seam`, the real-time path now on this page) in the committed run at 13:11 UTC, "
            "nothing else running), so compare numbers within one run, not across runs. ")


def render_page(files: dict, out: Path) -> None:
    from inpnet.fileio import atomic_write_text

    bench, export, quality, run = files["bench"], files["export"], files["quality"], files["run"]
    m, rt, onnx = run["machine"], bench["realtime"], bench["onnx"]
    b = run["bench"]
    wrap = run.get("wrap", "")
    invocation = "python benchmarks/run_benchmarks.py" + (f" --wrap {wrap}" if wrap else "") + \
        (f" --bench-mode {run['bench_mode']}" if run.get("bench_mode") else "")
    under = (f"The timed commands ran under `{wrap}` (a `flock` on one lock file, so that no two timed runs "
             "overlap; outside the repository). ") if wrap else ""
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{invocation}` from the files it records "
        "in `benchmarks/` (`bench.json`, `export.json`, `quality.json`, `run.json`); "
        "`--render-only` rewrites this page from them. Commands:",
        "",
        "```",
        f"{b['command']}    # {b['date']}, {b['seconds']:.0f} s",
        f"{export['command']}    # {export['date']}",
        f"{quality['command']}    # {quality['date']}",
        "```",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, onnxruntime "
        f"{m['onnxruntime']}, Python {m['python']}; device `{bench['device']}`, {bench['threads']} threads "
        "(torch and ONNX Runtime alike).",
        "",
        f"**Load.** {under}{_steal_text(b, export)}Load average (1 / 5 / 15 min) {b['load_start']} before and {b['load_end']} after "
        f"the bench, {export['load_start']} before and {export['load_end']} after the export; the benchmark itself "
        "keeps the 2 cores busy, so a load of about 1-2 during it is its own. A higher load means other work "
        "shared the cores: absolute times then grow and jump. The compared calls (ratios, runtimes, paths) are "
        "timed in turn within each repeat so that load changes fall on all of them, and every ratio below comes "
        "from one run. Times are medians.",
        "",
        "## Targets",
        "",
        *targets(files),
        "",
        f"![latency vs mask ratio]({PLOT})",
        "",
        "## ONNX Runtime against the mask ratio",
        "",
        f"Model: {onnx['model']}, {onnx['image_size'][0]} px. Export: {onnx['export_s']:.1f} s in the bench "
        f"({onnx['exporter']} exporter), max \\|diff\\| vs PyTorch {onnx['max_diff_fp32']:.1e} (fp32) and "
        f"{onnx['max_diff_int8']:.1e} (int8, prediction and composite, batch 3, ragged masks); int8 quantization on "
        f"load took {onnx['quantize_s']:.1f} s. The graph takes the prefilled image and the packed token indices "
        "(the harmonic prefill and the packing run in torch before it, for both runtimes), so the visible-token "
        "count is a symbolic axis and the cost falls with the ratio. *ORT padded* is the same file fed all L "
        "token slots: the cost of the previous graph, which padded the visible tokens to the full grid.",
        "",
        *onnx_table(bench),
        "",
        "Why the cost does not fall to half at ratio 0.75: the encoder's work does (a quarter of the tokens), but "
        "what does not depend on the mask stays — the decoder's convolutions over the whole 128² image, the fill "
        "block over all 256 grid tokens, the prefill of the hole. The 0.47 (batch 1) and 0.50 (batch 8) on this "
        "page before 2026-11-29 15:00 UTC came from ratio-0 times that were inflated, not from a faster ratio "
        "0.75: the torch prefill then ran all its sweeps on images with no hole (now skipped: nothing to fill), "
        "and each runtime was timed right after another whose threads were still spinning (now blocks of calls, "
        "`interleaved_ms`). Every path is faster than on that page; the ratio is higher.",
        "",
        DECODER_PROFILE_NOTE,
        "",
        *onnx_at_section(bench),
        "## Real time: the whole pipeline on one frame",
        "",
        f"`InpaintPipeline` on a {rt['frame'][0]}×{rt['frame'][1]} frame ({rt['image']}), one irregular hole "
        f"covering {rt['hole_fraction']:.0%} (strategy `{rt['strategy']}`: the frame is resized to the model's "
        f"{onnx['image_size'][0]} px, filled, the fill resized back into the hole), batch 1, {rt['threads']} "
        "threads; photo array in, image out, every step included. The streams fill a stream of such frames "
        "(each still batch 1) with several in flight: their rate is a throughput, and each frame comes out "
        "about that many frame times after it went in. The thread stream is timed in two halves, before and "
        "after the process stream, so that a change in the machine's speed falls on both. "
        "`onnxruntime_int8_no_seam` is the int8 pipeline with `seam_correction=False` (`InpaintPipeline.from_onnx("
        "path, quantize=\"int8\", seam_correction=False)`): it skips the harmonic solve that makes the fill meet "
        "the photo at the hole's edge, so its difference from PyTorch is that correction, not an error; what it "
        "costs in hole PSNR is in the next section.",
        "",
        *realtime_table(bench),
        "",
        "## Quality cost of each step",
        "",
        f"Hole PSNR against the original photos, {quality['photos']}, model {quality['model']}; the same masks for "
        "every step; difference per photo to PyTorch eager, mean and 95 % bootstrap interval over photos "
        "(positive = better than PyTorch).",
        "",
        *quality_table(quality),
        "",
        *model_tables(bench),
        "",
        "## What makes it fast",
        "",
        "- **Packed ONNX graph**: the prefill (32 Jacobi sweeps × 7 pyramid levels, no parameters) and the "
        "packing of visible tokens (data-dependent shapes) run in torch outside the graph; the graph takes the "
        "prefilled image and the token indices with a symbolic length. The export no longer unrolls the sweeps.",
        "- **int8** (2026-11-29, session 3): the decoder's convolutions quantized statically "
        "(`onnxruntime.quantization.quantize_static`, QDQ, int8 weights per channel, uint8 activations with ranges "
        "from 19 fixed calibration inputs: 3 bundled scikit-image photos, not the astronaut, with no hole, with "
        "3 irregular holes and with noise σ 25 and 50, and one uniform-noise image; without the noisy ones the "
        "restoring default's activations left their ranges) and the MatMuls dynamically (`quantize_dynamic`). On the 256-px frame, 2 threads, "
        "the graph alone: fp32 39.3 ms, dynamic MatMul only (the previous int8) 31.2, + static convolutions "
        "26.3 (measured in turn in one run; static MatMuls were slower than dynamic, 30.2, and a quantized "
        "ConvTranspose slower than fp32). Dynamic ConvInteger had run slower than fp32.",
        "- **prefill in OpenCV on the CPU**: the 32 sweeps × 7 levels of the harmonic prefill are tiny ops "
        "whose cost was torch's per-op overhead (0.8 ms per level even at 2×2); one `cv2.filter2D` and two "
        "numpy ops a sweep take 6.3 → ~3 ms per 128-px frame (same fill up to 1e-7; training and GPUs keep "
        "the torch sweeps). An image with no hole skips the sweeps (restoration).",
        "- **attention mask as an additive float** (0 / -inf) instead of a bool: the exported graph lost a "
        "Where and an IsNaN per attention layer (27.3 → 25.8 ms int8 on the frame).",
        "- **hole windows**: the `auto` strategy's window cover is drawn as rectangles when there are few "
        "windows (1.6 → 0.8 ms on the frame).",
        "- **pasting and the grey check without boolean indexing** (2026-11-30): the fill goes into the hole "
        "with OpenCV's masked copy (`cv2.copyTo`, 1.0 → 0.01 ms on the frame) and the black-and-white test "
        "looks at the known pixels through a mask instead of gathering them (1.3 → 0.2 ms; 52 → 2.5 ms at 1 "
        "megapixel). The same pixels (tests).",
        "- **streams** (`InpaintPipeline.stream(frames, masks, in_flight=2)`): two frames filled at once on "
        "threads, each batch 1. ONNX Runtime's int8 graph is only ~10 % faster on 2 threads than on 1 (28.8 → "
        "25.9 ms), so the cores are better used by two frames: ~1.5× the frames/s, at the price of about one "
        "frame of extra latency.",
        "- **streams on worker processes** (`stream(..., processes=2)`, `inpnet.streaming`; 2026-11-30): the "
        "same, with each frame on one of two spawned worker processes that hold their own copy of the pipeline "
        "and one core each. Between a frame's steps Python holds the GIL, which two threads share and two "
        "processes do not. Measured against threads in turn, 80 timed frames each, four rounds (256-px frame, "
        "int8): 23.1 / 22.9 / 22.7 / 28.1 against 33.2 / 29.1 / 26.8 / 27.1 ms per frame, medians 23.0 "
        "against 28.1 (1.22×); two processes running the frame one at a time on one thread each, side by side, "
        "reached 21.7 ms per frame together. The workers' start-up (spawn, import torch, build the session) "
        "takes 6-9 s here and is reported beside the rate, not counted in it. Also found on the way: timing a "
        "stream up to its end counted the pool's shutdown (~1 s, joining the workers) as frame time; the bench "
        "now stops its clock at the last timed frame.",
        "- **session options**: sequential execution, all graph optimizations, intra-op threads as torch's, and "
        "no spinning (`session.intra_op.allow_spinning = 0`, 2026-11-29): ORT's threads used to busy-wait after "
        "each run and took the cores from whatever ran next — the pipeline's prefill (16 ms instead of 9 on a "
        "256-px frame) and, in this page's interleaved timings, PyTorch eager. The earlier 'ONNX Runtime at "
        "0.54-0.66x PyTorch, batch 1' was largely that; without spinning the two are level at batch 1.",
        "- **BatchNorms folded** (2026-11-30): `InpaintPipeline.from_pretrained` folds the decoder's "
        "BatchNorms into the convolutions before them (`models.decoder.fold_batchnorms`, torch's "
        "`fuse_conv_bn_eval`; the same output to 7e-7): the shipped model at 128 px, 2 threads, 16 "
        "restoration tiles 798 → 706 ms, one inpainted frame 49.9 → 46.6 ms (eager PyTorch; ONNX Runtime "
        "folds them itself). The real-time table's PyTorch path runs the folded copy.",
        "- **the seam correction left out on the real-time path** (2026-11-30, session 12; "
        "`seam_correction=False`): the correction that makes each fill meet the photo at the hole's edge is a "
        "harmonic solve over the hole's box, 6.4 ms of the int8 frame in the committed run (36.0 → 29.6 ms), "
        "which takes one frame at a time past 30 frames/s. Its price, measured: 0.064 dB of hole PSNR "
        "[0.043, 0.086] on the 79 held-out 256-px frames (within the 0.1-dB budget of a real-time step); on the "
        "native-size test photos, where the network's 128-px fill is scaled up further, the correction is worth "
        "+0.07 to +0.72 dB (docs/results.md), so the default pipeline keeps it.",
        "- earlier: channels-last conv decoder, sort-free packing of visible tokens, `torch.inference_mode`, "
        "SDPA attention.",
        "",
        "Tried and not kept (2026-11-30, the graph alone at 128 px, 2 threads, timed in turn in one run): "
        "each stride-2 ConvTranspose rewritten as a 1×1 convolution to 4× the channels and a DepthToSpace (the "
        "same output; the 2×2 stride-2 ConvTranspose is 1.6-2.4 ms of the graph in ORT's profile): fp32 "
        "+1.8 to +2.6 ms, int8 +1.1 to +3.2 ms slower; leaving the 3-channel head convolution unquantized "
        "(1.15 ms, the costliest node of the int8 graph): level (−0.4 to +0.3 ms).",
        "",
        "Tried and not kept (2026-11-30, session 9; scripts not in the repository, timed in turn in one run "
        "each): where the int8 frame's graph time goes (ORT's profiler, 256-px frame, 29 % hole, 2 threads, in a "
        "slow phase of the machine: 42 ms a run): dynamically quantized MatMuls 9.0 ms, quantized convolutions "
        "7.2, Transpose 3.5, Add 2.3, the fp32 ConvTranspose 2.3, Quantize/DequantizeLinear 3.3, attention "
        "scores (FusedMatMul, MatMul, Softmax) 3.9, GELU 1.6, LayerNorm 2.0; 457 nodes. (1) Also quantizing "
        "the decoder's Add, Concat, Relu and Resize statically, with and without ORT's `quant_pre_process`: 28.6-29.1 "
        "against 29.2 ms, for twice the mean error (0.0027 against 0.0014). (2) ORT's fused "
        "`com.microsoft.MultiHeadAttention` instead of the exported reshape / transpose / MatMul / Softmax "
        "chain, measured as one attention layer of this model (256 tokens, width 256, 4 heads; the same output "
        "to 0): 0.74-0.82 against 0.86 ms at batch 1, 4.44 against 5.14 ms at batch 8 — about 1 ms over the 9 "
        "attention layers of a frame, not worth a custom export op. `onnxruntime.transformers.optimizer` "
        "(model types vit and bert) fused no attention in this graph (only BiasGelu, which ORT fuses anyway). "
        "(3) Spinning threads during a run and stopping them after it (`session.intra_op.allow_spinning = 1` "
        "with `session.force_spinning_stop = 1`): the graph 1.7 ms faster in one run and 2.6 ms slower in "
        "another, graph + the next prefill −2.5 / −0.1 / +3.2 ms in three runs: within this machine's noise; "
        "spinning without the stop took 25-30 ms from the prefill after it, as before. (4) The prefill's images "
        "relaxed on 2 threads at once (batch 8, 128 px, 75 % holes; OpenCV and numpy release the GIL): 39.3 "
        "against 39.7 ms, the same fill — each sweep is three calls of ~15 µs, and the GIL between them "
        "serialises the threads.",
        "",
        "Tried and not kept (2026-11-30, session 10): the prefill's sweeps for a whole batch in one OpenCV call "
        "each (every image and channel one channel of an (H, W, B·C) array; `cv2.filter2D` takes up to 512), "
        "the same fill bit for bit. Where the prefill's time goes (128 px, batch 1, 75 % holes, 5.5 ms): the "
        "sweeps of the levels 128 / 64 / 32 px 1.6 / 0.6 / 0.4 ms, each smaller level ~0.3 ms (the calls' own "
        "overhead), the pyramid's torch ops ~1.6 ms. Batched, timed in turn with the per-image loop: batch 8 "
        "26.5 against 28.3 ms (75 % holes), 23.7 against 23.8 (25 %); batch 1 3.95 against 3.75 — OpenCV's "
        "many-channel filter is slower per pixel than its 3-channel one, which eats what the fewer calls save.",
    ]
    atomic_write_text(out / "benchmarks.md", "\n".join(lines) + "\n")
    plot(bench, out / PLOT)
    print(f"wrote {out / 'benchmarks.md'} and {out / PLOT}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run_benchmarks import read_files

    render_page(read_files(), ROOT / "docs")
