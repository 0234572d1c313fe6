"""Quality cost of each deployment step, in hole PSNR on held-out photos -> benchmarks/quality.json.

    python benchmarks/quality.py [--data ../shared/data/train] [--holdout 0.02] [--out benchmarks/quality.json]

Steps compared with PyTorch eager (the reference), on the same photos and masks:
- ONNX Runtime fp32 (the packed graph, prefill in torch) and ONNX Runtime int8 (dynamic MatMul quantization),
  through the project's evaluation code (`inpnet.eval.evaluate`) at the model's size, irregular masks;
- the same three through `InpaintPipeline` on 256x256 frames (the photo centre-cropped, resized with
  OpenCV INTER_AREA) with a 10-30 % irregular hole each: the real-time path end to end.
For each step: mean hole PSNR, and the mean per-photo difference to PyTorch with a 95 % bootstrap interval.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FRAME = 256
STEPS = ("pytorch", "onnxruntime_fp32", "onnxruntime_int8")


def bootstrap_mean(values: np.ndarray, seed: int = 0, draws: int = 2000) -> list[float]:
    """95 % percentile interval of the mean of `values` (photos resampled with replacement)."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(draws, len(values)), replace=True).mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def step_summary(per_photo: dict[str, np.ndarray]) -> dict[str, dict]:
    """Mean hole PSNR of each step, and its per-photo difference to PyTorch (mean, 95 % interval)."""
    ref = per_photo["pytorch"]
    out = {}
    for name, values in per_photo.items():
        diff = values - ref
        out[name] = {"psnr_hole": float(values.mean()), "delta_vs_pytorch": float(diff.mean()),
                     "delta_interval": bootstrap_mean(diff), "worst_photo_delta": float(diff.min())}
    return out


def square_frame(path: Path, size: int = FRAME) -> np.ndarray:
    """(size, size, 3) uint8: the photo's centre square, resized with INTER_AREA."""
    import cv2

    from inpnet.imageio import open_image

    arr = np.asarray(open_image(path))
    h, w = arr.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return cv2.resize(arr[top:top + side, left:left + side], (size, size), interpolation=cv2.INTER_AREA)


def hole_psnr(out: np.ndarray, ref: np.ndarray, hole: np.ndarray) -> float:
    err = (out.astype(np.float64) - ref.astype(np.float64))[hole] / 255.0
    return float(10 * np.log10(1.0 / max(float((err ** 2).mean()), 1e-10)))


def pipeline_quality(model, onnx_path: Path, files: list[Path]) -> dict:
    """Hole PSNR of the real-time bench's pipelines (PyTorch, ONNX Runtime fp32 and int8, int8 without the
    seam correction) on 256-px frames of `files`, one seeded 10-30 % hole each."""
    from inpnet.bench import NO_SEAM_PATH, realtime_frame
    from inpnet.predict import InpaintPipeline

    pipes = {"pytorch": InpaintPipeline(model), "onnxruntime_fp32": InpaintPipeline.from_onnx(onnx_path),
             "onnxruntime_int8": InpaintPipeline.from_onnx(onnx_path, quantize="int8"),
             NO_SEAM_PATH: InpaintPipeline.from_onnx(onnx_path, quantize="int8", seam_correction=False)}
    scores: dict[str, list[float]] = {name: [] for name in pipes}
    fractions = []
    for i, path in enumerate(files):
        frame = square_frame(path)
        hole = realtime_frame(FRAME, seed=1000 * i)[1]  # the real-time bench's hole family, seeded per photo
        fractions.append(float(hole.mean()))
        for name, pipe in pipes.items():
            scores[name].append(hole_psnr(np.asarray(pipe(frame, hole)), frame, hole))
    return {"frame": [FRAME, FRAME], "n": len(files), "hole_fraction_mean": float(np.mean(fractions)),
            "steps": step_summary({k: np.array(v) for k, v in scores.items()})}


def model_size_quality(model, onnx_path: Path, files: list[Path]) -> dict:
    """The same steps through the evaluation code (`prepare` + `run_method`, as `inpnet evaluate` runs
    them) at the model's size, irregular (medium) masks, seed 0."""
    import torch

    from inpnet.eval.evaluate import MaskSource, load_eval_images, prepare, run_method
    from inpnet.eval.metrics import psnr
    from inpnet.export import OnnxInpainter

    methods = {"pytorch": model, "onnxruntime_fp32": OnnxInpainter(onnx_path),
               "onnxruntime_int8": OnnxInpainter(onnx_path, quantize="int8")}
    source = MaskSource.generated("irregular", None, family="medium")
    images = load_eval_images(files, tuple(model.config.image_size))
    prepared = prepare(source, images, model.config.patch_size, seed=0)
    everyone = range(len(prepared))
    _, mask, target = prepared.batch(0, len(prepared))
    per_photo, summaries = {}, {}
    for name, method in methods.items():
        summaries[name], outputs = run_method(method, prepared, keep=everyone)
        result = torch.stack([outputs[i] for i in everyone])
        per_photo[name] = psnr(result, target, mask).numpy()
    steps = step_summary(per_photo)
    for name in steps:  # the evaluation code's own mean (per_photo's mean, capped the same way)
        steps[name]["evaluate_psnr_hole"] = summaries[name]["psnr_hole"]
    return {"image_size": list(model.config.image_size), "mask": source.describe(), "n": len(prepared),
            "steps": steps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "train"))
    parser.add_argument("--holdout", type=float, default=0.02)
    parser.add_argument("--checkpoint", help="default: the shipped weights")
    parser.add_argument("--limit", type=int, help="at most N photos")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "quality.json"))
    args = parser.parse_args()

    import torch

    from inpnet.checkpoint import load_model, shipped_weights_dir
    from inpnet.data import held_out_files
    from inpnet.export import export_onnx
    from inpnet.fileio import atomic_write_text

    files = held_out_files([args.data], args.holdout)[: args.limit]
    model = load_model(args.checkpoint).eval()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "model.onnx")
        result = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python benchmarks/quality.py" + (f" --limit {args.limit}" if args.limit else ""),
            "model": args.checkpoint or f"shipped weights ({shipped_weights_dir().name})",
            "photos": f"--holdout {args.holdout} of {Path(args.data).name}/ ({len(files)} photos)",
            "model_size": model_size_quality(model, onnx_path, files),
            "pipeline": pipeline_quality(model, onnx_path, files),
        }
    atomic_write_text(Path(args.out), json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v["steps"] for k, v in result.items() if isinstance(v, dict)}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
