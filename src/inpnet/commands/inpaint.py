"""`inpnet inpaint`: fill the holes of one image or a folder of images, at their own resolution.

    inpnet inpaint --image photo.jpg --mask hole.png -o out.png
    inpnet inpaint --image photos/ --mask masks/ -o filled/          # masks paired by file stem
    inpnet inpaint --image photos/ -o restored/ --restore            # ratio 0: no mask
    inpnet inpaint --video in.mp4 --mask logo.png -o out.mp4          # a video (or a folder of frames)

Folder mode writes `<OUT>/<relative path>.png` (PNG: lossless, so the pixels outside the hole stay exact).
A bad file is reported on stderr (one line) and skipped; the exit code is 1 if any file failed, 0 otherwise.
An input file is never overwritten, nor an existing output without --overwrite: in folder mode such a photo is
skipped (so the same command, run again, finishes a batch that was stopped), alone it is a failure. The last
line counts what was written, skipped and failed, and names the failed files; after Ctrl-C too (exit 130).
A PNG / TIFF photo's 16-bit samples and transparency, which the pipeline's 8-bit RGB copy leaves out, are
written back into a PNG / TIFF output (WebP, written lossless: transparency, at 8 bits), so pixels outside the
hole stay exact at the file's depth (`inpnet.originals`); a JPEG output cannot keep them, and says so.

Video mode (`--video FILE|FRAME_DIR`, see `inpnet.video`): the mask is one image for every frame, a folder
of per-frame masks, or a mask video; the output (a video file, or a folder of PNG frames) keeps the frame
size, rate, count and audio track; it is written to a temporary name and moved into place at the end.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inpnet.commands import DEVICE_HELP, check_writable
from inpnet.errors import InpNetError
from inpnet.imageio import IMAGE_EXTENSIONS, MASK_SUFFIX

OUTPUT_SUFFIX = ".png"
# A single photo's texture step still running after this many seconds says so on stderr (PatchMatch takes
# seconds at a megapixel; a small photo's step ends first and says nothing).
SLOW_TEXTURE_NOTICE_SECONDS = 1.5


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", metavar="CKPT",
                   help="run directory, weights folder or .onnx export (default: shipped weights)")
    p.add_argument("--image", metavar="FILE|DIR",
                   help="an image, or a folder of images (its subfolders too, except the output folder)")
    p.add_argument("--video", metavar="FILE|DIR",
                   help="a video file, or a folder of frames: fill the hole in every frame (instead of --image)")
    p.add_argument("--mask", metavar="FILE|DIR",
                   help="mask image (nonzero = hole) or a folder of masks paired by file stem (a.jpg with a.png "
                        "or a_mask.png; an image without one is reported; the same folder as --image: its *_mask files are "
                        "the masks); not with --restore. "
                        "With --video: one image, a folder of per-frame masks or a mask video")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (one image) or folder (a folder job writes PNGs)")
    p.add_argument("--restore", action="store_true", help="ratio-0 restoration: reconstruct the whole image")
    p.add_argument("--strategy", choices=["auto", "crop", "resize"], default="auto",
                   help="how a photo larger than the model's 128 px is seen: crop = a window around each hole at "
                        "full resolution, resize = the whole photo scaled to the model's size (the result is full "
                        "size either way); auto (default) = crop when the windows cover little of the photo, "
                        "else resize")
    p.add_argument("--dilate", type=int, default=0, metavar="PX",
                   help="grow the hole by PX pixels (default 0: pixels outside the mask stay identical)")
    p.add_argument("--texture", type=float, metavar="S",
                   help="strength 0..1 of the texture step: the photo's own detail (copied patches) over the "
                        "network's fill (default 1; 0 = plain network fill, the most faithful; 0.25-0.5 stays within "
                        "0.25 dB of it with 0.2-0.5 of the photo's detail: docs/results.md section 3)")
    p.add_argument("--texture-method", choices=["patchmatch", "synthesis"], default="patchmatch",
                   help="exemplar fill of the texture step: patchmatch (default; pypatchmatch, Linux x86-64) or "
                        "synthesis (built in, ~10x faster at a megapixel, experimental: lower quality)")
    p.add_argument("--self-ensemble", type=int, choices=[1, 2, 4, 8], metavar="N",
                   help="--restore: average N flipped / rotated views of each tile (1, 2, 4 or 8; default 4: "
                        "N times slower than 1 pass, measured better)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--no-progress", action="store_true", help="no progress bars (folder mode; the tiles of a large --restore) and no "
                        "note on a large photo's seconds of copied detail")
    p.add_argument("--fps", type=float, metavar="RATE", help="--video: frame rate of a frame folder (default 25)")


def _run_video(args: argparse.Namespace) -> int:
    """`--video`: one video (file or frame folder) -> one output video (file or frame folder)."""
    from inpnet.predict import load_pipeline
    from inpnet.video import inpaint_video_file
    from inpnet.video.io import check_output

    if args.image:
        raise InpNetError("pass --image or --video, not both")
    if args.restore:
        raise InpNetError("--restore works on images only; video mode needs --mask")
    if not args.mask:
        raise InpNetError("--mask is required with --video (an image, a folder of masks or a mask video)")
    if args.fps is not None and args.fps <= 0:
        raise InpNetError(f"--fps must be positive, got {args.fps}")
    _refuse_pipes(("--video", Path(args.video)), ("--mask", Path(args.mask)))
    if args.fps is not None and not Path(args.video).is_dir():
        print(f"inpnet inpaint: note: --fps {args.fps:g} is the rate of a frame folder; the video file "
              f"{Path(args.video).name} keeps its own", file=sys.stderr)
    check_output(Path(args.output), [Path(args.video), Path(args.mask)], args.overwrite)
    pipe = load_pipeline(args.checkpoint, args.device)
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        out = inpaint_video_file(args.video, args.mask, args.output, pipe, overwrite=args.overwrite,
                                 fps=args.fps, progress=not args.no_progress)
    for message in dict.fromkeys(str(note.message) for note in notes):  # a note per mask file: once each
        print(f"inpnet inpaint: note: {message}", file=sys.stderr)
    print(out)
    return 0


def _jobs(args: argparse.Namespace) -> tuple[list[tuple[Path, Path | None, Path]], bool]:
    """[(image, mask or None, output)] and whether this is folder mode. Checks paths, not pixels."""
    from inpnet.imageio import list_images, masks_named_like, pair_masks

    image = Path(args.image)
    out = Path(args.output)
    if out.name.lower() in IMAGE_EXTENSIONS:  # ".png" has no suffix to Python: it became a folder (review 12)
        raise InpNetError(f"-o {out}: a file name needs a name before its extension (e.g. out{out.name})")
    if not image.exists():
        raise InpNetError(f"--image {image} {_missing(image)}")
    if args.restore and args.mask:
        raise InpNetError("--restore reconstructs the whole image: do not pass --mask")
    if not args.restore and not args.mask:
        raise InpNetError("--mask is required (or --restore for ratio-0 restoration)")
    mask = Path(args.mask) if args.mask else None
    if mask is not None and not mask.exists():
        raise InpNetError(f"--mask {mask} {_missing(mask)}")
    _refuse_pipes(("--image", image), ("--mask", mask))
    if image.is_file():
        if mask is not None and mask.is_dir():
            raise InpNetError(f"--image is one file but --mask {mask} is a folder; pass one mask file")
        target = out / (image.stem + OUTPUT_SUFFIX) if out.is_dir() or not out.suffix else out
        if target.suffix.lower() not in IMAGE_EXTENSIONS:
            raise InpNetError(f"-o {out}: unknown image format; use one of {', '.join(IMAGE_EXTENSIONS)}")
        return [(image, mask, target)], False
    if out.exists() and not out.is_dir():
        raise InpNetError(f"--image is a folder, so -o must be a folder; {out} is a file")
    if out.suffix.lower() in IMAGE_EXTENSIONS:
        raise InpNetError(f"--image is a folder, so -o must be a folder, not an image file name ({out})")
    images = list_images(image)
    if out.resolve() != image.resolve():  # an output folder inside the input folder: not the earlier outputs
        images = [i for i in images if not _inside(i, out)]
    if mask is None:
        pairs: list[tuple[Path, Path | None]] = [(i, None) for i in images]
    elif mask.is_file():
        pairs = [(i, mask) for i in images]
    else:
        masks = list_images(mask)
        if mask.resolve() == image.resolve():
            images, masks = _split_shared_folder(images, mask)
        pairs = list(pair_masks(images, masks, image, mask))
        if not masks_named_like(images, masks):
            counts = "" if len(images) == len(masks) else (
                f"; {len(images)} images, {len(masks)} masks: " + ("the masks are used again in turn"
                                                                   if len(masks) < len(images) else
                                                                   f"the last {len(masks) - len(images)} unused"))
            print(f"inpnet inpaint: note: no mask in {mask} is named like an image in {image}: paired in sorted "
                  f"order (first image with first mask, ...){counts}", file=sys.stderr)
    jobs = [(i, m, out / i.relative_to(image).with_suffix(OUTPUT_SUFFIX)) for i, m in pairs]
    return jobs, True


def _missing(path: Path) -> str:
    """Why `path`, which does not exist, is not there: a link that leads nowhere says so (review 12)."""
    return "is a link that leads nowhere (broken, or a loop)" if path.is_symlink() else "does not exist"


def _refuse_pipes(*given: tuple[str, Path | None]) -> None:
    """A FIFO or a device as an input: opening it could block for good (review 12), so it is refused."""
    for option, path in given:
        if path is not None and path.exists() and not (path.is_file() or path.is_dir()):
            raise InpNetError(f"{option} {path} is not a file or a folder (a pipe or a device?); save it to a file")


def _split_shared_folder(files: list[Path], folder: Path) -> tuple[list[Path], list[Path]]:
    """--image and --mask name one folder: its `<name>_mask.*` files are the masks, the rest the photos
    (otherwise every photo would be its own mask: a photo's own file matches its name best)."""
    masks = [f for f in files if f.stem.endswith(MASK_SUFFIX)]
    photos = [f for f in files if not f.stem.endswith(MASK_SUFFIX)]
    if not masks or not photos:
        raise InpNetError(f"--image and --mask are the same folder ({folder}): name each mask after its photo "
                          f"with {MASK_SUFFIX} (a.jpg and a{MASK_SUFFIX}.png), or keep the masks in a folder of "
                          "their own")
    return photos, masks


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path` lies under `folder` (e.g. an output folder inside the input folder)."""
    return folder.resolve() in path.resolve().parents


def _naming(image: Path, text: str) -> str:
    """`text` about `image`, led by the image's name unless the text already names it."""
    return text if str(image) in text else f"{image}: {text}"


FAILED_NAMED = 5  # the folder job's last line names this many failed files at most


class OutputExists(InpNetError):
    """The output file is there already and --overwrite was not given."""


def _check_output(target: Path, inputs: set[Path], taken: set[Path], overwrite: bool) -> None:
    """Refuse to write over an input, twice to one file, or over an existing file without --overwrite."""
    if target.resolve() in inputs:
        raise InpNetError(f"refusing to write {target}: it is an input file")
    if target.resolve() in taken:
        raise InpNetError(f"refusing to write {target} twice (two inputs with the same name)")
    if target.exists() and not overwrite:
        raise OutputExists(f"{target} exists; pass --overwrite to replace it")


class _Tally:
    """What a folder job has done so far."""

    def __init__(self) -> None:
        self.written, self.skipped = 0, 0
        self.failed: list[Path] = []
        self.taken: set[Path] = set()  # outputs written (resolved): a second input of the same name is refused

    def add(self, target: Path) -> None:
        self.written += 1
        self.taken.add(target.resolve())


def folder_summary(output: str, done: _Tally, total: int, interrupted: bool = False) -> str:
    """The folder job's last line: what was written, skipped and failed (named, the first FAILED_NAMED)."""
    parts = [f"wrote {done.written} image(s) to {output}"]
    if done.skipped:
        parts.append(f"{done.skipped} skipped (their outputs exist; --overwrite replaces them)")
    if done.failed:
        named = ", ".join(path.name for path in done.failed[:FAILED_NAMED])
        more = f" and {len(done.failed) - FAILED_NAMED} more" if len(done.failed) > FAILED_NAMED else ""
        parts.append(f"{len(done.failed)} failed: {named}{more}")
    if interrupted:
        left = total - done.written - done.skipped - len(done.failed)
        parts.append(f"interrupted with {left} not done (the same command again does them)")
    return "; ".join(parts)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from inpnet.predict import load_pipeline

    if args.video:
        return _run_video(args)
    if not args.image:
        raise InpNetError("--image (or --video) is required")
    jobs, folder_mode = _jobs(args)
    if args.dilate < 0:
        raise InpNetError(f"--dilate must be >= 0, got {args.dilate}")
    for folder in sorted({target.parent for _, _, target in jobs}):
        check_writable(folder, "-o")  # before the model runs on every image only to fail each write
    inputs = {i.resolve() for i, _, _ in jobs} | {m.resolve() for _, m, _ in jobs if m is not None}
    if args.self_ensemble is not None and not args.restore:
        raise InpNetError("--self-ensemble applies to --restore only")
    if args.fps is not None:
        raise InpNetError("--fps applies to --video (the frame rate of a frame folder), not to --image")
    pipe = load_pipeline(args.checkpoint, args.device, texture=args.texture, restore=args.restore,
                         texture_method=args.texture_method, self_ensemble=args.self_ensemble)

    def say(line: str) -> None:
        tqdm.write(line, file=sys.stderr)

    done = _Tally()
    # a bar only on a terminal (tqdm's `disable=None`): written to a file or a pipe, each of its redraws around a
    # skipped / failed line is one more line of "0%" (review 15)
    bar = tqdm(jobs, desc="inpaint", unit="img", file=sys.stderr,
               disable=True if not folder_mode or args.no_progress or len(jobs) < 2 else None)
    try:
        for image, mask, target in bar:
            try:
                if mask is None and not args.restore:
                    raise InpNetError(f"{image}: no mask named like it in {args.mask} (masks pair with images by "
                                      "file name: a.jpg with a.png or a_mask.png)")
                _check_output(target, inputs, done.taken, args.overwrite)
                _fill_one(args, pipe, image, mask, target, say, quiet_texture=folder_mode)
            except InpNetError as exc:
                if folder_mode and isinstance(exc, OutputExists):  # done before: a batch run again goes on
                    done.skipped += 1
                    say(f"inpnet inpaint: skipped: {exc}")
                else:
                    done.failed.append(image)
                    say(f"inpnet inpaint: failed: {_naming(image, str(exc))}")
            else:
                done.add(target)
                if not folder_mode:
                    print(target)
    except KeyboardInterrupt:
        if not folder_mode:
            raise
        bar.close()
        print(folder_summary(args.output, done, len(jobs), interrupted=True), file=sys.stderr)
        return 130
    if folder_mode:
        print(folder_summary(args.output, done, len(jobs)))
    return 1 if done.failed else 0


def _fill_one(args: argparse.Namespace, pipe: Any, image: Path, mask: Path | None, target: Path,
              say: Callable[[str], None], *, quiet_texture: bool) -> None:
    """Fill (or restore) one photo and write it to `target`; its notes said through `say`."""
    from inpnet.imageio import EightBitCopy, is_lossy
    from inpnet.originals import save_result

    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        if args.restore:
            result = pipe.restore(image, progress=not args.no_progress)
        else:
            with _SlowTextureNotice(image, say, enabled=not quiet_texture and not args.no_progress) as notice:
                result = pipe(image, mask, strategy=args.strategy, dilate=args.dilate,
                              preview=notice.network_done if notice.enabled else None)
    kept = save_result(image, result, target, overwrite=args.overwrite)
    for note in notes:  # a note of what the 8-bit copy left out is void once it is written back
        if not (kept and issubclass(note.category, EightBitCopy)):
            say(f"inpnet inpaint: note: {_naming(image, str(note.message))}")
    if is_lossy(target) and not args.restore:
        say(f"inpnet inpaint: note: {target}: JPEG is lossy, so the pixels outside the hole change slightly too; "
            "a .png, .tif or .webp output keeps them exact")


class _SlowTextureNotice:
    """Tells the user of one photo what the seconds of its texture step are (the network's fill is done, and
    PatchMatch copies the photo's detail into it), once that step has run SLOW_TEXTURE_NOTICE_SECONDS, and
    when it ends; a faster step says nothing. `network_done` is the pipeline's `preview` hook."""

    def __init__(self, image: Path, say: Callable[[str], None], *, enabled: bool = True) -> None:
        self.image, self.say, self.enabled = image, say, enabled
        self.network_seconds = 0.0
        self.started = time.perf_counter()
        self.timer: threading.Timer | None = None
        self.said = threading.Event()

    def __enter__(self) -> _SlowTextureNotice:
        return self

    def network_done(self, _fill: object) -> None:
        now = time.perf_counter()
        self.network_seconds, self.started = now - self.started, now
        self.timer = threading.Timer(SLOW_TEXTURE_NOTICE_SECONDS, self._say_slow)
        self.timer.daemon = True
        self.timer.start()

    def _say_slow(self) -> None:
        self.said.set()
        self.say(f"inpnet inpaint: {self.image.name}: the network filled the hole in {self.network_seconds:.1f} s; "
                 "copying the photo's own detail into it (PatchMatch: seconds for a large photo; --texture 0 skips "
                 "this step)...")

    def __exit__(self, *exc: object) -> None:
        if self.timer is None:
            return
        self.timer.cancel()
        self.timer.join()
        if self.said.is_set() and exc[0] is None:
            self.say(f"inpnet inpaint: {self.image.name}: detail copied in {time.perf_counter() - self.started:.1f} s")
