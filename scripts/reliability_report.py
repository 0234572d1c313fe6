#!/usr/bin/env python
"""Run the reliability tests (pytest markers `fuzz` and `fault`) and write docs/reliability.md.

    python scripts/reliability_report.py                 # writes docs/reliability.md
    python scripts/reliability_report.py --json out.json # also the raw numbers

Counts come from the test suite itself: pytest's `--junitxml` report gives every test case and its outcome;
Hypothesis adds its statistics (examples run per property test) to that report as global properties; a
`--collect-only -m fuzz` pass tells which tests are fuzz tests (the rest carry `fault`). No pytest plugin needed.
The exit code is pytest's (non-zero when a test failed); the report is written either way.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKERS = "fuzz or fault"
COMMAND = "python scripts/reliability_report.py"
_STATS_PREFIX = "hypothesis-statistics-"
_EXAMPLES = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid")


@dataclass
class TestRow:
    """One test function: its parametrized instances (or Hypothesis examples) and their outcomes."""

    nodeid: str  # tests/test_x.py::test_name (parameters stripped)
    category: str  # fuzz | fault
    instances: int = 0  # pytest test cases (parametrizations)
    examples: int = 0  # Hypothesis examples run (0: not a property test)
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)  # parametrization ids, e.g. "train-missing-data"

    @property
    def cases(self) -> int:
        return self.examples or self.instances

    @property
    def outcome(self) -> str:
        if self.failed:
            return f"**{self.failed} failed**" + (f", {self.passed} passed" if self.passed else "")
        if self.skipped and not self.passed:
            return "skipped"
        return "passed" + (f" ({self.skipped} skipped)" if self.skipped else "")


def _pytest(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    # addopts cleared: the project's own "-q" would make --collect-only print counts instead of node ids
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def fuzz_tests() -> set[str]:
    """Node ids (parameters stripped) of the tests marked `fuzz`."""
    proc = _pytest("--collect-only", "-q", "-m", "fuzz")
    return {line.split("[")[0] for line in proc.stdout.splitlines() if "::" in line}


def _nodeid(case: ET.Element) -> str:
    module = case.get("classname", "")
    parts = module.split(".")
    # classname is "tests.test_x" or, for tests in a class, "tests.test_x.TestClass"
    split = next((i for i in range(len(parts), 0, -1) if (ROOT / Path(*parts[:i])).with_suffix(".py").is_file()),
                 len(parts))
    path = "/".join(parts[:split]) + ".py"
    return "::".join([path, *parts[split:], case.get("name", "").split("[")[0]])


def _examples(description: str) -> int:
    """Passing + failing examples over every phase of one Hypothesis statistics description."""
    return sum(int(p) + int(f) for p, f, _ in _EXAMPLES.findall(description))


def parse_junit(path: Path, fuzz: set[str]) -> list[TestRow]:
    root = ET.parse(path).getroot()
    rows: dict[str, TestRow] = {}
    for case in root.iter("testcase"):
        nodeid = _nodeid(case)
        row = rows.setdefault(nodeid, TestRow(nodeid, "fuzz" if nodeid in fuzz else "fault"))
        row.instances += 1
        row.seconds += float(case.get("time", 0.0))
        name = case.get("name", "")
        if "[" in name:
            row.params.append(name[name.index("[") + 1 : -1])
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            row.failed += 1
            message = (problem.get("message") or "").strip()
            row.messages.append(message.splitlines()[0][:200] if message else "(no message)")
        elif case.find("skipped") is not None:
            row.skipped += 1
        else:
            row.passed += 1
    examples: dict[str, int] = defaultdict(int)
    for prop in root.iter("property"):
        name = prop.get("name", "")
        if name.startswith(_STATS_PREFIX):
            nodeid = name[len(_STATS_PREFIX):].split("[")[0]
            examples[nodeid] += _examples(base64.b64decode(prop.get("value", "")).decode())
    for nodeid, n in examples.items():
        if nodeid in rows:
            rows[nodeid].examples = n
    return sorted(rows.values(), key=lambda r: (r.category, r.nodeid))


def _what(nodeid: str) -> str:
    """A test name read as a sentence: tests/test_x.py::test_a_b_c -> "a b c"."""
    name = nodeid.rsplit("::", 1)[-1]
    return name.removeprefix("test_").replace("_", " ")


def render(rows: list[TestRow], exit_code: int, wall_s: float) -> str:
    totals = {c: [r for r in rows if r.category == c] for c in ("fuzz", "fault")}
    failed = sum(r.failed for r in rows)
    lines = [
        "# Reliability: what was tried and what happened",
        "",
        "Produced by the test suite's own markers: every test marked `fuzz` (property-based, Hypothesis) or "
        "`fault` (fault injection: bad files, bad options, corrupt checkpoints, killed training, hostile pickles, "
        "bad uploads). *Cases* are Hypothesis examples for property tests and parametrized instances otherwise. "
        "The rule every case checks: a result, or an `InpNetError` / CLI error in one line (exit code non-zero, "
        "no traceback, nothing partially written), never another exception, never a hang.",
        "",
        f"Regenerate: `{COMMAND}` (runs `pytest -m \"{MARKERS}\"` with `--junitxml`).",
        "",
        f"Last run: {time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, {_versions()}, "
        f"{wall_s:.0f} s wall; pytest exit code {exit_code}.",
        "",
        "## Totals",
        "",
        "| category | tests | cases | passed | failed | skipped |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for category, group in totals.items():
        lines.append(f"| {category} | {len(group)} | {sum(r.cases for r in group)} | "
                     f"{sum(r.passed for r in group)} | {sum(r.failed for r in group)} | "
                     f"{sum(r.skipped for r in group)} |")
    lines.append(f"| **all** | **{len(rows)}** | **{sum(r.cases for r in rows)}** | "
                 f"**{sum(r.passed for r in rows)}** | **{failed}** | **{sum(r.skipped for r in rows)}** |")
    lines += [
        "",
        "*passed / failed / skipped* count pytest test cases (one per parametrization; a property test is one "
        "case however many examples it ran).",
        "",
        "## Every test",
        "",
        "| test | what was tried | category | cases | outcome | time (s) |",
        "|---|---|---|---:|---|---:|",
    ]
    for r in rows:
        path, name = r.nodeid.split("::", 1)
        kind = f"{r.examples} examples" if r.examples else f"{r.instances}"
        lines.append(f"| `{Path(path).name}::{name}` | {_what(r.nodeid)} | {r.category} | {kind} | {r.outcome} | "
                     f"{r.seconds:.1f} |")
    parametrized = [r for r in rows if r.params]
    if parametrized:
        lines += ["", "## The cases of each parametrized test", ""]
        lines += [f"- `{Path(r.nodeid.split('::')[0]).name}::{r.nodeid.split('::', 1)[1]}`: "
                  + ", ".join(f"`{p}`" for p in r.params) for r in parametrized]
    failures = [(r.nodeid, m) for r in rows for m in r.messages]
    if failures:
        lines += ["", "## Failures", ""] + [f"- `{n}`: {m}" for n, m in failures]
    return "\n".join(lines) + "\n"


def _versions() -> str:
    try:
        import hypothesis
        import torch

        return f"torch {torch.__version__}, hypothesis {hypothesis.__version__}"
    except ImportError:  # pragma: no cover - the report still works without them importable here
        return "versions unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"), help="markdown report to write")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--junit", metavar="PATH", help="keep pytest's junit XML here (default: a temp file)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed for the pytest run")
    args = parser.parse_args(argv)

    fuzz = fuzz_tests()
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(args.junit) if args.junit else Path(tmp) / "junit.xml"
        start = time.monotonic()
        proc = _pytest("-m", MARKERS, f"--junitxml={junit}", "-q", timeout=args.timeout)
        wall = time.monotonic() - start
        if not junit.is_file():
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
            print("reliability_report: pytest wrote no junit report", file=sys.stderr)
            return proc.returncode or 1
        rows = parse_junit(junit, fuzz)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(rows, proc.returncode, wall))
    if args.json:
        data = [{**asdict(r), "cases": r.cases} for r in rows]
        Path(args.json).write_text(json.dumps({"exit_code": proc.returncode, "wall_s": wall, "tests": data}, indent=2))
    print(f"{len(rows)} tests, {sum(r.cases for r in rows)} cases, {sum(r.failed for r in rows)} failed "
          f"-> {out}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
