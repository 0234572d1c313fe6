"""Atomic writes (inpnet.fileio): the old file survives a failed write and no temporary file is left."""

from __future__ import annotations

import pytest

from inpnet.errors import InpNetError
from inpnet.fileio import atomic_write_bytes, atomic_write_text


def test_a_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_text(target, "old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_write_is_one_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "precious")

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("inpnet.fileio.os.fsync", full_disk)
    with pytest.raises(InpNetError, match=r"cannot write .*out.txt: No space left on device"):
        atomic_write_text(target, "half")
    assert target.read_text() == "precious" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InpNetError, match="cannot write"):
        atomic_write_bytes(blocker / "under-a-file.bin", b"data")
