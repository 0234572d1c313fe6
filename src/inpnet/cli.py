"""`inpnet` command line: one subcommand per module in `inpnet.commands`, imported only when used.

Each command module defines `add_arguments(parser)` and `run(args) -> int`. A user mistake raises
InpNetError: printed as one line on stderr, exit code 2, no traceback (so is an OSError, e.g. a full disk).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

from inpnet.errors import InpNetError

COMMANDS: dict[str, str] = {
    "train": "train a variant (or the MAE baseline) on image folders",
    "evaluate": "PSNR / SSIM / L1 of a checkpoint or a classical baseline on images + masks",
    "ablate": "evaluate several runs and baselines over many mask sets: table, plots, figure grid",
    "inpaint": "fill the holes of an image (or a folder) given a mask; --restore for ratio 0",
    "demo": "shipped weights on bundled photos -> a figure grid in ./inpnet-demo/",
    "serve": "web page with a brush to paint the hole (Gradio)",
    "export-onnx": "export a checkpoint to ONNX and check it against PyTorch",
    "bench": "latency / throughput vs mask ratio: InP-Net vs MAE, PyTorch vs ONNX Runtime",
    "models": "list the variants and size presets with parameter counts",
}


def _module(name: str):
    return importlib.import_module(f"inpnet.commands.{name.replace('-', '_')}")


class OneLineParser(argparse.ArgumentParser):
    """argparse with a mistake said in one line, and where the usage is, instead of the usage block above it
    (the subcommands' parsers are of this class too: argparse makes them of their parent's)."""

    def error(self, message: str):  # noqa: ANN201 (argparse's own signature: never returns)
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def build_parser(commands: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; `commands` limits which subcommand modules get imported (for speed)."""
    parser = OneLineParser(
        prog="inpnet", description="InP-Net: masked-ViT image inpainting and restoration."
    )
    parser.add_argument("--version", action="version", version=f"inpnet {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if commands is None or name in commands:
            _module(name).add_arguments(p)
    return parser


def _version() -> str:
    from inpnet import __version__

    return __version__


def one_line(message: str) -> str:
    """A message's lines joined with spaces: the CLI promises one line per error."""
    return " ".join(line.strip() for line in message.splitlines() if line.strip()) or "unknown error"


@contextlib.contextmanager
def _notes_as_lines(command: str):
    """While a command runs, the package's notes (`inpnet.errors.note`) print as one line each, named by the
    command, instead of Python's two-line warning with a file and line; other warnings are shown as usual."""
    from inpnet.errors import Note

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, Note):
            print(f"inpnet {command}: note: {one_line(str(message))}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = [a for a in argv if a in COMMANDS][:1]
    try:  # building the parser imports the command's module (torch: seconds), where Ctrl-C can land too
        parser = build_parser(chosen)
    except KeyboardInterrupt:
        print(f"inpnet{''.join(f' {c}' for c in chosen)}: interrupted", file=sys.stderr)
        return 130
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        with _notes_as_lines(args.command):
            code = int(_module(args.command).run(args) or 0)
        sys.stdout.flush()  # here, a closed pipe is met below, not in Python's flush at exit (a traceback)
        return code
    except BrokenPipeError:  # the reader of stdout went away (`inpnet models | head`): Unix tools end quietly
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a tool ended by it
    except (InpNetError, OSError) as exc:  # OSError: the machine's fault, e.g. a full disk
        print(f"inpnet {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"inpnet {args.command}: error: out of memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"inpnet {args.command}: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not fail on the closed pipe again
    (the recipe of the `signal` module's documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (a test's capture): nothing to flush
        pass


if __name__ == "__main__":
    sys.exit(main())
