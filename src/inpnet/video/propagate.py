"""Propagation of known pixels along the flow, by tracing every hole pixel back to the frame it is
visible in (as FGVC does), so that its colour is resampled once from that frame and not blurred by a
chain of resamplings.

Each frame keeps, for each of its hole pixels, a `Sources` entry: the frame index and the sub-pixel
position the colour comes from, and its kind (`RAW`: a real pixel of some frame; `MODEL`: the image
model's fill, made on a keyframe; `NONE`: not found). `follow` computes the entries of a frame from those
of its neighbour (the previous frame going forward in time, the next one going backward): a hole pixel p
lands at q = p + flow(p) in the neighbour; if the forward-backward check fails (an occlusion) it gets
nothing; if q is a known pixel there, the neighbour is the source; if q is in the neighbour's hole, the
neighbour's own entry at round(q) is taken, shifted by the sub-pixel rest q - round(q).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from inpnet.video.flow import Roi

NONE, RAW, MODEL = 0, 1, 2
CONSISTENCY_SCALE = 0.01  # forward-backward check: |f + b(q)|^2 <= scale * (|f|^2 + |b|^2) + slack
CONSISTENCY_SLACK = 0.5  # px^2 (Sundaram et al., ECCV 2010)
CAMERA_TOLERANCE = 2.0  # px: a traced position this close to the camera's motion is snapped onto it
PIXEL_SNAP = 0.05  # px
_REMAP_COLS = 1024  # cv2.remap takes maps shorter than 32767 pixels a side: points go in rows of this


@dataclass
class HoleIndex:
    """The hole pixels of a frame: coordinates (N,) and a lookup image (H, W) int32, -1 = not a hole."""

    ys: np.ndarray
    xs: np.ndarray
    lut: np.ndarray

    @classmethod
    def of(cls, hole: np.ndarray) -> HoleIndex:
        ys, xs = np.nonzero(hole)
        lut = np.full(hole.shape, -1, np.int32)
        lut[ys, xs] = np.arange(len(ys), dtype=np.int32)
        return cls(ys, xs, lut)

    def __len__(self) -> int:
        return len(self.ys)


@dataclass
class Sources:
    """Per hole pixel (N,): source frame index, position (x, y) in it, kind (NONE / RAW / MODEL)."""

    frame: np.ndarray  # (N,) int64
    x: np.ndarray  # (N,) float32
    y: np.ndarray  # (N,) float32
    kind: np.ndarray  # (N,) int8
    linear: np.ndarray | None = None  # (N,) bool: sample bilinearly (bicubic would reach into a hole)

    @classmethod
    def empty(cls, n: int) -> Sources:
        return cls(np.full(n, -1, np.int64), np.zeros(n, np.float32), np.zeros(n, np.float32),
                   np.zeros(n, np.int8))

    def set(self, where: np.ndarray, frame: np.ndarray | int, x: np.ndarray, y: np.ndarray,
            kind: np.ndarray | int) -> None:
        self.frame[where], self.x[where], self.y[where], self.kind[where] = frame, x, y, kind

    def take(self, other: Sources, where: np.ndarray) -> None:
        """Copy `other`'s entries where `where` (N,) bool."""
        self.set(where, other.frame[where], other.x[where], other.y[where], other.kind[where])


@dataclass
class Link:
    """The flow between a frame and its neighbour: `to_nb` on the frame's pixels, `to_frame` on the
    neighbour's, both (h, w, 2) crops of `roi` (which holds both frames' holes)."""

    roi: Roi
    to_nb: np.ndarray
    to_frame: np.ndarray


def follow(holes: HoleIndex, link: Link | None, nb_index: int, nb_holes: HoleIndex,
           nb_sources: Sources | None, available: Callable[[np.ndarray], np.ndarray],
           strict: bool = False) -> Sources:
    """Sources of a frame's hole pixels through its neighbour (see the module docstring).

    `nb_sources`: the neighbour's entries (None: it has none yet, only its known pixels count).
    `strict`: a known position counts only if its bilinear support holds no hole pixel (the
    neighbour's hole holds no colour yet, only a smooth guess).
    `available(frames)` -> (n,) bool: whether a source frame is still held; an inherited entry whose
    frame was dropped is re-based onto the neighbour itself (its colour there, one more resampling)."""
    out = Sources.empty(len(holes))
    if link is None or len(holes) == 0:
        return out
    H, W = nb_holes.lut.shape
    top, left = link.roi.top, link.roi.left
    flow = link.to_nb[holes.ys - top, holes.xs - left]  # (N, 2)
    qx, qy = holes.xs + flow[:, 0], holes.ys + flow[:, 1]
    ix, iy = np.rint(qx).astype(np.int64), np.rint(qy).astype(np.int64)
    inside = (ix >= 0) & (ix < W) & (iy >= 0) & (iy < H)
    ix, iy = np.clip(ix, 0, W - 1), np.clip(iy, 0, H - 1)
    ok = inside & _consistent(flow, link, ix, iy)
    j = nb_holes.lut[iy, ix]
    direct = ok & (j < 0)
    if strict:
        direct &= ~touches_hole(nb_holes.lut, qx, qy)
    out.set(direct, nb_index, qx[direct], qy[direct], RAW)
    if nb_sources is None:
        return out
    inherit = ok & (j >= 0)
    k = j[inherit]
    out.set(inherit, nb_sources.frame[k], nb_sources.x[k] + (qx - ix)[inherit],
            nb_sources.y[k] + (qy - iy)[inherit], nb_sources.kind[k])
    stale = inherit & (out.kind != NONE) & ~available(out.frame)
    out.set(stale, nb_index, qx[stale], qy[stale], out.kind[stale])
    return out


