"""What do issue 14's two inpainting goals ask together? An oracle on the fill's detail.

    python scripts/detail_oracle.py --images ../shared/data/train --holdout 0.02 --limit 40 \\
        --masks ../shared/data/masks/nvidia_irregular --json docs/release-native/detail-oracle.json

The goals: texture >= 0.8 *and* hole PSNR >= the best classical method + 1 dB. Every fill here keeps the
shipped network's layout (its fill blurred by the texture step's 6-px Gaussian) and takes its detail (x - blur(x))
from somewhere, mixed as the texture step does:

- `network`: its own detail (texture 0); `default`: PatchMatch's detail (the texture step, today's default);
- `true`: the original photo's own detail, aligned — what a perfect predictor of the detail would give;
- `shifted s`: the photo's detail moved by a random 16-48 px offset, times s — the photo's own texture with the
  right statistics but at the wrong place (the best a texture synthesiser that predicts nothing could do);
- `partial a`: a * true + sqrt(1 - a^2) * shifted — detail at the photo's own strength whose correlation with
  the true detail is a: how much of the detail a method must *predict*;
- `strength s`: the texture step at strength s (`inpnet inpaint --texture s`), network + s * (default - network)
  in the hole: the menu between the two goals, each fill's hole PSNR set against the best classical method's.

It also measures how correlated each real method's detail is with the true detail inside the hole (and its
strength against the true detail's, a ratio of norms), and the best any per-photo choice between `network` and
`default` could do (an oracle that knows each photo's PSNR cost): the most texture whose mean hole-PSNR loss
against the network stays within what the +1 dB goal leaves. Test photos and masks as docs/results.md section 3.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inpnet.commands import select_images
from inpnet.eval.native import CLASSICAL, INPAINT_SETS, NativeMethod, run_native
from inpnet.fileio import atomic_write_text
from inpnet.imageio import list_images
from inpnet.predict import InpaintPipeline
from inpnet.texture import DEFAULT_SIGMA, _blur, transfer_texture

SHIFTS = (0.5, 0.75, 1.0)
PARTIAL = (0.3, 0.5, 0.7)
STRENGTHS = (0.25, 0.5, 0.75)  # the texture step at these strengths (`--texture S`): the trade-off the goals ask


def _key(image: np.ndarray, hole: np.ndarray) -> str:
    return hashlib.md5(image.tobytes() + hole.tobytes()).hexdigest()


def detail(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x - _blur(x, DEFAULT_SIGMA)


def shifted(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The photo moved by a 16-48 px offset in each direction (signs and sizes seeded by the hole)."""
    rng = np.random.default_rng(int(_key(hole, hole)[:8], 16))
    offset = rng.integers(16, 49, size=2) * rng.choice([-1, 1], size=2)
    return np.roll(image, (int(offset[0]), int(offset[1])), axis=(0, 1))


def in_hole(fill: np.ndarray, hole: np.ndarray, image: np.ndarray) -> np.ndarray:
    """`fill` (H, W, 3) float rounded to uint8 inside the hole, `image` elsewhere."""
    return np.where(hole[..., None], np.clip(np.rint(fill), 0, 255).astype(np.uint8), image)


