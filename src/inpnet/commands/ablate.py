"""`inpnet ablate`: every run and baseline over every mask set -> tables, plots and a figure grid."""

from __future__ import annotations

import argparse

BASELINE_CHOICES = ("telea", "ns", "biharmonic", "harmonic", "identity", "nlmeans")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", nargs="+", default=[], metavar="RUN_DIR",
                   help="run directories / weights folders; each is named after its folder")
    p.add_argument("--baselines", nargs="*", default=list(BASELINE_CHOICES), choices=BASELINE_CHOICES,
                   metavar="NAME",
                   help="classical methods (default: all of telea ns biharmonic identity nlmeans; "
                        "identity / nlmeans run on the restoration sets only)")
    p.add_argument("--images", nargs="+", required=True, metavar="DIR", help="image folders or files")
    p.add_argument("--masks", nargs="*", default=[], metavar="DIR",
                   help="mask folders (e.g. NVIDIA irregular), evaluated by hole-area bucket")
    p.add_argument("--mask-sets", nargs="+", metavar="NAME",
                   help="only these mask sets or families (e.g. random structured irregular restoration "
                        "random-50); default: all")
    p.add_argument("--image-size", type=int, nargs="+", metavar="N",
                   help="eval size N or H W (default: the runs' training size; without runs 128)")
    p.add_argument("--holdout", type=float, metavar="FRACTION",
                   help="use only the images that `inpnet train --data` on the same folders held out of "
                        "training (its validation split; the default val_fraction is 0.02)")
    p.add_argument("--limit", type=int, default=100, metavar="N", help="at most N images (default 100)")
    p.add_argument("--out", default="ablation", metavar="DIR", help="output folder (default ./ablation)")
    p.add_argument("--seed", type=int, default=0, help="mask / noise seed (default 0)")
    p.add_argument("--batch-size", type=int, default=32, help="model batch size (default 32)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ... (models only)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def run(args: argparse.Namespace) -> int:
    from inpnet.commands import check_output_folder, select_images
    from inpnet.errors import InpNetError
    from inpnet.eval.ablation import run_ablation, write_outputs

    check_output_folder(args.out, "--out")
    if args.image_size is not None and len(args.image_size) not in (1, 2):
        raise InpNetError(f"--image-size takes N or H W, got {len(args.image_size)} numbers")
    size = None if args.image_size is None else (
        args.image_size[0] if len(args.image_size) == 1 else tuple(args.image_size)
    )
    result = run_ablation(
        args.runs, args.baselines, select_images(args.images, args.holdout), mask_folders=args.masks, image_size=size,
        limit=args.limit, seed=args.seed, batch_size=args.batch_size, mask_sets=args.mask_sets,
        device=args.device, progress=not args.no_progress,
    )
    for skipped in result.images.skipped:
        print(f"skipped: {skipped['error']}")
    for skipped in result.skipped_sets:
        print(f"skipped mask set {skipped['name']}: {skipped['reason']}")
    written = write_outputs(result, args.out)
    h, w = result.image_size
    print(f"{len(result.methods)} methods x {len(result.mask_sets)} mask sets on {len(result.images)} images "
          f"at {h}x{w}; wrote {', '.join(str(p) for p in written)}")
    return 0
