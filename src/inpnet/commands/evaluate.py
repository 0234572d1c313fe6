"""`inpnet evaluate`: PSNR / SSIM / L1 of a checkpoint or a classical baseline on images + masks."""

from __future__ import annotations

import argparse

from inpnet.commands import BASELINE_CHOICES, DEVICE_HELP


def add_arguments(p: argparse.ArgumentParser) -> None:
    method = p.add_mutually_exclusive_group()
    method.add_argument("--checkpoint", metavar="CKPT",
                        help="run directory, weights folder or .safetensors file (default: the shipped weights)")
    method.add_argument("--baseline", choices=BASELINE_CHOICES,
                        help="classical method: telea / ns / biharmonic / harmonic / patchmatch inpaint; identity / "
                             "nlmeans with --restore")
    p.add_argument("--images", required=True, metavar="DIR", help="image folder (searched recursively) or file")
    masks = p.add_mutually_exclusive_group(required=True)
    masks.add_argument("--masks", metavar="DIR",
                       help="mask PNGs (nonzero = hole), paired by file stem or cycled in sorted order")
    masks.add_argument("--mask-kind", choices=["random", "structured", "irregular", "dynamic"],
                       help="generate masks of this kind (with --ratio)")
    masks.add_argument("--restore", choices=["noise10", "noise25", "jpeg20"],
                       help="restoration mode: no mask, degrade the input and compare with the clean image")
    p.add_argument("--ratio", type=float, help="mask ratio in [0, 0.9] (fraction of patches) for --mask-kind")
    p.add_argument("--preset", help="structured preset (center_dict), e.g. top_left; default center_middle")
    p.add_argument("--family", help="irregular family: thin, medium (default) or thick")
    p.add_argument("--image-size", type=int, nargs="+", metavar="N",
                   help="eval size N or H W (default: the model's training size; baselines 128)")
    p.add_argument("--patch-size", type=int,
                   help="patch grid of generated masks (default: the model's; baselines 8)")
    p.add_argument("--json", metavar="OUT", help="write the summary as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--seed", type=int, default=0, help="mask / noise seed (default 0)")
    p.add_argument("--batch-size", type=int, default=16, metavar="N", help="images per forward pass (default 16)")
    p.add_argument("--holdout", type=float, metavar="FRACTION",
                   help="use only the images that `inpnet train --data` on the same folders held out of "
                        "training (its validation split; the default val_fraction is 0.02)")
    p.add_argument("--limit", type=int, metavar="N", help="evaluate at most N images (sorted order)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP + " (models only)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def format_summary(summary: dict) -> str:
    """A small text table: full frame and hole rows, then one row per kind."""
    h, w = summary["image_size"]
    lines = [
        f"method {summary['method']} | mask {summary['mask']} | {summary['n']} images at {h}x{w} | seed {summary['seed']}",
        f"{'':<22}{'n':>5}{'PSNR':>9}{'SSIM':>9}{'L1':>9}",
        f"{'full frame':<22}{summary['n']:>5}{_fmt(summary['psnr'], 2):>9}{_fmt(summary['ssim'], 4):>9}"
        f"{_fmt(summary['l1'], 4):>9}",
    ]
    if summary.get("psnr_hole") is not None:
        lines.append(
            f"{'hole':<22}{summary['n']:>5}{_fmt(summary['psnr_hole'], 2):>9}{_fmt(summary['ssim_hole'], 4):>9}"
            f"{_fmt(summary['l1_hole'], 4):>9}"
        )
    kinds = summary.get("per_kind", {})
    width = max([22] + [len(k) + 9 for k in kinds])
    lines[1:] = [line[:22].ljust(width) + line[22:] for line in lines[1:]]
    if len(kinds) > 1:
        hole = summary.get("psnr_hole") is not None
        for kind, values in kinds.items():
            p, s, e = (values[k] for k in (("psnr_hole", "ssim_hole", "l1_hole") if hole else ("psnr", "ssim", "l1")))
            label = f"{kind} ({'hole' if hole else 'full'})"
            lines.append(f"{label:<{width}}{values['n']:>5}{_fmt(p, 2):>9}{_fmt(s, 4):>9}{_fmt(e, 4):>9}")
    if summary.get("skipped"):
        lines.append(f"skipped {len(summary['skipped'])} unreadable file(s)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from inpnet.commands import check_output_file, image_size_option, select_images
    from inpnet.devices import resolve_device
    from inpnet.errors import InpNetError
    from inpnet.eval.evaluate import MaskSource, evaluate, load_method, method_name
    from inpnet.fileio import atomic_write_text, make_parent_folders

    if args.json:
        check_output_file(args.json, "--json", args.overwrite)
    if args.mask_kind is None and (args.preset or args.family or args.ratio is not None):
        raise InpNetError("--ratio, --preset and --family apply to --mask-kind only")
    if args.masks is not None:
        source = MaskSource.from_folder(args.masks)
    elif args.restore is not None:
        source = MaskSource.restore(args.restore)
    else:
        if args.ratio is None:
            raise InpNetError("--mask-kind needs --ratio R (a mask ratio in [0, 0.9])")
        source = MaskSource.generated(args.mask_kind, args.ratio, preset=args.preset, family=args.family)
    size = image_size_option(args.image_size)
    if args.patch_size is not None and args.patch_size < 1:
        raise InpNetError(f"--patch-size must be >= 1, got {args.patch_size}")
    spec = args.baseline or args.checkpoint  # None: the shipped weights
    device = resolve_device(args.device)
    method = load_method(spec, device=device)
    images = select_images(args.images, args.holdout)
    summary = evaluate(
        method, images, source, image_size=size, seed=args.seed, batch_size=args.batch_size,
        progress=not args.no_progress, patch_size=args.patch_size, limit=args.limit, device=device,
    )
    summary["method"] = method_name(spec)
    for skipped in summary["skipped"]:
        print(f"skipped: {skipped['error']}", file=sys.stderr)
    print(format_summary(summary))
    if args.json:
        out = make_parent_folders(args.json)
        atomic_write_text(out, json.dumps(summary, indent=2) + "\n")
        print(f"wrote {out}")
    return 0
