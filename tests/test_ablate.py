"""`inpnet ablate`: two tiny runs + the classical baselines over every mask set -> tables, plots, grid."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from inpnet.checkpoint import save_model
from inpnet.cli import main
from inpnet.errors import InpNetError
from inpnet.eval.ablation import default_mask_sets, select_mask_sets
from inpnet.masks import STRUCTURED_PRESETS
from inpnet.models import build_model

OUTPUTS = ("results.md", "results.csv", "results.json", "samples.csv", "psnr_vs_ratio.png", "ssim_vs_ratio.png",
           "figure_grid.png")
# One or two sets of every family keeps the test fast; the full default list is checked on its own below.
SETS = ("random-25", "random-75", "top_left-25", "thick", "nvidia 1-10%", "nvidia 30-40%", "noise25", "jpeg20")


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("study")
    images, masks = root / "images", root / "nvidia"
    images.mkdir()
    masks.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(6):
        coarse = torch.rand(1, 3, 6, 8, generator=g)
        image = F.interpolate(coarse, size=(48, 64), mode="bicubic", align_corners=False).clamp(0, 1)[0]
        Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(images / f"{i}.png")
    for i, cols in enumerate([4, 12, 16, 22, 28, 34]):  # one mask per NVIDIA area bucket at 32x32
        mask = np.zeros((64, 64), dtype=np.uint8)
        mask[:, :cols] = 255
        Image.fromarray(mask).save(masks / f"{i:05d}.png")
    torch.manual_seed(0)
    save_model(build_model("skip-recon", preset="nano"), root / "skip")
    save_model(build_model("mae", preset="nano"), root / "mae")
    args = ["ablate", "--runs", str(root / "skip"), str(root / "mae"), "--baselines", "telea", "ns", "biharmonic",
            "--images", str(images), "--masks", str(masks), "--limit", "4", "--no-progress", "--mask-sets", *SETS]
    for out in ("first", "second"):
        assert main([*args, "--out", str(root / out)]) == 0
    return {"root": root, "out": root / "first", "again": root / "second"}


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_ablate_writes_tables_plots_and_grid(study):
    for name in OUTPUTS:
        assert (study["out"] / name).is_file(), name
    for name in OUTPUTS[4:]:
        with Image.open(study["out"] / name) as img:
            assert img.format == "PNG" and img.width > 200


def test_rerun_with_the_same_arguments_gives_an_identical_csv(study):
    assert (study["out"] / "results.csv").read_bytes() == (study["again"] / "results.csv").read_bytes()


def test_csv_covers_every_method_and_chosen_mask_set(study):
    rows = _csv(study["out"] / "results.csv")
    assert list(rows[0]) == ["method", "mask_set", "metric", "value"]
    assert {r["method"] for r in rows} == {"skip", "mae", "telea", "ns", "biharmonic"}
    assert {r["mask_set"] for r in rows} == set(SETS)


def test_per_sample_values_average_to_the_table_and_give_paired_margins(study):
    from inpnet.eval.margins import paired_margin

    data = json.loads((study["out"] / "results.json").read_text())
    samples = _csv(study["out"] / "samples.csv")
    assert list(samples[0]) == ["method", "mask_set", "image", "psnr", "ssim", "psnr_hole", "ssim_hole"]
    for method in ("skip", "telea"):
        for set_name in ("random-25", "thick"):
            rows = [r for r in samples if r["method"] == method and r["mask_set"] == set_name]
            assert sorted(int(r["image"]) for r in rows) == [0, 1, 2, 3]
            mean = np.mean([float(r["psnr_hole"]) for r in rows])
            assert mean == pytest.approx(data["results"][method][set_name]["psnr_hole"], abs=1e-9)
    # the margin of the network to the best classical method of a family, recomputed from samples.csv
    margin = data["margins"]["random"]["skip"]
    ref = margin["reference"]
    assert ref in ("telea", "ns", "biharmonic") and margin["metric"] == "psnr_hole" and margin["n"] == 4

    def table(method):
        out = {}
        for r in samples:
            if r["method"] == method and r["mask_set"].startswith("random"):
                out.setdefault(r["mask_set"], {})[int(r["image"])] = float(r["psnr_hole"])
        return out

    again = paired_margin(table("skip"), table(ref), ["random-25", "random-75"])
    assert again.mean == pytest.approx(margin["mean"]) and [again.low, again.high] == pytest.approx(margin["ci"])
    assert margin["ci"][0] <= margin["mean"] <= margin["ci"][1]
    assert "noise25" not in data["margins"]  # no restoration baseline (identity / nlmeans) was asked for
    text = (study["out"] / "results.md").read_text()
    assert "## Margins to the best classical method" in text and f"| random | skip | {ref} | " in text


def test_classical_inpainters_get_no_restoration_rows_and_models_do(study):
    rows = _csv(study["out"] / "results.csv")
    restored = {r["method"] for r in rows if r["mask_set"] in ("noise10", "noise25", "jpeg20")}
    assert restored == {"skip", "mae"}


def test_random_sets_mask_their_exact_ratio_on_the_patch_grid(study):
    data = json.loads((study["out"] / "results.json").read_text())
    holes = {s["name"]: s["hole_fraction"] for s in data["mask_sets"]}
    assert holes["random-25"] == 0.25 and holes["random-75"] == 0.75  # 4 and 12 of 16 patches
    assert data["image_size"] == [32, 32] and data["images"]["n"] == 4


def markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """Section title -> the rows of the first table under it (header first, the alignment row dropped)."""
    tables: dict[str, list[list[str]]] = {}
    title = None
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:]
        elif line.startswith("|") and title is not None and not line.startswith("|---"):
            tables.setdefault(title, []).append([cell.strip() for cell in line.strip("|").split("|")])
    return tables


def check_best_in_bold(cells: list[str], lower_is_better: bool | str) -> None:
    """The bold cells of one column are exactly those that show the column's best value (lower_is_better
    "one": the value closest to 1 on a log scale, as for the texture ratio)."""
    shown = [c.strip("*") for c in cells]
    values = [float(c) for c in shown if c != "–"]
    if len(values) < 2:
        assert not any(c.startswith("**") for c in cells)
        return
    if lower_is_better == "one":
        best = min(values, key=lambda v: abs(math.log(max(v, 1e-9))))
    else:
        best = min(values) if lower_is_better else max(values)
    bold = [c.startswith("**") and c.endswith("**") for c in cells]
    assert bold == [c != "–" and float(c) == best for c in shown], cells


def test_markdown_has_a_summary_and_one_table_per_metric_with_best_in_bold(study):
    tables = markdown_tables((study["out"] / "results.md").read_text())
    titles = {"PSNR (dB), full frame": False, "SSIM, full frame": False, "L1, full frame": True,
              "PSNR (dB), hole only": False, "SSIM, hole only": False, "L1, hole only": True,
              "texture (detail in the hole, output / original)": "one"}
    values = {(r["method"], r["mask_set"], r["metric"]): float(r["value"]) for r in _csv(study["out"] / "results.csv")}
    for title, lower_is_better in titles.items():  # best per column (mask set), as the document says
        header, *rows = tables[title]
        assert header == ["method", *SETS] and len(rows) == 5
        for col in range(1, len(header)):
            check_best_in_bold([row[col] for row in rows], lower_is_better)
        metric = "texture" if title.startswith("texture") else \
            {"PSNR": "psnr", "SSIM": "ssim", "L1": "l1"}[title.split()[0].rstrip(",")] + ("_hole" if "hole" in title else "")
        for row in rows:  # and the cells are the csv's values, rounded
            for name, cell in zip(SETS, row[1:]):
                if cell != "–":
                    assert float(cell.strip("*")) == pytest.approx(values[(row[0], name, metric)], abs=0.006)
    summary_title = next(t for t in tables if t.startswith("Summary"))
    header, *rows = tables[summary_title]
    assert header[:2] == ["family", "method"] and len(header) == 9
    for family in {row[0] for row in rows}:  # best per family and metric
        block = [row for row in rows if row[0] == family]
        assert len(block) >= 2
        for col in range(2, len(header)):
            rule = "one" if header[col].startswith("texture") else header[col].startswith("L1")
            check_best_in_bold([row[col] for row in block], rule)


def test_default_mask_sets_are_the_full_list(tmp_path):
    names = [s.name for s in default_mask_sets([tmp_path])]
    buckets = ["1-10%", "10-20%", "20-30%", "30-40%", "40-50%", "50-60%"]
    assert names[:5] == ["random-10", "random-25", "random-50", "random-75", "random-90"]
    assert names[5:14] == [f"{p}-25" for p in STRUCTURED_PRESETS]
    assert names[14:17] == ["thin", "medium", "thick"]
    assert names[17:23] == [f"{tmp_path.name} {b}" for b in buckets]
    assert names[23:] == ["noise10", "noise25", "jpeg20"]


def test_mask_sets_can_be_selected_by_family_or_name():
    sets = select_mask_sets(default_mask_sets(), ["irregular", "random-50"])
    assert [s.name for s in sets] == ["random-50", "thin", "medium", "thick"]
    with pytest.raises(InpNetError, match="unknown mask set 'nope'"):
        select_mask_sets(default_mask_sets(), ["nope"])


def test_runs_of_different_sizes_need_an_explicit_image_size(capsys, study, tmp_path):
    save_model(build_model("skip-recon", preset="nano", image_size=64), tmp_path / "big")
    code = main(["ablate", "--runs", str(study["root"] / "skip"), str(tmp_path / "big"), "--images",
                 str(study["root"] / "images"), "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 2
    assert "pass --image-size" in capsys.readouterr().err


def test_paired_margins_script_compares_named_methods(study, capsys):
    import runpy

    script = Path(__file__).resolve().parents[1] / "scripts" / "paired_margins.py"
    main_fn = runpy.run_path(str(script))["main"]
    assert main_fn([str(study["out"]), "skip:mae", "telea:ns"]) == 0
    data = json.loads((study["out"] / "margins.json").read_text())
    assert data["skip:mae"]["noise25"]["metric"] == "psnr" and data["skip:mae"]["random"]["metric"] == "psnr_hole"
    assert data["telea:ns"]["noise25"] is None  # classical inpainters do not restore
    assert "| skip | mae |" in (study["out"] / "margins.md").read_text()
    assert main_fn([str(study["out"]), "skip:nobody"]) == 2
    assert "both methods must be in" in capsys.readouterr().err


def test_an_earlier_ablation_in_out_is_not_replaced_without_overwrite(study, capsys):
    """Review 10: a 10-method table was replaced by a 1-method one, with exit code 0 and no word."""
    before = (study["out"] / "results.md").read_bytes()
    args = ["ablate", "--baselines", "telea", "--images", str(study["root"] / "images"), "--limit", "2",
            "--mask-sets", "random-25", "--no-progress", "--out", str(study["out"])]
    assert main(args) == 2
    assert capsys.readouterr().err == (f"inpnet ablate: error: --out {study['out']} holds the results of an earlier "
                                       "ablation (results.md); pass --overwrite to replace them, or choose another "
                                       "--out\n")
    assert (study["out"] / "results.md").read_bytes() == before
    copy = study["root"] / "replaced"
    copy.mkdir()
    (copy / "results.md").write_bytes(before)
    assert main([*args[:-1], str(copy), "--overwrite"]) == 0
    assert (copy / "results.md").read_bytes() != before  # replaced, as asked


def test_native_refuses_an_image_size_it_would_ignore(study, tmp_path, capsys):
    assert main(["ablate", "--native", "--baselines", "telea", "--images", str(study["root"] / "images"),
                 "--image-size", "64", "--out", str(tmp_path / "native"), "--no-progress"]) == 2
    assert "--image-size has no effect with --native" in capsys.readouterr().err
    assert not (tmp_path / "native").exists()
