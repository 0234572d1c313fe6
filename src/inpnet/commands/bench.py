"""`inpnet bench`: latency / throughput against the mask ratio, InP-Net vs MAE, PyTorch vs ONNX Runtime (fp32,
int8), export time, and (`--realtime`) end-to-end frames/s of the pipeline. About a minute by default."""

from __future__ import annotations

import argparse

from inpnet.config import PRESETS


def add_arguments(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true",
                      help="the thorough run (batch 8, 5 repeats, every ratio for ONNX too, --realtime): minutes")
    mode.add_argument("--quick", action="store_true",
                      help="tiny settings for tests (nano preset, 32 px, batch 2, 2 repeats); explicit options win")
    p.add_argument("--realtime", action="store_true",
                   help="add end-to-end pipeline frames/s on a 256x256 frame with a 10-30%% hole: PyTorch, "
                        "ONNX Runtime fp32 and int8")
    p.add_argument("--cpu-time", action="store_true",
                   help="1 thread, time = the thread's CPU time: ratios that another job's load cannot stretch")
    p.add_argument("--preset", choices=list(PRESETS), help="encoder size preset (default small)")
    p.add_argument("--image-size", type=int, metavar="N", help="square image size (default: the preset's)")
    p.add_argument("--patch-size", type=int, metavar="N", help="patch size (default: the preset's)")
    p.add_argument("--batch-size", type=int, metavar="B",
                   help="batch of the encoder / inference / train timings (4; --full 8)")
    p.add_argument("--repeats", type=int, metavar="R", help="timed calls per measurement; the median is kept (3; --full 5)")
    p.add_argument("--warmup", type=int, metavar="N", help="untimed calls before each measurement (1)")
    p.add_argument("--checkpoint", metavar="CKPT",
                   help="model of the ONNX and real-time sections (default: shipped weights, else a random preset model)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ... (ONNX comparison: CPU)")
    p.add_argument("--threads", type=int, metavar="N", help="torch intra-op threads (default: torch's)")
    p.add_argument("--compile", action="store_true", help="torch.compile the models for the inference timings")
    p.add_argument("--no-onnx", action="store_true", help="skip the ONNX Runtime comparison")
    p.add_argument("--onnx-at", type=int, metavar="PX",
                   help="also compare at ratios 0 and 0.75 with the model exported at PX px (more tokens; "
                        "--full: 256)")
    p.add_argument("--json", metavar="OUT", help="write the measurements as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")


def run(args: argparse.Namespace) -> int:
    import json
    import sys
    from dataclasses import replace
    from pathlib import Path

    import torch

    from inpnet.bench import BenchOptions, format_table, full_options, onnx_model, quick_options, run_bench
    from inpnet.checkpoint import load_model
    from inpnet.commands import check_output_file
    from inpnet.errors import InpNetError
    from inpnet.fileio import atomic_write_text, make_parent_folders

    opts = quick_options() if args.quick else full_options() if args.full else BenchOptions()
    given = {
        "preset": args.preset, "image_size": args.image_size, "patch_size": args.patch_size,
        "batch_size": args.batch_size, "repeats": args.repeats, "warmup": args.warmup,
        "checkpoint": args.checkpoint, "onnx_at": args.onnx_at,
    }
    opts = replace(opts, **{k: v for k, v in given.items() if v is not None},
                   device=args.device, compile=args.compile, onnx=not args.no_onnx,
                   realtime=opts.realtime or args.realtime, clock="cpu" if args.cpu_time else "wall")
    if args.preset and args.quick and args.image_size is None:
        opts = replace(opts, image_size=None, patch_size=args.patch_size)  # the preset's own size
    for name in ("batch_size", "repeats"):
        if getattr(opts, name) < 1:
            raise InpNetError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(opts, name)}")
    if opts.onnx_at < 0:
        raise InpNetError(f"--onnx-at must be a size in pixels, got {opts.onnx_at}")
    if opts.warmup < 0:
        raise InpNetError(f"--warmup must be >= 0, got {opts.warmup}")
    if args.threads is not None:
        if args.threads < 1:
            raise InpNetError(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.json:  # checked (and its folder made) now, not after minutes of timings
        check_output_file(args.json, "--json", args.overwrite)
        make_parent_folders(args.json)
    if opts.checkpoint:  # fail now, not after minutes of timings (and even with --no-onnx, which skips it)
        load_model(opts.checkpoint)
    if opts.onnx and opts.onnx_at:  # likewise a size the model cannot be exported at (review 12)
        try:
            onnx_model(opts)[0].config.replace(image_size=opts.onnx_at).validate()
        except InpNetError as exc:
            raise InpNetError(f"--onnx-at {opts.onnx_at}: {exc}") from None
    elif args.onnx_at is not None and not opts.onnx:  # given, not --full's own
        raise InpNetError("--onnx-at is an ONNX export size: it does nothing with --no-onnx")

    result = run_bench(opts, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(format_table(result))
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
