"""Video inpainting benchmark with ground truth: synthetic videos made by moving a crop window over a
still photo (pan, zoom, rotation), so every frame's truth is known; masks: a static logo box, static
text strokes, a moving object-shaped blob. Methods: per-frame Telea, per-frame InP-Net (the image
pipeline), and the video method (`inpnet.video`).

    python benchmarks/video_bench.py quality --json docs/video-quality.json
    /work/runs/quiet.sh python benchmarks/video_bench.py speed
    python benchmarks/video_bench.py memory --frames 2000

Metrics per method, averaged over frames: hole PSNR, SSIM over the hole's bounding box, texture (mean
Sobel gradient magnitude of luminance inside the hole eroded by 2 px, output / truth) and flicker (mean
absolute difference inside the hole between frame t and frame t-1 warped by the TRUE motion; the same for
the true frames is printed as `truth flicker`). Photos: scikit-image's bundled ones (nothing copied);
the 480p scenes enlarge one 2.2x (bicubic), since no bundled or shared photo is large enough for an
854x480 window to travel over. Static shots get Gaussian sensor noise (std 2 grey levels), so that
their frames differ as a real camera's do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import skimage.data
import torch
from skimage.metrics import structural_similarity

from inpnet.predict import InpaintPipeline
from inpnet.video import VideoInpainter, model_filler

PHOTOS = {"astronaut": skimage.data.astronaut, "coffee": skimage.data.coffee, "chelsea": skimage.data.chelsea,
          "rocket": skimage.data.rocket}


# ---- synthetic videos --------------------------------------------------------------------------------


@dataclass
class Scene:
    name: str
    photo: str
    size: tuple[int, int]  # (H, W)
    motion: str  # pan / zoom / rotate / static
    mask: str  # logo / text / object
    frames: int = 48
    upscale: float = 1.0  # the photo is enlarged (bicubic) when the frame would not fit in it
    noise: float = 0.0  # std of Gaussian sensor noise added to each frame (grey levels), seeded per frame


def camera(scene: Scene, t: int, photo_hw: tuple[int, int]) -> np.ndarray:
    """3x3 matrix: frame pixel -> photo pixel at time t."""
    H, W = scene.size
    ph, pw = photo_hw
    cx, cy = pw / 2, ph / 2
    dx = dy = 0.0
    angle, zoom = 0.0, 1.0
    if scene.motion == "pan":
        dx, dy = 2.3 * (t - scene.frames / 2), 0.7 * (t - scene.frames / 2)
    elif scene.motion == "zoom":
        zoom, dx = 1.0 + 0.003 * (scene.frames / 2 - t), 1.1 * (t - scene.frames / 2)
    elif scene.motion == "rotate":
        angle, dx = 0.15 * (t - scene.frames / 2), 1.5 * (t - scene.frames / 2)
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) / zoom
    m = np.eye(3)
    m[:2, :2] = rot
    m[:2, 2] = np.array([cx + dx, cy + dy]) - rot @ np.array([W / 2, H / 2])
    return m


def load_photo(scene: Scene) -> np.ndarray:
    photo = PHOTOS[scene.photo]()
    if scene.upscale != 1.0:
        photo = cv2.resize(photo, None, fx=scene.upscale, fy=scene.upscale, interpolation=cv2.INTER_CUBIC)
    return photo


def render(photo: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(photo, matrix[:2], (size[1], size[0]), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def add_noise(frame: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    if sigma <= 0:
        return frame
    noise = np.random.default_rng(seed).normal(0.0, sigma, frame.shape)
    return np.clip(np.rint(frame + noise), 0, 255).astype(np.uint8)


def mask_at(scene: Scene, t: int) -> np.ndarray:
    H, W = scene.size
    hole = np.zeros((H, W), np.uint8)
    if scene.mask == "logo":  # a box of about 5 % of the frame, near a corner like a broadcaster's logo
        bh, bw = int(H * 0.18), int(W * 0.28)
        hole[int(H * 0.08) : int(H * 0.08) + bh, W - bw - int(W * 0.06) : W - int(W * 0.06)] = 1
    elif scene.mask == "text":  # subtitle-like strokes
        scale = H / 256
        cv2.putText(hole, "InP-Net video", (int(W * 0.1), int(H * 0.85)), cv2.FONT_HERSHEY_SIMPLEX,
                    1.0 * scale, 1, max(2, int(5 * scale)))
    else:  # an object-shaped blob (head + body) walking across the frame
        x = int(W * (0.2 + 0.6 * t / max(1, scene.frames - 1)))
        y = int(H * 0.55 + 6 * np.sin(t / 4))
        r = H // 10
        cv2.ellipse(hole, (x, y), (r, int(r * 1.8)), 0, 0, 360, 1, -1)
        cv2.circle(hole, (x, y - int(r * 2.4)), int(r * 0.7), 1, -1)
    return hole.astype(bool)


def make_video(scene: Scene) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """frames, holes, camera matrices."""
    photo = load_photo(scene)
    cams = [camera(scene, t, photo.shape[:2]) for t in range(scene.frames)]
    frames = [add_noise(render(photo, c, scene.size), scene.noise, t) for t, c in enumerate(cams)]
    return frames, [mask_at(scene, t) for t in range(scene.frames)], cams


# ---- metrics -----------------------------------------------------------------------------------------


def hole_psnr(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    err = ((out[hole].astype(np.float64) - truth[hole]) ** 2).mean()
    return float(10 * np.log10(255**2 / max(err, 1e-10)))


def bbox_ssim(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    ys, xs = np.nonzero(hole)
    y0, y1, x0, x1 = max(0, ys.min() - 3), ys.max() + 4, max(0, xs.min() - 3), xs.max() + 4
    a, b = out[y0:y1, x0:x1], truth[y0:y1, x0:x1]
    win = min(7, min(a.shape[:2]) // 2 * 2 + 1)
    return float(structural_similarity(a, b, channel_axis=2, data_range=255, win_size=max(3, win)))


def gradient_energy(image: np.ndarray, region: np.ndarray) -> float:
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1)
    return float(np.hypot(gx, gy)[region].mean())


def warp_previous(prev: np.ndarray, cam_prev: np.ndarray, cam_now: np.ndarray) -> np.ndarray:
    """Frame t-1 warped onto frame t by the true motion: frame t pixel p -> photo -> frame t-1."""
    m = np.linalg.inv(cam_prev) @ cam_now
    return cv2.warpAffine(prev, m[:2], (prev.shape[1], prev.shape[0]), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT)


def score(outs: list[np.ndarray], frames: list[np.ndarray], holes: list[np.ndarray],
          cams: list[np.ndarray]) -> dict[str, float]:
    psnr, ssim, tex, flick, flick_true = [], [], [], [], []
    kernel = np.ones((5, 5), np.uint8)
    for t, (out, truth, hole) in enumerate(zip(outs, frames, holes)):
        psnr.append(hole_psnr(out, truth, hole))
        ssim.append(bbox_ssim(out, truth, hole))
        inner = cv2.erode(hole.astype(np.uint8), kernel) > 0
        if inner.any():
            tex.append(gradient_energy(out, inner) / max(gradient_energy(truth, inner), 1e-6))
        if t > 0:
            region = hole | holes[t - 1]
            warped_out = warp_previous(outs[t - 1], cams[t - 1], cams[t])
            warped_true = warp_previous(frames[t - 1], cams[t - 1], cams[t])
            flick.append(float(np.abs(out[region].astype(np.float32) - warped_out[region]).mean()))
            flick_true.append(float(np.abs(truth[region].astype(np.float32) - warped_true[region]).mean()))
    return {"psnr_hole": float(np.mean(psnr)), "ssim": float(np.mean(ssim)), "texture": float(np.mean(tex)),
            "flicker": float(np.mean(flick)), "truth_flicker": float(np.mean(flick_true))}


# ---- methods -----------------------------------------------------------------------------------------


def per_frame(fill: Callable[[np.ndarray, np.ndarray], np.ndarray], frames, holes) -> Iterator[np.ndarray]:
    for frame, hole in zip(frames, holes):
        yield np.asarray(fill(frame, hole))


def telea(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return cv2.inpaint(image, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA)


def methods(pipe: InpaintPipeline) -> dict[str, Callable]:
    return {
        "telea": lambda f, h: per_frame(telea, f, h),
        "inpnet-per-frame": lambda f, h: per_frame(model_filler(pipe), f, h),
        "video": lambda f, h: VideoInpainter(model_filler(pipe)).run(f, h),
    }


def timed(run: Callable, frames, holes, clock: Callable[[], float] = time.perf_counter
          ) -> tuple[list[np.ndarray], list[float]]:
    """Outputs and the seconds (of `clock`) each frame took to come out."""
    outs, times = [], []
    start = clock()
    for out in run(frames, holes):
        now = clock()
        outs.append(out)
        times.append(now - start)
        start = now
    return outs, times


SCENES_256 = [
    Scene("pan-logo-256", "astronaut", (256, 256), "pan", "logo"),
    Scene("pan-text-256", "coffee", (256, 256), "pan", "text"),
    Scene("pan-object-256", "coffee", (256, 256), "pan", "object"),
    Scene("zoom-logo-256", "astronaut", (256, 256), "zoom", "logo"),
    Scene("rotate-object-256", "rocket", (256, 256), "rotate", "object"),
    Scene("static-logo-256", "chelsea", (256, 256), "static", "logo", noise=2.0),
    Scene("static-text-256", "astronaut", (256, 256), "static", "text", noise=2.0),
]
SCENES_480 = [
    Scene("pan-logo-480p", "astronaut", (480, 854), "pan", "logo", upscale=2.2),
    Scene("static-logo-480p", "astronaut", (480, 854), "static", "logo", upscale=2.2, noise=2.0),
]


def quality(args: argparse.Namespace) -> None:
    pipe = InpaintPipeline.from_pretrained(args.checkpoint)
    scenes = SCENES_256 + ([] if args.skip_480 else SCENES_480)
    if args.scenes:
        scenes = [s for s in scenes if s.name in args.scenes.split(",")]
    results = {}
    for scene in scenes:
        frames, holes, cams = make_video(scene)
        results[scene.name] = {"hole_fraction": float(np.mean([h.mean() for h in holes]))}
        for name, run in methods(pipe).items():
            outs, times = timed(run, frames, holes)
            results[scene.name][name] = score(outs, frames, holes, cams) | {
                "fps_overall": len(times) / sum(times)}
            row = results[scene.name][name]
            print(f"{scene.name:20s} {name:17s} psnr {row['psnr_hole']:6.2f}  ssim {row['ssim']:.3f}  "
                  f"texture {row['texture']:.2f}  flicker {row['flicker']:5.2f} (truth {row['truth_flicker']:5.2f})",
                  flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


def speed(args: argparse.Namespace) -> None:
    """Static 5 % logo box on a static shot and on a pan: seconds per frame of the video method, the
    median over its chunks of 8 frames (frames come out in bursts; the first chunk, which runs the image
    model, counts like any other) and overall, in wall time and in process CPU time (which other
    programs sharing the cores cannot inflate)."""
    pipe = InpaintPipeline.from_pretrained(args.checkpoint)
    for scene in [Scene("static-logo-256", "chelsea", (256, 256), "static", "logo", frames=32, noise=2.0),
                  Scene("pan-logo-256", "astronaut", (256, 256), "pan", "logo", frames=32),
                  Scene("static-logo-480p", "astronaut", (480, 854), "static", "logo", frames=32, upscale=2.2,
                        noise=2.0),
                  Scene("pan-logo-480p", "astronaut", (480, 854), "pan", "logo", frames=32, upscale=2.2)]:
        frames, holes, _ = make_video(scene)
        hole = np.mean([h.mean() for h in holes]) * 100
        for label, clock in (("wall", time.perf_counter), ("cpu", time.process_time)):
            inpainter = VideoInpainter(model_filler(pipe))
            _, times = timed(inpainter.run, frames, holes, clock)
            chunk = inpainter.options.chunk  # frames come out in bursts of a chunk: time per chunk
            per_frame = [sum(times[i : i + chunk]) / chunk for i in range(0, len(times) - chunk + 1, chunk)]
            med = statistics.median(per_frame)
            print(f"{scene.name:18s} hole {hole:4.1f} %  {label:4s} median over chunks {med * 1000:6.1f} ms/frame "
                  f"= {1 / med:5.1f} frames/s; overall {len(times) / sum(times):5.1f} frames/s; "
                  f"model calls {inpainter.model_calls}", flush=True)


def resident_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory(args: argparse.Namespace) -> None:
    """A long 480p video generated on the fly (nothing stored): resident memory along the way."""
    pipe = InpaintPipeline.from_pretrained(args.checkpoint)
    scene = Scene("long-pan-480p", "astronaut", (480, 854), "pan", "logo", frames=args.frames, upscale=2.2)
    photo = load_photo(scene)

    def frames() -> Iterator[np.ndarray]:
        for t in range(scene.frames):  # a slow back-and-forth pan so that the window stays on the photo
            u = 24 * np.sin(t / 40.0)
            yield render(photo, camera(Scene(**{**scene.__dict__, "frames": 48}), int(24 + u), photo.shape[:2]),
                         scene.size)

    holes = (mask_at(scene, t) for t in range(scene.frames))
    start = time.perf_counter()
    for t, _ in enumerate(VideoInpainter(model_filler(pipe)).run(frames(), holes), 1):
        if t in (50, 100, 250, 500, 1000, 1500, 2000) or t == scene.frames:
            print(f"frame {t:5d}: resident {resident_mb():7.1f} MB, {t / (time.perf_counter() - start):5.1f} frames/s",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["quality", "speed", "memory"])
    parser.add_argument("--checkpoint", help="image model (default: the shipped weights)")
    parser.add_argument("--json", help="quality: write the table here")
    parser.add_argument("--skip-480", action="store_true", help="quality: 256 px scenes only")
    parser.add_argument("--scenes", help="quality: comma-separated scene names (default: all)")
    parser.add_argument("--frames", type=int, default=2000, help="memory: video length")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: on a shared 2-core machine 2 threads spin and crawl)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    {"quality": quality, "speed": speed, "memory": memory}[args.part](args)


if __name__ == "__main__":
    main()
