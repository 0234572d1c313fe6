"""Whole-file jobs: a video file or frame folder + a mask (image, folder or video) -> an output video
file or frame folder, streamed, written atomically, with a progress bar. Used by `inpnet inpaint --video`
and callable from other front ends (e.g. a web page):

    from inpnet.video import inpaint_video_file
    inpaint_video_file("in.mp4", "logo_mask.png", "out.mp4")          # shipped image model
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from inpnet.errors import InpNetError
from inpnet.video.io import VideoSource, check_output, open_masks, open_video, open_writer
from inpnet.video.pipeline import VideoInpainter, VideoOptions


def model_filler(pipeline: Any) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """An `InpaintPipeline` as the video method's fill: (H, W, 3) uint8 + (H, W) bool -> (H, W, 3) uint8."""
    return lambda image, hole: np.asarray(pipeline(image, hole))


def inpaint_video_file(in_path: str | os.PathLike, mask_path: str | os.PathLike,
                       out_path: str | os.PathLike, pipeline: Any = None, *, overwrite: bool = False,
                       fps: float | None = None, options: VideoOptions | None = None,
                       progress: bool = True) -> Path:
    """Inpaint a video (file or frame folder) with a mask (one image, a folder or a mask video) into
    `out_path` (a video file by suffix, else a folder of PNG frames). Keeps size, frame rate, frame count
    and (video files) the audio track. `pipeline`: an `InpaintPipeline` (None: the shipped weights).
    `fps`: the rate of a frame folder input (default 25). Returns the path written."""
    if pipeline is not None and not callable(pipeline):
        raise InpNetError(f"pipeline must be an InpaintPipeline (None: the shipped weights), got "
                          f"{type(pipeline).__name__}")
    if options is not None and not isinstance(options, VideoOptions):
        raise InpNetError(f"options must be a VideoOptions, got {type(options).__name__}")
    out = Path(out_path)
    check_output(out, [Path(in_path), Path(mask_path)], overwrite)
    source = open_video(in_path, fps=fps)
    holes = open_masks(mask_path, source)
    if pipeline is None:
        from inpnet.predict import InpaintPipeline

        pipeline = InpaintPipeline.from_pretrained()
    frames = VideoInpainter(model_filler(pipeline), options).run(source.frames(), holes)
    _write_all(frames, source, out, progress)
    return out


def _write_all(frames: Any, source: VideoSource, out: Path, progress: bool) -> None:
    from tqdm import tqdm

    writer = open_writer(out, source)
    try:
        bar = tqdm(frames, total=source.n_frames or source.about_frames, desc="inpaint video", unit="frame", file=sys.stderr,
                   disable=not progress)
        for frame in bar:
            writer.write(frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise
