"""Dense optical flow between neighbouring frames (OpenCV DIS), completed inside the hole.

The flow is computed on a crop around the holes of both frames (`Roi`), on frames whose hole was first
filled smoothly (so a static logo does not pin the flow to zero). Inside the hole (grown by
`FLOW_HOLE_GROW` pixels, where the masked content still leaks into DIS's patches) it is replaced by a
completion: the camera's motion - a similarity transform fitted (RANSAC) to corners tracked around the
hole with pyramidal Lucas-Kanade, or over the whole frame where the hole's surroundings are too plain to
track (a logo in the sky: `camera_motion`) - or, when no camera motion explains the scene, a smooth
(harmonic) completion of the flow around the hole. Per-step flow errors add up along the chains of frames that propagation follows,
so the fit matters: on a pan over smooth content DIS alone is off by 0.2-0.4 px per frame.

The smooth fills are `inpnet.harmonic.smooth_fill` (OpenCV calls: ~1-2 ms per 200x200 crop; it runs several
times per frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inpnet.harmonic import smooth_fill

FLOW_HOLE_GROW = 6  # px: DIS patches are 8 px, so the flow this close to the hole still sees the hole
ROI_MARGIN = 32  # px of context around the holes for the flow (at least; more for large holes)
FIT_POINTS = 400  # corners (at most) tracked to fit the camera's motion
FIT_MIN_TRACKS = 12
FIT_TOLERANCE = 0.5  # px: RANSAC inlier distance for the camera motion
FIT_MIN_INLIERS = 0.5  # below this inlier fraction the motion is not a camera motion
TRACK_TOLERANCE = 0.3  # px: a corner tracked there and back must return this close
SNAP_TOLERANCE = 2.0  # px: DIS vectors this close to the camera's motion are taken as that motion
MIN_DIS_SIDE = 64  # px: OpenCV's DIS crashes (a segfault, or an assertion) on some images with a side under
# ~32 px (16x128, 24x512, 31x640 in a review); a shorter crop is padded to this for it (`_dis_flow`)
_LK = {"winSize": (15, 15), "maxLevel": 3,
       "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)}
_LK_REFINE = {"winSize": (15, 15), "maxLevel": 1,  # from a good guess: a short pyramid is enough
              "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.01)}
PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


@dataclass(frozen=True)
class Roi:
    """Rows [top, bottom) and columns [left, right) of the frame."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @classmethod
    def around(cls, hole: np.ndarray) -> Roi | None:
        """The holes' bounding box grown by a margin (>= ROI_MARGIN, >= a quarter of the box), clipped.
        hole: (H, W) bool. None when there is no hole."""
        rows, cols = np.flatnonzero(hole.any(axis=1)), np.flatnonzero(hole.any(axis=0))
        if rows.size == 0:
            return None
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        margin = max(ROI_MARGIN, (max(y1 - y0, x1 - x0) + 3) // 4)
        H, W = hole.shape
        return cls(max(0, y0 - margin), max(0, x0 - margin), min(H, y1 + margin), min(W, x1 + margin))


def grow(hole: np.ndarray, pixels: int) -> np.ndarray:
    """(H, W) bool hole dilated by `pixels` (square kernel)."""
    if pixels <= 0:
        return hole
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    return cv2.dilate(hole.astype(np.uint8), kernel) > 0


def fit_motion(gray_a: np.ndarray, gray_b: np.ndarray, known: np.ndarray) -> np.ndarray | None:
    """The camera's motion between two crops (h, w) uint8: corners of a's known pixels (h, w) bool are
    tracked into b (pyramidal Lucas-Kanade, kept when tracking back returns within TRACK_TOLERANCE) and a
    similarity (shift, rotation, zoom: 4 parameters, which extrapolate into the hole far more safely
    than a homography's 8) is fitted to them (RANSAC). -> its 3x3 matrix (a's pixel -> b's), or None when
    too few tracks follow it (not a camera motion, or too little texture)."""
    corners = cv2.goodFeaturesToTrack(gray_a, FIT_POINTS, 0.01, 4, mask=known.astype(np.uint8))
    if corners is None or len(corners) < FIT_MIN_TRACKS:
        return None
    moved, found, _ = cv2.calcOpticalFlowPyrLK(gray_a, gray_b, corners, None, **_LK)
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(gray_b, gray_a, moved, None, **_LK)
    good = (found[:, 0] == 1) & (found_back[:, 0] == 1)
    good &= ((back - corners) ** 2).sum(axis=-1)[:, 0] <= TRACK_TOLERANCE**2
    if good.sum() < FIT_MIN_TRACKS:
        return None
    similarity, inliers = cv2.estimateAffinePartial2D(corners[good], moved[good], method=cv2.RANSAC,
                                                      ransacReprojThreshold=FIT_TOLERANCE)
    if similarity is None or inliers.sum() < max(FIT_MIN_TRACKS, FIT_MIN_INLIERS * good.sum()):
        return None
    return np.vstack([similarity, [0.0, 0.0, 1.0]])


def camera_motion(gray_a: np.ndarray, gray_b: np.ndarray, hole_a: np.ndarray, hole_b: np.ndarray,
                  roi: Roi) -> np.ndarray | None:
    """The camera's motion a -> b (3x3, in `roi`'s crop coordinates) between two whole frames (H, W) uint8
    with holes (H, W) bool: fitted on the crop around the holes, or, when that gives none, on the whole
    frames' known pixels - the crop may have too little to track (the plain sky around a logo: its flow would
    be DIS's guess, and a chain of guesses loses the pixels that a pan shows a few frames away), or be
    dominated by a motion that is not the camera's (the parts of a masked walker around the hole). None when
    neither explains the scene by one camera motion."""
    rows, cols = roi.slices
    known = ~grow(hole_a[rows, cols], FLOW_HOLE_GROW) & ~grow(hole_b[rows, cols], FLOW_HOLE_GROW)
    camera = fit_motion(np.ascontiguousarray(gray_a[rows, cols]), np.ascontiguousarray(gray_b[rows, cols]), known)
    if camera is not None or roi == _whole(gray_a.shape):
        return camera
    whole = fit_motion(gray_a, gray_b, ~grow(hole_a, FLOW_HOLE_GROW) & ~grow(hole_b, FLOW_HOLE_GROW))
    return None if whole is None else to_crop(whole, roi)


def _whole(shape: tuple[int, int]) -> Roi:
    return Roi(0, 0, shape[0], shape[1])


def corners_around(gray: np.ndarray, hole: np.ndarray, roi: Roi) -> np.ndarray | None:
    """Corners (n, 1, 2) float32 (x, y in frame coordinates) of the known pixels in `roi` of a frame
    (gray (H, W) uint8, hole (H, W) bool), for `register`; those of the whole frame when the crop has too
    few (plain surroundings, as `camera_motion`); None when the frame has too few too."""
    for area in (roi, _whole(gray.shape)):
        rows, cols = area.slices
        known = ~grow(hole[rows, cols], FLOW_HOLE_GROW)
        corners = cv2.goodFeaturesToTrack(np.ascontiguousarray(gray[rows, cols]), FIT_POINTS, 0.01, 4,
                                          mask=known.astype(np.uint8))
        if corners is not None and len(corners) >= FIT_MIN_TRACKS:
            return corners + np.array([area.left, area.top], np.float32)
    return None


def register(gray_a: np.ndarray, corners: np.ndarray, gray_b: np.ndarray,
             guess: np.ndarray) -> np.ndarray | None:
    """Refine `guess` (3x3, a's pixel -> b's) by tracking a's corners (n, 1, 2) into frame b directly
    (Lucas-Kanade from the guessed positions) and fitting a similarity: a direct estimate between two
    frames many steps apart, without the drift of a chain of per-step estimates. None if it fails."""
    start = cv2.transform(corners, guess[:2])  # (n, 1, 2)
    rows, cols, offset = _box_around(gray_a.shape, np.concatenate([corners, start]))
    crop_a, crop_b = np.ascontiguousarray(gray_a[rows, cols]), np.ascontiguousarray(gray_b[rows, cols])
    moved, found, _ = cv2.calcOpticalFlowPyrLK(crop_a, crop_b, corners - offset, start - offset,
                                               flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **_LK_REFINE)
    good = found[:, 0] == 1
    if good.sum() < FIT_MIN_TRACKS:
        return None
    similarity, inliers = cv2.estimateAffinePartial2D(corners[good], moved[good] + offset, method=cv2.RANSAC,
                                                      ransacReprojThreshold=FIT_TOLERANCE)
    if similarity is None or inliers.sum() < max(FIT_MIN_TRACKS, FIT_MIN_INLIERS * good.sum()):
        return None
    return np.vstack([similarity, [0.0, 0.0, 1.0]])


def _box_around(shape: tuple[int, int], points: np.ndarray,
                margin: int = 24) -> tuple[slice, slice, np.ndarray]:
    """Rows, columns of the part of an (H, W) frame around points (n, 1, 2), and its offset (x, y)."""
    H, W = shape
    x0, y0 = np.floor(points.reshape(-1, 2).min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(points.reshape(-1, 2).max(axis=0)).astype(int) + margin
    x0, y0 = min(max(0, x0), W - 1), min(max(0, y0), H - 1)
    x1, y1 = max(min(W, x1), x0 + 1), max(min(H, y1), y0 + 1)
    return slice(y0, y1), slice(x0, x1), np.array([x0, y0], np.float32)


def to_frame(matrix: np.ndarray, roi: Roi) -> np.ndarray:
    """A 3x3 transform between crop coordinates of `roi` -> the same in frame coordinates."""
    shift = np.array([[1.0, 0.0, roi.left], [0.0, 1.0, roi.top], [0.0, 0.0, 1.0]])
    return shift @ matrix @ np.linalg.inv(shift)


def to_crop(matrix: np.ndarray, roi: Roi) -> np.ndarray:
    """The inverse of `to_frame`: a 3x3 transform between frame coordinates -> the same in `roi`'s crop."""
    shift = np.array([[1.0, 0.0, roi.left], [0.0, 1.0, roi.top], [0.0, 0.0, 1.0]])
    return np.linalg.inv(shift) @ matrix @ shift


def motion_flow(homography: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """3x3 matrix -> the flow (h, w, 2) it moves each pixel of an (h, w) crop by."""
    h, w = shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    p = homography @ np.stack([gx.ravel(), gy.ravel(), np.ones(h * w)])  # (3, h*w)
    moved = (p[:2] / p[2]).reshape(2, h, w)
    return np.stack([moved[0] - gx, moved[1] - gy], axis=-1).astype(np.float32)


def complete_flow(flow: np.ndarray, hole: np.ndarray, motion: np.ndarray | None) -> np.ndarray:
    """(h, w, 2) flow with unreliable values in the (grown) hole (h, w) bool -> completed flow.

    With the camera's motion (h, w, 2): the hole follows it, and so do the known vectors within
    SNAP_TOLERANCE of it (DIS's error, not a moving object); the other known vectors (a moving object)
    keep DIS's flow. The DIS flow around a hole that moves (a masked walking person) is dragged along
    by the hole itself, so completing it into the hole would carry that motion in. Without a camera
    motion: a smooth (harmonic) completion of the DIS flow around the hole."""
    if hole.all():
        return np.zeros_like(flow) if motion is None else motion
    if motion is None:
        return smooth_fill(flow, hole)
    rest = flow - motion
    rest[hole | ((rest**2).sum(axis=-1) <= SNAP_TOLERANCE**2)] = 0.0
    return motion + rest


class FlowEstimator:
    """Forward and backward flow between two frames on a crop, completed inside each frame's hole."""

    def __init__(self, preset: str = "fast") -> None:
        self.dis = cv2.DISOpticalFlow_create(PRESETS[preset])

    def _dis_flow(self, gray_a: np.ndarray, gray_b: np.ndarray) -> np.ndarray:
        """DIS flow a -> b, (h, w, 2) float32; a crop with a side under MIN_DIS_SIDE is padded to it (edge
        pixels repeated) for DIS and the flow cut back to the crop."""
        h, w = gray_a.shape
        pad = ((0, max(0, MIN_DIS_SIDE - h)), (0, max(0, MIN_DIS_SIDE - w)))
        if pad == ((0, 0), (0, 0)):
            return self.dis.calc(gray_a, gray_b, None)
        flow = self.dis.calc(np.pad(gray_a, pad, mode="edge"), np.pad(gray_b, pad, mode="edge"), None)
        return np.ascontiguousarray(flow[:h, :w])

    def pair(self, gray_a: np.ndarray, gray_b: np.ndarray, hole_a: np.ndarray, hole_b: np.ndarray,
             camera: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Crops (h, w) uint8 of frames a, b, their holes (h, w) bool and the camera's motion a->b (3x3,
        crop coordinates, `camera_motion`; None when the motion is not a camera motion) -> (flow a->b on
        a's pixels, flow b->a on b's pixels), each (h, w, 2) float32 (dx, dy), completed inside the grown
        holes."""
        gray_a, gray_b = np.ascontiguousarray(gray_a), np.ascontiguousarray(gray_b)
        forward, backward = self._dis_flow(gray_a, gray_b), self._dis_flow(gray_b, gray_a)
        grown_a, grown_b = grow(hole_a, FLOW_HOLE_GROW), grow(hole_b, FLOW_HOLE_GROW)
        if camera is None:
            return complete_flow(forward, grown_a, None), complete_flow(backward, grown_b, None)
        motion_ab = motion_flow(camera, gray_a.shape)
        motion_ba = motion_flow(np.linalg.inv(camera), gray_a.shape)
        return complete_flow(forward, grown_a, motion_ab), complete_flow(backward, grown_b, motion_ba)
