"""Named comparisons between two methods of an `inpnet ablate` output, with paired bootstrap intervals.

    python scripts/paired_margins.py docs/ablation-64 skip-recon:dynamic-recon skip-recon:mae ...

For every pair A:B and every family of the output (plus each restoration set), the mean over images of A - B
(hole PSNR; restoration: PSNR), its 95 % bootstrap interval over images and the images where A is ahead
(inpnet.eval.margins). Writes margins.md and margins.json into the output folder; prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inpnet.eval.margins import paired_margin, read_samples
from inpnet.fileio import atomic_write_text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("folder", type=Path, help="an `inpnet ablate` output folder (results.json + samples.csv)")
    p.add_argument("pairs", nargs="+", metavar="A:B")
    p.add_argument("--per-set", action="store_true", help="one column per mask set instead of per family")
    p.add_argument("--out", default="margins", help="output file stem in the folder (default margins)")
    args = p.parse_args(argv)
    results = json.loads((args.folder / "results.json").read_text())
    groups: dict[str, list[str]] = {}
    for s in results["mask_sets"]:
        per_set = args.per_set or s["family"] == "restoration"
        groups.setdefault(s["name"] if per_set else s["family"], []).append(s["name"])
    restoration = {s["name"] for s in results["mask_sets"] if s["family"] == "restoration"}
    tables = {m: read_samples(args.folder / "samples.csv", m) for m in ("psnr", "psnr_hole")}
    out: dict = {}
    command = " ".join(["python scripts/paired_margins.py", str(args.folder), *args.pairs,
                        *(["--per-set"] if args.per_set else []), *(["--out", args.out] if args.out != "margins" else [])])
    lines = ["# Paired margins", "", "```", command, "```", "",
        "A − B per image (hole PSNR in dB; restoration sets: PSNR), averaged over the family's sets; mean over "
        "images [95 % bootstrap interval over images], images where A is ahead.", "",
        "| A | B | " + " | ".join(groups) + " |", "|---|---|" + "---:|" * len(groups)]
    for pair in args.pairs:
        a, _, b = pair.partition(":")
        if a not in tables["psnr"] or b not in tables["psnr"]:
            print(f"error: {pair}: both methods must be in {args.folder / 'samples.csv'}", file=sys.stderr)
            return 2
        cells = []
        for group, sets in groups.items():
            metric = "psnr" if group in restoration else "psnr_hole"
            m = paired_margin(tables[metric][a], tables[metric][b], sets)
            out.setdefault(pair, {})[group] = None if m is None else {"metric": metric, **m.to_dict()}
            cells.append("–" if m is None else m.text())
        lines.append(f"| {a} | {b} | " + " | ".join(cells) + " |")
    atomic_write_text(args.folder / f"{args.out}.md", "\n".join(lines) + "\n")
    atomic_write_text(args.folder / f"{args.out}.json", json.dumps(out, indent=2) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
