"""Video and frame-folder I/O through PyAV (its wheels carry FFmpeg: no system ffmpeg needed).

Readers stream frames as (H, W, 3) uint8 RGB arrays; writers write to a temporary file (or folder) beside
the target and move it into place only when every frame is written, so a failure leaves nothing
half-written. Every decoding problem becomes one `InpNetError` line naming the file.

    source = open_video("in.mp4")          # or a folder of PNG/JPEG frames
    masks = open_masks("mask.png", source)  # one image for all frames, a folder, or a mask video
    with open_writer("out.mp4", source) as out:
        for frame in frames: out.write(frame)
"""

from __future__ import annotations

import contextlib
import numbers
import os
import re
import shutil
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from inpnet.errors import InpNetError, note
from inpnet.fileio import process_runs
from inpnet.imageio import IMAGE_EXTENSIONS, INPUT_EXTENSIONS, list_images, load_mask, open_image

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".gif")
# Other video containers: an output named so is refused, not made a frame folder of that name (it would look
# like a video file that no player opens).
OTHER_VIDEO_SUFFIXES = (".wmv", ".flv", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".3gp", ".ogv", ".vob", ".asf",
                        ".f4v", ".divx", ".rm", ".rmvb")
DEFAULT_FOLDER_FPS = Fraction(25)
# A file without a frame count whose frames end below this share of what its duration implies gets a warning
# (a cut Matroska file keeps its header's duration; an audio track a little longer than the video must not).
SHORT_OF_DURATION = 0.9
MASK_VIDEO_THRESHOLD = 127  # a lossy mask video: a pixel is a hole above mid-grey, not at any nonzero value
_ENCODERS = {".webm": "libvpx-vp9", ".gif": "gif"}  # anything else: H.264 (CRF 18)
_NUMBERED_FRAME = re.compile(r"frame_\d{6}\.png")  # FolderWriter's names for a video file's frames
MAX_FOLDER_FPS = 1000.0
STALE_TEMP_S = 600  # a dead job's temporary beside an output is removed once untouched this long


