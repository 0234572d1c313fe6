"""Pack the training photos small enough to travel to a lent GPU machine (scripts/train_gpu_stage.py).

The device tool carries at most 64 MiB per call with the repository, and the photos under ../shared/data/train
are 113 MB. This writes each photo that training may use (the test split, `--test-fraction`, is left out)
downscaled to at most `--short-side` pixels on its short side (PIL Lanczos, only downscaling) and re-encoded as
JPEG `--quality`, under the same relative path, into `--parts` folders chosen by the same sha1 split fraction
that `inpnet.data` uses: merged again on the device, the folders give the same train / validation split.

The output is a cache derived from research-only photos: keep it out of the repository (an ignored folder; the
data licences forbid committing it).

    python scripts/pack_training_photos.py ../shared/data/train .gpu/photos --short-side 192 --parts 0.53
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image

from inpnet.data import _collect, split_fraction
from inpnet.imageio import open_image


def packed_bytes(path: Path, short_side: int, quality: int) -> bytes:
    """One photo as JPEG bytes, its short side at most `short_side` pixels."""
    image = open_image(path)
    w, h = image.size
    scale = short_side / min(w, h)
    if scale < 1:
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", help="the photo folder (the root whose relative paths define the split)")
    parser.add_argument("out", help="output folder: OUT/part0, OUT/part1, ...")
    parser.add_argument("--short-side", type=int, default=192)
    parser.add_argument("--quality", type=int, default=90)
    parser.add_argument("--test-fraction", type=float, default=0.02, help="the test split, left out")
    parser.add_argument("--parts", type=float, nargs="*", default=[],
                        help="split-fraction boundaries between parts (e.g. 0.53 -> two parts)")
    args = parser.parse_args()
    bounds = [args.test_fraction, *args.parts, 1.0]
    sizes = [0] * (len(bounds) - 1)
    counts = [0] * (len(bounds) - 1)
    for path, rel in _collect(args.src):
        f = split_fraction(rel)
        if f < args.test_fraction:
            continue
        part = next(i for i in range(len(sizes)) if f < bounds[i + 1])
        data = packed_bytes(path, args.short_side, args.quality)
        target = Path(args.out) / f"part{part}" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        sizes[part] += len(data)
        counts[part] += 1
    for i, (n, size) in enumerate(zip(counts, sizes, strict=True)):
        print(f"part{i}: {n} photos, {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
