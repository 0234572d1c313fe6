"""The command line: help for every subcommand, `inpnet models`, clean errors."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from inpnet.cli import COMMANDS, build_parser, main


def test_top_level_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: inpnet {command}" in capsys.readouterr().out


def test_every_option_says_what_it_does():
    """`inpnet train --help` listed ten options with no text; each option of each subcommand has one now."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    silent = {f"{name} {a.option_strings[-1]}" for name, parser in sub.choices.items()
              for a in parser._actions if a.option_strings and not a.help}
    assert set(sub.choices) == set(COMMANDS) and silent == set()


def test_no_arguments_prints_help_and_succeeds(capsys):
    assert main([]) == 0
    assert "usage: inpnet" in capsys.readouterr().out


def test_models_lists_variants_presets_and_parameter_counts(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 7 * 4  # seven models x four presets
    by_key = {(r[0], r[1]): float(r[2]) for r in rows}
    assert by_key[("mae", "base")] == pytest.approx(111.91, abs=0.05)  # FB-MAE ViT-B/16 with its decoder
    assert by_key[("skip-recon", "tiny")] > by_key[("random-recon", "tiny")]  # skip projections add weights


def test_console_script_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "inpnet", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("inpnet ")
