"""The served page in headless Chromium, used as a person would (mark `browser`): `inpnet serve` with the
shipped inpainting weights and the shipped restoration weights (weights/RESTORE), one server and one
browser for the module. Chromium missing is a failure, not a skip (CI installs it); set
INPNET_SKIP_BROWSER_TESTS=1 to skip these on a machine without it.

Each test checks what a user sees and gets: messages on the page, and the downloaded PNG's name, size and
pixels (outside the hole unchanged, the hole changed)."""

from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import skimage.data
from PIL import Image
from playwright.sync_api import Page, sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[1]
RESTORE_WEIGHTS = REPO / "weights" / (REPO / "weights" / "RESTORE").read_text().strip()  # the shipped restorer
ARTIFACTS = REPO / "test-artifacts"
BRUSH_SCREEN_PX = 40  # the page's default brush diameter on screen
SLOW_MS = 120_000  # a busy 2-core machine: model runs, uploads and a fresh Chromium are slow
SERVER_START_S = 480  # importing torch and gradio took 235 s on a 2-core machine at load 19
SKIP_ENV = "INPNET_SKIP_BROWSER_TESTS"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get(SKIP_ENV) == "1":
            pytest.skip(f"{CHROMIUM} is missing and {SKIP_ENV}=1")
        pytest.fail(f"{CHROMIUM} is not installed (Debian package `chromium`; .ci/run installs it). "
                    f"Set {SKIP_ENV}=1 to skip the browser tests on this machine.")
    return CHROMIUM


