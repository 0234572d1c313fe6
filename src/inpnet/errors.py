"""User-facing errors: one class, one line each. The CLI prints them without a traceback."""


class InpNetError(Exception):
    """A mistake the user can fix (bad input, bad option, wrong checkpoint). Message: one line."""
