"""Issue 14's two goals on one plot per mask family: texture (x) against hole PSNR over the best classical
method (y), for the texture step's strengths 0 ... 1, the classical methods, and the detail oracle's fills
(the network's fill plus detail that correlates r with the true detail, at the photo's own strength).

    python scripts/tradeoff_figure.py -o docs/tradeoff-figure.png

Reads the numbers, nothing is recomputed: `docs/release-native/detail-oracle.json` (scripts/detail_oracle.py:
the strengths and the oracle, 40 test photos) and the classical methods of `docs/release-native/stage9/native.json`
(the same photos and masks; the classical methods are deterministic). The goal is the shaded corner.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from inpnet.fileio import atomic_write_bytes

FAMILIES = {"thick": "thick strokes", "medium": "medium strokes", "box25": "centred box, 25 %",
            "nvidia": "NVIDIA irregular masks"}
STRENGTHS = (("network", "0"), ("strength 0.25", "0.25"), ("strength 0.5", "0.5"), ("strength 0.75", "0.75"),
             ("default", "1"))
ORACLE = (("partial 0.3", "r 0.3"), ("partial 0.5", "r 0.5"), ("partial 0.7", "r 0.7"))
# Issue 14's goal names these four (the harmonic fill, the strongest classical method at native size, is left
# out as the goal leaves it out; docs/results.md section 3 gives the margins against it too).
CLASSICAL_NAMES = {"telea": "Telea", "ns": "Navier-Stokes", "biharmonic": "biharmonic", "patchmatch": "PatchMatch"}
CLASSICAL = tuple(CLASSICAL_NAMES)
LABEL_OFFSET = {"Telea": (-30, -12), "Navier-Stokes": (5, 4)}  # points; the two sit close together
GOAL_TEXTURE, GOAL_MARGIN = 0.8, 1.0


def points(oracle: dict, native: dict, family: str) -> dict[str, list[tuple[str, float, float]]]:
    """family -> {"strengths" | "oracle" | "classical": [(label, texture, dB over the best classical)]}."""
    mine = oracle["sets"][family]
    classical = native["summary"][family]
    best = max(classical[m]["psnr_hole"]["mean"] for m in CLASSICAL if m in classical)
    return {
        "strengths": [(label, mine[key]["texture"], mine[key]["delta_vs_best_classical"]) for key, label in STRENGTHS],
        "oracle": [(label, mine[key]["texture"], mine[key]["delta_vs_best_classical"]) for key, label in ORACLE],
        "classical": [(CLASSICAL_NAMES[m], classical[m]["texture"]["mean"], classical[m]["psnr_hole"]["mean"] - best)
                      for m in CLASSICAL if m in classical],
    }


def draw(oracle: dict, native: dict, path: Path) -> None:
    fig = Figure(figsize=(11, 8.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, squeeze=False).ravel()
    for ax, (family, title) in zip(axes, FAMILIES.items()):
        p = points(oracle, native, family)
        ax.fill_between([GOAL_TEXTURE, 1.2], GOAL_MARGIN, 3.0, color="#d8f0d8", zorder=0,
                        label="issue 14's goal (both at once)")
        x, y = [t for _, t, _ in p["strengths"]], [d for _, _, d in p["strengths"]]
        ax.plot(x, y, "o-", color="C0", label="InP-Net, --texture 0 ... 1 (1 = default)")
        for label, t, d in p["strengths"]:
            ax.annotate(label, (t, d), textcoords="offset points", xytext=(4, 5), fontsize=8, color="C0")
        for i, (label, t, d) in enumerate(p["oracle"]):
            ax.plot([t], [d], "^", color="C2", label="network + detail correlating r with the truth" if i == 0 else None)
            ax.annotate(label, (t, d), textcoords="offset points", xytext=(6, -3), fontsize=8, color="C2")
        for i, (label, t, d) in enumerate(p["classical"]):
            ax.plot([t], [d], "s", color="0.45", label="classical methods" if i == 0 else None)
            ax.annotate(label, (t, d), textcoords="offset points", xytext=LABEL_OFFSET.get(label, (4, -10)),
                        fontsize=8, color="0.35")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_xlim(0, 1.2)
        ax.set_ylim(-1.6, 3.0)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("texture (the hole's detail; 1 = the photo's own)")
        ax.set_ylabel("hole PSNR over the best classical method (dB)")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Texture against fidelity on the 40 test photos at their own size (docs/results.md section 3)",
                 fontsize=12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--oracle", type=Path, default=Path("docs/release-native/detail-oracle.json"))
    parser.add_argument("--native", type=Path, default=Path("docs/release-native/stage9/native.json"))
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/tradeoff-figure.png"))
    args = parser.parse_args(argv)
    draw(json.loads(args.oracle.read_text()), json.loads(args.native.read_text()), args.out)
    print(args.out)


if __name__ == "__main__":
    main()
