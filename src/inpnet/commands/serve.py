"""`inpnet serve`: the web page (Gradio) with a brush to paint the hole; binds 127.0.0.1 by default.
Two models: `--checkpoint` removes (inpaints), `--restore-checkpoint` restores (ratio 0); the page names both."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from inpnet.commands import DEVICE_HELP


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--checkpoint", metavar="CKPT",
                   help="inpainting model: run directory, weights folder or .onnx export (default: shipped weights)")
    p.add_argument("--restore-checkpoint", metavar="CKPT",
                   help="restoration model for the Restore button, same forms (default: the shipped restoration "
                        "weights named in weights/RESTORE)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)


def model_name(checkpoint: str | os.PathLike | None) -> str:
    """The name the page shows for a checkpoint: its folder (or .onnx / .safetensors file) name."""
    from inpnet.checkpoint import resolve_checkpoint

    if checkpoint is not None and Path(checkpoint).is_file():
        return Path(checkpoint).name
    return resolve_checkpoint(checkpoint).name


def _restorer(args: argparse.Namespace, pipe: Any) -> tuple[Any, str | None]:
    """The restoration pipeline and its checkpoint: --restore-checkpoint, else the shipped weights, else (no
    shipped weights, e.g. an installed package with only a user checkpoint) the inpainting model."""
    from inpnet.errors import InpNetError
    from inpnet.predict import load_pipeline

    if args.restore_checkpoint is not None and args.restore_checkpoint == args.checkpoint:
        return pipe, args.checkpoint
    try:
        if args.restore_checkpoint is None:  # the shipped restoration weights (weights/RESTORE)
            from inpnet.checkpoint import shipped_restore_dir

            folder = shipped_restore_dir()
            return load_pipeline(folder, args.device), str(folder)
        return load_pipeline(args.restore_checkpoint, args.device), args.restore_checkpoint
    except InpNetError as exc:
        if args.restore_checkpoint is not None or args.checkpoint is None:
            raise
        print(f"inpnet serve: note: {exc}; Restore uses the --checkpoint model", file=sys.stderr)
    return pipe, args.checkpoint


def _check_host(host: str) -> None:
    """Refuse a --host that names no address, or none of this machine's, before the models load (Gradio would
    say that every port is in use)."""
    import socket

    from inpnet.errors import InpNetError

    try:
        found = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InpNetError(f"--host {host}: no such address ({getattr(exc, 'strerror', None) or exc})") from None
    why = ""
    for family, _, _, _, address in found:  # any of its addresses will do (localhost: 127.0.0.1 and ::1)
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(address)  # port 0, and an IPv6 address's scope too
                return
            except OSError as exc:
                why = exc.strerror or str(exc)
    raise InpNetError(f"--host {host}: not an address of this machine ({why}); 127.0.0.1 serves this machine "
                      "only, 0.0.0.0 every network")


def run(args: argparse.Namespace) -> int:
    from inpnet.errors import InpNetError

    if not 0 < args.port < 65536:
        raise InpNetError(f"--port must be in 1..65535, got {args.port}")
    _check_host(args.host)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from inpnet.predict import load_pipeline
    from inpnet.web.app import build_app, launch

    pipe = load_pipeline(args.checkpoint, args.device)
    restorer, restore_checkpoint = _restorer(args, pipe)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"inpnet serve: note: listening on {args.host}: other machines can reach this page",
              file=sys.stderr)
    app = build_app(pipe, restorer, model_name=model_name(args.checkpoint),
                    restore_model_name=model_name(restore_checkpoint))
    launch(app, args.host, args.port)
    return 0
