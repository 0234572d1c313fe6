"""Screenshots of the web page for the README: docs/web-before.png (a photo with brush strokes over the
shuttle model) and docs/web-after.png (after Remove at photo detail 1, the default, and again at 0: the
before/after slider shows the second, the history both).

    python scripts/web_screenshots.py [--out docs]

Starts `inpnet serve` (shipped weights, which also restore) on a free port and drives
it with headless Chromium (/usr/bin/chromium) through Playwright, as tests/test_web_browser.py does.
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import skimage.data
from PIL import Image
from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 880}
SHOT_WIDTH = 900  # px of the committed PNGs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "inpnet", "serve", "--port", str(port)])
    deadline = time.monotonic() + 480  # torch + gradio imports are slow on a loaded machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("inpnet serve did not start")


def paint_rows(page: Page, size: tuple[int, int], rows: range, x0: int, x1: int) -> None:
    """Horizontal brush strokes at the given image rows, from x0 to x1 (image pixels)."""
    import re

    scale = int(re.search(r"(\d+)%", page.locator("#image-editor").inner_text()).group(1)) / 100
    box = page.locator("#image-editor canvas").first.bounding_box()
    left = box["x"] + (box["width"] - size[1] * scale) / 2
    top = box["y"] + (box["height"] - size[0] * scale) / 2
    for y in rows:
        page.mouse.move(left + x0 * scale, top + y * scale)
        page.mouse.down()
        page.mouse.move(left + x1 * scale, top + y * scale, steps=3)
        page.mouse.up()


def shot(page: Page, path: Path) -> None:
    """A full-page screenshot, scaled to SHOT_WIDTH and reduced to 256 colours (a small PNG)."""
    img = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    img = img.resize((SHOT_WIDTH, round(img.height * SHOT_WIDTH / img.width)), Image.Resampling.LANCZOS)
    img.quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    photo = REPO / "test-artifacts" / "astronaut.png"
    photo.parent.mkdir(exist_ok=True)
    Image.fromarray(skimage.data.astronaut()).save(photo)
    port = free_port()
    server = start_server(port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(120_000)
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("body[data-upload-watch=ready]", state="attached")
            page.locator("#image-editor input[type=file]").set_input_files(str(photo))
            try:
                page.wait_for_selector("#status >> text=astronaut.png")
            except Exception:
                page.screenshot(path=str(photo.parent / "web-screenshots-failure.png"), full_page=True)
                raise
            page.wait_for_timeout(2000)  # the brush follows the displayed scale once the page knows it
            paint_rows(page, (512, 512), range(8, 290, 22), 352, 472)  # the shuttle model
            shot(page, args.out / "web-before.png")
            page.click("#run-button")  # photo detail 1, the default: PatchMatch's detail over the network's fill
            page.wait_for_selector("#status >> text=photo detail 1")
            page.wait_for_timeout(2000)
            # again with photo detail 0 (the network's fill alone): the history keeps both results
            page.fill("#texture input[type=number]", "0")
            page.press("#texture input[type=number]", "Enter")
            page.wait_for_timeout(500)
            page.click("#run-button")
            page.wait_for_selector("#status >> text=no copied detail")
            page.wait_for_timeout(3000)  # the slider and history images load
            shot(page, args.out / "web-after.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