@pytest.fixture(scope="module")
def server_url(tmp_path_factory) -> str:
    """`inpnet serve` on a free port of 127.0.0.1, as a user starts it."""
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "inpnet", "serve", "--port", str(port)],
                                stdout=out, stderr=out, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"inpnet serve did not come up:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(chromium_path):
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server_url, request):
    """A fresh tab on the page; its last state is saved to test-artifacts/ (CI keeps it for failures)."""
    context = browser.new_context(viewport={"width": 1100, "height": 800}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(SLOW_MS)
    pg.goto(server_url)
    pg.wait_for_selector("#run-button")
    pg.wait_for_selector("body[data-upload-watch=ready]", state="attached")  # the page's upload hook runs
    try:
        yield pg
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        context.close()


# ---- what a user does ----------------------------------------------------------------------------------


def upload(page: Page, path: Path) -> None:
    """Choose a photo in the editor and wait until the page has taken it (its name shows in the status)."""
    page.locator("#image-editor input[type=file]").set_input_files(str(path))
    page.wait_for_selector("#image-editor >> text=Upload an image", state="hidden")
    page.wait_for_selector(f"#status >> text={path.name}")


def displayed_scale(page: Page) -> float:
    """The editor's zoom (screen px per image px), as its toolbar shows it ("116%")."""
    text = page.locator("#image-editor").inner_text()
    return int(re.search(r"(\d+)%", text).group(1)) / 100


def paint(page: Page, size: tuple[int, int], y: int, x0: int, x1: int) -> np.ndarray:
    """Drag the brush along row y from x0 to x1 (image pixels); returns the (H, W) bool region the stroke
    may cover (its rectangle grown by the brush radius and a few pixels for rounding)."""
    h, w = size
    scale = displayed_scale(page)
    page.locator("#image-editor").scroll_into_view_if_needed()  # a run's result scrolls the slider into view
    box = page.locator("#image-editor canvas").first.bounding_box()
    left = box["x"] + (box["width"] - w * scale) / 2
    top = box["y"] + (box["height"] - h * scale) / 2
    page.mouse.move(left + x0 * scale, top + y * scale)
    page.mouse.down()
    page.mouse.move(left + x1 * scale, top + y * scale, steps=3)
    page.mouse.up()
    # the brush is BRUSH_SCREEN_PX across on screen once the page knows the photo's scale, and
    # BRUSH_SCREEN_PX / 2 image pixels in radius before that (a stroke may start in between)
    reach = math.ceil(max(BRUSH_SCREEN_PX / 2 / scale, BRUSH_SCREEN_PX / 2)) + 4
    region = np.zeros(size, bool)
    region[max(0, y - reach) : y + reach + 1, max(0, x0 - reach) : x1 + reach + 1] = True
    return region


def run_and_wait(page: Page, button: str, done_text: str) -> str:
    page.click(button)
    return wait_status(page, done_text)


def wait_status(page: Page, text: str) -> str:
    """The status line once it shows `text`."""
    page.wait_for_selector(f"#status >> text={text}")
    return page.inner_text("#status")


def download(page: Page, folder: Path) -> tuple[str, np.ndarray]:
    with page.expect_download() as info:
        page.click("#download-button")
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return info.value.suggested_filename, np.asarray(Image.open(path).convert("RGB"))


def save_photo(folder: Path, name: str, array: np.ndarray) -> Path:
    Image.fromarray(array).save(folder / name)
    return folder / name


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(255**2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


# ---- the numbered problems of issue 17 -----------------------------------------------------------------


def test_a_non_image_dropped_in_the_editor_gets_a_visible_message(page, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("these are notes, not pixels\n")
    page.locator("#image-editor input[type=file]").set_input_files(str(notes))
    page.wait_for_selector("#status >> text=notes.png: not an image")
    page.wait_for_timeout(1500)  # a second report would have arrived by now
    # one warning (the page's hook reported each chosen file twice: two identical warnings stacked over the
    # controls): the message shows in the status line and in one toast
    assert page.locator("text=notes.png: not an image, or an unsupported format").count() == 2


def test_a_bad_mask_file_gets_a_message_naming_it_and_no_server_path(page, tmp_path):
    upload(page, save_photo(tmp_path, "photo.png", skimage.data.chelsea()[::2, ::2]))
    notes = tmp_path / "notes.png"
    notes.write_text("these are notes, not pixels\n")
    page.click("#mask-fold")
    page.locator("#mask-file").wait_for(state="visible")  # the fold is open before the file is chosen
    page.locator("#mask-file input[type=file]").set_input_files(str(notes))
    page.wait_for_selector("#mask-file >> text=notes.png")
    page.click("#run-button")
    message = page.wait_for_selector("text=the mask file notes.png: not an image").inner_text()
    assert "/tmp" not in page.inner_text("body") and "gradio" not in message.lower()
    # the status line says it too, readable: no "Error" badge over it
    page.wait_for_selector("#status >> text=the mask file notes.png: not an image")
    page.screenshot(path=str(tmp_path / "refused.png"))
    assert "Error" not in page.locator("#status").inner_text()


def test_a_chosen_preset_is_used_and_center_middle_is_one_centred_box(page, tmp_path):
    photo = skimage.data.astronaut()[6:506, 6:506]  # 500x500, as in the issue
    upload(page, save_photo(tmp_path, "astronaut.png", photo))
    page.click("#advanced")
    page.locator("#preset input").click()
    page.locator("[role=option]", has_text="structured center_middle").click()
    status = run_and_wait(page, "#run-button", "Filled")  # the brush was never used: the preset is the hole
    assert "1 region" in status
    _, result = download(page, tmp_path)
    changed = (result != photo).any(axis=2)
    rows, cols = np.nonzero(changed)
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    patch = 500 / 16  # the model's 8-px patches of the 128x128 working size, stretched to the photo
    side = math.sqrt(0.5) * 500
    assert abs((bottom - top) - side) <= patch and abs((right - left) - side) <= patch
    assert abs((top + bottom) / 2 - 250) <= patch and abs((left + right) / 2 - 250) <= patch
    # one box: its rows and columns are filled across (a partial last line of patches, the bug, left 31 rows
    # at 7/11 filled); the fill may match the photo by chance on a few border lines of pixels
    box = changed[top:bottom, left:right]
    assert (box.mean(axis=1) < 0.9).sum() <= 3 and (box.mean(axis=0) < 0.9).sum() <= 3


def test_restore_improves_psnr_of_a_noisy_photo_and_names_the_model(page, tmp_path):
    clean = skimage.data.chelsea()[::2, ::2]  # 150x226
    noise = np.random.default_rng(0).normal(0, 15, clean.shape)
    noisy = np.clip(clean + noise, 0, 255).round().astype(np.uint8)
    upload(page, save_photo(tmp_path, "noisy.png", noisy))
    status = run_and_wait(page, "#restore-button", "Restored")
    name, restored = download(page, tmp_path)
    assert name == "noisy_restored.png" and restored.shape == clean.shape
    # measured: 24.63 -> 28.30 dB with stage1-no-prefill-128 (one view); the stage-2 default gave 24.59 (no
    # better); since stage 5 the default is also the restorer (weights/RESTORE)
    assert psnr(restored, clean) > psnr(noisy, clean) + 1.0
    assert f"model {RESTORE_WEIGHTS.name}" in status  # the page says which model ran


# ---- the editing loop ------------------------------------------------------------------------------------


def test_paint_run_keep_editing_paint_run_downloads_the_original_name_and_size(page, tmp_path):
    photo = skimage.data.coffee()[::2, ::2]  # 200x300
    size = photo.shape[:2]
    upload(page, save_photo(tmp_path, "coffee.png", photo))
    first = paint(page, size, 60, 60, 120)
    run_and_wait(page, "#run-button", "Filled")
    page.click("#keep-editing")
    page.wait_for_selector("#status >> text=Editing the result")
    page.wait_for_timeout(1500)  # the editor redraws with the result as its photo
    second = paint(page, size, 150, 180, 250)
    status = run_and_wait(page, "#run-button", "Filled")
    assert "1 region" in status  # only the new stroke: the first one was cleared with the old photo
    name, result = download(page, tmp_path)
    assert name == "coffee_inpainted_2.png" and result.shape == photo.shape  # the second: numbered
    changed = (result != photo).any(axis=2)
    Image.fromarray(np.dstack([changed, first, second]).astype(np.uint8) * 255).save(ARTIFACTS / "loop-changed.png")
    assert not changed[~(first | second)].any()  # every pixel outside both strokes unchanged
    for stroke_row, x0, x1 in ((60, 60, 120), (150, 180, 250)):  # both holes filled
        assert changed[stroke_row - 2 : stroke_row + 3, x0:x1].mean() > 0.5
    assert page.locator("#history img").count() == 2  # both results kept in the history
    page.locator("#history img").first.click()  # back to the first result: the click names what it showed
    page.wait_for_selector("#status >> text=Back to result 1 of 2")
    name, back = download(page, tmp_path)
    earlier = (back != photo).any(axis=2)
    assert name == "coffee_inpainted.png" and not earlier[~first].any() and earlier[60 - 2 : 60 + 3, 60:120].mean() > 0.5


def test_the_same_photo_chosen_again_is_opened_again_with_its_strokes_cleared(page, tmp_path):
    """Review 7: from the second time on, choosing the file the editor already held did nothing (the browser
    sends no change event for an input that holds the same file): the old strokes stayed, and were filled
    again by the next Remove."""
    photo = skimage.data.coffee()[::2, ::2]  # 200x300
    path = save_photo(tmp_path, "coffee.png", photo)
    upload(page, path)
    for attempt in range(3):
        page.wait_for_timeout(2500)  # the editor gets the photo after the page's answer, and draws it
        paint(page, photo.shape[:2], 60 + 40 * attempt, 60, 200)
        run_and_wait(page, "#run-button", "Filled")
        page.locator("#image-editor input[type=file]").set_input_files(str(path))
        wait_status(page, "coffee.png (300x200): paint over")  # opened again, each time
    page.wait_for_timeout(1000)
    page.click("#run-button")
    assert "no hole" in wait_status(page, "no hole")  # no stroke left over from before
    paint(page, photo.shape[:2], 100, 60, 200)  # review 14: the refusal stayed in bold after painting
    page.wait_for_function("() => !document.getElementById('status').innerText.includes('no hole')", timeout=30000)
    assert "Painted" in page.locator("#status").inner_text()


def test_on_a_phone_the_sample_fills_an_editor_in_sight_with_remove_and_the_whole_photo_visible(page):
    page.set_viewport_size({"width": 390, "height": 844})  # review 7: the sample filled an editor off screen
    page.locator("#sample-button").scroll_into_view_if_needed()
    assert page.locator("#image-editor").bounding_box()["y"] + 100 < 0  # scrolled past the editor's top
    page.click("#sample-button")
    wait_status(page, "Sample photo loaded")
    page.wait_for_function("() => { const r = document.getElementById('image-editor').getBoundingClientRect();"
                           " return r.top >= -1 && r.top < window.innerHeight / 2; }")
    page.wait_for_timeout(1500)  # the editor draws the photo
    page.evaluate("window.scrollTo(0, document.getElementById('image-editor').getBoundingClientRect().top + scrollY)")
    page.wait_for_timeout(500)
    run = page.locator("#run-button").bounding_box()
    assert run["y"] + run["height"] <= 844  # the editor at the top of the screen: Remove in sight while painting

    def photo_left_and_tools_right() -> tuple[float, float]:
        tools = page.locator("#image-editor .toolbar-wrap").bounding_box()
        canvas = page.locator("#image-editor .pixi-target").bounding_box()
        return canvas["x"] + (canvas["width"] - 512 * displayed_scale(page)) / 2, tools["x"] + tools["width"]

    for _ in range(60):  # the editor fits its zoom to the photo after drawing it: seconds on a loaded machine
        photo_left, tools_right = photo_left_and_tools_right()  # the sample: 512 px wide
        if photo_left >= tools_right:
            break
        page.wait_for_timeout(250)
    assert photo_left >= tools_right  # the tool column beside the photo, not over it


# ---- large photos and dropped files ---------------------------------------------------------------------


def test_a_large_photo_is_painted_on_a_copy_and_filled_at_full_size(page, tmp_path):
    # 2.16 Mpx, just over what the editor is given (inpnet.web.photo.EDITOR_PIXELS, 2.07 Mpx): the browser
    # uploads the file as it is, the editor gets a smaller copy, the download is the full photo
    big = np.asarray(Image.fromarray(skimage.data.coffee()).resize((1800, 1200), Image.Resampling.BICUBIC))
    path = tmp_path / "phone.jpg"
    Image.fromarray(big).save(path, quality=90)
    original = np.asarray(Image.open(path).convert("RGB"))
    page.locator("#image-editor input[type=file]").set_input_files(str(path))
    page.wait_for_selector("#status >> text=the result is full size")
    width, height = map(int, re.search(r"you paint on a (\d+)x(\d+) copy", page.inner_text("#status")).groups())
    assert width * height <= 1920 * 1080 and abs(width / height - 1.5) < 0.01
    page.wait_for_selector("#image-editor >> text=Upload an image", state="hidden")
    page.wait_for_timeout(1500)  # the editor draws the copy
    stroke = paint(page, (height, width), 500, 700, 1000)  # in the copy's pixels
    page.click("#run-button")
    # PatchMatch copies detail into a 0.2-megapixel window for seconds: the network's fill shows meanwhile
    page.wait_for_selector("#status >> text=Preview below: the network's fill")
    assert page.locator("#compare img").count() == 2  # before and the fill, in the slider
    status = wait_status(page, "Filled")
    assert "1 region" in status
    name, result = download(page, tmp_path)
    assert name == "phone_inpainted.png" and result.shape == original.shape
    # the stroke's reach, scaled to the photo and grown by 2 px for the scaled outline's rounding
    may_change = cv2.dilate(cv2.resize(stroke.astype(np.uint8), (1800, 1200), interpolation=cv2.INTER_NEAREST),
                            np.ones((5, 5), np.uint8)) > 0
    changed = (result != original).any(axis=2)
    assert not changed[~may_change].any()  # the full photo, every pixel outside the (scaled) stroke as it was
    scale = 1800 / width
    row, x0, x1 = round(500 * scale), round(700 * scale), round(1000 * scale)
    assert changed[row - 2 : row + 3, x0:x1].mean() > 0.5


def test_one_run_at_a_time_and_a_photo_opened_during_a_run_is_not_offered_its_result(page, tmp_path):
    """A review clicked Remove twice (two runs), and opened another photo while Remove ran: when the run
    ended, Download and Keep editing came back on with the old photo's result. (A photo opened before the run
    has started: tests/test_web.py.)"""
    big = np.asarray(Image.fromarray(skimage.data.astronaut()).resize((1024, 1024), Image.Resampling.BICUBIC))
    upload(page, save_photo(tmp_path, "astronaut.png", big))
    page.wait_for_timeout(1000)  # the editor draws the photo
    for row in (250, 500, 750):  # strokes across the photo: PatchMatch works on all of it for seconds
        paint(page, (1024, 1024), row, 100, 900)
    page.click("#run-button")
    page.wait_for_selector("#run-button[disabled]")  # at once, before the run has even started
    for button in ("#restore-button", "#keep-editing", "#download-button"):
        assert page.locator(button).is_disabled(), button
    page.wait_for_selector("#status >> text=Preview below: the network's fill")  # the run is under way
    page.locator("#image-editor input[type=file]").set_input_files(
        str(save_photo(tmp_path, "cat.png", skimage.data.chelsea()[::2, ::2])))
    page.wait_for_selector("#run-button:not([disabled])")  # the run is over
    # The photo's event lands during the run (the run then says "Done: the result of astronaut_inpainted.png is
    # in the history") or, on a loaded machine, after its end (the run shows its result, the photo's event then
    # takes it off): either way the page settles on the new photo, with nothing of the old one offered.
    page.wait_for_function("() => /cat\\.png \\(226x150\\)|Done: the result of astronaut_inpainted/"
                           ".test(document.getElementById('status').innerText)")
    page.wait_for_selector("#download-button[disabled]")
    page.wait_for_selector("#keep-editing[disabled]")
    assert page.locator("#compare img").count() == 0  # the slider no longer shows the other photo
    assert page.locator("#history img").count() == 1  # the run's result is kept in the history


def test_a_photo_dropped_on_the_editor_is_opened_and_named(page, tmp_path):
    photo = skimage.data.chelsea()[::2, ::2]  # 150x226
    encoded = save_photo(tmp_path, "dropped.png", photo).read_bytes()
    page.evaluate(
        """([bytes, name]) => {
             const file = new File([new Uint8Array(bytes)], name, {type: 'image/png'});
             const files = new DataTransfer();
             files.items.add(file);
             const target = document.querySelector('#image-editor input[type=file]').parentElement;
             target.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: files}));
           }""", [list(encoded), "dropped.png"])
    page.wait_for_selector("#status >> text=dropped.png (226x150)")
    page.wait_for_selector("#image-editor >> text=Upload an image", state="hidden")
    page.wait_for_timeout(1000)
    stroke = paint(page, photo.shape[:2], 75, 80, 140)
    run_and_wait(page, "#run-button", "Filled")
    name, result = download(page, tmp_path)
    changed = (result != photo).any(axis=2)
    assert name == "dropped_inpainted.png" and not changed[~stroke].any() and changed[stroke].any()


def test_a_16_bit_png_is_named_as_such_in_the_status_line(page, tmp_path):
    import cv2

    deep = tmp_path / "deep.png"
    cv2.imwrite(str(deep), (skimage.data.chelsea()[::4, ::4].astype(np.uint16) * 257)[..., ::-1])  # 16-bit RGB
    upload(page, deep)
    page.wait_for_selector("#status >> text=a 16-bit photo: the result here is 8-bit")
    upload(page, save_photo(tmp_path, "plain.png", skimage.data.chelsea()[::4, ::4]))
    assert "bit" not in page.inner_text("#status")  # an 8-bit photo gets no note


def test_choosing_a_photo_and_a_brush_size_uploads_nothing_until_a_run(page, tmp_path):
    # the editor used to get the photo before the page's brush size, and re-uploaded its layers (photo and
    # composite, each the photo's size as PNG) dozens of times after that update: 60-78 uploads of 3.4 MB for
    # a 2-megapixel photo, measured in this browser; and 21 for each move of the brush size slider
    photo = np.asarray(Image.fromarray(skimage.data.coffee()).resize((900, 600), Image.Resampling.BICUBIC))
    uploads: list[str] = []
    page.on("request", lambda request: uploads.append(request.url) if "/upload" in request.url else None)
    upload(page, save_photo(tmp_path, "coffee.png", photo))
    page.wait_for_timeout(3000)
    assert uploads == []
    track = page.locator("#brush-size input[type=range]").bounding_box()
    page.mouse.click(track["x"] + 0.5 * track["width"], track["y"] + track["height"] / 2)
    page.wait_for_timeout(3000)
    assert uploads == []
    paint(page, photo.shape[:2], 300, 300, 500)  # the page leaves the brush as the active tool
    run_and_wait(page, "#run-button", "Filled")
    screen_px = float(page.locator("#brush-size input[type=number]").input_value())
    page.click("#image-editor button[aria-label='Brush Size']")  # the editor's own control shows the radius
    radius = float(page.locator("#image-editor input[type=range]").input_value())
    assert screen_px > 60 and radius == round(screen_px / 2 / displayed_scale(page))
    assert uploads  # the run sends the editor's layers: the count above could see them
