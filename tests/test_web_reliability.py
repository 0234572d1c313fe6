"""The page's stable API against a real server (marker `fault`) on a free port of 127.0.0.1: `/inpaint` and
`/restore` through gradio_client and through plain HTTP (`POST /api/inpaint`, `POST /api/restore`). Output size
= input size and every pixel outside the hole unchanged; uploads over the size limit, files that are not images
and decompression bombs are refused with one line; 8 simultaneous requests are all answered with the right
image; the server still answers after bad uploads; it binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os
import socket
import struct
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import gradio_client
import httpx
import numpy as np
import pytest
import torch
from gradio_client.exceptions import AppError
from PIL import Image

from inpnet.cli import build_parser
from inpnet.errors import InpNetError
from inpnet.models import build_model
from inpnet.predict import InpaintPipeline
from inpnet.web import app as web
from inpnet.web import inputs

pytestmark = pytest.mark.fault

UPLOAD_LIMIT_MB = 1  # the server is started with this limit, so that an over-limit file is small to make
RESULT_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height pixels (a decompression bomb: the data is a few bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def pipe() -> InpaintPipeline:
    torch.manual_seed(0)
    return InpaintPipeline(build_model("skip-recon", preset="nano"))


@pytest.fixture(scope="module")
def restorer() -> InpaintPipeline:
    torch.manual_seed(1)
    return InpaintPipeline(build_model("skip-recon", preset="nano"))


@pytest.fixture(scope="module")
def server(pipe, restorer, tmp_path_factory):
    """The page served on 127.0.0.1 with a 1 MB upload limit, and a gradio_client for it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(inputs, "MAX_UPLOAD_MB", UPLOAD_LIMIT_MB)
        app = web.build_app(pipe, restorer)
        port = _free_port()
        web.launch(app, "127.0.0.1", port, block=False, quiet=True)
        try:
            client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False,
                                          download_files=str(tmp_path_factory.mktemp("downloads")))
            yield SimpleNamespace(app=app, port=port, client=client, url=f"http://127.0.0.1:{port}",
                                  files=tmp_path_factory.mktemp("uploads"))
        finally:
            app.close()


