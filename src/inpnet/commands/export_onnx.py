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


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from inpnet.checkpoint import load_model
    from inpnet.errors import InpNetError
    from inpnet.export import CHECK_TOLERANCE, OnnxInpainter, check_onnx, export_onnx

    out = Path(args.output)
    if out.is_dir():
        raise InpNetError(f"-o {out} is a folder; give a file name such as model.onnx")
    if out.exists() and not args.overwrite:
        raise InpNetError(f"{out} exists; pass --overwrite to replace it")
    model = load_model(args.checkpoint)
    cfg = model.config
    export_onnx(model, out, opset=args.opset, exporter=args.exporter)
    diff = check_onnx(model, out, batch=3)
    exporter = OnnxInpainter(out).session.get_modelmeta().custom_metadata_map.get("inpnet_exporter", "?")
    H, W = cfg.image_size
    print(f"wrote {out} ({cfg.variant}/{cfg.preset}, {H}x{W}, dynamic batch, {exporter} exporter, "
          f"{out.stat().st_size / 2**20:.1f} MB)")
    ok = diff <= CHECK_TOLERANCE
    print(f"check: onnxruntime vs PyTorch, batch 3, ragged masks: max abs diff {diff:.2e} "
          f"({'ok' if ok else 'FAILED'}, tolerance {CHECK_TOLERANCE:g})")
    if not ok:
        print(f"inpnet export-onnx: error: the ONNX file differs from PyTorch by {diff:.2e}", file=sys.stderr)
        return 1
    return 0
