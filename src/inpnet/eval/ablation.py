"""The ablation study behind `inpnet ablate`: every method x every mask set, on the same images and masks.

    sets = default_mask_sets(mask_folders)           # random 10..90 %, 9 presets at 25 %, thin/medium/thick,
                                                     # folder masks by hole-area bucket, noise10/noise25/jpeg20
    result = run_ablation(runs, baselines, image_paths, mask_folders)
    write_outputs(result, "ablation/")               # results.md / .csv / .json, two plots, a figure grid

Every image is loaded once; the masks of one set are prepared once and shared by every method, so the
comparison is exact and a rerun with the same arguments gives the same numbers. Inpainting baselines
(telea, ns, biharmonic) run on the mask sets, restoration baselines (identity, nlmeans) on the restoration
sets (nlmeans on the noise sets only), models on all of them.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from inpnet.errors import InpNetError
from inpnet.eval.baselines import BASELINES
from inpnet.eval.evaluate import (
    AREA_BUCKETS,
    BASELINE_IMAGE_SIZE,
    BASELINE_PATCH_SIZE,
    RESTORATION_BASELINES,
    EvalImages,
    MaskSource,
    Method,
    applies,
    bucket_label,
    load_eval_images,
    load_method,
    method_image_size,
    method_name,
    method_patch_size,
    prepare,
    run_method,
    scan_area_buckets,
)

RANDOM_RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9)
STRUCTURED_RATIO = 0.25
RESTORATION_SETS = ("noise10", "noise25", "jpeg20")
ALL_BASELINES = BASELINES + RESTORATION_BASELINES
TABLE_METRICS = ("psnr", "ssim", "l1", "psnr_hole", "ssim_hole", "l1_hole", "texture")
CSV_METRICS = ("n", *TABLE_METRICS, "hole_fraction")
METRIC_TITLES = {
    "psnr": "PSNR (dB), full frame", "ssim": "SSIM, full frame", "l1": "L1, full frame",
    "psnr_hole": "PSNR (dB), hole only", "ssim_hole": "SSIM, hole only", "l1_hole": "L1, hole only",
    "texture": "texture (detail in the hole, output / original)",
}
LOWER_IS_BETTER = ("l1", "l1_hole")
CLOSEST_TO_ONE = ("texture",)  # as much detail as the original: neither flat (0) nor noisier (> 1)
GRID_ROWS = 4
SAMPLE_METRICS = ("psnr", "ssim", "psnr_hole", "ssim_hole")  # kept per sample (samples.csv, margins)


@dataclass(frozen=True)
class MaskSet:
    """One column of the tables: a named mask source in a family (random, structured, irregular, a mask
    folder's name, or restoration)."""

    name: str
    family: str
    source: MaskSource
    ratio: float | None = None  # the random-patch ratio (x axis of the plots)


def default_mask_sets(mask_folders: Sequence[str | os.PathLike] = ()) -> list[MaskSet]:
    """The full list, in table order: random patches at 10/25/50/75/90 %, the nine center_dict presets at
    25 %, free-form thin/medium/thick irregular masks, each folder by hole-area bucket, the restorations."""
    from inpnet.masks import IRREGULAR_FAMILIES, STRUCTURED_PRESETS

    sets = [
        MaskSet(f"random-{round(r * 100)}", "random", MaskSource.generated("random", r), r) for r in RANDOM_RATIOS
    ]
    pct = round(STRUCTURED_RATIO * 100)
    sets += [
        MaskSet(f"{p}-{pct}", "structured", MaskSource.generated("structured", STRUCTURED_RATIO, preset=p))
        for p in STRUCTURED_PRESETS
    ]
    sets += [MaskSet(f, "irregular", MaskSource.generated("irregular", None, family=f)) for f in IRREGULAR_FAMILIES]
    taken = {s.family for s in sets} | {"restoration"}
    for folder in mask_folders:
        family = Path(folder).resolve().name or "masks"
        base, k = family, 2
        while family in taken:  # two folders with one name stay apart
            family, k = f"{base}#{k}", k + 1
        taken.add(family)
        for bucket in AREA_BUCKETS:
            name = f"{family} {bucket_label(bucket)}"
            sets.append(MaskSet(name, family, MaskSource.from_folder(folder, bucket, name=name)))
    sets += [MaskSet(d, "restoration", MaskSource.restore(d)) for d in RESTORATION_SETS]
    return sets


def select_mask_sets(sets: list[MaskSet], names: Sequence[str] | None) -> list[MaskSet]:
    """Keep the sets named in `names` (set names or family names), in table order; None keeps all."""
    if not names:
        return sets
    valid = {s.name for s in sets} | {s.family for s in sets}
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise InpNetError(
            f"unknown mask set {unknown[0]!r}; expected a set or family name: {', '.join(sorted(valid))}"
        )
    wanted = set(names)
    return [s for s in sets if s.name in wanted or s.family in wanted]


@dataclass
class AblationResult:
    """Everything `write_outputs` needs. `results[method][set]` is a run_method summary (no per_kind)."""

    methods: list[str]
    method_specs: dict[str, str]
    mask_sets: list[MaskSet]
    results: dict[str, dict[str, dict]]
    images: EvalImages
    image_size: tuple[int, int]
    patch_size: int
    seed: int
    set_info: dict[str, dict] = field(default_factory=dict)  # per set: n, hole_fraction, description
    skipped_sets: list[dict[str, str]] = field(default_factory=list)
    grid: list[dict] = field(default_factory=list)  # rows: set, index, input, mask, target, outputs{method}
    # per-sample values: samples[method][set] = {"index": [image index...], metric: [value...]}
    samples: dict[str, dict[str, dict[str, list]]] = field(default_factory=dict)


def _unique_names(specs: Sequence[str]) -> list[str]:
    names = [method_name(s) for s in specs]
    for i, spec in enumerate(specs):
        if names.count(names[i]) > 1 and spec not in ALL_BASELINES:
            path = Path(spec)
            names[i] = f"{path.parent.name}/{path.name}"
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InpNetError(f"two methods are both called {dupes[0]!r}; give each run a distinct folder")
    return names


def _eval_geometry(models: list[Method], image_size: int | Sequence[int] | None) -> tuple[tuple[int, int], int]:
    """(eval size, patch grid of generated masks) shared by every method."""
    from inpnet.eval.evaluate import parse_size

    sizes = sorted({method_image_size(m) for m in models})
    patches = sorted({method_patch_size(m) for m in models})
    if image_size is not None:
        size = parse_size(image_size)
    elif len(sizes) > 1:
        raise InpNetError(f"the runs were trained at different sizes {sizes}; pass --image-size")
    else:
        size = sizes[0] if sizes else (BASELINE_IMAGE_SIZE, BASELINE_IMAGE_SIZE)
    patch = patches[-1] if patches else BASELINE_PATCH_SIZE
    for p in patches:
        if patch % p:
            raise InpNetError(f"the runs' patch sizes {patches} do not nest; generated masks need one grid")
    if size[0] % patch or size[1] % patch:
        raise InpNetError(f"eval size {size[0]}x{size[1]} is not divisible by the patch size {patch}")
    return size, patch


def _grid_rows(sets: list[MaskSet]) -> list[MaskSet]:
    """A few inpainting sets of different kinds for the figure grid: one per family, preferred first."""
    preferred = ("random-50", "center_middle-25", "thick")
    inpainting = [s for s in sets if s.family != "restoration"]
    picks: list[MaskSet] = []
    for family in dict.fromkeys(s.family for s in inpainting):
        members = [s for s in inpainting if s.family == family]
        picks.append(next((s for s in members if s.name in preferred), members[len(members) // 2]))
    extra = [s for s in inpainting if s not in picks]
    return (picks + extra)[: max(GRID_ROWS, len(picks))]


def run_ablation(
    runs: Sequence[str | os.PathLike],
    baselines: Sequence[str],
    images: Sequence[str | os.PathLike],
    mask_folders: Sequence[str | os.PathLike] = (),
    image_size: int | Sequence[int] | None = None,
    limit: int | None = 100,
    seed: int = 0,
    batch_size: int = 32,
    mask_sets: Sequence[str] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> AblationResult:
    """Evaluate every run and baseline on every mask set -> AblationResult.

    Eval size: `image_size`, else the runs' training size (they must share it). Generated masks use the
    runs' (largest) patch grid. `mask_sets` restricts the sets by name or family (default: all).
    """
    from tqdm.auto import tqdm

    from inpnet.devices import resolve_device

    for b in baselines:
        if b not in ALL_BASELINES:
            raise InpNetError(f"unknown baseline {b!r}; expected one of {', '.join(ALL_BASELINES)}")
    specs = [str(r) for r in runs] + list(dict.fromkeys(baselines))
    if not specs:
        raise InpNetError("nothing to evaluate: give --runs and/or --baselines")
    dev = resolve_device(device)
    names = _unique_names(specs)
    methods = {name: load_method(spec, device=dev) for name, spec in zip(names, specs)}
    models = [methods[n] for n, s in zip(names, specs) if s not in ALL_BASELINES]
    size, patch = _eval_geometry(models, image_size)
    sets = select_mask_sets(default_mask_sets(mask_folders), mask_sets)
    data = load_eval_images(images, size, limit, progress)
    n = len(data)

    scans: dict[Path, dict] = {}
    for s in sets:
        if s.source.kind == "folder" and s.source.folder not in scans:
            scans[s.source.folder] = scan_area_buckets(s.source.folder, size, AREA_BUCKETS, need=n)
    result = AblationResult(names, dict(zip(names, specs)), [], {m: {} for m in names}, data, size, patch, seed)
    usable = []
    for s in sets:
        if s.source.kind == "folder" and not scans[s.source.folder][s.source.bucket]:
            reason = f"no mask in {s.source.folder} has a hole area of {bucket_label(s.source.bucket)}"
            result.skipped_sets.append({"name": s.name, "reason": reason})
        else:
            usable.append(s)
    grid_rows = {s.name: i for i, s in enumerate(_grid_rows(usable))}
    pairs = sum(1 for s in usable for m in names if applies(methods[m], s.source))
    bar = tqdm(total=pairs, desc="ablation", unit="eval", disable=not progress)
    for s in usable:
        bucket = scans[s.source.folder][s.source.bucket] if s.source.kind == "folder" else None
        prepared = prepare(s.source, data, patch, seed, bucket_masks=bucket)
        result.mask_sets.append(s)
        result.set_info[s.name] = {
            "family": s.family,
            "description": s.source.describe(),
            "n": len(prepared),
            "hole_fraction": float(prepared.masks.double().mean()),  # mean over images of the hole area
        }
        row = grid_rows.get(s.name)
        keep = [row % len(prepared)] if row is not None else []
        outputs = {}
        for name in names:
            if not applies(methods[name], s.source):
                continue
            bar.set_postfix_str(f"{name} on {s.name}")
            summary, kept = run_method(methods[name], prepared, batch_size, dev, keep=keep,
                                       per_sample=SAMPLE_METRICS)
            summary.pop("per_kind", None)
            result.samples.setdefault(name, {})[s.name] = {"index": list(prepared.indices),
                                                           **summary.pop("samples")}
            result.results[name][s.name] = summary
            if keep:
                outputs[name] = kept[keep[0]]
            bar.update(1)
        if keep:
            i = keep[0]
            inputs, masks, targets = prepared.batch(i, i + 1)
            result.grid.append({
                "set": s.name, "index": prepared.indices[i], "input": inputs[0], "mask": masks[0],
                "target": targets[0], "outputs": outputs,
            })
    bar.close()
    if not result.mask_sets:
        raise InpNetError("no mask set could be evaluated")
    result.grid.sort(key=lambda r: grid_rows[r["set"]])
    return result


# ---- outputs ---------------------------------------------------------------------------------------


def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    if metric == "n":
        return str(int(value))
    return f"{value:.2f}" if metric.startswith("psnr") else f"{value:.4f}"


def _bold_best(metric: str, cells: list[float | None]) -> list[str]:
    """Formatted cells, the best (as displayed) in bold."""
    text = [_fmt(metric, v) for v in cells]
    values = [v for v in cells if v is not None]
    if len(values) < 2:
        return text
    if metric in CLOSEST_TO_ONE:
        best = _fmt(metric, min(values, key=lambda v: abs(math.log(max(v, 1e-9)))))
    else:
        best = _fmt(metric, min(values) if metric in LOWER_IS_BETTER else max(values))
    return [f"**{t}**" if t == best else t for t in text]


def _table(header: list[str], rows: list[list[str]], text_columns: int = 1) -> list[str]:
    """Markdown table; the first `text_columns` columns left-aligned, numbers right-aligned."""
    align = ["---"] * text_columns + ["---:"] * (len(header) - text_columns)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def summary_groups(result: AblationResult) -> list[tuple[str, list[str]]]:
    """(group, set names): one group per inpainting family, one per restoration set."""
    groups: dict[str, list[str]] = {}
    for s in result.mask_sets:
        groups.setdefault(s.name if s.family == "restoration" else s.family, []).append(s.name)
    return list(groups.items())


def group_mean(result: AblationResult, method: str, sets: list[str], metric: str) -> float | None:
    """Mean over `sets` of the method's per-set means (None when it has no value there)."""
    values = [result.results[method].get(s, {}).get(metric) for s in sets]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _margin_metric(result: AblationResult, sets: list[str]) -> str:
    restoration = all(s.family == "restoration" for s in result.mask_sets if s.name in sets)
    return "psnr" if restoration else "psnr_hole"


def sample_table(result: AblationResult, method: str, metric: str) -> dict[str, dict[int, float]]:
    """{set: {image index: value}} of one method and metric."""
    return {set_name: dict(zip(values["index"], values[metric]))
            for set_name, values in result.samples.get(method, {}).items()}


# margins(): {group: {method: (best classical method, metric, Margin)}}
MarginTable = dict[str, dict[str, tuple]]


def margins(result: AblationResult, seed: int = 0) -> MarginTable:
    """For every method that is not a classical baseline, per group: its paired margin to the group's best
    classical method (best by the group mean of the metric: hole PSNR, restoration sets PSNR)."""
    from inpnet.eval.margins import paired_margin

    out: MarginTable = {}
    for group, sets in summary_groups(result):
        metric = _margin_metric(result, sets)
        present = [m for m in result.methods if any(s in result.results[m] for s in sets)]
        classical = [m for m in present if result.method_specs[m] in ALL_BASELINES]
        scored = [m for m in classical if group_mean(result, m, sets, metric) is not None]
        if not scored:
            continue
        best = max(scored, key=lambda m: group_mean(result, m, sets, metric))
        reference = sample_table(result, best, metric)
        for method in present:
            if method in classical:
                continue
            margin = paired_margin(sample_table(result, method, metric), reference, sets, seed)
            if margin is not None:
                out.setdefault(group, {})[method] = (best, metric, margin)
    return out


def _margin_lines(table: MarginTable) -> list[str]:
    if not table:
        return []
    lines = ["", "## Margins to the best classical method (paired, 95 % bootstrap interval over images)", "",
             "Per image, the method's hole PSNR (restoration sets: PSNR) minus the best classical method's (best "
             "by the family mean), averaged over the family's sets; then the mean over images, its interval, "
             "and the images where the method is ahead.", ""]
    rows = [[group, method, best, margin.text()]
            for group, per_method in table.items() for method, (best, _, margin) in per_method.items()]
    return lines + _table(["family", "method", "best classical", "Δ dB [95 % CI], images ahead"], rows,
                          text_columns=3)


def render_markdown(result: AblationResult, margin_table: MarginTable) -> str:
    """results.md: the summary table, the mask sets, then one table per metric (methods x mask sets)."""
    h, w = result.image_size
    lines = [
        "# Ablation results",
        "",
        f"{len(result.images)} images at {h}x{w}, seed {result.seed}, generated masks on a "
        f"{result.patch_size}-pixel patch grid. Metrics on the composite (hole filled, the rest kept); "
        "restoration sets compare the restored image with the clean one (no hole). Best per column in bold; "
        "– = not applicable.",
        "",
        "## Summary (mean over the mask sets of each family)",
        "",
    ]
    header = ["family", "method", *[METRIC_TITLES[m].replace(", full frame", "").replace(", hole only", " hole")
                                    for m in TABLE_METRICS]]
    rows = []
    for group, sets in summary_groups(result):
        methods = [m for m in result.methods if any(s in result.results[m] for s in sets)]
        columns = [_bold_best(k, [group_mean(result, m, sets, k) for m in methods]) for k in TABLE_METRICS]
        rows += [[group, m, *[col[i] for col in columns]] for i, m in enumerate(methods)]
    lines += _table(header, rows, text_columns=2)
    lines += ["", "## Mask sets", ""]
    info = result.set_info
    lines += _table(
        ["mask set", "description", "images", "mean hole area"],
        [[s.name, info[s.name]["description"], str(info[s.name]["n"]), f"{info[s.name]['hole_fraction']:.1%}"]
         for s in result.mask_sets],
        text_columns=2,
    )
    for skipped in result.skipped_sets:
        lines.append(f"\nSkipped {skipped['name']}: {skipped['reason']}.")
    lines += _margin_lines(margin_table)
    for metric in TABLE_METRICS:
        lines += ["", f"## {METRIC_TITLES[metric]}", ""]
        names = [s.name for s in result.mask_sets]
        columns = [_bold_best(metric, [result.results[m].get(s, {}).get(metric) for m in result.methods])
                   for s in names]
        rows = [[m, *[col[i] for col in columns]] for i, m in enumerate(result.methods)]
        lines += _table(["method", *names], rows)
    return "\n".join(lines) + "\n"


def render_csv(result: AblationResult) -> str:
    """results.csv, long format: method, mask_set, metric, value (full precision; not-applicable omitted)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "mask_set", "metric", "value"])
    for method in result.methods:
        for s in result.mask_sets:
            summary = result.results[method].get(s.name)
            if summary is None:
                continue
            for metric in CSV_METRICS:
                if summary.get(metric) is not None:
                    writer.writerow([method, s.name, metric, repr(summary[metric])])
    return buffer.getvalue()


def render_samples_csv(result: AblationResult) -> str:
    """samples.csv: method, mask_set, image (index into the evaluated images), then SAMPLE_METRICS."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "mask_set", "image", *SAMPLE_METRICS])
    for method in result.methods:
        for set_name, values in result.samples.get(method, {}).items():
            for i, index in enumerate(values["index"]):
                writer.writerow([method, set_name, index, *[repr(float(values[k][i])) for k in SAMPLE_METRICS]])
    return buffer.getvalue()


def render_json(result: AblationResult, margin_table: MarginTable) -> str:
    data = {
        "image_size": list(result.image_size),
        "patch_size": result.patch_size,
        "seed": result.seed,
        "images": {"n": len(result.images), "skipped": result.images.skipped},
        "methods": [{"name": m, "spec": result.method_specs[m]} for m in result.methods],
        "mask_sets": [{"name": s.name, **result.set_info[s.name]} for s in result.mask_sets],
        "skipped_sets": result.skipped_sets,
        "results": result.results,
        "summary": {
            group: {m: {k: group_mean(result, m, sets, k) for k in TABLE_METRICS} for m in result.methods
                    if any(s in result.results[m] for s in sets)}
            for group, sets in summary_groups(result)
        },
        "margins": {group: {method: {"reference": best, "metric": metric, **margin.to_dict()}
                            for method, (best, metric, margin) in per_method.items()}
                    for group, per_method in margin_table.items()},
    }
    return json.dumps(data, indent=2) + "\n"


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
    return buffer.getvalue()


def plot_ratio_curve(result: AblationResult, metric: str) -> bytes | None:
    """PNG: `metric` (full frame and hole) against the random-patch ratio, one line per method."""
    from matplotlib.figure import Figure

    sets = sorted((s for s in result.mask_sets if s.family == "random"), key=lambda s: s.ratio)
    if not sets:
        return None
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, key in zip(axes, (metric, f"{metric}_hole")):
        for method in result.methods:
            points = [(s.ratio * 100, result.results[method].get(s.name, {}).get(key)) for s in sets]
            points = [(x, y) for x, y in points if y is not None]
            if points:
                ax.plot(*zip(*points), marker="o", label=method)
        ax.set_xlabel("mask ratio (% of patches, random)")
        ax.set_title(METRIC_TITLES[key])
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7)
    return _png(fig)


def render_grid(result: AblationResult) -> bytes | None:
    """PNG like the paper's figures: rows = images with different masks; columns = masked input, each
    method's output, ground truth."""
    from matplotlib.figure import Figure

    if not result.grid:
        return None
    methods = [m for m in result.methods if any(m in row["outputs"] for row in result.grid)]
    titles = ["masked input", *methods, "ground truth"]
    rows, cols = len(result.grid), len(titles)
    fig = Figure(figsize=(1.3 * cols, 1.3 * rows + 0.3), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for r, row in enumerate(result.grid):
        grey = torch.full_like(row["input"], 0.5)
        masked = row["input"] * (1 - row["mask"]) + grey * row["mask"]  # holes shown in grey
        tiles = [masked, *[row["outputs"].get(m) for m in methods], row["target"]]
        for c, tile in enumerate(tiles):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if tile is not None:
                ax.imshow(tile.clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
            if r == 0:
                ax.set_title(titles[c], fontsize=7)
            if c == 0:
                ax.set_ylabel(row["set"], fontsize=7)
    return _png(fig)


def write_outputs(result: AblationResult, out_dir: str | os.PathLike) -> list[Path]:
    """Write results.md, results.csv, results.json, samples.csv, psnr_vs_ratio.png, ssim_vs_ratio.png,
    figure_grid.png (each atomically) into `out_dir`; returns the paths written."""
    from inpnet.fileio import atomic_write_bytes, atomic_write_text

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InpNetError(f"cannot create folder {out}: {exc.strerror or exc}") from None
    written = []
    margin_table = margins(result, result.seed)  # bootstrapped once, for results.md and results.json
    for name, text in (("results.md", render_markdown(result, margin_table)), ("results.csv", render_csv(result)),
                       ("results.json", render_json(result, margin_table)),
                       ("samples.csv", render_samples_csv(result))):
        atomic_write_text(out / name, text)
        written.append(out / name)
    images = {
        "psnr_vs_ratio.png": plot_ratio_curve(result, "psnr"),
        "ssim_vs_ratio.png": plot_ratio_curve(result, "ssim"),
        "figure_grid.png": render_grid(result),
    }
    for name, data in images.items():
        if data is not None:
            atomic_write_bytes(out / name, data)
            written.append(out / name)
    return written
