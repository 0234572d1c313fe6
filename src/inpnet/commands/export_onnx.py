"""`inpnet export-onnx`: export a checkpoint to ONNX and check it against PyTorch under onnxruntime."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", metavar="CKPT",
                   help="run directory, weights folder or .safetensors file (default: the shipped weights)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.onnx", help="ONNX file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    p.add_argument("--exporter", choices=["auto", "dynamo", "torchscript"], default="auto",
                   help="auto: torch.export based (dynamo), the TorchScript exporter if that fails")
    p.add_argument("--image-size", type=int, nargs="+", metavar="PX",
                   help="export for this image size (one side, or H W; multiples of the patch size) instead of "
                        "the model's training size: the graph's size is fixed, and a larger one runs more tokens")
    p.add_argument("--quantize", choices=["int8"],
                   help="write an int8 model (onnxruntime: static, calibrated quantization of the decoder's "
                        "convolutions and dynamic quantization of the MatMul weights): faster on CPU, checked "
                        "against its own tolerance")


def run(args: argparse.Namespace) -> int:
    import sys
    import time
    from pathlib import Path

    from inpnet.checkpoint import load_model
    from inpnet.commands import check_writable
    from inpnet.errors import InpNetError
    from inpnet.export import CHECK_TOLERANCE, INT8_TOLERANCE, OnnxInpainter, check_onnx, export_onnx

    out = Path(args.output)
    if out.is_dir():
        raise InpNetError(f"-o {out} is a folder; give a file name such as model.onnx")
    if out.exists() and not args.overwrite:
        raise InpNetError(f"{out} exists; pass --overwrite to replace it")
    check_writable(out.parent, "-o")  # before the export's seconds, not after
    model = load_model(args.checkpoint)
    if args.image_size:
        model = resized_for_export(model, args.image_size)
    cfg = model.config
    start = time.perf_counter()
    export_onnx(model, out, opset=args.opset, exporter=args.exporter, quantize=args.quantize)
    seconds = time.perf_counter() - start
    diff = check_onnx(model, out, batch=3)
    runner = OnnxInpainter(out)
    exporter = runner.session.get_modelmeta().custom_metadata_map.get("inpnet_exporter", "?")
    H, W = cfg.image_size
    shapes = "dynamic batch and visible-token count" if runner.layout == "packed" else "dynamic batch"
    print(f"wrote {out} ({cfg.variant}/{cfg.preset}, {H}x{W}, {shapes}, {exporter} exporter"
          f"{', int8' if args.quantize else ''}, {out.stat().st_size / 2**20:.1f} MB) in {seconds:.1f} s")
    tolerance = INT8_TOLERANCE if args.quantize else CHECK_TOLERANCE
    ok = diff <= tolerance
    print(f"check: onnxruntime vs PyTorch, batch 3, ragged masks: max abs diff {diff:.2e} "
          f"({'ok' if ok else 'FAILED'}, tolerance {tolerance:g})")
    if not ok:
        print(f"inpnet export-onnx: error: the ONNX file differs from PyTorch by {diff:.2e}", file=sys.stderr)
        return 1
    return 0


def resized_for_export(model, sizes: list[int]):
    """The model at `--image-size` (one side or H W): `InpNet.at_size`, a clear error for other models."""
    from inpnet.commands import image_size_option
    from inpnet.export import model_at_size

    return model_at_size(model, image_size_option(sizes), "--image-size")
