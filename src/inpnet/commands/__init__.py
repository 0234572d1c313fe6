"""One module per `inpnet` subcommand: `add_arguments(parser)` and `run(args) -> int`.

Shared checks that run before any work, so that a bad output location fails at once and leaves nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from inpnet.errors import InpNetError

DEVICE_HELP = "auto (default: a CUDA GPU when there is one, else the CPU), cpu, cuda, cuda:1 ..."
# The classical methods of `inpnet evaluate` and `inpnet ablate`: inpnet.eval.baselines.BASELINES (inpainting;
# named here, not imported, so that parsing a command line does not load OpenCV) and two for restoration.
BASELINE_CHOICES = ("telea", "ns", "biharmonic", "patchmatch", "harmonic", "identity", "nlmeans")


def _first_existing(path: Path) -> Path:
    here = path.absolute()
    return next(q for q in (here, *here.parents) if q.exists())


def check_output_folder(folder: str | os.PathLike, option: str) -> Path:
    """`folder` is, or can be created as, a writable folder; nothing is created here."""
    folder = Path(folder)
    existing = _first_existing(folder)
    if not existing.is_dir():
        raise InpNetError(f"{option} {folder}: {existing} is a file, not a folder")
    _refuse_unwritable(existing, folder, option)
    return folder


def check_writable(folder: str | os.PathLike, option: str) -> None:
    """Refuse, before any work, an output folder that exists (or would be made in a folder) without write
    permission; other problems with the path are reported where the output is written."""
    _refuse_unwritable(_first_existing(Path(folder)), folder, option)


def _refuse_unwritable(existing: Path, folder: str | os.PathLike, option: str) -> None:
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise InpNetError(f"{option} {folder}: folder {existing} is not writable")


def image_size_option(values: list[int] | None) -> int | tuple[int, int] | None:
    """`--image-size N` or `--image-size H W` as a size: N, (H, W), or None when not given."""
    if values is None:
        return None
    if len(values) not in (1, 2):
        raise InpNetError(f"--image-size takes N or H W, got {len(values)} numbers")
    return values[0] if len(values) == 1 else (values[0], values[1])


def check_output_file(path: str | os.PathLike, option: str, overwrite: bool) -> Path:
    """`path` can be written: not a folder, not an image's name (these are JSON summaries: an image there is
    most likely an input, which `--overwrite` must not replace), its folder creatable, not existing unless
    `overwrite`."""
    from inpnet.imageio import INPUT_EXTENSIONS

    path = Path(path)
    if path.is_dir():
        raise InpNetError(f"{option} {path} is a folder; give a file name")
    if path.suffix.lower() in INPUT_EXTENSIONS:
        raise InpNetError(f"{option} {path} is an image's name; the summary is JSON (give a .json file name)")
    if path.exists() and not overwrite:
        raise InpNetError(f"{path} exists; pass --overwrite to replace it")
    check_output_folder(path.parent, option)
    return path


def select_images(paths: list[str], holdout: float | None) -> list[Path]:
    """The images of `--images`: all of them, or (with `--holdout F`) only those a training run on the same
    folders kept out of its training split."""
    if holdout is None:
        from inpnet.imageio import list_images

        return list_images(paths)
    from inpnet.data import held_out_files

    if not 0.0 < holdout < 1.0:
        raise InpNetError(f"--holdout must be a fraction in (0, 1), got {holdout}")
    return held_out_files(paths, holdout)
