"""Streaming video inpainting: flow-guided propagation of real pixels, the image model for the rest.

For every frame, each hole pixel is traced along the completed optical flow to the nearest frame (past
or future, within the window) where it is visible, and copied from there (`propagate`). Pixels that no
frame in reach shows are filled by the image model on that frame only (a keyframe); later frames trace
those pixels back to the keyframe's fill along the flow, so the fill moves with the scene instead of
being re-invented (and flickering) every frame.

Streaming: frames are read into a sliding window of `past + chunk + lookahead` frames. Every `chunk`
frames, the backward pass (sources in future frames) runs over the window's pending frames, then the
forward pass finishes the chunk's frames one by one, in order, and they are yielded. Memory depends on
the window, not on the video's length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from inpnet.errors import InpNetError
from inpnet.harmonic import smooth_fill
from inpnet.video.flow import (
    PRESETS,
    FlowEstimator,
    Roi,
    camera_motion,
    corners_around,
    grow,
    register,
    to_frame,
)
from inpnet.video.propagate import (
    MODEL,
    NONE,
    RAW,
    HoleIndex,
    Link,
    Sources,
    choose,
    drop_hidden,
    follow,
    sample,
    snap_to_camera,
)

REREGISTER_EVERY = 6  # frames: a camera motion to a source frame is registered anew this often

Filler = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (H, W, 3) uint8, (H, W) bool -> (H, W, 3) uint8


@dataclass(frozen=True)
class VideoOptions:
    """past: frames kept behind the current one as sources; chunk: frames finished per backward pass;
    lookahead: frames read ahead (future sources); flow: DIS preset (ultrafast / fast / medium)."""

    past: int = 24
    chunk: int = 8
    lookahead: int = 24
    flow: str = "fast"

    def __post_init__(self) -> None:
        if self.past < 1 or self.chunk < 1 or self.lookahead < 0:
            raise InpNetError(f"video window needs past >= 1, chunk >= 1, lookahead >= 0, got {self}")
        if self.flow not in PRESETS:
            raise InpNetError(f"unknown flow preset {self.flow!r}; expected one of {', '.join(PRESETS)}")


class _Frame:
    """One frame in the window. `image`: the frame with its hole first filled smoothly, then (once
    finished) with the final fill; `link_next`: the flow pair with the next frame."""

    def __init__(self, index: int, image: np.ndarray, hole: np.ndarray) -> None:
        self.index = index
        self.hole = hole  # (H, W) bool
        self.holes = HoleIndex.of(hole)
        self.guard = grow(hole, 1)  # (H, W) bool: a source position must not round into this
        self.image = _prefill(image, hole)  # (H, W, 3) uint8
        self.gray = cv2.cvtColor(self.image, cv2.COLOR_RGB2GRAY)  # (H, W) uint8
        self.link_next: Link | None = None  # flow to index + 1 (and back)
        self.link_prev: Link | None = None  # the same pair seen from index + 1
        self.to_next: np.ndarray | None = None  # camera motion to index + 1 (3x3, frame coordinates)
        self.to_prev: np.ndarray | None = None
        self.cameras: dict[int, tuple[np.ndarray, int]] = {}  # source index -> (motion there, steps since registered)
        self.backward: Sources | None = None  # sources in future frames
        self.sources: Sources | None = None  # final choice, set when finished


def _prefill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """A copy of image whose hole is filled smoothly (so that flow and bicubic sampling next to the
    hole do not see the masked content)."""
    out = np.array(image, dtype=np.uint8, copy=True)
    roi = Roi.around(hole)
    if roi is None:
        return out
    rows, cols = roi.slices
    crop_hole = hole[rows, cols]
    filled = smooth_fill(out[rows, cols].astype(np.float32), crop_hole)  # all hole: left as it is
    out[rows, cols][crop_hole] = np.clip(np.rint(filled[crop_hole]), 0, 255).astype(np.uint8)
    return out


class VideoInpainter:
    """`run(frames, holes)` -> finished frames, in order (an iterator; see the module docstring)."""

    def __init__(self, fill: Filler, options: VideoOptions | None = None) -> None:
        self.fill = fill
        self.options = options or VideoOptions()
        self.flow = FlowEstimator(self.options.flow)
        self.model_calls = 0  # keyframe fills, for reports

    def run(self, frames: Iterable[np.ndarray], holes: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        window: dict[int, _Frame] = {}
        opts = self.options
        done = read = 0
        hole_iter = iter(holes)
        for image in frames:
            hole = next(hole_iter, None)
            if hole is None:
                raise InpNetError(f"the masks ran out after {read} frames: fewer masks than frames")
            self._add(window, read, np.asarray(image), np.asarray(hole, dtype=bool))
            read += 1
            if read - done >= opts.chunk + opts.lookahead + 1:
                self._backward_pass(window, done, read)
                for _ in range(opts.chunk):
                    yield self._finish(window, done)
                    done += 1
        if read == 0:
            raise InpNetError("the video has no frames")
        self._backward_pass(window, done, read)
        while done < read:
            yield self._finish(window, done)
            done += 1

    # ---- steps -------------------------------------------------------------------------------------
    def _add(self, window: dict[int, _Frame], index: int, image: np.ndarray, hole: np.ndarray) -> None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InpNetError(f"frame {index}: expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        if hole.shape != image.shape[:2]:
            raise InpNetError(f"frame {index}: mask is {hole.shape[1]}x{hole.shape[0]} but the frame is "
                              f"{image.shape[1]}x{image.shape[0]}")
        frame = _Frame(index, image, hole)
        prev = window.get(index - 1)
        if prev is not None:
            if prev.image.shape != image.shape:
                raise InpNetError(f"frame {index} is {image.shape[1]}x{image.shape[0]} but the previous "
                                  f"one is {prev.image.shape[1]}x{prev.image.shape[0]}")
            self._link(prev, frame)
        window[index] = frame

    def _link(self, a: _Frame, b: _Frame) -> None:
        """Flow between neighbours a, b on a crop holding both holes (none when neither has a hole)."""
        roi = Roi.around(a.hole | b.hole)
        if roi is not None:
            rows, cols = roi.slices
            camera = camera_motion(a.gray, b.gray, a.hole, b.hole, roi)
            ab, ba = self.flow.pair(a.gray[rows, cols], b.gray[rows, cols], a.hole[rows, cols], b.hole[rows, cols],
                                    camera)
            a.link_next, b.link_prev = Link(roi, ab, ba), Link(roi, ba, ab)
            if camera is not None:
                a.to_next = to_frame(camera, roi)
                b.to_prev = np.linalg.inv(a.to_next)

    def _backward_pass(self, window: dict[int, _Frame], start: int, end: int) -> None:
        """Sources in future frames for frames [start, end), from the last one down."""
        window[end - 1].backward = None
        for index in range(end - 2, start - 1, -1):
            frame, nb = window[index], window[index + 1]
            frame.backward = follow(frame.holes, frame.link_next, nb.index, nb.holes, nb.backward,
                                    lambda f: np.ones(f.shape, bool), strict=True)

    def _finish(self, window: dict[int, _Frame], index: int) -> np.ndarray:
        """Choose each hole pixel's source, copy the colours, let the model fill the rest."""
        frame, prev = window[index], window.get(index - 1)
        if prev is None:
            forward = Sources.empty(len(frame.holes))
        else:
            oldest = index - self.options.past
            forward = follow(frame.holes, frame.link_prev, prev.index, prev.holes, prev.sources,
                             lambda f: (f >= oldest) & np.isin(f, list(window)))
        unfinished = {i: (w.holes, w.guard) for i, w in window.items() if i > index}
        for candidate in (forward, frame.backward):
            if candidate is not None:
                snap_to_camera(candidate, frame.holes, self._cameras(window, frame, candidate))
                drop_hidden(candidate, unfinished)
        chosen = choose(forward, frame.backward, index)
        images = {i: w.image for i, w in window.items()}
        ys, xs = frame.holes.ys, frame.holes.xs
        missing = chosen.kind == NONE
        colours = sample(chosen, images)  # (N, 3)
        frame.image[ys[~missing], xs[~missing]] = colours[~missing]
        if missing.any():
            self._model_fill(frame, chosen, missing)
        frame.sources, frame.backward = chosen, None
        for old in [i for i in window if i < index - self.options.past]:
            del window[old]
        frame.link_prev = None
        if prev is not None:
            prev.link_next = None
        return frame.image.copy()

    def _cameras(self, window: dict[int, _Frame], frame: _Frame, chosen: Sources) -> dict[int, np.ndarray]:
        """The camera's motion from `frame` to each real-pixel source frame two or more frames away:
        registered directly (a one-frame step is direct already), or, for up to REREGISTER_EVERY - 1
        frames after that, the previous frame's registration composed with one step. Sources where
        registration fails are left out."""
        wanted = [int(s) for s in np.unique(chosen.frame[chosen.kind == RAW]) if abs(s - frame.index) >= 2]
        prev = window.get(frame.index - 1)
        corners = None
        for source in wanted:
            if source in frame.cameras:
                continue
            known = prev.cameras.get(source) if prev is not None and frame.to_prev is not None else None
            if known is not None and known[1] + 1 < REREGISTER_EVERY:
                frame.cameras[source] = (known[0] @ frame.to_prev, known[1] + 1)
                continue
            guess = _chained_motion(window, frame.index, source)
            if corners is None and guess is not None:
                roi = Roi.around(frame.hole)
                corners = corners_around(frame.gray, frame.hole, roi) if roi is not None else None
                if corners is None:
                    return {}
            found = None if guess is None else register(frame.gray, corners, window[source].gray, guess)
            if found is not None:
                frame.cameras[source] = (found, 0)
        return {s: frame.cameras[s][0] for s in wanted if s in frame.cameras}

    def _model_fill(self, frame: _Frame, chosen: Sources, missing: np.ndarray) -> None:
        """The image model fills the pixels no frame showed; they become this keyframe's own sources."""
        ys, xs = frame.holes.ys[missing], frame.holes.xs[missing]
        hole = np.zeros(frame.hole.shape, bool)
        hole[ys, xs] = True
        filled = np.asarray(self.fill(frame.image, hole))
        frame.image[ys, xs] = filled[ys, xs]
        chosen.set(missing, frame.index, xs.astype(np.float32), ys.astype(np.float32), MODEL)
        self.model_calls += 1


