"""CI: every dependency that inpnet declares (with the `dev` extra) is installed, in range, and imports.

A missing or broken dependency must fail CI here, in one readable line per problem, rather than show up as
skipped or erroring tests later. `pip check` covers conflicts between installed packages; this covers the
project's own declared list (extras included, which `pip check` does not look at).
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import sys

from packaging.requirements import Requirement

PROJECT = "inpnet"
EXTRAS = ("dev",)
PROJECT_MODULES = ("inpnet", "inpnet.cli", "inpnet.export", "inpnet.web.app")


def declared_requirements() -> list[Requirement]:
    """The project's requirements that apply with the extras CI installs."""
    wanted = []
    for line in metadata.requires(PROJECT) or []:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": extra}) for extra in ("", *EXTRAS)):
            wanted.append(req)
    return wanted


def modules_of(distribution: str) -> list[str]:
    """Top-level import names that a distribution provides (e.g. opencv-python-headless -> cv2)."""
    normal = distribution.lower().replace("_", "-")
    names = [top for top, dists in metadata.packages_distributions().items()
             if any(d.lower().replace("_", "-") == normal for d in dists)]
    return sorted(n for n in names if not n.startswith("_"))


def problems_with(req: Requirement) -> list[str]:
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return [f"{req.name}: declared ({req}) but not installed"]
    if not req.specifier.contains(version, prereleases=True):
        return [f"{req.name}: version {version} is outside the declared range {req.specifier}"]
    found = []
    modules = modules_of(req.name)
    if not modules:
        found.append(f"{req.name}: installed but provides no importable module")
    for module in modules:
        found.extend(import_problem(module, req.name))
    return found


def import_problem(module: str, owner: str) -> list[str]:
    try:
        importlib.import_module(module)
    except Exception as exc:  # any failure to import is what this check reports
        return [f"{owner}: `import {module}` fails: {type(exc).__name__}: {exc}"]
    return []


def main() -> int:
    requirements = declared_requirements()
    found = [p for req in requirements for p in problems_with(req)]
    found += [p for module in PROJECT_MODULES for p in import_problem(module, PROJECT)]
    for line in found:
        print(f"dependency check: {line}", file=sys.stderr)
    if found:
        return 1
    print(f"dependency check: {len(requirements)} declared dependencies installed, in range and importable")
    return 0


if __name__ == "__main__":
    sys.exit(main())
