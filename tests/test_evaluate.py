"""`inpnet evaluate` and the evaluation engine: contract JSON, mask sources, restoration, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from inpnet.checkpoint import save_model
from inpnet.cli import main
from inpnet.errors import InpNetError
from inpnet.eval.degrade import degrade
from inpnet.eval.evaluate import (
    EvalImages,
    MaskSource,
    RestorationBaseline,
    evaluate,
    load_eval_images,
    load_method,
    prepare,
    run_method,
    scan_area_buckets,
)
from inpnet.eval.metrics import compute_metrics
from inpnet.models import build_model

CONTRACT_KEYS = {"n", "psnr", "ssim", "l1", "psnr_hole", "ssim_hole", "l1_hole", "per_kind",
                 "method", "mask", "image_size", "seed", "skipped"}
NUMBERS = ("psnr", "ssim", "l1", "psnr_hole", "ssim_hole", "l1_hole")


def _smooth_image(seed: int, h: int = 48, w: int = 64) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 6, 8, generator=g)
    image = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)[0]
    return (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _write_mask(path: Path, rows: slice, cols: slice, size: tuple[int, int] = (40, 40)) -> None:
    mask = np.zeros(size, dtype=np.uint8)
    mask[rows, cols] = 255
    Image.fromarray(mask).save(path)


@pytest.fixture(scope="module")
def images_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    for i in range(12):
        Image.fromarray(_smooth_image(i)).save(folder / f"img{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def masks_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("masks")
    for i in range(5):
        _write_mask(folder / f"m{i}.png", slice(4, 20 + 3 * i), slice(6, 30))
    return folder


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("runs") / "nano-skip"
    save_model(build_model("skip-recon", preset="nano"), folder)
    return folder


def _run_json(tmp_path: Path, args: list[str], name: str = "out.json") -> dict:
    out = tmp_path / name
    assert main(["evaluate", *args, "--json", str(out), "--no-progress"]) == 0
    return json.loads(out.read_text())


def test_baseline_with_mask_folder_writes_the_contract_json(tmp_path, images_dir, masks_dir):
    summary = _run_json(tmp_path, ["--baseline", "telea", "--images", str(images_dir), "--masks", str(masks_dir)])
    assert set(summary) >= CONTRACT_KEYS
    assert summary["n"] == 12
    assert summary["method"] == "telea"
    assert summary["image_size"] == [128, 128]  # the baselines' default size
    assert all(isinstance(summary[k], float) for k in NUMBERS)
    assert summary["psnr_hole"] < summary["psnr"]  # the hole is the hard part; kept pixels are exact
    assert sum(kind["n"] for kind in summary["per_kind"].values()) == 12


def test_checkpoint_run_folder_is_evaluated_at_its_training_size(tmp_path, images_dir, tiny_run):
    summary = _run_json(tmp_path, ["--checkpoint", str(tiny_run), "--images", str(images_dir),
                                   "--mask-kind", "random", "--ratio", "0.5"])
    assert summary["method"] == "nano-skip"
    assert summary["image_size"] == [32, 32]
    assert summary["n"] == 12
    assert summary["hole_fraction"] == 0.5  # 8 of the 16 patches of a 32x32 image, p=8
    assert list(summary["per_kind"]) == ["random"]


def test_generated_structured_masks_report_their_preset(tmp_path, images_dir):
    summary = _run_json(tmp_path, ["--baseline", "ns", "--images", str(images_dir), "--image-size", "32",
                                   "--mask-kind", "structured", "--preset", "top_left", "--ratio", "0.25"])
    assert list(summary["per_kind"]) == ["structured:top_left"]
    assert summary["hole_fraction"] == 0.25
    assert summary["mask"] == "structured top_left 25%"


def test_restoration_mode_compares_the_prediction_with_the_clean_image(tmp_path, images_dir, tiny_run):
    summary = _run_json(tmp_path, ["--checkpoint", str(tiny_run), "--images", str(images_dir),
                                   "--restore", "noise25"])
    assert summary["n"] == 12
    assert isinstance(summary["psnr"], float)
    assert summary["psnr_hole"] is None and summary["hole_fraction"] == 0.0  # no hole in restoration
    assert list(summary["per_kind"]) == ["noise25"]


def test_identity_restoration_scores_the_degraded_input_itself(images_dir):
    data = load_eval_images(sorted(images_dir.iterdir())[:3], 32)
    prepared = prepare(MaskSource.restore("jpeg20"), data)
    summary, _ = run_method(RestorationBaseline("identity"), prepared)
    expected = compute_metrics(degrade(data.get(), "jpeg20"), data.get())
    assert summary["psnr"] == pytest.approx(expected["psnr"].mean().item(), abs=1e-9)


def test_nlmeans_denoises_better_than_identity_on_noise25(images_dir):
    data = load_eval_images(sorted(images_dir.iterdir())[:3], 64)
    prepared = prepare(MaskSource.restore("noise25"), data)
    identity, _ = run_method(load_method("identity"), prepared)
    nlmeans, _ = run_method(load_method("nlmeans"), prepared)
    assert nlmeans["psnr"] > identity["psnr"] + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--baseline", "telea", "--mask-kind", "random", "--ratio", "1.5"], "mask ratio must be in [0, 0.9], got 1.5"),
        (["--baseline", "telea", "--restore", "noise10"], "telea fills holes and cannot restore"),
        (["--baseline", "nlmeans", "--restore", "jpeg20"], "nlmeans is a denoiser"),
        (["--baseline", "telea", "--mask-kind", "random"], "--mask-kind needs --ratio"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(capsys, images_dir, args, message):
    assert main(["evaluate", "--images", str(images_dir), *args, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert message in err


def test_missing_shipped_weights_is_one_line(capsys, monkeypatch, tmp_path, images_dir):
    monkeypatch.setenv("INPNET_WEIGHTS", str(tmp_path / "nowhere"))
    assert main(["evaluate", "--images", str(images_dir), "--mask-kind", "random", "--ratio", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "shipped weights" in err


def test_same_seed_gives_the_same_json_and_another_seed_does_not(tmp_path, images_dir, tiny_run):
    args = ["--checkpoint", str(tiny_run), "--images", str(images_dir), "--mask-kind", "dynamic", "--ratio", "0.6"]
    first = _run_json(tmp_path, [*args, "--seed", "3"], "a.json")
    second = _run_json(tmp_path, [*args, "--seed", "3"], "b.json")
    other = _run_json(tmp_path, [*args, "--seed", "4"], "c.json")
    assert {k: first[k] for k in NUMBERS} == {k: second[k] for k in NUMBERS}
    assert first["hole_fraction"] != other["hole_fraction"]


def test_bad_image_files_are_skipped_and_listed(tmp_path, images_dir, masks_dir):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in sorted(images_dir.iterdir())[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "broken.jpg").write_bytes(b"not an image")
    summary = _run_json(tmp_path, ["--baseline", "telea", "--images", str(folder), "--masks", str(masks_dir),
                                   "--image-size", "32"])
    assert summary["n"] == 3
    assert [Path(s["path"]).name for s in summary["skipped"]] == ["broken.jpg"]


def test_every_method_sees_the_same_masks_and_images_get_different_ones(images_dir):
    data = load_eval_images(sorted(images_dir.iterdir()), 32)
    source = MaskSource.generated("irregular", 0.5, family="thick")
    first, second = prepare(source, data, 8, seed=1), prepare(source, data, 8, seed=1)
    assert torch.equal(first.masks, second.masks)
    assert not torch.equal(first.masks[0], first.masks[1])


def test_results_do_not_depend_on_the_batch_size(images_dir):
    data = load_eval_images(sorted(images_dir.iterdir())[:5], 32)
    prepared = prepare(MaskSource.generated("random", 0.5), data, 8, seed=0)
    one, _ = run_method(load_method("biharmonic"), prepared, batch_size=1)
    all_, _ = run_method(load_method("biharmonic"), prepared, batch_size=5)
    assert one == all_


def test_mask_folder_pairs_masks_by_file_stem(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i, name in enumerate(["a", "b"]):
        Image.fromarray(_smooth_image(i, 32, 32)).save(images / f"{name}.png")
    _write_mask(masks / "b.png", slice(0, 16), slice(0, 32), (32, 32))  # half
    _write_mask(masks / "a_mask.png", slice(0, 8), slice(0, 32), (32, 32))  # a quarter
    prepared = prepare(MaskSource.from_folder(masks), load_eval_images(sorted(images.iterdir()), 32))
    assert prepared.masks.float().mean(dim=(1, 2, 3)).tolist() == [0.25, 0.5]
    assert prepared.kinds == ["20-30%", "50-60%"]


def test_area_buckets_sort_masks_by_hole_fraction_after_resizing(tmp_path):
    for i, cols in enumerate([4, 12, 22]):  # 6.25 %, 18.75 %, 34.4 % of 64 columns
        _write_mask(tmp_path / f"{i}.png", slice(0, 64), slice(0, cols), (64, 64))
    found = scan_area_buckets(tmp_path, (32, 32))
    assert [len(found[b]) for b in sorted(found)] == [1, 1, 0, 1, 0, 0]


def test_evaluate_accepts_preloaded_images_at_another_size_only_by_mistake(images_dir):
    data = load_eval_images(sorted(images_dir.iterdir())[:2], 32)
    assert isinstance(data, EvalImages) and data.size == (32, 32)
    with pytest.raises(InpNetError, match="loaded at"):
        evaluate("telea", data, MaskSource.generated("random", 0.5), image_size=64)


def test_cached_images_equal_the_eval_transform(images_dir):
    from torchvision.transforms.v2 import functional as TF

    from inpnet.data import eval_transform
    from inpnet.imageio import open_image

    path = sorted(images_dir.iterdir())[0]
    data = load_eval_images([path], (32, 40))
    expected = eval_transform((32, 40))(TF.pil_to_tensor(open_image(path)))
    assert data.images.dtype == torch.uint8
    assert torch.equal(data.get(0), expected)
