"""The page's stable endpoints, for programs (documented in the README):

- Gradio API (`gradio_client`, or Gradio's `/gradio_api/call/...` HTTP protocol):
  `/inpaint(image, mask) -> image` and `/restore(image) -> image`, images as files.
- Plain HTTP, one request each: `POST /api/inpaint` (multipart fields `image`, `mask`) and
  `POST /api/restore` (field `image`) answer the PNG itself; a bad input gets status 400 (413 when over
  the upload limit) and one line of text.

Both paths run the same checks and the same `WebInpainter` as the page: output size = input size, every
pixel outside the hole unchanged.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from inpnet.errors import InpNetError
from inpnet.web import inputs
from inpnet.web.runner import WebInpainter

COPY_CHUNK = 1 << 20


def inpaint_files(runner: WebInpainter, image: str | os.PathLike | None,
                  mask: str | os.PathLike | None) -> Path:
    """Image file + mask file (any nonzero pixel = hole; another size is resized, nearest) -> result PNG."""
    if image is None:
        raise inputs.WebInputError("no image given")
    if mask is None:
        raise inputs.WebInputError("no mask given (a PNG whose nonzero pixels are the hole)")
    name = inputs.display_name(image)
    photo = inputs.read_image(image, f"the image {name}")
    hole = inputs.read_mask(mask, photo.shape[:2], f"the mask {inputs.display_name(mask)}")
    if not hole.any():  # the runner's message speaks of the page's brush and presets
        raise inputs.WebInputError(f"the mask {inputs.display_name(mask)} has no hole: every pixel is 0 "
                                   "(any nonzero pixel is a part to remove)")
    return runner.inpaint(photo, hole, name=name, original=inputs.read_rgba(image), source=image).path


def restore_file(runner: WebInpainter, image: str | os.PathLike | None) -> Path:
    """Image file -> restored PNG (the whole photo reconstructed)."""
    if image is None:
        raise inputs.WebInputError("no image given")
    name = inputs.display_name(image)
    return runner.restore(inputs.read_image(image, f"the image {name}"), name=name,
                          original=inputs.read_rgba(image), source=image).path


def _one_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def add_gradio_endpoints(runner: WebInpainter) -> None:
    """Register `/inpaint` and `/restore` in the Blocks being built (hidden components: no page widgets)."""
    import gradio as gr

    def one_line_errors(call: Any, *args: Any) -> str:
        try:
            return str(call(runner, *args))
        except InpNetError as exc:
            raise gr.Error(_one_line(exc), print_exception=False) from None

    def inpaint(image: str | None, mask: str | None) -> str:  # the names clients see
        return one_line_errors(inpaint_files, image, mask)

    def restore(image: str | None) -> str:
        return one_line_errors(restore_file, image)

    with gr.Group(visible=False):
        image = gr.File(label="image", type="filepath")
        mask = gr.File(label="mask", type="filepath")
        result = gr.Image(label="result", type="filepath", format="png", buttons=[])
        go_inpaint, go_restore = gr.Button("inpaint"), gr.Button("restore")
    go_inpaint.click(inpaint, [image, mask], result, api_name="inpaint",
                     api_description="Fill the hole (nonzero pixels of `mask`) of `image`; returns a PNG "
                                     "of the image's size, pixels outside the hole unchanged.",
                     concurrency_id="model", concurrency_limit=1)
    go_restore.click(restore, [image], result, api_name="restore",
                     api_description="Reconstruct the whole image (ratio 0: denoise); returns a PNG.",
                     concurrency_id="model", concurrency_limit=1)


def _save_upload(upload: Any, folder: Path, field: str) -> Path:
    """A multipart upload -> a file in `folder` under its own base name; over the limit -> 413."""
    from fastapi import HTTPException

    if upload is None:
        raise HTTPException(400, f"missing form field {field!r}")
    path = folder / field / (Path(upload.filename or field).name or field)
    path.parent.mkdir()
    limit, written = inputs.MAX_UPLOAD_MB * 1024 * 1024, 0
    with path.open("wb") as out:
        while chunk := upload.file.read(COPY_CHUNK):
            written += len(chunk)
            if written > limit:
                raise HTTPException(413, f"{path.name} is over the {inputs.MAX_UPLOAD_MB} MB limit")
            out.write(chunk)
    return path


def add_http_routes(server: Any, runner: WebInpainter) -> None:
    """`POST /api/inpaint` and `POST /api/restore` on the running FastAPI app (sync routes: a thread each,
    the runner's lock keeps one model call at a time)."""
    from fastapi import File, HTTPException, UploadFile
    from fastapi.responses import FileResponse, PlainTextResponse
    from starlette.background import BackgroundTask

    def answer(call: Any, uploads: dict[str, Any]) -> Any:
        folder = Path(tempfile.mkdtemp(prefix="inpnet-http-"))
        try:
            paths = [_save_upload(upload, folder, field) for field, upload in uploads.items()]
            result = call(runner, *paths)
            return FileResponse(result, media_type="image/png", filename=result.name,
                                background=BackgroundTask(shutil.rmtree, result.parent, True))
        except HTTPException as exc:
            return PlainTextResponse(f"error: {exc.detail}\n", status_code=exc.status_code)
        except InpNetError as exc:
            return PlainTextResponse(f"error: {_one_line(exc)}\n", status_code=400)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def http_inpaint(image=File(None), mask=File(None)) -> Any:  # noqa: B008 (FastAPI's way)
        return answer(inpaint_files, {"image": image, "mask": mask})

    def http_restore(image=File(None)) -> Any:  # noqa: B008
        return answer(restore_file, {"image": image})

    # real classes, not the strings that `from __future__ import annotations` leaves (FastAPI reads these)
    http_inpaint.__annotations__ = {"image": UploadFile, "mask": UploadFile}
    http_restore.__annotations__ = {"image": UploadFile}
    server.post("/api/inpaint", response_class=FileResponse)(http_inpaint)
    server.post("/api/restore", response_class=FileResponse)(http_restore)
