"""`inpnet demo`: the shipped weights on photos bundled with scikit-image, with the paper's kinds of masks.

Writes, into `./inpnet-demo/` (or `-o DIR`), for each photo: the masked input and the inpainted image, plus
`figure.png` (rows: photos; columns: masked input, output, original; PSNR over the hole in the row label).
The photos are DEMO_SCALE times the model's size (384 px for the shipped 128-px model) and filled the way
`inpnet inpaint` fills any photo: the network on its own size, the texture step's detail from the photo at
full resolution. The masks are the paper's kinds, drawn on the model's token grid and scaled up with them.
Everything is offline and deterministic (fixed mask seed); it runs in seconds on a CPU. A rerun replaces the
demo's own earlier files (each PNG it writes is tagged `Software: inpnet demo`); any other file of the same
name is left alone unless `--overwrite` is given.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inpnet.commands import DEVICE_HELP

DEFAULT_OUT = "inpnet-demo"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")  # bundled in the scikit-image wheel: no download
HOLE_GREY = 0.5  # how the hole is shown in the masked input
SEED = 0
DEMO_SCALE = 3  # the photos' side over the model's: at the model's own 128 px a fill has too few pixels to show
TAG = {"Software": "inpnet demo"}  # PNG text of every file the demo writes: a rerun replaces only those


@dataclass(frozen=True)
class DemoMask:
    """One mask kind of the demo, as `inpnet.masks.make_pixel_mask` arguments."""

    label: str
    slug: str
    kind: str
    ratio: float
    preset: str | None = None
    family: str | None = None


MASKS = (
    DemoMask("random 50%", "random50", "random", 0.5),
    DemoMask("structured center_middle 25%", "center25", "structured", 0.25, preset="center_middle"),
    DemoMask("irregular medium 30%", "irregular30", "irregular", 0.3, family="medium"),
    DemoMask("thin strokes 20%", "thin20", "irregular", 0.2, family="thin"),
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="DIR",
                   help=f"output folder (default ./{DEFAULT_OUT})")
    p.add_argument("--checkpoint", metavar="CKPT",
                   help="run directory, weights folder or .onnx export (default: shipped weights)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--overwrite", action="store_true",
                   help="replace files of the demo's names in DIR that an earlier demo did not write")


def demo_photo(name: str, size: tuple[int, int]) -> Any:
    """A bundled scikit-image photo, centre-cropped to the aspect ratio of `size` (H, W) and resized to it."""
    import skimage.data
    from PIL import Image, ImageOps

    photo = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    return ImageOps.fit(photo, (size[1], size[0]), Image.Resampling.LANCZOS)


def demo_size(model_size: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of the demo's photos for a model of `model_size`."""
    return model_size[0] * DEMO_SCALE, model_size[1] * DEMO_SCALE


def demo_hole(mask: Any) -> Any:
    """(1, 1, h, w) {0,1} mask at the model's size -> (DEMO_SCALE h, DEMO_SCALE w) bool hole (each pixel a block)."""
    import numpy as np

    return np.kron(mask[0, 0].numpy() > 0.5, np.ones((DEMO_SCALE, DEMO_SCALE), dtype=bool))


def _outputs(out: Path) -> list[Path]:
    """Every file the demo writes into `out`."""
    stems = [out / f"{name}_{spec.slug}" for name, spec in zip(PHOTOS, MASKS)]
    return [Path(f"{stem}_{suffix}.png") for stem in stems for suffix in ("masked", "inpainted")] + [out / "figure.png"]


def _written_by_demo(path: Path) -> bool:
    from PIL import Image

    try:
        with Image.open(path) as img:
            return getattr(img, "text", {}).get("Software") == TAG["Software"]
    except (OSError, ValueError, SyntaxError):  # not an image, or a damaged one: not the demo's
        return False


def check_outputs(out: Path, overwrite: bool) -> None:
    """Refuse, before any work, to replace a file the demo did not write (unless `overwrite`)."""
    from inpnet.errors import InpNetError

    for path in _outputs(out):
        if path.exists() and not overwrite and not _written_by_demo(path):
            raise InpNetError(f"{path} exists and was not written by inpnet demo; pass --overwrite to replace it "
                              "or choose another folder with -o")


def _figure(rows: list[tuple[str, Any, Any, Any]], path: Path) -> None:
    """A grid figure (matplotlib, no pyplot state): one row per (label, masked, output, original)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from inpnet.fileio import atomic_write_bytes

    fig = Figure(figsize=(7.5, 2.6 * len(rows)), dpi=130, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for r, (label, *images) in enumerate(rows):
        for c, (img, title) in enumerate(zip(images, ("masked input", "InP-Net output", "original"))):
            ax = axes[r][c]
            ax.imshow(img, interpolation="antialiased")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=11)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata=TAG)
    atomic_write_bytes(path, buf.getvalue())


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from PIL import Image

    from inpnet.commands import check_output_folder
    from inpnet.eval.metrics import psnr
    from inpnet.imageio import save_image
    from inpnet.masks import make_pixel_mask
    from inpnet.predict import load_pipeline

    check_output_folder(args.output, "-o")
    check_outputs(Path(args.output), args.overwrite)
    pipe = load_pipeline(args.checkpoint, args.device)  # fails first, if it must
    out = Path(args.output)
    generator = torch.Generator().manual_seed(SEED)
    rows = []
    for name, spec in zip(PHOTOS, MASKS):
        photo = demo_photo(name, demo_size(pipe.model_size))
        mask = make_pixel_mask(spec.kind, 1, pipe.model_size, pipe.config.patch_size, spec.ratio, generator,
                               preset=spec.preset, family=spec.family)  # (1, 1, h, w): the model's grid
        hole = demo_hole(mask)  # (H, W)
        original = np.asarray(photo)
        masked = original.copy()
        masked[hole] = round(HOLE_GREY * 255)
        result = pipe(photo, hole)
        pred_t, photo_t = (torch.from_numpy(np.asarray(a, dtype=np.float32) / 255).permute(2, 0, 1)[None]
                           for a in (result, photo))  # (1, 3, H, W)
        score = float(psnr(pred_t, photo_t, mask=torch.from_numpy(hole)[None, None].float())[0])
        stem = f"{name}_{spec.slug}"
        for suffix, img in (("masked", Image.fromarray(masked)), ("inpainted", result)):
            print(save_image(img, out / f"{stem}_{suffix}.png", png_text=TAG))
        rows.append((f"{name}\n{spec.label}\nhole PSNR {score:.1f} dB", masked, np.asarray(result), original))
    figure = out / "figure.png"
    _figure(rows, figure)
    print(figure)
    return 0