def _natural_key(path: Path) -> list[Any]:
    """'frame2.png' < 'frame10.png': numbers in the name compare as numbers."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", str(path))]


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


# ---- reading -----------------------------------------------------------------------------------------


@dataclass
class VideoSource:
    """A stream of frames and what a writer needs to reproduce it (size, rate, audio).

    `frames()` may be iterated once. `n_frames` is the declared count (None when the container does not
    say). `duration` (seconds, a video file's, from its header: Matroska and WebM store a duration, not a
    count) and `about_frames` (the count it implies at `fps`, for a progress bar) are not exact: the duration
    covers every stream, audio included, so frames that end well short of it get a warning, not an error.
    `frame_times` holds the timestamps of the frames decoded and not yet written, in `time_base` units of
    the video stream: the writer gives each output frame its input frame's time, so a variable frame
    rate stays in step with the audio. `audio_packets` collects the audio packets demuxed so far (a video
    file's audio, to be remuxed).
    """

    path: Path
    width: int
    height: int
    fps: Fraction
    n_frames: int | None
    is_folder: bool
    audio_stream: Any = None  # the input's audio stream (PyAV), or None
    duration: Fraction | None = None
    time_base: Fraction | None = None
    frame_times: deque = field(default_factory=deque)
    audio_packets: deque = field(default_factory=deque)
    _files: list[Path] = field(default_factory=list)
    _container: Any = None

    @property
    def about_frames(self) -> int | None:
        """The frame count `duration` implies at `fps` when the file declares none (a progress bar's total)."""
        return round(self.duration * self.fps) if self.duration and not self.n_frames else None

    def frames(self) -> Iterator[np.ndarray]:
        """(H, W, 3) uint8 RGB frames, in order."""
        if self.is_folder:
            return self._read_files()
        return self._decode()

    def _read_files(self) -> Iterator[np.ndarray]:
        for path in self._files:
            frame = np.asarray(open_image(path))
            if frame.shape[:2] != (self.height, self.width):
                raise InpNetError(f"frame {path.name} is {frame.shape[1]}x{frame.shape[0]} but the video's first "
                                  f"frame is {self.width}x{self.height}: every frame needs one size")
            yield frame

    def _decode(self) -> Iterator[np.ndarray]:
        import av

        container, video = self._container, self._container.streams.video[0]
        streams = [video] + ([self.audio_stream] if self.audio_stream is not None else [])
        count, last = 0, None
        try:
            for packet in container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None:
                        self.audio_packets.append(packet)
                    continue
                for frame in packet.decode():
                    count += 1
                    last = frame.pts
                    self.frame_times.append(frame.pts)
                    yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise InpNetError(f"cannot read video {self.path}: truncated or corrupt after {count} frames "
                              f"({exc.strerror or exc})") from None
        finally:
            container.close()
        if count == 0:
            raise InpNetError(f"cannot read video {self.path}: it has no frames")
        if self.n_frames and count < self.n_frames:
            raise InpNetError(f"cannot read video {self.path}: truncated, decoded {count} of "
                              f"{self.n_frames} frames")
        self._check_duration(count, last)

    def _check_duration(self, count: int, last_pts: int | None) -> None:
        """Warn when a file without a frame count ends (its last frame's time plus one frame) well short of
        the duration in its header: a cut Matroska file keeps its header."""
        if self.n_frames or not self.duration or last_pts is None or self.time_base is None:
            return
        end = last_pts * self.time_base + 1 / self.fps
        if end < SHORT_OF_DURATION * self.duration:
            note(f"{self.path.name}: its frames end at {float(end):.2f} s, but its header says it lasts "
                 f"{float(self.duration):.2f} s; the file may be truncated (the output has {count} "
                 "frames)")


def _open_folder(path: Path, fps: Fraction) -> VideoSource:
    try:
        files = sorted(list_images(path, recursive=False), key=_natural_key)
    except InpNetError:
        raise InpNetError(f"cannot read video {path}: the folder holds no frames "
                          f"({', '.join(INPUT_EXTENSIONS)})") from None
    width, height = open_image(files[0]).size
    return VideoSource(path, width, height, fps, len(files), True, _files=files)


def _open_file(path: Path) -> VideoSource:
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InpNetError(f"cannot read video {path}: not a video, or truncated or corrupt ({reason})") from None
    if not container.streams.video:
        container.close()
        raise InpNetError(f"cannot read video {path}: it has no video stream")
    video = container.streams.video[0]
    video.thread_type = "AUTO"
    ctx = video.codec_context
    if not ctx.width or not ctx.height:
        container.close()
        raise InpNetError(f"cannot read video {path}: no frame size (truncated or corrupt)")
    fps = video.average_rate or video.guessed_rate or DEFAULT_FOLDER_FPS
    audio = container.streams.audio[0] if container.streams.audio else None
    duration = Fraction(container.duration, 1_000_000) if container.duration else None  # from the header
    return VideoSource(path, ctx.width, ctx.height, Fraction(fps), video.frames or None, False,
                       audio_stream=audio, duration=duration,
                       time_base=video.time_base, _container=container)


def open_video(path: str | os.PathLike, *, fps: float | None = None) -> VideoSource:
    """A video file or a folder of frames (sorted by name, numbers compared as numbers).

    `fps`: the frame rate of a frame folder (default 25); a video file keeps its own."""
    path = Path(path)
    if fps is not None and not (isinstance(fps, numbers.Real) and not isinstance(fps, bool)
                                and 0 < fps <= MAX_FOLDER_FPS):  # a Fraction or a numpy float too
        raise InpNetError(f"--fps must be a frame rate above 0 and at most {MAX_FOLDER_FPS:g}, got {fps!r}")
    if not path.exists():
        raise InpNetError(f"--video {path} does not exist")
    if path.is_dir():
        exact = None if fps is None else Fraction(fps if isinstance(fps, numbers.Rational) else float(fps))
        rate = DEFAULT_FOLDER_FPS if exact is None else exact.limit_denominator(1001)
        if rate <= 0:  # a rate too small for a 1/1001 fraction
            raise InpNetError(f"--fps {fps!r} is too low a frame rate (at least 1/1001 frames/s)")
        return _open_folder(path, rate)
    if path.suffix.lower() in IMAGE_EXTENSIONS:  # FFmpeg opens a photo as a 1-frame video (a review got one)
        raise InpNetError(f"--video {path} is a still image: fill it with --image (a video is a file such as .mp4, "
                          ".mkv, .webm or .gif, or a folder of frames)")
    return _open_file(path)


# ---- masks -------------------------------------------------------------------------------------------


def _mask_video_frames(path: Path) -> tuple[Iterator[np.ndarray], int | None]:
    source = _open_file(path)
    source.audio_stream = None
    holes = (frame.max(axis=2) > MASK_VIDEO_THRESHOLD for frame in source.frames())
    return holes, source.n_frames


def _fit(hole: np.ndarray, width: int, height: int, name: str, warned: list[bool]) -> np.ndarray:
    """Resize a hole of another size to the frame size (nearest), warning once."""
    if hole.shape == (height, width):
        return hole
    if not warned:
        note(f"mask {name} is {hole.shape[1]}x{hole.shape[0]}, resized to the video's "
             f"{width}x{height} (nearest)")
        warned.append(True)
    return np.asarray(Image.fromarray(hole).resize((width, height), Image.Resampling.NEAREST))


def open_masks(path: str | os.PathLike, source: VideoSource) -> Iterator[np.ndarray]:
    """(H, W) bool holes (True = fill), one per frame of `source`: one image for every frame, a folder of
    masks paired by frame index (sorted like the frames), or a mask video. Fewer masks than frames is an
    error (raised up front when both counts are known, else when the masks run out)."""
    path = Path(path)
    if not path.exists():
        raise InpNetError(f"--mask {path} does not exist")
    warned: list[bool] = []
    if path.is_file() and not is_video_file(path):
        hole = _fit(load_mask(path)[0].numpy() > 0.5, source.width, source.height, str(path), warned)
        return _repeat(hole)
    if path.is_dir():
        files = sorted(list_images(path, recursive=False), key=_natural_key)
        count: int | None = len(files)
        holes: Iterator[np.ndarray] = (load_mask(f)[0].numpy() > 0.5 for f in files)
    else:
        holes, count = _mask_video_frames(path)
    if count is not None and source.n_frames is not None and count < source.n_frames:
        raise InpNetError(f"--mask {path} has {count} frames but the video has {source.n_frames}")
    if count is not None and source.n_frames is not None and count > source.n_frames:  # review 12: no word
        note(f"--mask {path} has {count} masks for the video's {source.n_frames} frames: the last "
             f"{count - source.n_frames} are not used")
    return _per_frame(holes, path, source, warned)


def _repeat(hole: np.ndarray) -> Iterator[np.ndarray]:
    while True:
        yield hole


def _per_frame(holes: Iterator[np.ndarray], path: Path, source: VideoSource,
               warned: list[bool]) -> Iterator[np.ndarray]:
    count = 0
    for hole in holes:
        count += 1
        yield _fit(hole, source.width, source.height, str(path), warned)
    raise InpNetError(f"--mask {path} has only {count} frames: fewer than the video")


# ---- writing -----------------------------------------------------------------------------------------


def _temp_beside(target: Path, suffix: str = "") -> Path:
    return target.with_name(f".{target.stem}.tmp{os.getpid()}{suffix or target.suffix}")


def _remove_stale_temps(target: Path) -> None:
    """The temporaries of earlier jobs for `target` whose process is gone (killed, or crashed: they had no
    chance to clean up; review 12): `.<stem>.tmp<pid>...` beside it, removed when no process <pid> runs."""
    pattern = re.compile(rf"\.{re.escape(target.stem)}\.tmp(\d+)(\.d|\.old|{re.escape(target.suffix)})?$")
    if not target.parent.is_dir():
        return
    for old in target.parent.iterdir():
        found = pattern.match(old.name)
        if found is None or process_runs(int(found.group(1))) or not _untouched_for(old, STALE_TEMP_S):
            continue  # (untouched: a job on another machine sharing the folder writes its temporary all along)
        with contextlib.suppress(OSError):
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()


def _untouched_for(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


def check_output(target: Path, inputs: list[Path], overwrite: bool) -> None:
    """Refuse an output that is an input or holds one (a frame folder replaces the whole folder), lies under
    a file, exists without `overwrite`, or is a folder where a video file goes (the frames would be made
    before the error)."""
    resolved = target.resolve()
    for p in inputs:
        if resolved == p.resolve():
            raise InpNetError(f"refusing to write {target}: it is an input")
        if resolved in p.resolve().parents:
            raise InpNetError(f"refusing to write {target}: it holds the input {p}, and a frame folder output "
                              "replaces the whole folder; choose another -o")
    if is_video_file(target) and target.is_dir():
        raise InpNetError(f"-o {target} is a folder; a video file needs another name")
    if target.suffix.lower() in OTHER_VIDEO_SUFFIXES:
        raise InpNetError(f"-o {target}: {target.suffix} videos are not written; name a {', '.join(VIDEO_EXTENSIONS)} "
                          "file, or a folder for PNG frames")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InpNetError(f"cannot write {target}: {parent} is a file, not a folder")
            break
    if target.exists() and not overwrite:
        raise InpNetError(f"{target} exists; pass --overwrite to replace it")


class FolderWriter:
    """PNG frames into a temporary folder, renamed to `target` on `close()`: named like the input's frames
    (`names`: a frame folder's file names, as PNG) or, for a video file's, `frame_000000.png`..."""

    def __init__(self, target: Path, names: list[str] | None = None) -> None:
        self.target = target
        self.names = names if names and len(set(names)) == len(names) else None  # a.jpg + a.png: numbered
        self._check_replaceable()
        _remove_stale_temps(target)
        self.tmp = _temp_beside(target, ".d")
        self.count = 0
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)

    def _check_replaceable(self) -> None:
        """`close` replaces the whole target folder: refuse one that holds anything but the frames this job
        writes (an earlier run's output), as the user's own files would be lost with it."""
        if not self.target.exists():
            return
        if not self.target.is_dir():
            raise InpNetError(f"-o {self.target} is a file; frames go to a folder (or give a video file name "
                              f"such as {self.target.stem}.mp4)")
        ours = set(self.names or ())
        others = sorted(p.name for p in self.target.iterdir()  # hidden files (.DS_Store) go with the folder
                        if not p.name.startswith(".")
                        and not (p.is_file() and (p.name in ours or _NUMBERED_FRAME.fullmatch(p.name))))
        if others:
            listed = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
            raise InpNetError(f"-o {self.target} holds files this job does not write ({listed}), and the frames "
                              "replace the whole folder; choose another -o, or empty it")

    def write(self, frame: np.ndarray) -> None:
        name = self.names[self.count] if self.names and self.count < len(self.names) else f"frame_{self.count:06d}.png"
        Image.fromarray(frame).save(self.tmp / name, compress_level=1)
        self.count += 1

    def close(self) -> None:
        old = _temp_beside(self.target, ".old")
        if self.target.exists():
            os.replace(self.target, old) if self.target.is_dir() else self.target.rename(old)
        os.replace(self.tmp, self.target)
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class VideoFileWriter:
    """Encode frames (H.264, CRF 18; VP9 for .webm) at the source's size and rate, remux its audio
    packets as they arrive; the file is written to a temporary name and renamed on `close()`."""

    def __init__(self, target: Path, source: VideoSource, crf: int = 18) -> None:
        import av

        self.target, self.source = target, source
        _remove_stale_temps(target)
        self.tmp = _temp_beside(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.container = av.open(str(self.tmp), mode="w")
        codec = _ENCODERS.get(target.suffix.lower(), "libx264")
        self.stream = self.container.add_stream(codec, rate=source.fps)
        self.stream.width, self.stream.height = source.width, source.height
        even = source.width % 2 == 0 and source.height % 2 == 0
        if codec == "gif":
            self.stream.pix_fmt = "rgb8"
        else:
            self.stream.pix_fmt = "yuv420p" if even else "yuv444p"
            self.stream.options = {"crf": str(crf)}
            if not even:
                note(f"{target.name}: the frames are {source.width}x{source.height}; the widely played "
                     "4:2:0 colour format needs even sides, so this file is 4:4:4, which browsers and "
                     "QuickTime may not play (a frame folder, -o DIR, keeps every pixel)")
        # the input's frame times, where it has them (a video file): a variable frame rate is kept
        self.timed = source.time_base is not None and not source.is_folder
        if self.timed:
            self.stream.time_base = source.time_base
            self.stream.codec_context.time_base = source.time_base
        self.last_pts: int | None = None
        self.audio = self._audio_stream()
        self.count = 0

    def _audio_stream(self) -> Any:
        if self.source.audio_stream is None:
            return None
        try:
            return self.container.add_stream_from_template(self.source.audio_stream)
        except Exception as exc:  # PyAV raises several types for an unsupported codec/container pairing
            note(f"audio track dropped: {self.source.audio_stream.codec_context.name} audio "
                 f"cannot go into {self.target.suffix} ({exc})")
            return None

    def _mux_audio(self) -> None:
        packets = self.source.audio_packets
        while packets:
            packet = packets.popleft()
            if self.audio is not None:
                packet.stream = self.audio
                self.container.mux(packet)

    def write(self, frame: np.ndarray) -> None:
        import av

        self._mux_audio()
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        if self.timed:
            video_frame.pts, video_frame.time_base = self._next_pts(), self.source.time_base
        self.container.mux(self.stream.encode(video_frame))
        self.count += 1

    def _next_pts(self) -> int:
        """The time of the input frame this output frame replaces (frames come out in the order they went
        in), or one frame after the last when the input had none; always increasing."""
        pts = self.source.frame_times.popleft() if self.source.frame_times else None
        if pts is None:
            step = max(1, round(1 / (self.source.fps * self.source.time_base)))
            pts = 0 if self.last_pts is None else self.last_pts + step
        if self.last_pts is not None and pts <= self.last_pts:
            pts = self.last_pts + 1
        self.last_pts = pts
        return pts

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))  # flush the encoder
        self._mux_audio()
        self.container.close()
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # the file is being discarded: a close error changes nothing
            self.container.close()
        self.tmp.unlink(missing_ok=True)


def open_writer(target: str | os.PathLike, source: VideoSource) -> FolderWriter | VideoFileWriter:
    """A writer for a video file (by suffix) or, for a path without a video suffix, a frame folder."""
    target = Path(target)
    if is_video_file(target):
        return VideoFileWriter(target, source)
    if target.suffix.lower() in IMAGE_EXTENSIONS:
        raise InpNetError(f"-o {target}: a video goes to a video file ({', '.join(VIDEO_EXTENSIONS)}) "
                          "or a folder of frames, not one image")
    return FolderWriter(target, [f"{f.stem}.png" for f in source._files] if source.is_folder else None)