def _chained_motion(window: dict[int, _Frame], start: int, end: int) -> np.ndarray | None:
    """The per-step camera motions composed from frame `start` to frame `end` (3x3), None if one is
    missing."""
    matrix = np.eye(3)
    step = 1 if end > start else -1
    for index in range(start, end, step):
        motion = window[index].to_next if step == 1 else window[index].to_prev
        if motion is None:
            return None
        matrix = motion @ matrix
    return matrix


def inpaint_frames(frames: Iterable[np.ndarray], holes: Iterable[np.ndarray], fill: Filler,
                   options: VideoOptions | None = None) -> Iterator[np.ndarray]:
    """Frames (H, W, 3) uint8 + holes (H, W) bool (True = fill) -> inpainted frames, streamed."""
    return VideoInpainter(fill, options).run(frames, holes)


def iter_holes(masks: object) -> Iterator[np.ndarray]:
    """One mask (an (H, W) array, image or path) for every frame, or an iterable of per-frame masks ->
    (H, W) bool holes (nonzero = hole)."""
    from inpnet.predict import as_hole

    if isinstance(masks, (np.ndarray, str, Path, Image.Image)):
        hole = as_hole(masks)
        while True:
            yield hole
    for mask in masks:  # type: ignore[attr-defined]
        yield as_hole(mask)