def correlation(x: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> tuple[float, float]:
    """(correlation of x with truth over the hole's pixels and channels, |x| / |truth|)."""
    a, b = x[hole].ravel().astype(np.float64), truth[hole].ravel().astype(np.float64)
    na, nb = np.sqrt((a * a).sum()), np.sqrt((b * b).sum())
    return float((a * b).sum() / (na * nb + 1e-9)), float(na / (nb + 1e-9))


@dataclass
class Fills:
    """What every fill of one (photo, hole) is made of, computed once."""

    network: np.ndarray  # uint8 (H, W, 3): the network's fill, texture 0
    default: np.ndarray  # uint8 (H, W, 3): the texture step on it (today's default)
    layout: np.ndarray  # float32 (H, W, 3): the network's fill blurred at DEFAULT_SIGMA
    true_detail: np.ndarray  # float32 (H, W, 3): detail(photo)
    shifted_detail: np.ndarray  # float32 (H, W, 3): detail(shifted photo)


class Oracle:
    """The fills above, sharing one network fill and one PatchMatch fill per (photo, hole)."""

    def __init__(self, checkpoint: str | None) -> None:
        self.pipe = InpaintPipeline.from_pretrained(checkpoint, texture=0.0)
        self.key: str | None = None
        self.fills: Fills | None = None
        self.correlations: dict[str, list[tuple[str, float, float]]] = defaultdict(list)

    def _fills(self, image: np.ndarray, hole: np.ndarray) -> Fills:
        key = _key(image, hole)
        if key != self.key:  # one (photo, hole) at a time: run_native runs every method on it in turn
            network = np.asarray(self.pipe(image, hole))
            layout = _blur(network.astype(np.float32), DEFAULT_SIGMA)
            fills = Fills(network, transfer_texture(image, hole, network), layout, detail(image),
                          detail(shifted(image, hole)))
            for name, x in (("network", network - layout), ("default", fills.default - layout),
                            ("shifted", fills.shifted_detail)):
                self.correlations[name].append((key, *correlation(x, fills.true_detail, hole)))
            self.key, self.fills = key, fills
        return self.fills

    def network(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return self._fills(image, hole).network

    def default(self, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return self._fills(image, hole).default

    def mixed(self, image: np.ndarray, hole: np.ndarray, true_part: float, shifted_part: float) -> np.ndarray:
        """blur(network) + true_part * detail(photo) + shifted_part * detail(shifted photo), in the hole."""
        f = self._fills(image, hole)
        return in_hole(f.layout + true_part * f.true_detail + shifted_part * f.shifted_detail, hole, image)

    def at_strength(self, image: np.ndarray, hole: np.ndarray, strength: float) -> np.ndarray:
        """The texture step at `strength`: network + strength * (default - network) in the hole. The step mixes
        the two fills' detail over a shared layout, so this is `transfer_texture(strength=...)` up to rounding,
        and where the full-strength fill was clipped at 0 or 255."""
        f = self._fills(image, hole)
        return in_hole(f.network + strength * (f.default.astype(np.float32) - f.network), hole, image)

    def methods(self) -> list[NativeMethod]:
        methods = [NativeMethod("network", fill=self.network), NativeMethod("default", fill=self.default),
                   NativeMethod("true", fill=lambda i, h: self.mixed(i, h, 1.0, 0.0))]
        methods += [NativeMethod(f"shifted {s}", fill=lambda i, h, s=s: self.mixed(i, h, 0.0, s)) for s in SHIFTS]
        methods += [NativeMethod(f"partial {a}", fill=lambda i, h, a=a: self.mixed(i, h, a, float(np.sqrt(1 - a * a))))
                    for a in PARTIAL]
        methods += [NativeMethod(f"strength {s}", fill=lambda i, h, s=s: self.at_strength(i, h, s)) for s in STRENGTHS]
        return methods


def best_choice(network: list[tuple[float, float]], default: list[tuple[float, float]], budget: float) -> dict:
    """Per photo, the network or the default, chosen knowing each photo's (PSNR, texture): the most mean
    texture whose mean PSNR loss against the network stays <= budget (greedy by texture gained per dB lost)."""
    n = len(network)
    gains = [(d[1] - w[1], w[0] - d[0], i) for i, (w, d) in enumerate(zip(network, default, strict=True))]
    chosen = {i for g, c, i in gains if c <= 0 and g > 0}  # free texture
    spent = sum(c for g, c, i in gains if i in chosen) / n
    for _gain, c, i in sorted((x for x in gains if x[1] > 0 and x[0] > 0), key=lambda x: -x[0] / x[1]):
        if spent + c / n > budget:
            break
        chosen.add(i)
        spent += c / n
    texture = np.mean([default[i][1] if i in chosen else network[i][1] for i in range(n)])
    return {"photos_with_texture_step": len(chosen), "photos": n, "texture": float(texture), "psnr_loss": float(spent)}


def best_classical(native_json: Path) -> dict[str, float]:
    """Per mask set, the best classical method's mean hole PSNR in an earlier native run on the same photos and
    masks (the classical methods are deterministic)."""
    summary = json.loads(native_json.read_text())["summary"]
    return {s: max(entry[m]["psnr_hole"]["mean"] for m in CLASSICAL if m in entry) for s, entry in summary.items()
            if any(m in entry for m in CLASSICAL)}


def summarize(rows: list[dict], correlations: dict, classical: dict[str, float]) -> dict:
    by: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        by[(r["set"], r["method"])].append((r["psnr_hole"], r["texture"]))
    sets = list(dict.fromkeys(r["set"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    out: dict = {"sets": {}}
    photos_per_set = {len(by[(s, "network")]) for s in sets}
    if len(photos_per_set) != 1 or any(len(v) != len(sets) * min(photos_per_set) for v in correlations.values()):
        raise ValueError("a photo lacks a mask set (an empty hole): the correlations cannot be told apart by set")
    for k, s in enumerate(sets):
        net = np.array(by[(s, "network")])
        entry = {m: {"psnr_hole": float(np.mean(np.array(by[(s, m)])[:, 0])),
                     "delta_vs_network": float(np.mean(np.array(by[(s, m)])[:, 0] - net[:, 0])),
                     "texture": float(np.mean(np.array(by[(s, m)])[:, 1]))} for m in methods}
        entry["detail_vs_true"] = {}  # correlation with the true detail in the hole, and |detail| / |true detail|
        for name, values in correlations.items():  # in photo-major, set-minor order, as run_native runs them
            mine = np.array([v[1:] for v in values[k :: len(sets)]])
            entry["detail_vs_true"][name] = {"correlation": float(mine[:, 0].mean()),
                                             "strength": float(mine[:, 1].mean())}
        if s in classical:
            budget = float(net[:, 0].mean()) - classical[s] - 1.0  # what the +1 dB goal leaves of the network's lead
            entry["best_classical_psnr_hole"] = classical[s]
            for m in methods:
                entry[m]["delta_vs_best_classical"] = entry[m]["psnr_hole"] - classical[s]
            entry["best_per_photo_choice"] = {"psnr_loss_budget": budget} | best_choice(
                list(map(tuple, net)), list(map(tuple, np.array(by[(s, "default")]))), max(budget, 0.0))
        out["sets"][s] = entry
    return out


def report(summary: dict) -> None:
    """Print the summary: each set's fills, their detail against the true detail, the best per-photo choice."""
    for s, entry in summary["sets"].items():
        print(s, "  ".join(f"{m}: {v['psnr_hole']:.2f} ({v['delta_vs_network']:+.2f}, "
                           f"{v.get('delta_vs_best_classical', float('nan')):+.2f} vs classical) tex {v['texture']:.2f}"
                           for m, v in entry.items() if isinstance(v, dict) and "psnr_hole" in v))
        print("   detail vs true:", entry["detail_vs_true"])
        if "best_per_photo_choice" in entry:
            print("   best per-photo choice:", entry["best_per_photo_choice"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", required=True)
    parser.add_argument("--holdout", type=float, default=0.02)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--masks", required=True, help="the NVIDIA irregular masks folder")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--classical", default="docs/release-native/stage9/native.json",
                        help="a native run with the classical methods on the same photos and masks")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    torch.set_num_threads(2)
    oracle = Oracle(args.checkpoint)
    result = run_native(oracle.methods(), select_images(args.images, args.holdout), INPAINT_SETS,
                        nvidia=list_images([args.masks]), limit=args.limit, progress=False)
    summary = summarize(result.rows, oracle.correlations, best_classical(Path(args.classical)))
    summary["command"] = "python scripts/detail_oracle.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(v) if isinstance(v, list) else v}" for k, v in vars(args).items()
        if v is not None)
    atomic_write_text(Path(args.json), json.dumps(summary, indent=2))
    report(summary)


if __name__ == "__main__":
    main()
