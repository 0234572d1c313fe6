"""`inpnet ablate --native`: photos at their own size through the pipeline, with intervals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from inpnet.cli import main
from inpnet.errors import InpNetError
from inpnet.eval.margins import bootstrap_interval
from inpnet.eval.native import (
    classical_method,
    merge_results,
    native_mask,
    run_native,
    summarize,
    write_native_outputs,
)


@pytest.fixture
def mixed_photos(tmp_path):
    """Three photos of different sizes (so nothing assumes a square or a model size)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(40, 56), (64, 48), (50, 50)]):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx / w, yy / h, 0.5 + 0.3 * np.sin(xx / 3.0)], -1)
        noise = rng.normal(0, 0.03, (h, w, 3))
        Image.fromarray((np.clip(base + noise, 0, 1) * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


@pytest.fixture
def nvidia_like(tmp_path):
    folder = tmp_path / "masks"
    folder.mkdir()
    for i in range(3):
        m = np.zeros((64, 64), np.uint8)
        m[10 + 5 * i : 30 + 5 * i, 20:44] = 255
        Image.fromarray(m).save(folder / f"{i:05d}.png")
    return folder


def test_native_masks_follow_the_photo_size_and_are_seeded(nvidia_like):
    files = sorted(nvidia_like.iterdir())
    box = native_mask("box25", (40, 60), 0, 0, files)
    assert box.shape == (40, 60) and box.sum() == 20 * 30 and box[20, 30]
    for name in ("thick", "medium", "nvidia"):
        a = native_mask(name, (45, 70), 3, 0, files)
        assert a.shape == (45, 70) and a.any()
        assert np.array_equal(a, native_mask(name, (45, 70), 3, 0, files))
    with pytest.raises(InpNetError, match="needs --masks"):
        native_mask("nvidia", (10, 10), 0, 0, [])
    with pytest.raises(InpNetError, match="unknown native mask set"):
        native_mask("circles", (10, 10), 0, 0, [])


def test_bootstrap_interval_contains_the_mean_and_shrinks_with_more_samples():
    rng = np.random.default_rng(0)
    small, large = rng.normal(1, 1, 10), rng.normal(1, 1, 1000)
    lo, hi = bootstrap_interval(small)
    assert lo < small.mean() < hi
    lo2, hi2 = bootstrap_interval(large)
    assert hi2 - lo2 < (hi - lo) / 3
    assert all(np.isnan(bootstrap_interval(np.array([1.0]))))


def test_run_native_scores_every_method_on_every_photo_at_its_own_size(mixed_photos, nvidia_like, tmp_path):
    methods = [classical_method(m) for m in ("telea", "patchmatch", "identity", "nlmeans")]
    images = sorted(mixed_photos.iterdir())
    sets = ["medium", "box25", "nvidia", "noise25", "jpeg20"]
    result = run_native(methods, images, sets, nvidia=sorted(nvidia_like.iterdir()), progress=False)
    by = {(r["set"], r["method"]) for r in result.rows}
    assert ("box25", "telea") in by and ("box25", "identity") not in by
    assert ("noise25", "nlmeans") in by and ("jpeg20", "nlmeans") not in by  # a denoiser: not for JPEG
    assert sum(1 for r in result.rows if r["set"] == "box25" and r["method"] == "patchmatch") == 3
    summary = summarize(result)
    pm = summary["box25"]["patchmatch"]
    assert pm["n"] == 3 and pm["texture"]["mean"] > summary["box25"]["telea"]["texture"]["mean"]
    # paired difference to the best classical method: the best one is compared with itself (zero)
    ref = summary["box25"]["telea"]["vs_best_classical"]["reference"]
    assert summary["box25"][ref]["vs_best_classical"]["mean"] == 0
    identity = summary["noise25"]["identity"]["psnr"]["mean"]
    assert summary["noise25"]["nlmeans"]["psnr"]["mean"] > identity  # the denoiser denoises
    written = write_native_outputs(result, tmp_path / "out", command="inpnet ablate --native ...")
    md = (tmp_path / "out" / "native.md").read_text()
    assert "## box25" in md and "patchmatch" in md and "inpnet ablate --native" in md
    assert {p.name for p in written} == {"native.md", "native-samples.csv", "native.json"}


def test_cli_native_with_the_shipped_model_and_adding_to_earlier_results(mixed_photos, tmp_path, capsys):
    first = tmp_path / "first"
    assert main(["ablate", "--native", "--baselines", "telea", "--images", str(mixed_photos),
                 "--mask-sets", "box25", "noise10", "--out", str(first), "--no-progress"]) == 0
    assert main(["ablate", "--native", "--runs", "weights/inpnet-skip-recon-128", "--baselines",
                 "--images", str(mixed_photos), "--mask-sets", "box25", "noise10", "--out", str(tmp_path / "both"),
                 "--add-to", str(first), "--no-progress"]) == 0
    data = json.loads((tmp_path / "both" / "native.json").read_text())
    assert data["methods"] == ["inpnet-skip-recon-128", "inpnet-skip-recon-128+texture",
                               "inpnet-skip-recon-128+texture-synthesis", "telea"]
    box = data["summary"]["box25"]
    plain = box["inpnet-skip-recon-128"]["texture"]["mean"]
    assert box["inpnet-skip-recon-128+texture"]["texture"]["mean"] > plain
    assert box["inpnet-skip-recon-128+texture-synthesis"]["texture"]["mean"] > plain
    assert "inpnet-skip-recon-128" in data["summary"]["noise10"]  # the model restores; telea does not apply
    assert "telea" not in data["summary"]["noise10"]


def test_adding_to_results_for_other_photos_is_refused(mixed_photos, tmp_path):
    methods = [classical_method("telea")]
    images = sorted(mixed_photos.iterdir())
    earlier = run_native(methods, images[:2], ["box25"], progress=False)
    write_native_outputs(earlier, tmp_path / "earlier")
    later = run_native(methods, images, ["box25"], progress=False)
    with pytest.raises(InpNetError, match="other photos"):
        merge_results(later, tmp_path / "earlier")
    # a subset of the earlier photos is fine: the earlier rows are cut to it
    fewer = run_native([classical_method("ns")], images[:1], ["box25"], progress=False)
    merged = merge_results(fewer, tmp_path / "earlier")
    assert {r["photo"] for r in merged.rows} == {images[0].name} and merged.methods == ["ns", "telea"]
