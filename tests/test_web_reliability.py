"""Web UI reliability (marker `fault`): a real server on a free port of 127.0.0.1, driven over HTTP with
gradio_client. Uploads over the size limit, files that are not images and decompression bombs are refused with
a message; 8 simultaneous requests are all answered with the right image; the server still answers after bad
uploads; and it binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os
import socket
import struct
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from inpnet.cli import build_parser
from inpnet.models import build_model
from inpnet.predict import InpaintPipeline

gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")
httpx = pytest.importorskip("httpx")
from gradio_client.exceptions import AppError  # noqa: E402  (after the import checks)

from inpnet.web import app as web  # noqa: E402

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
def server(pipe, tmp_path_factory):
    """The page served on 127.0.0.1 with a 1 MB upload limit, and a client for its Run endpoint."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(web, "MAX_UPLOAD_MB", UPLOAD_LIMIT_MB)
        app = web.build_app(pipe)
        port = _free_port()
        web.launch(app, "127.0.0.1", port, block=False, quiet=True)
        try:
            client = gradio_client.Client(f"http://127.0.0.1:{port}/", verbose=False,
                                          download_files=str(tmp_path_factory.mktemp("downloads")))
            endpoints = [name for name in client.view_api(return_format="dict", print_info=False)["named_endpoints"]
                         if "sample" not in name]
            assert len(endpoints) == 1, endpoints
            yield SimpleNamespace(app=app, port=port, client=client, api=endpoints[0],
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


def submit(server, image: Path, mask: Path | None = None, mode: str = web.MODES[0], ratio: float = 0.5):
    """One Run request (returns a job): image and mask files uploaded as the page would."""
    handle = gradio_client.handle_file
    editor = {"background": handle(str(image)), "layers": [], "composite": None}
    return server.client.submit(editor, handle(str(mask)) if mask else None, mode, "random", ratio, 0, "auto",
                                api_name=server.api)


def request(server, image: Path, mask: Path | None = None, **kwargs) -> np.ndarray:
    """The result image of one Run request."""
    _, result = submit(server, image, mask, **kwargs).result(timeout=RESULT_TIMEOUT_S)
    return np.asarray(Image.open(result).convert("RGB"))


def save_case(server, seed: int, h: int, w: int) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    image, hole = photo(h, w, seed), hole_of(h, w, seed)
    image_path, mask_path = server.files / f"photo{seed}.png", server.files / f"mask{seed}.png"
    Image.fromarray(image).save(image_path)
    Image.fromarray(hole).save(mask_path)
    return image_path, mask_path, image, hole


def refusal(server, image: Path, mask: Path | None = None, **kwargs) -> str:
    with pytest.raises(AppError) as exc:
        submit(server, image, mask, **kwargs).result(timeout=RESULT_TIMEOUT_S)
    return str(exc.value)


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
    web.launch(web.build_app(pipe))
    assert seen["server_name"] == "127.0.0.1" and seen["share"] is False
    assert seen["max_file_size"] == f"{web.MAX_UPLOAD_MB}mb"
    assert build_parser(["serve"]).parse_args(["serve"]).host == "127.0.0.1"


# ---- bad uploads -----------------------------------------------------------------------------------------------


def test_an_upload_over_the_size_limit_is_refused_by_the_server(server):
    body = np.random.default_rng(0).bytes(UPLOAD_LIMIT_MB * 2**20 + 1)
    reply = httpx.post(server.client.upload_url, files={"files": ("big.png", body, "image/png")}, timeout=30)
    assert reply.status_code == 413
    assert "maximum allowed size" in reply.text


def test_a_non_image_upload_is_refused_with_a_message(server):
    notes = server.files / "notes.png"
    notes.write_text("these are notes, not pixels\n")
    assert refusal(server, notes) == "the image: not an image, or an unsupported format"
    image, _, _, _ = save_case(server, 0, 32, 32)
    assert "not an image" in refusal(server, image, notes)


def test_a_decompression_bomb_upload_is_refused_before_decoding(server):
    over_limit, bomb = server.files / "over.png", server.files / "bomb.png"
    over_limit.write_bytes(png_declaring(9000, 9000))
    bomb.write_bytes(png_declaring(30000, 30000))
    assert refusal(server, over_limit) == "the image is 9000x9000 = 81 Mpx; the limit is 40 Mpx"
    assert "decompression bomb" in refusal(server, bomb)


@pytest.mark.parametrize("ratio", [0.95, -0.1])
def test_a_preset_ratio_outside_the_slider_is_refused(server, ratio):
    image, _, _, _ = save_case(server, 1, 32, 32)
    assert "Value" in refusal(server, image, None, mode=web.MODES[1], ratio=ratio)


# ---- concurrency and recovery ----------------------------------------------------------------------------


def test_eight_simultaneous_requests_are_all_answered_correctly(server, pipe):
    cases = [save_case(server, seed, 24 + 8 * seed, 40 + 4 * seed) for seed in range(8)]
    start = time.monotonic()
    jobs = [submit(server, image_path, mask_path) for image_path, mask_path, _, _ in cases]  # all in flight
    results = [job.result(timeout=RESULT_TIMEOUT_S) for job in jobs]
    assert time.monotonic() - start < RESULT_TIMEOUT_S
    for (_, _, image, hole), (_, result) in zip(cases, results):
        got = np.asarray(Image.open(result).convert("RGB"))
        assert np.array_equal(got, np.asarray(pipe(image, hole)))  # each answer is its own image's result
        assert np.array_equal(got[~hole], image[~hole])


def test_the_server_still_answers_correctly_after_bad_uploads(server, pipe):
    notes = server.files / "garbage.jpg"
    notes.write_bytes(np.random.default_rng(1).bytes(5000))
    bomb = server.files / "bomb2.png"
    bomb.write_bytes(png_declaring(40000, 40000))
    for _ in range(3):
        refusal(server, notes)
        refusal(server, bomb)
    image_path, mask_path, image, hole = save_case(server, 9, 48, 64)
    assert np.array_equal(request(server, image_path, mask_path), np.asarray(pipe(image, hole)))
    assert httpx.get(f"http://127.0.0.1:{server.port}/", timeout=30).status_code == 200


def test_building_and_serving_the_page_writes_nothing_into_the_package(pipe):
    package = Path(web.__file__).parent
    before = sorted(p.name for p in package.iterdir())
    web.build_app(pipe)
    assert sorted(p.name for p in package.iterdir()) == before  # e.g. no Gradio .pyi stub beside app.py
