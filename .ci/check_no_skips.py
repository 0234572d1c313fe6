"""CI: fail when pytest skipped a test. In CI every declared dependency and the browser are installed, so a
skip means something is broken (an import, Chromium) while the suite would otherwise stay green.

Usage: python .ci/check_no_skips.py JUNIT_XML   (the report of `pytest --junitxml`)
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def skipped_tests(report_path: str) -> list[str]:
    """'file::test: reason' for every skipped test case (expected failures, `xfail`, are not skips)."""
    found = []
    for case in ET.parse(report_path).getroot().iter("testcase"):
        for skipped in case.findall("skipped"):
            if skipped.get("type") == "pytest.xfail":
                continue
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            found.append(f"{name}: {skipped.get('message', '')}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: check_no_skips.py JUNIT_XML", file=sys.stderr)
        return 2
    skipped = skipped_tests(argv[0])
    for line in skipped:
        print(f"skipped in CI: {line}", file=sys.stderr)
    if skipped:
        print(f"error: {len(skipped)} test(s) skipped; in CI every test must run", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
