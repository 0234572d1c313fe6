"""docs/reliability.md stays the list of the suite's reliability tests: a test marked `fuzz` or `fault` that the
page does not list (or a listed one that is gone) means the page was not regenerated."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import load_file_module

ROOT = Path(__file__).resolve().parents[1]
_ROW = re.compile(r"^\| `([^`]+)` \|", re.M)


def _listed() -> set[str]:
    return {f"tests/{name}" for name in _ROW.findall((ROOT / "docs" / "reliability.md").read_text())}


def _marked() -> set[str]:
    report = load_file_module(ROOT / "scripts" / "reliability_report.py")
    proc = report._pytest("--collect-only", "-q", "-m", report.MARKERS)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return {line.split("[")[0] for line in proc.stdout.splitlines() if "::" in line}


def test_the_reliability_page_lists_exactly_the_tests_marked_fuzz_or_fault():
    listed, marked = _listed(), _marked()
    assert len(marked) >= 40, f"too few reliability tests collected: {sorted(marked)}"
    assert listed == marked, (
        f"docs/reliability.md is stale (regenerate: python scripts/reliability_report.py); "
        f"marked but not listed: {sorted(marked - listed)}; listed but not marked: {sorted(listed - marked)}")
