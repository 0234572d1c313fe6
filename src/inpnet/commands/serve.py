"""`inpnet serve`: the web page (Gradio) with a brush to paint the hole; binds 127.0.0.1 by default.
Two models: `--checkpoint` removes (inpaints), `--restore-checkpoint` restores (ratio 0); the page names both."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--checkpoint", metavar="CKPT",
                   help="inpainting model: run directory, weights folder or .onnx export (default: shipped weights)")
    p.add_argument("--restore-checkpoint", metavar="CKPT",
                   help="restoration model for the Restore button, same forms (default: shipped weights)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")


def model_name(checkpoint: str | os.PathLike | None) -> str:
    """The name the page shows for a checkpoint: its folder (or .onnx / .safetensors file) name."""
    from inpnet.checkpoint import resolve_checkpoint

    if checkpoint is not None and Path(checkpoint).is_file():
        return Path(checkpoint).name
    return resolve_checkpoint(checkpoint).name


def run(args: argparse.Namespace) -> int:
    from inpnet.errors import InpNetError

    if not 0 < args.port < 65536:
        raise InpNetError(f"--port must be in 1..65535, got {args.port}")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from inpnet.predict import load_pipeline
    from inpnet.web.app import build_app, launch

    pipe = load_pipeline(args.checkpoint, args.device)
    same = args.restore_checkpoint == args.checkpoint
    restorer = pipe if same else load_pipeline(args.restore_checkpoint, args.device)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"inpnet serve: note: listening on {args.host}: other machines can reach this page",
              file=sys.stderr)
    app = build_app(pipe, restorer, model_name=model_name(args.checkpoint),
                    restore_model_name=model_name(args.restore_checkpoint))
    launch(app, args.host, args.port)
    return 0
