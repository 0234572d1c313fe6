"""Run a function over a stream of items with several in flight: on threads, or on worker processes.

`InpaintPipeline.stream` uses these to fill a camera's or a video's frames in real time. Why processes as
well as threads: one frame's pipeline is a chain of short steps (resizing, the harmonic prefill, packing,
the ONNX graph, pasting) between which Python holds the GIL, so two frames on two threads still wait for
each other; two worker processes with one core each do not (measured on 2 cores, 256-px frames, the int8
graph: ~1.25x the frames/s of two threads; docs/benchmarks.md). The price is a start-up of a few seconds
(each worker imports torch and builds its own copy of the model) and one frame of extra latency.

concurrent.futures does the pooling; what is written here is only keeping results in input order while
reading the items lazily, and each worker's one-time set-up (its model, its thread count).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from inpnet.errors import InpNetError
from inpnet.fileio import process_runs

__all__ = ["map_in_flight", "map_in_processes", "threads_per_worker"]

_PAYLOAD_PREFIX = "inpnet-stream-"  # the temp files that hand a stream's target to its workers: <prefix><pid>-*
_worker_state: dict[str, Any] = {}  # in a worker process: the object its calls run on (set once, at start)


def map_in_flight(fn: Callable[[Any], Any], items: Iterable[Any], in_flight: int) -> Iterator[Any]:
    """`map(fn, items)` with up to `in_flight` calls running at once on threads: results in order, items read
    lazily, an item's exception raised when its turn comes."""
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="inpnet-stream") as pool:
        yield from _in_order(pool, fn, items, in_flight)


def map_in_processes(target: Any, method: str, items: Iterable[tuple], *, processes: int,
                     in_flight: int | None = None) -> Iterator[Any]:
    """`target.<method>(*item)` for each item, on `processes` worker processes (started with `spawn`, each
    given a pickled copy of `target` once and `threads_per_worker(processes)` threads for torch, OpenCV and
    ONNX Runtime): results in order, items read lazily, up to `in_flight` items (default processes + 1, so
    that every worker has its next item while the caller takes a result) sent at once. An item's exception
    is raised when its turn comes; a worker that dies (killed, out of memory) ends the stream with an
    InpNetError. Items and results must pickle (paths, bytes, numpy arrays, PIL images and tensors do).

    As with any `spawn` start, a script that calls this must guard its top level with
    `if __name__ == "__main__":` (each worker imports the caller's main module)."""
    if not isinstance(processes, int) or isinstance(processes, bool) or processes < 1:
        raise InpNetError(f"processes must be a positive number of worker processes, got {processes!r}")
    in_flight = processes + 1 if in_flight is None else in_flight
    threads = threads_per_worker(processes)
    # The target (a pipeline: tens of MB) goes to the workers through a file, not in the start-up message:
    # CPython's spawn writes that message into a pipe whose read end the parent holds until the write ends,
    # so a worker that dies while starting (an unguarded script) left the parent blocked in the write forever.
    payload = _pickled_to_file(target)
    try:
        pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(payload, threads))
        try:
            yield from _in_order(pool, _Call(method), items, in_flight)
        except BrokenProcessPool:
            raise InpNetError("a stream worker process stopped (it could not start: a script needs an `if __name__ "
                              "== '__main__':` guard to stream on processes; or it was killed, or ran out of memory)"
                              ) from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        Path(payload).unlink(missing_ok=True)


def threads_per_worker(processes: int) -> int:
    """The cores this process may use, shared between `processes` workers (at least 1 each)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // processes)


def _in_order(pool: Executor, fn: Callable[[Any], Any], items: Iterable[Any], in_flight: int) -> Iterator[Any]:
    pending: deque[Future] = deque()
    items = iter(items)
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        except Exception:  # reading the next item failed (e.g. its mask ran out): the items before it first
            while pending:
                yield pending.popleft().result()
            raise
        pending.append(pool.submit(fn, item))
        if len(pending) >= in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _pickled_to_file(target: Any) -> str:
    """`target` pickled into a new private temporary file (mode 0600), named with this process's id; its path.
    Such files of processes that are gone (killed before they could remove theirs) are removed first."""
    _remove_files_of_gone_processes()
    with tempfile.NamedTemporaryFile(prefix=f"{_PAYLOAD_PREFIX}{os.getpid()}-", suffix=".pickle",
                                     delete=False) as fh:
        try:
            pickle.dump(target, fh, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException:
            fh.close()
            os.unlink(fh.name)
            raise
    return fh.name


def _remove_files_of_gone_processes() -> None:
    """The stream payloads (tens of MB each) that a killed process left in the temp folder (review 12); one
    that is not ours to remove (another user's, in a shared /tmp) is left where it is."""
    for old in Path(tempfile.gettempdir()).glob(f"{_PAYLOAD_PREFIX}*-*.pickle"):
        pid = old.name[len(_PAYLOAD_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not process_runs(int(pid)):
            with contextlib.suppress(OSError):
                old.unlink(missing_ok=True)


def _start_worker(payload: str, threads: int) -> None:
    """A worker's set-up: its thread counts, then its copy of the target, read from the file `payload` that
    `map_in_processes` wrote for it (an ONNX model's session is built on first use, after `set_threads`, so
    that it is built once with the worker's count)."""
    import cv2
    import torch

    with open(payload, "rb") as fh:
        target = pickle.load(fh)  # our own file, written by the process that started this one
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    set_threads = getattr(target, "set_threads", None)
    if set_threads is not None:
        set_threads(threads)
    _worker_state["target"] = target


class _Call:
    """A picklable `lambda item: target.<method>(*item)` for the worker's target."""

    def __init__(self, method: str) -> None:
        self.method = method

    def __call__(self, item: tuple) -> Any:
        return getattr(_worker_state["target"], self.method)(*item)