def photo(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def hole_of(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1000)
    hole = np.zeros((h, w), bool)
    top, left = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
    hole[top : top + h // 3 + 1, left : left + w // 3 + 1] = True
    return hole


def save_case(server, seed: int, h: int, w: int) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    image, hole = photo(h, w, seed), hole_of(h, w, seed)
    image_path, mask_path = server.files / f"photo{seed}.png", server.files / f"mask{seed}.png"
    Image.fromarray(image).save(image_path)
    Image.fromarray(hole).save(mask_path)
    return image_path, mask_path, image, hole


def submit(server, image: Path, mask: Path | None = None):
    """One /inpaint request (a job), files uploaded as gradio_client does."""
    handle = gradio_client.handle_file
    return server.client.submit(handle(str(image)), handle(str(mask)) if mask else None, api_name="/inpaint")


def read(path: str | Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def refusal(server, image: Path, mask: Path | None = None) -> str:
    with pytest.raises(AppError) as exc:
        submit(server, image, mask).result(timeout=RESULT_TIMEOUT_S)
    return str(exc.value)


def http_post(server, route: str, **files: Path) -> httpx.Response:
    return httpx.post(f"{server.url}{route}", timeout=RESULT_TIMEOUT_S,
                      files={field: (path.name, path.read_bytes()) for field, path in files.items()})


# ---- the stable API -------------------------------------------------------------------------------------------


def test_the_api_has_exactly_the_documented_endpoints(server):
    api = server.client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/inpaint", "/restore"}
    assert [p["parameter_name"] for p in api["named_endpoints"]["/inpaint"]["parameters"]] == ["image", "mask"]
    assert [p["parameter_name"] for p in api["named_endpoints"]["/restore"]["parameters"]] == ["image"]
    assert not api["unnamed_endpoints"]


def test_inpaint_through_gradio_client_keeps_size_and_every_pixel_outside_the_hole(server, pipe):
    image_path, mask_path, image, hole = save_case(server, 0, 40, 72)
    result = server.client.predict(gradio_client.handle_file(str(image_path)),
                                   gradio_client.handle_file(str(mask_path)), api_name="/inpaint")
    got = read(result)
    assert got.shape == image.shape and np.array_equal(got[~hole], image[~hole])
    assert np.array_equal(got, np.asarray(pipe(image, hole)))  # the hole is the model's fill
    assert Path(result).name == "photo0_inpainted.png"


def test_restore_through_gradio_client_runs_the_restoration_model(server, restorer):
    image_path, _, image, _ = save_case(server, 1, 40, 72)
    got = read(server.client.predict(gradio_client.handle_file(str(image_path)), api_name="/restore"))
    assert got.shape == image.shape and np.array_equal(got, np.asarray(restorer.restore(image)))


def test_inpaint_over_plain_http_answers_the_png(server, pipe):
    image_path, mask_path, image, hole = save_case(server, 2, 48, 64)
    reply = http_post(server, "/api/inpaint", image=image_path, mask=mask_path)
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    assert 'filename="photo2_inpainted.png"' in reply.headers["content-disposition"]
    assert np.array_equal(read(io_bytes(reply.content)), np.asarray(pipe(image, hole)))


def test_restore_over_plain_http_answers_the_png(server, restorer):
    image_path, _, image, _ = save_case(server, 3, 48, 64)
    reply = http_post(server, "/api/restore", image=image_path)
    assert reply.status_code == 200
    assert np.array_equal(read(io_bytes(reply.content)), np.asarray(restorer.restore(image)))


def io_bytes(data: bytes):
    import io

    return io.BytesIO(data)


# ---- binding -------------------------------------------------------------------------------------------------


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on `port` (Linux /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]) if len(address) == 8
                          else address)
    return found


def test_the_running_server_listens_on_127_0_0_1_only(server):
    if not os.path.exists("/proc/net/tcp"):
        pytest.skip("no /proc/net/tcp on this system")
    assert _listening_addresses(server.port) == {"127.0.0.1"}
    assert server.app.server_name == "127.0.0.1"


def test_launch_and_serve_bind_127_0_0_1_unless_told_otherwise(monkeypatch, pipe):
    seen = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: seen.update(kwargs))
    web.launch(web.build_app(pipe), block=False)
    assert seen["server_name"] == "127.0.0.1" and seen["share"] is False
    assert seen["max_file_size"] == f"{inputs.MAX_UPLOAD_MB}mb"
    assert build_parser(["serve"]).parse_args(["serve"]).host == "127.0.0.1"


def test_a_port_in_use_names_the_port_option_and_a_start_says_where_the_page_is(server, pipe, capsys):
    with pytest.raises(InpNetError) as error:  # the module's server holds its port
        web.launch(web.build_app(pipe), "127.0.0.1", server.port, block=False)
    assert str(error.value) == (f"cannot serve on 127.0.0.1:{server.port}: the port is in use (another server?); "
                                "choose another with --port")
    app, port = web.build_app(pipe), _free_port()
    web.launch(app, "127.0.0.1", port, block=False)
    try:
        out = capsys.readouterr().out
        assert out == f"inpnet serve: the page is at http://127.0.0.1:{port}/ (Ctrl-C stops the server)\n"
        assert "share=True" not in out  # Gradio's advice, for its Python API, not for this command
    finally:
        app.close()


# ---- bad uploads -----------------------------------------------------------------------------------------------


def test_an_upload_over_the_size_limit_is_refused_by_the_server(server):
    body = np.random.default_rng(0).bytes(UPLOAD_LIMIT_MB * 2**20 + 1)
    reply = httpx.post(server.client.upload_url, files={"files": ("big.png", body, "image/png")}, timeout=30)
    assert reply.status_code == 413
    assert "maximum allowed size" in reply.text
    (server.files / "big.png").write_bytes(body)
    reply = http_post(server, "/api/restore", image=server.files / "big.png")
    assert reply.status_code == 413 and reply.text == f"error: big.png is over the {UPLOAD_LIMIT_MB} MB limit\n"