def _consistent(flow: np.ndarray, link: Link, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """(N,) bool: the flow back from round(q) returns near p. Outside the crop it cannot be checked (a
    known pixel far from every hole), so it passes."""
    roi = link.roi
    in_roi = (iy >= roi.top) & (iy < roi.bottom) & (ix >= roi.left) & (ix < roi.right)
    back = -flow.copy()
    back[in_roi] = link.to_frame[iy[in_roi] - roi.top, ix[in_roi] - roi.left]
    err = ((flow + back) ** 2).sum(axis=1)
    return err <= CONSISTENCY_SCALE * ((flow**2).sum(axis=1) + (back**2).sum(axis=1)) + CONSISTENCY_SLACK


def snap_to_camera(sources: Sources, holes: HoleIndex, cameras: Mapping[int, np.ndarray]) -> None:
    """Where the camera's motion from this frame to a source frame is known (`cameras`: frame index ->
    3x3, this frame's pixel -> that frame's), move the real-pixel entries from that frame onto it, unless
    they are more than CAMERA_TOLERANCE away (a moving object, which follows the flow instead)."""
    for frame, matrix in cameras.items():
        sel = np.flatnonzero((sources.kind == RAW) & (sources.frame == frame))
        x, y = holes.xs[sel], holes.ys[sel]
        cx = matrix[0, 0] * x + matrix[0, 1] * y + matrix[0, 2]
        cy = matrix[1, 0] * x + matrix[1, 1] * y + matrix[1, 2]
        close = (cx - sources.x[sel]) ** 2 + (cy - sources.y[sel]) ** 2 <= CAMERA_TOLERANCE**2
        sources.x[sel[close]], sources.y[sel[close]] = cx[close], cy[close]


def touches_hole(lut: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N,) bool: the bilinear support (2x2 pixels) of positions (x, y) holds a hole pixel (lut >= 0)."""
    H, W = lut.shape
    x0 = np.clip(np.floor(x).astype(np.int64), 0, W - 1)
    y0 = np.clip(np.floor(y).astype(np.int64), 0, H - 1)
    x1, y1 = np.minimum(x0 + 1, W - 1), np.minimum(y0 + 1, H - 1)
    return (lut[y0, x0] >= 0) | (lut[y0, x1] >= 0) | (lut[y1, x0] >= 0) | (lut[y1, x1] >= 0)


def drop_hidden(sources: Sources, unfinished: Mapping[int, tuple[HoleIndex, np.ndarray]]) -> None:
    """Real-pixel entries in frames not finished yet (whose hole holds no colour to copy, only a smooth
    guess): dropped where their bilinear support touches that hole (the sub-pixel rest added along a
    chain can carry a position across the hole's edge), sampled bilinearly where bicubic sampling
    would reach into it. unfinished: frame index -> (its holes, its hole grown by a pixel)."""
    sources.linear = np.zeros(len(sources.kind), bool)
    for frame in np.unique(sources.frame[sources.kind == RAW]):
        if int(frame) not in unfinished:
            continue
        holes, guard = unfinished[int(frame)]
        sel = np.flatnonzero((sources.kind == RAW) & (sources.frame == frame))
        x, y = sources.x[sel], sources.y[sel]
        hidden = touches_hole(holes.lut, x, y)
        sources.frame[sel[hidden]], sources.kind[sel[hidden]] = -1, NONE
        H, W = guard.shape
        ix, iy = np.clip(np.rint(x).astype(np.int64), 0, W - 1), np.clip(np.rint(y).astype(np.int64), 0, H - 1)
        sources.linear[sel[~hidden & guard[iy, ix]]] = True


def choose(forward: Sources, backward: Sources | None, index: int) -> Sources:
    """Per pixel, the better of two candidates: a real pixel over the model's fill over nothing; of two
    real pixels, the one from the nearer frame (ties: forward)."""
    if backward is None:
        return forward
    use_b = _rank(backward, index) < _rank(forward, index)
    linear = [np.zeros(len(c.kind), bool) if c.linear is None else c.linear for c in (forward, backward)]
    out = Sources(forward.frame.copy(), forward.x.copy(), forward.y.copy(), forward.kind.copy(),
                  np.where(use_b, linear[1], linear[0]))
    out.take(backward, use_b)
    return out


def _rank(sources: Sources, index: int) -> np.ndarray:
    """(N,) int64, lower is better: a real pixel by its frame distance, then the model's fill, then none."""
    return np.select([sources.kind == RAW, sources.kind == MODEL],
                     [np.abs(sources.frame - index), np.int64(1) << 40], np.int64(1) << 62)


def sample(sources: Sources, images: Mapping[int, np.ndarray]) -> np.ndarray:
    """(N, 3) uint8 colours of the entries (bicubic, once from the source frame); NONE entries are 0."""
    n = len(sources.kind)
    out = np.zeros((n, 3), np.uint8)
    known = sources.kind != NONE
    linear = np.zeros(n, bool) if sources.linear is None else sources.linear
    for frame in np.unique(sources.frame[known]):
        for bilinear in (False, True):
            sel = np.flatnonzero(known & (sources.frame == frame) & (linear == bilinear))
            if len(sel):
                out[sel] = _remap_points(images[int(frame)], sources.x[sel], sources.y[sel], bilinear)
    return out


def _snap_to_pixels(v: np.ndarray) -> np.ndarray:
    """Positions within PIXEL_SNAP of a pixel centre are read at that centre: an integer motion estimated
    a hundredth of a pixel off then copies the pixel exactly instead of resampling it."""
    nearest = np.rint(v)
    return np.where(np.abs(v - nearest) <= PIXEL_SNAP, nearest, v).astype(np.float32)


def _remap_points(image: np.ndarray, x: np.ndarray, y: np.ndarray, bilinear: bool = False) -> np.ndarray:
    """(H, W, 3) image sampled bicubically (or bilinearly) at n points -> (n, 3)."""
    n = len(x)
    x, y = _snap_to_pixels(x), _snap_to_pixels(y)
    rows = -(-n // _REMAP_COLS)
    map_x = np.zeros(rows * _REMAP_COLS, np.float32)
    map_y = np.zeros(rows * _REMAP_COLS, np.float32)
    map_x[:n], map_y[:n] = x, y
    shape = (rows, _REMAP_COLS)
    mode = cv2.INTER_LINEAR if bilinear else cv2.INTER_CUBIC
    values = cv2.remap(image, map_x.reshape(shape), map_y.reshape(shape), mode,
                       borderMode=cv2.BORDER_REPLICATE)
    return values.reshape(-1, 3)[:n]
