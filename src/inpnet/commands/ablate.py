"""`inpnet ablate`: every run and baseline over every mask set -> tables, plots and a figure grid."""

from __future__ import annotations

import argparse

from inpnet.commands import BASELINE_CHOICES, DEVICE_HELP


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", nargs="+", default=[], metavar="RUN_DIR",
                   help="run directories / weights folders; each is named after its folder")
    p.add_argument("--baselines", nargs="*", default=list(BASELINE_CHOICES), choices=BASELINE_CHOICES,
                   metavar="NAME",
                   help="classical methods (default: all of telea ns biharmonic patchmatch harmonic identity "
                        "nlmeans; identity / nlmeans run on the restoration sets only)")
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
    p.add_argument("--device", default="auto", help=DEVICE_HELP + " (models only)")
    p.add_argument("--native", action="store_true",
                   help="evaluate at each photo's own size through InpaintPipeline (runs with and without the "
                        "texture step); mask sets: thick medium box25 nvidia noise10 noise25 jpeg20 (nvidia: the --masks "
                        "files, whatever they are, one per photo); writes native.md, native-samples.csv, "
                        "native.json")
    p.add_argument("--add-to", metavar="DIR",
                   help="with --native: also list the methods of an earlier --native output folder (same photos "
                        "and seed) that this call does not run, e.g. to add a new model to a measured table")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results of an earlier ablation in --out (refused without it)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def run(args: argparse.Namespace) -> int:
    from inpnet.commands import check_output_folder, image_size_option, select_images
    from inpnet.errors import InpNetError
    from inpnet.eval.ablation import run_ablation, write_outputs

    check_output_folder(args.out, "--out")
    if args.add_to and not args.native:  # it was ignored without a word (review 12)
        raise InpNetError("--add-to extends a --native table; pass --native")
    _refuse_earlier_results(args)
    if args.native:
        if args.image_size is not None:  # it was ignored without a word (review 10)
            raise InpNetError("--image-size has no effect with --native: each photo is evaluated at its own size")
        return _run_native(args)
    size = image_size_option(args.image_size)
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


# The files each kind of ablation writes first (its table): one of them in --out means results of an earlier run.
EARLIER_RESULTS = {False: ("results.md", "results.json"), True: ("native.md", "native.json")}


def _refuse_earlier_results(args: argparse.Namespace) -> None:
    """An --out that holds an earlier ablation's results is refused without --overwrite (a review's 10-method
    table was replaced by a 1-method one, without a word), unless they are what --add-to extends."""
    from pathlib import Path

    from inpnet.errors import InpNetError

    out = Path(args.out)
    found = [name for name in EARLIER_RESULTS[bool(args.native)] if (out / name).is_file()]
    extending = args.native and args.add_to and Path(args.add_to).resolve() == out.resolve()
    if found and not args.overwrite and not extending:
        raise InpNetError(f"--out {out} holds the results of an earlier ablation ({found[0]}); pass --overwrite to "
                          "replace them, or choose another --out")


def _run_native(args: argparse.Namespace) -> int:
    import shlex
    import sys
    from pathlib import Path

    from inpnet.commands import select_images
    from inpnet.eval.evaluate import method_name
    from inpnet.eval.native import (
        NATIVE_SETS,
        classical_method,
        merge_results,
        model_methods,
        run_native,
        write_native_outputs,
    )
    from inpnet.imageio import list_images

    methods = []
    for run in args.runs:
        methods += model_methods(run, method_name(run), texture=True)
    methods += [classical_method(b) for b in args.baselines]
    nvidia = [p for folder in args.masks for p in list_images([folder])]
    sets = args.mask_sets or [s for s in NATIVE_SETS if s != "nvidia" or nvidia]
    result = run_native(methods, select_images(args.images, args.holdout), sets, nvidia=nvidia, seed=args.seed,
                        limit=args.limit, progress=not args.no_progress)
    if args.add_to:
        result = merge_results(result, args.add_to)
    command = "inpnet ablate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    written = write_native_outputs(result, Path(args.out), command)
    for skipped in result.skipped:
        print(f"skipped: {skipped}")
    print(f"{len(result.methods)} methods x {len(result.sets)} mask sets on {len(result.photos)} photos at their "
          f"own size; wrote {', '.join(str(p) for p in written)}")
    return 0
