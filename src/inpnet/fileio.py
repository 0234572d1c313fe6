"""Files written so that a crash or a full disk never leaves a half-written one: a temporary file in the same
folder, flushed and fsynced, then renamed over the target (a rename within one file system is atomic)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from inpnet.errors import InpNetError


def atomic_write_text(path: Path, text: str) -> None:
    """Write text to a temp file in the same folder, then rename over `path`."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to a temp file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):  # e.g. the folder is a file: there is no temporary to remove
            tmp.unlink(missing_ok=True)
        raise InpNetError(f"cannot write {path}: {exc.strerror or exc}") from None



def make_parent_folders(path: str | os.PathLike) -> Path:
    """Create the missing folders above the file `path` (as every command does for its outputs); a one-line
    error if it cannot (e.g. a file stands where a folder should). Returns `path` as a Path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        in_the_way = next((q for q in (path.parent, *path.parent.parents) if q.exists() and not q.is_dir()), None)
        why = f"{in_the_way} is a file, not a folder" if in_the_way is not None else exc.strerror or exc
        raise InpNetError(f"cannot create folder {path.parent}: {why}") from None
    return path


def atomic_write_new_folder(path: Path, data: bytes) -> None:
    """`atomic_write_bytes`, creating the missing folders above `path` first (one-line error if it cannot)."""
    atomic_write_bytes(make_parent_folders(path), data)


def process_runs(pid: int) -> bool:
    """Whether a process `pid` runs on this machine (one of another user counts): the test for whether a
    temporary file named with a process id belongs to a job that is gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # not ours to signal: it runs
        return True
    return True
