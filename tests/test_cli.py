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
    header = lines.index(next(line for line in lines if line.startswith("variant")))  # after the shipped model
    rows = [line.split() for line in lines[header + 1 :]]
    assert len(rows) == 7 * 4  # seven models x four presets
    by_key = {(r[0], r[1]): float(r[2]) for r in rows}
    assert by_key[("mae", "base")] == pytest.approx(111.91, abs=0.05)  # FB-MAE ViT-B/16 with its decoder
    assert by_key[("skip-recon", "tiny")] > by_key[("random-recon", "tiny")]  # skip projections add weights


def test_console_script_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "inpnet", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("inpnet ")


def test_a_mistaken_argument_is_one_line_that_points_at_the_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["inpaint", "--image", "a.png", "--self-ensemble", "3"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == ("inpnet inpaint: error: argument --self-ensemble: invalid choice: 3 (choose from 1, 2, 4, 8) "
                   "(see inpnet inpaint --help)\n")
    with pytest.raises(SystemExit):
        main(["bogus"])
    assert capsys.readouterr().err.count("\n") == 1


def test_ctrl_c_while_the_command_loads_is_one_line_and_exit_130(monkeypatch, capsys):
    import inpnet.cli as cli

    def interrupted(name):  # Ctrl-C during the command module's imports (torch: seconds)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_module", interrupted)
    assert main(["inpaint", "--image", "a.png"]) == 130
    assert capsys.readouterr().err == "inpnet inpaint: interrupted\n"


def test_models_marks_the_shipped_weights_and_dir_lists_the_public_names(capsys):
    import inpnet

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    marked = [line for line in lines if "shipped" in line]
    # review 11: the mark sat on the tiny preset's row (6.39 M), but the shipped model has its own widths (8.0 M);
    # review 15: it came last, after 28 rows, where `inpnet models | head` did not show it
    assert len(marked) == 1 and marked[0] == lines[0]
    assert marked[0].startswith("shipped: inpnet-skip-recon-128, skip-recon from the tiny ")
    assert "embed_dim 256" in marked[0] and ", 8.00 M, 128x128 px: the default of every command" in marked[0]
    assert set(inpnet.__all__) <= set(dir(inpnet))
