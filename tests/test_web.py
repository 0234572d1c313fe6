"""Web UI: the Run function on its own, and the served page driven by headless Chromium (mark `browser`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from inpnet.cli import main
from inpnet.models import build_model
from inpnet.predict import InpaintPipeline

gr = pytest.importorskip("gradio")
from inpnet.web import app as web  # noqa: E402  (after the gradio check)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def pipe() -> InpaintPipeline:
    torch.manual_seed(0)
    return InpaintPipeline(build_model("skip-recon", preset="nano"))


@pytest.fixture
def run(pipe) -> web.WebInpainter:
    return web.WebInpainter(pipe)


def photo(h: int = 48, w: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def brush_layer(h: int = 48, w: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """An RGBA layer as the editor sends it (painted where alpha > 0) and the hole it means."""
    layer = np.zeros((h, w, 4), dtype=np.uint8)
    layer[10:20, 30:45] = (255, 0, 255, 255)
    return layer, layer[:, :, 3] > 0


def test_build_app_gives_a_blocks_page(pipe):
    assert isinstance(web.build_app(pipe), gr.Blocks)


def test_brush_strokes_become_the_hole_and_the_rest_is_kept(run):
    image = photo()
    layer, hole = brush_layer()
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    preview, out = run({"background": rgba, "layers": [layer], "composite": rgba})
    assert out.shape == image.shape
    assert np.array_equal(out[~hole], image[~hole])
    assert (preview[hole] == web.HOLE_GREY).all() and np.array_equal(preview[~hole], image[~hole])


def test_an_uploaded_mask_file_is_the_hole(run, tmp_path):
    image = photo()
    hole = np.zeros((48, 64), dtype=bool)
    hole[30:40, 5:20] = True
    Image.fromarray(hole).save(tmp_path / "mask.png")
    preview, out = run({"background": image, "layers": [], "composite": image}, str(tmp_path / "mask.png"))
    assert np.array_equal((preview == web.HOLE_GREY).all(axis=2), hole)
    assert np.array_equal(out[~hole], image[~hole])


def test_a_non_image_upload_is_refused_with_a_message(run, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(gr.Error, match="not an image"):
        run({"background": str(tmp_path / "notes.png"), "layers": [], "composite": None})
    with pytest.raises(gr.Error, match="not an image"):
        run({"background": photo(), "layers": [], "composite": None}, str(tmp_path / "notes.png"))


def test_too_many_pixels_are_refused(run, monkeypatch):
    monkeypatch.setattr(web, "MAX_PIXELS", 1000)
    with pytest.raises(gr.Error, match="the limit is 0 Mpx"):
        run({"background": photo(), "layers": [], "composite": None})


def test_a_file_over_the_size_limit_is_refused(run, tmp_path, monkeypatch):
    Image.fromarray(photo()).save(tmp_path / "big.png")
    monkeypatch.setattr(web, "MAX_UPLOAD_MB", 0)
    with pytest.raises(gr.Error, match="the limit is 0 MB"):
        run({"background": str(tmp_path / "big.png"), "layers": [], "composite": None})


def test_no_hole_is_refused_with_a_hint(run):
    with pytest.raises(gr.Error, match="no hole"):
        run({"background": photo(), "layers": [], "composite": None})


def test_no_image_is_refused(run):
    with pytest.raises(gr.Error, match="upload an image first"):
        run(None)


def test_a_random_preset_masks_exactly_that_ratio_of_patches(run):
    preview, _ = run({"background": photo(32, 32), "layers": []}, None, web.MODES[1], "random", 0.5, 3)
    assert (preview == web.HOLE_GREY).all(axis=2).mean() == 0.5  # 8 of the 16 patches of 8x8


def test_structured_preset_is_a_centre_box(run):
    preview, _ = run({"background": photo(32, 32), "layers": []}, None, web.MODES[1],
                     "structured center_middle", 0.25, 0)
    hole = (preview == web.HOLE_GREY).all(axis=2)
    assert hole[8:24, 8:24].all() and hole.sum() == 256


def test_restore_mode_needs_no_hole(run):
    preview, out = run({"background": photo(40, 70), "layers": []}, None, web.MODES[2])
    assert out.shape == (40, 70, 3) and np.array_equal(preview, photo(40, 70))


def test_preset_choices_cover_the_papers_mask_kinds():
    choices = web.preset_choices()
    assert choices[0] == "random" and "structured center_middle" in choices and "irregular thin" in choices
    assert len(choices) == 1 + 9 + 3


# ---- the served page in headless Chromium -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.browser
def test_served_page_inpaints_an_uploaded_image_and_mask_in_chromium(pipe, tmp_path):
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} is not installed (Debian package `chromium`)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    import skimage.data

    Image.fromarray(skimage.data.astronaut()[::2, ::2]).save(tmp_path / "astronaut.png")  # 256x256
    hole = np.zeros((256, 256), dtype=bool)
    hole[90:150, 60:200] = True
    Image.fromarray(hole).save(tmp_path / "mask.png")
    ARTIFACTS.mkdir(exist_ok=True)
    app = web.build_app(pipe)
    port = _free_port()
    web.launch(app, "127.0.0.1", port, block=False, quiet=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(f"http://127.0.0.1:{port}/", timeout=30_000)
                page.wait_for_selector("#run-button", timeout=30_000)
                upload = page.locator("#image-editor input[type=file]")
                upload.set_input_files(str(tmp_path / "astronaut.png"))
                page.locator("#mask-file input[type=file]").set_input_files(str(tmp_path / "mask.png"))
                page.wait_for_selector("#mask-file >> text=mask.png", timeout=15_000)
                page.wait_for_selector("#image-editor canvas", timeout=15_000)
                # the editor shows its upload prompt until the photo is really loaded: clicking Run before
                # that submits no image (seen on a loaded CI machine)
                page.wait_for_selector("#image-editor >> text=Upload an image", state="hidden", timeout=30_000)
                page.click("#run-button")
                try:
                    # generous: a fresh Chromium builds its font cache on first start (CI)
                    output = page.wait_for_selector("#output-image img", timeout=45_000)
                except sync_api.TimeoutError:
                    page.screenshot(path=str(ARTIFACTS / "web-ui-failure.png"), full_page=True)
                    raise
                page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=output,
                                       timeout=15_000)
                natural = page.evaluate("img => [img.naturalWidth, img.naturalHeight]", output)
                page.screenshot(path=str(ARTIFACTS / "web-ui.png"), full_page=True)
            finally:
                browser.close()
    finally:
        app.close()
    assert natural == [256, 256]
    assert (ARTIFACTS / "web-ui.png").stat().st_size > 10_000


def test_importing_the_web_module_does_not_import_gradio():
    code = "import sys, inpnet.web.app, inpnet.commands.serve; print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_serve_with_a_missing_checkpoint_fails_with_one_line(tmp_path, capsys):
    assert main(["serve", "--checkpoint", str(tmp_path / "nope"), "--port", str(_free_port())]) == 2
    expected = f"inpnet serve: error: checkpoint {tmp_path / 'nope'} does not exist"
    assert capsys.readouterr().err.strip() == expected


def test_serve_refuses_a_port_out_of_range(capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be in 1..65535" in capsys.readouterr().err