def test_a_non_image_gets_a_one_line_error_naming_it(server):
    notes = server.files / "notes.png"
    notes.write_text("these are notes, not pixels\n")
    image, _, _, _ = save_case(server, 4, 32, 32)
    assert refusal(server, notes, image) == "the image notes.png: not an image, or an unsupported format"
    assert refusal(server, image, notes) == "the mask notes.png: not an image, or an unsupported format"
    reply = http_post(server, "/api/inpaint", image=notes, mask=image)
    assert (reply.status_code, reply.text) == (400, "error: the image notes.png: not an image, or an "
                                                    "unsupported format\n")


def test_a_missing_mask_is_a_one_line_error(server):
    image, _, _, _ = save_case(server, 5, 32, 32)
    assert refusal(server, image) == "no mask given (a PNG whose nonzero pixels are the hole)"
    assert http_post(server, "/api/inpaint", image=image).status_code == 400


def test_an_all_black_mask_is_refused_in_the_apis_words(server):
    """Review 14: an API client was told to "paint over the part to remove" or "choose a preset"."""
    image, _, _, _ = save_case(server, 6, 32, 32)
    black = server.files / "black.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(black)
    expected = "the mask black.png has no hole: every pixel is 0 (any nonzero pixel is a part to remove)"
    assert refusal(server, image, black) == expected
    reply = http_post(server, "/api/inpaint", image=image, mask=black)
    assert (reply.status_code, reply.text) == (400, f"error: {expected}\n")


def test_a_decompression_bomb_upload_is_refused_before_decoding(server):
    over_limit, bomb = server.files / "over.png", server.files / "bomb.png"
    over_limit.write_bytes(png_declaring(9000, 9000))
    bomb.write_bytes(png_declaring(30000, 30000))
    mask = save_case(server, 6, 32, 32)[1]
    assert refusal(server, over_limit, mask) == "the image over.png is 9000x9000 = 81 Mpx; the limit is 40 Mpx"
    assert "decompression bomb" in refusal(server, bomb, mask)


# ---- concurrency and recovery ----------------------------------------------------------------------------


def test_eight_simultaneous_requests_are_all_answered_correctly(server, pipe):
    cases = [save_case(server, seed, 24 + 8 * seed, 40 + 4 * seed) for seed in range(8)]
    start = time.monotonic()
    jobs = [submit(server, image_path, mask_path) for image_path, mask_path, _, _ in cases]  # all in flight
    results = [job.result(timeout=RESULT_TIMEOUT_S) for job in jobs]
    assert time.monotonic() - start < RESULT_TIMEOUT_S
    for (_, _, image, hole), result in zip(cases, results):
        got = read(result)
        assert np.array_equal(got, np.asarray(pipe(image, hole)))  # each answer is its own image's result
        assert np.array_equal(got[~hole], image[~hole])


def test_the_server_still_answers_correctly_after_bad_uploads(server, pipe):
    garbage = server.files / "garbage.jpg"
    garbage.write_bytes(np.random.default_rng(1).bytes(5000))
    bomb = server.files / "bomb2.png"
    bomb.write_bytes(png_declaring(40000, 40000))
    image_path, mask_path, image, hole = save_case(server, 9, 48, 64)
    for _ in range(3):
        refusal(server, garbage, mask_path)
        refusal(server, bomb, mask_path)
    assert np.array_equal(read(submit(server, image_path, mask_path).result(timeout=RESULT_TIMEOUT_S)),
                          np.asarray(pipe(image, hole)))
    assert httpx.get(f"{server.url}/", timeout=30).status_code == 200


def test_building_and_serving_the_page_writes_nothing_into_the_package(pipe):
    package = Path(web.__file__).parent
    before = sorted(p.name for p in package.iterdir())
    web.build_app(pipe)
    assert sorted(p.name for p in package.iterdir()) == before  # e.g. no Gradio .pyi stub beside app.py
