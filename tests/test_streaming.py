"""Streams on worker processes (`InpaintPipeline.stream(processes=...)`, `inpnet.streaming`) and the pickling
of ONNX models that it needs. Each test that spawns workers pays their start-up (they import torch): a few."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from inpnet import InpNetError, build_model
from inpnet.export import OnnxInpainter, export_onnx
from inpnet.predict import InpaintPipeline
from inpnet.streaming import map_in_processes, threads_per_worker


def frames_and_holes(count: int, h: int = 32, w: int = 32) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(count)]
    holes = []
    for i in range(count):
        hole = np.zeros((h, w), bool)
        hole[4 + i:12 + i, 6:16 + i] = True
        holes.append(hole)
    return frames, holes


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("skip-recon", preset="nano", in_chans=4, pixel_skip=True, token_threshold=0.5,
                        prefill="harmonic").eval()
    torch.nn.init.normal_(model.decoder.head.weight, std=0.05)  # zero-initialised: randomised so it shows
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx", exporter="torchscript")  # faster


def test_a_torch_pipeline_streams_on_a_worker_process_in_order_and_raises_a_bad_frame_in_its_turn():
    pipe = InpaintPipeline(build_model("skip-recon", preset="nano").eval(), texture=0.0)
    frames, holes = frames_and_holes(4)
    one_at_a_time = [np.asarray(pipe(f, h)) for f, h in zip(frames, holes)]
    stream = pipe.stream(iter(frames + ["no-such-photo.png"]), iter(holes + holes[:1]), processes=1)
    streamed = [np.asarray(next(stream)) for _ in range(4)]
    assert all(np.array_equal(a, b) for a, b in zip(streamed, one_at_a_time))
    with pytest.raises(InpNetError, match="no-such-photo.png"):  # the worker's error, in the frame's turn
        next(stream)


def test_an_onnx_pipeline_streams_on_two_worker_processes_with_the_same_output(onnx_file):
    pipe = InpaintPipeline.from_onnx(onnx_file, quantize="int8", texture=0.0)
    frames, holes = frames_and_holes(6)
    one_at_a_time = [np.asarray(pipe(f, h)) for f, h in zip(frames, holes)]
    streamed = [np.asarray(out) for out in pipe.stream(frames, holes, processes=2)]
    assert len(streamed) == 6 and all(np.array_equal(a, b) for a, b in zip(streamed, one_at_a_time))


def test_an_onnx_model_pickles_with_its_bytes_and_builds_its_session_on_first_use(onnx_file, tmp_path):
    copy_path = tmp_path / "copy.onnx"
    copy_path.write_bytes(onnx_file.read_bytes())
    model = OnnxInpainter(copy_path, threads=2)
    x, m = torch.rand(2, 3, 32, 32), torch.zeros(2, 1, 32, 32)
    m[:, :, 8:20, 4:30] = 1
    expected = model(x, m).composite
    data = pickle.dumps(model)
    copy_path.unlink()  # the pickle carries the model, not the path
    again = pickle.loads(data)
    assert again._session is None and again.threads == 2 and again.config == model.config
    again.set_threads(1)  # before the first use: the session is built once, with 1 thread
    assert torch.equal(again(x, m).composite, expected)
    assert again.session.get_session_options().intra_op_num_threads == 1
    quantized = pickle.loads(pickle.dumps(OnnxInpainter(onnx_file, quantize="int8")))
    assert quantized.quantized == "int8" and isinstance(quantized._source, bytes)  # the int8 model travels


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_stream_rejects_a_bad_process_count(bad):
    pipe = InpaintPipeline(build_model("skip-recon", preset="nano").eval(), texture=0.0)
    with pytest.raises(InpNetError, match="processes"):
        next(pipe.stream([np.zeros((8, 8, 3), np.uint8)], np.zeros((8, 8), bool), processes=bad))


class Stopper:
    """A stream target whose worker process dies on the item 'die' (as if killed or out of memory)."""

    def run(self, item: str) -> str:
        if item == "die":
            os._exit(3)
        return item.upper()


def test_a_worker_that_dies_ends_the_stream_with_one_clear_error():
    results = map_in_processes(Stopper(), "run", [("a",), ("b",), ("die",), ("c",)], processes=1, in_flight=1)
    assert [next(results), next(results)] == ["A", "B"]
    with pytest.raises(InpNetError, match="worker process"):
        next(results)


def test_an_unguarded_script_gets_the_guard_error_not_a_hang(tmp_path):
    """Review 11: the README's stream(..., processes=2) in a script without the `__main__` guard hung for good:
    its workers died while starting and the parent stayed blocked sending them the pipeline (tens of MB)
    through the start-up pipe. A 4-MB target stands in for the pipeline (above any pipe's buffer)."""
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text("from inpnet.streaming import map_in_processes\n"
                      "print(list(map_in_processes(bytearray(4_000_000), '__len__', [(), ()], processes=1)))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    assert "needs an `if __name__ == '__main__':` guard" in done.stderr.splitlines()[-1]
    guarded = tmp_path / "guarded.py"
    guarded.write_text("from inpnet.streaming import map_in_processes\nif __name__ == '__main__':\n"
                       "    print(list(map_in_processes(bytearray(4_000_000), '__len__', [(), ()], processes=1)))\n")
    done = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "[4000000, 4000000]"


def test_threads_per_worker_shares_the_cores_and_gives_each_worker_one_at_least():
    cores = len(os.sched_getaffinity(0))
    assert threads_per_worker(1) == cores
    assert threads_per_worker(cores) == 1 and threads_per_worker(4 * cores) == 1


def test_a_payload_left_by_a_killed_stream_is_removed_by_the_next_one(tmp_path, monkeypatch):
    """Review 12: a stream killed (SIGKILL, out of memory) left its pickled pipeline, tens of MB, in the temp
    folder for good; payloads are named with their process's id, and those of processes that are gone go."""
    import tempfile

    from inpnet.streaming import _pickled_to_file

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / f"inpnet-stream-{2**22 + 7}-abc.pickle"  # above any pid_max: no such process
    alive = tmp_path / f"inpnet-stream-{os.getppid()}-def.pickle"
    dead.write_bytes(b"old pipeline")
    alive.write_bytes(b"a running stream's")
    mine = _pickled_to_file([1, 2, 3])
    assert not dead.exists() and alive.exists()
    assert Path(mine).name.startswith(f"inpnet-stream-{os.getpid()}-") and oct(os.stat(mine).st_mode)[-3:] == "600"
    with open(mine, "rb") as fh:
        assert pickle.load(fh) == [1, 2, 3]
    os.unlink(mine)
