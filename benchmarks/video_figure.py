"""The side-by-side strip in docs/video-strip.png: a panning 256-px video with a logo box; rows = frames,
columns = input with the hole, per-frame InP-Net, video method, truth.

    python benchmarks/video_figure.py -o docs/video-strip.png
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image, ImageDraw
from video_bench import Scene, make_video

from inpnet.predict import InpaintPipeline
from inpnet.video import VideoInpainter, model_filler

COLUMNS = ["input + hole", "per-frame InP-Net", "video method", "truth"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="docs/video-strip.png")
    parser.add_argument("--tile", type=int, default=160)
    args = parser.parse_args()
    torch.set_num_threads(1)
    scene = Scene("pan-logo-256", "astronaut", (256, 256), "pan", "logo", frames=32)
    frames, holes, _ = make_video(scene)
    pipe = InpaintPipeline.from_pretrained()
    video = list(VideoInpainter(model_filler(pipe)).run(frames, holes))
    rows = []
    for t in (4, 16, 28):
        shown = frames[t].copy()
        shown[holes[t]] = (255, 0, 255)
        cells = [shown, np.asarray(pipe(frames[t], holes[t])), video[t], frames[t]]
        rows.append(np.concatenate([np.asarray(Image.fromarray(c).resize((args.tile, args.tile))) for c in cells], 1))
    strip = Image.fromarray(np.concatenate(rows, 0))
    canvas = Image.new("RGB", (strip.width, strip.height + 18), "white")
    canvas.paste(strip, (0, 18))
    draw = ImageDraw.Draw(canvas)
    for i, name in enumerate(COLUMNS):
        draw.text((i * args.tile + 4, 3), name, fill="black")
    canvas.save(args.out, optimize=True)
    print(args.out)


if __name__ == "__main__":
    main()
