"""User-facing errors and notes: one line each. The CLI prints them without a traceback."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

_PACKAGE = str(Path(__file__).resolve().parent)


class InpNetError(Exception):
    """A mistake the user can fix (bad input, bad option, wrong checkpoint). Message: one line."""


class Note(UserWarning):
    """The category of `note`: the command line prints these as one `inpnet CMD: note: ...` line."""


def note(message: str, category: type[Warning] = Note) -> None:
    """A note for the user (`warnings.warn`), shown at the first caller outside this package: the line of the
    user's code that led to it, not a line of ours. By hand because Python 3.12's `skip_file_prefixes` does
    this and 3.11 is supported."""
    level, frame = 2, sys._getframe(1)  # stacklevel 1 is this function, 2 its caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
