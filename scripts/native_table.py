"""The issue-14 tables from a native evaluation (`inpnet ablate --native ... --out DIR`):

    python scripts/native_table.py docs/release-native/native.json [--methods A B ...]

prints (markdown) hole PSNR / SSIM / texture per inpainting set and method, full-frame PSNR per restoration
set, and each goal of issue 14 with its measured value (met or not), so that docs quote numbers that a
command regenerates from a committed data file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

INPAINT = ("thick", "medium", "box25", "nvidia")
RESTORE = ("noise10", "noise25", "jpeg20")
CLASSICAL = ("telea", "ns", "biharmonic", "patchmatch")


def _mean(summary: dict, s: str, m: str, metric: str) -> float | None:
    entry = summary.get(s, {}).get(m)
    return None if entry is None else entry[metric]["mean"]


def tables(data: dict, methods: list[str]) -> str:
    summary = data["summary"]
    lines = ["| mask set | " + " | ".join(methods) + " |", "|---|" + "---:|" * len(methods)]
    for s in INPAINT:
        cells = []
        for m in methods:
            p, q, t = (_mean(summary, s, m, k) for k in ("psnr_hole", "ssim_hole", "texture"))
            cells.append("–" if p is None else f"{p:.2f} / {q:.3f} / {t:.2f}")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    restorers = [m for m in methods if m not in CLASSICAL and not m.endswith("+texture")]
    lines += ["", "| restoration (full-frame PSNR) | " + " | ".join(restorers + ["identity (the input)", "nlmeans"]) + " |",
              "|---|" + "---:|" * (len(restorers) + 2)]
    for s in RESTORE:
        cells = []
        for m in [*restorers, "identity", "nlmeans"]:
            p = _mean(summary, s, m, "psnr")
            cells.append("–" if p is None else f"{p:.2f}")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(data: dict, model: str, textured: str) -> str:
    summary = data["summary"]
    out = []
    for s in INPAINT:
        best = max((m for m in CLASSICAL if m in summary.get(s, {})), key=lambda m: summary[s][m]["psnr_hole"]["mean"])
        ref = summary[s][best]["psnr_hole"]["mean"]
        t = _mean(summary, s, textured, "texture")
        p = _mean(summary, s, textured, "psnr_hole")
        vs = summary[s][textured].get("vs_issue_four") or summary[s][textured]["vs_best_classical"]  # the four
        out.append(f"- {s}: texture {t:.2f} ({'met' if t >= 0.8 else 'not met'}, goal >= 0.8); hole PSNR {p:.2f} vs "
                   f"best classical {best} {ref:.2f}: {vs['mean']:+.2f} dB [{vs['ci'][0]:+.2f}, {vs['ci'][1]:+.2f}] "
                   f"({'met' if vs['mean'] >= 1.0 else 'not met'}, goal >= +1.0)")
    for s in RESTORE:
        p = _mean(summary, s, model, "psnr")
        base = _mean(summary, s, "identity", "psnr")
        line = f"- {s}: {p:.2f} dB vs the degraded input {base:.2f}: {p - base:+.2f} ({'met' if p - base >= 1.0 else 'not met'}, goal >= +1.0)"
        nl = _mean(summary, s, "nlmeans", "psnr")
        if s == "noise25" and nl is not None:
            line += f"; vs non-local means {nl:.2f}: {p - nl:+.2f} ({'met' if p >= nl else 'not met'}, goal >= 0)"
        out.append(line)
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("native_json", type=Path)
    ap.add_argument("--methods", nargs="+")
    ap.add_argument("--model", help="the default model's name in the file (goals)")
    args = ap.parse_args()
    data = json.loads(args.native_json.read_text())
    methods = args.methods or [m for m in data["methods"] if m not in ("identity", "nlmeans")]
    print(tables(data, methods))
    if args.model:
        print()
        print(goals(data, args.model, args.model + "+texture"))


if __name__ == "__main__":
    main()
