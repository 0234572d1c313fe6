"""`inpnet inpaint` (one file, folders, bad files, no overwriting) and `inpnet demo`, on a tiny model."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import time_limit
from inpnet.checkpoint import save_model
from inpnet.cli import main
from inpnet.export import export_onnx
from inpnet.models import build_model
from inpnet.predict import InpaintPipeline


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return save_model(build_model("skip-recon", preset="nano"), tmp_path_factory.mktemp("ck") / "nano").parent


def write_photo(path: Path, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return arr


def write_mask(path: Path, h: int = 48, w: int = 64) -> np.ndarray:
    hole = np.zeros((h, w), dtype=bool)
    hole[10:20, 20:34] = True
    Image.fromarray(hole).save(path)
    return hole


@pytest.fixture
def folder(tmp_path) -> Path:
    """images/{a,b,c}.png with b corrupt, masks/{a,b,c}.png."""
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    for i, stem in enumerate("abc"):
        write_photo(tmp_path / "images" / f"{stem}.png", seed=i)
        write_mask(tmp_path / "masks" / f"{stem}.png")
    (tmp_path / "images" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    return tmp_path


def run_cli(*args) -> int:
    return main(["inpaint", *[str(a) for a in args]])


# ---- one file -----------------------------------------------------------------------------------------


def test_one_image_is_inpainted_at_its_size_with_the_pixels_outside_the_hole_kept(ckpt, tmp_path, capsys):
    image = write_photo(tmp_path / "photo.png")
    hole = write_mask(tmp_path / "hole.png")
    rc = run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--mask", tmp_path / "hole.png",
                 "-o", tmp_path / "out.png")
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out.png")
    assert out.shape == image.shape
    assert np.array_equal(out[~hole], image[~hole])


def test_a_pipe_as_image_or_mask_is_refused_in_one_line_not_waited_on(ckpt, tmp_path, capsys):
    """Review 12: a FIFO as --mask hung for good, and as --image was called a folder."""
    write_photo(tmp_path / "a.png")
    write_mask(tmp_path / "m.png")
    os.mkfifo(tmp_path / "pipe.png")
    cases = [(("--image", "pipe.png", "--mask", "m.png"), "--image"), (("--image", "a.png", "--mask", "pipe.png"), "--mask"),
             (("--video", "pipe.png", "--mask", "m.png"), "--video"), (("--video", "a.png", "--mask", "pipe.png"), "--mask")]
    for (a, first, b, second), option in cases:
        with time_limit(60):  # without the check, opening the pipe waits for a writer for good
            rc = run_cli("--checkpoint", ckpt, a, tmp_path / first, b, tmp_path / second, "-o", tmp_path / "out.png")
        err = capsys.readouterr().err
        assert rc == 2 and f"{option} {tmp_path / 'pipe.png'} is not a file or a folder (a pipe or a device?)" in err
    assert not (tmp_path / "out.png").exists()


def test_a_link_loop_and_an_output_named_only_by_its_extension_are_said_so(ckpt, tmp_path, capsys):
    """Review 12: a symlink loop was reported as "does not exist", and `-o DIR/.png` made a folder named .png."""
    write_photo(tmp_path / "a.png")
    write_mask(tmp_path / "m.png")
    (tmp_path / "one").symlink_to(tmp_path / "two")
    (tmp_path / "two").symlink_to(tmp_path / "one")
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "one", "--mask", tmp_path / "m.png",
                   "-o", tmp_path / "o.png") == 2
    assert "is a link that leads nowhere (broken, or a loop)" in capsys.readouterr().err
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "a.png", "--mask", tmp_path / "m.png",
                   "-o", tmp_path / "out" / ".png") == 2
    assert "a file name needs a name before its extension (e.g. out.png)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_restore_needs_no_mask(ckpt, tmp_path):
    write_photo(tmp_path / "photo.png", h=40, w=70)
    out = tmp_path / "restored.png"
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--restore", "-o", out) == 0
    assert Image.open(out).size == (70, 40)


def test_restore_of_a_large_photo_shows_a_tile_progress_bar_unless_told_not_to(ckpt, tmp_path, capsys):
    write_photo(tmp_path / "photo.png", h=200, w=200)  # 64 tiles of the nano model's 32 px: 4 batches
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--restore", "-o",
                   tmp_path / "a.png") == 0
    err = capsys.readouterr().err
    assert "restore:" in err and "/64 [" in err and "tile" in err  # tqdm redraws at most every 0.1 s
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--restore", "--no-progress", "-o",
                   tmp_path / "b.png") == 0
    assert capsys.readouterr().err == ""
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))


def test_a_slow_texture_step_says_what_it_is_doing_and_when_it_is_done(ckpt, tmp_path, capsys, monkeypatch):
    import threading

    import inpnet.texture
    from inpnet.commands import inpaint as inpaint_command

    said = threading.Event()
    say_slow, copy_detail = inpaint_command._SlowTextureNotice._say_slow, inpnet.texture.transfer_texture

    def say_slow_and_tell(notice):
        say_slow(notice)
        said.set()

    def copy_detail_after_the_notice(*args, **kwargs):  # a step that lasts until the notice is out
        assert said.wait(30)
        return copy_detail(*args, **kwargs)

    monkeypatch.setattr(inpaint_command, "SLOW_TEXTURE_NOTICE_SECONDS", 0.01)
    monkeypatch.setattr(inpaint_command._SlowTextureNotice, "_say_slow", say_slow_and_tell)
    monkeypatch.setattr(inpnet.texture, "transfer_texture", copy_detail_after_the_notice)
    write_photo(tmp_path / "photo.png")
    write_mask(tmp_path / "hole.png")
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--mask", tmp_path / "hole.png",
                   "-o", tmp_path / "out.png") == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("inpnet inpaint: photo.png: the network filled the hole in ")
    assert "copying the photo's own detail" in lines[0] and "--texture 0 skips" in lines[0]
    assert lines[1].startswith("inpnet inpaint: photo.png: detail copied in ") and lines[1].endswith(" s")


def test_a_quick_texture_step_or_no_progress_says_nothing(ckpt, tmp_path, capsys, monkeypatch):
    from inpnet.commands import inpaint as inpaint_command

    write_photo(tmp_path / "photo.png")
    write_mask(tmp_path / "hole.png")
    args = ("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--mask", tmp_path / "hole.png")
    assert run_cli(*args, "-o", tmp_path / "quick.png") == 0  # 48 x 64 px: done long before the notice
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(inpaint_command, "SLOW_TEXTURE_NOTICE_SECONDS", 0.0)
    assert run_cli(*args, "-o", tmp_path / "quiet.png", "--no-progress") == 0
    assert capsys.readouterr().err == ""
    assert np.array_equal(np.asarray(Image.open(tmp_path / "quick.png")), np.asarray(Image.open(tmp_path / "quiet.png")))


def test_the_output_file_keeps_the_photos_icc_profile(ckpt, tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(write_photo(tmp_path / "plain.png")).save(tmp_path / "phone.jpg", icc_profile=icc)
    write_mask(tmp_path / "hole.png")
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "phone.jpg", "--mask", tmp_path / "hole.png",
                   "--texture", "0", "-o", tmp_path / "out.jpg") == 0
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.info.get("icc_profile") == icc


def test_restore_self_ensemble_flag_sets_the_views_and_is_refused_without_restore(ckpt, tmp_path, capsys):
    write_photo(tmp_path / "photo.png", h=40, w=70)
    write_mask(tmp_path / "hole.png", h=40, w=70)
    one, eight = tmp_path / "one.png", tmp_path / "eight.png"
    for out, views in ((one, "1"), (eight, "8")):
        assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--restore", "--self-ensemble",
                       views, "-o", out) == 0
    assert not np.array_equal(np.asarray(Image.open(one)), np.asarray(Image.open(eight)))  # the views differ
    capsys.readouterr()
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--mask", tmp_path / "hole.png",
                   "--self-ensemble", "4", "-o", tmp_path / "x.png") == 2
    assert "--self-ensemble applies to --restore only" in capsys.readouterr().err


def test_output_into_an_existing_folder_is_named_after_the_image(ckpt, tmp_path):
    write_photo(tmp_path / "photo.jpg")
    write_mask(tmp_path / "hole.png")
    (tmp_path / "out").mkdir()
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.jpg", "--mask", tmp_path / "hole.png",
                   "-o", tmp_path / "out") == 0
    assert (tmp_path / "out" / "photo.png").is_file()


def test_an_existing_output_is_not_overwritten_without_overwrite(ckpt, tmp_path, capsys):
    write_photo(tmp_path / "photo.png")
    write_mask(tmp_path / "hole.png")
    (tmp_path / "out.png").write_bytes(b"keep me")
    args = ("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--mask", tmp_path / "hole.png",
            "-o", tmp_path / "out.png")
    assert run_cli(*args) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "out.png").read_bytes() == b"keep me"
    assert run_cli(*args, "--overwrite") == 0
    assert Image.open(tmp_path / "out.png").size == (64, 48)


def test_writing_over_the_input_is_refused_even_with_overwrite(ckpt, tmp_path, capsys):
    write_photo(tmp_path / "photo.png")
    write_mask(tmp_path / "hole.png")
    before = (tmp_path / "photo.png").read_bytes()
    rc = run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--mask", tmp_path / "hole.png",
                 "-o", tmp_path / "photo.png", "--overwrite")
    assert rc == 1
    assert "it is an input file" in capsys.readouterr().err
    assert (tmp_path / "photo.png").read_bytes() == before


def test_missing_mask_without_restore_is_a_usage_error(ckpt, tmp_path, capsys):
    write_photo(tmp_path / "photo.png")
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "-o", tmp_path / "o.png") == 2
    assert "--mask is required" in capsys.readouterr().err


def test_an_onnx_checkpoint_is_run_with_onnxruntime_like_pytorch(tmp_path, capsys):
    image = write_photo(tmp_path / "photo.png")
    hole = write_mask(tmp_path / "hole.png")
    torch.manual_seed(0)
    model = build_model("skip-recon", preset="nano").eval()
    with torch.no_grad():  # predictions mid-grey +- a little: untrained, they would clip to 0 / 1 and hide errors
        model.decoder.head.weight.mul_(0.1)
        model.decoder.head.bias.fill_(0.5)
    export_onnx(model, tmp_path / "model.onnx")
    rc = run_cli("--checkpoint", tmp_path / "model.onnx", "--image", tmp_path / "photo.png",
                 "--mask", tmp_path / "hole.png", "-o", tmp_path / "out.png")
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out.png")
    got = np.asarray(Image.open(tmp_path / "out.png")).astype(int)
    # PyTorch on the same model, at the export's fixed size (an ONNX graph takes only its training size)
    expected = np.asarray(InpaintPipeline(model, fixed_size=True)(image, hole)).astype(int)
    assert np.array_equal(got[~hole], image[~hole])
    assert np.abs(got[hole] - image[hole]).mean() > 10  # the hole was painted (the photo is noise)...
    assert ((got[hole] > 0) & (got[hole] < 255)).mean() > 0.9  # (unclipped, so a difference would show)
    assert np.abs(got - expected).max() <= 1  # ...as PyTorch paints it (1e-4 apart before 8-bit rounding)


def test_a_missing_onnx_checkpoint_is_a_usage_error(tmp_path, capsys):
    write_photo(tmp_path / "photo.png")
    write_mask(tmp_path / "hole.png")
    rc = run_cli("--checkpoint", tmp_path / "model.onnx", "--image", tmp_path / "photo.png",
                 "--mask", tmp_path / "hole.png", "-o", tmp_path / "out.png")
    assert rc == 2
    assert f"no ONNX file at {tmp_path / 'model.onnx'}" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


# ---- folders ------------------------------------------------------------------------------------------


def test_a_folder_with_one_corrupt_image_writes_the_others_and_exits_1_naming_it(ckpt, folder, capsys):
    rc = run_cli("--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks",
                 "-o", folder / "out", "--no-progress")
    out, err = capsys.readouterr()
    err = err.strip().splitlines()
    assert rc == 1
    assert len(err) == 1 and "b.png" in err[0] and "corrupt" in err[0]
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["a.png", "c.png"]
    assert out == f"wrote 2 image(s) to {folder / 'out'}; 1 failed: b.png\n"  # the last line names it too


def test_a_folder_run_again_skips_what_it_wrote_and_exits_0(ckpt, folder, capsys):
    (folder / "images" / "b.png").unlink()
    args = ("--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks", "-o", folder / "out",
            "--no-progress")
    assert run_cli(*args) == 0
    (folder / "out" / "a.png").write_bytes(b"keep me")  # the user's own file, not to be replaced
    (folder / "out" / "c.png").unlink()  # as if the first run had stopped before c
    capsys.readouterr()
    assert run_cli(*args) == 0
    out, err = capsys.readouterr()
    assert out == (f"wrote 1 image(s) to {folder / 'out'}; 1 skipped (their outputs exist; --overwrite "
                   "replaces them)\n")
    assert err == f"inpnet inpaint: skipped: {folder / 'out' / 'a.png'} exists; pass --overwrite to replace it\n"
    assert (folder / "out" / "a.png").read_bytes() == b"keep me" and (folder / "out" / "c.png").is_file()


def test_a_folder_job_written_to_a_file_has_no_progress_bar_lines(ckpt, folder, capsys):
    """Review 15: stderr sent to a file held the bar's '0%' redrawn around every skipped line."""
    (folder / "images" / "b.png").unlink()  # the fixture's photo without a mask
    args = ("--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks", "-o", folder / "out")
    assert run_cli(*args) == 0
    capsys.readouterr()
    assert run_cli(*args) == 0  # everything skipped: one line each, nothing else (capsys is no terminal)
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("inpnet inpaint: skipped: ") for line in err), err


def test_ctrl_c_in_a_folder_job_says_what_was_done_and_what_was_not(ckpt, folder, capsys, monkeypatch):
    from inpnet.commands import inpaint

    (folder / "images" / "b.png").unlink()
    write_photo(folder / "images" / "d.png", seed=3)
    write_mask(folder / "masks" / "d.png")
    fill_one, calls = inpaint._fill_one, []

    def stopped_at_the_second(*args, **kwargs):
        calls.append(args[2])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return fill_one(*args, **kwargs)

    monkeypatch.setattr(inpaint, "_fill_one", stopped_at_the_second)
    rc = run_cli("--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks",
                 "-o", folder / "out", "--no-progress")
    out, err = capsys.readouterr()
    assert rc == 130 and out == ""
    assert err == (f"wrote 1 image(s) to {folder / 'out'}; interrupted with 2 not done (the same command "
                   "again does them)\n")
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["a.png"]  # nothing half-written


def test_folder_masks_are_paired_by_stem(ckpt, folder):
    (folder / "images" / "b.png").unlink()
    hole = np.zeros((48, 64), dtype=bool)
    hole[30:40, 5:15] = True
    Image.fromarray(hole).save(folder / "masks" / "c.png")  # c gets another hole than a
    assert run_cli("--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks",
                   "-o", folder / "out") == 0
    c_in = np.asarray(Image.open(folder / "images" / "c.png"))
    c_out = np.asarray(Image.open(folder / "out" / "c.png"))
    assert np.array_equal(np.any(c_out != c_in, axis=2) & ~hole, np.zeros_like(hole))


def test_photos_and_masks_in_one_folder_pair_by_the_mask_suffix_and_no_photo_is_its_own_mask(ckpt, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    photos = {stem: write_photo(shared / f"{stem}.png", seed=i) for i, stem in enumerate("ab")}
    hole = write_mask(shared / "a_mask.png")
    write_mask(shared / "b_mask.png")
    assert run_cli("--checkpoint", ckpt, "--image", shared, "--mask", shared, "-o", tmp_path / "out",
                   "--texture", "0", "--no-progress") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]  # masks are not photos
    out = np.asarray(Image.open(tmp_path / "out" / "a.png"))
    changed = np.any(out != photos["a"], axis=2)
    assert not changed[~hole].any() and changed[hole].mean() > 0.5  # only the hole was filled


def test_one_folder_without_mask_suffixes_is_refused_before_any_work(ckpt, tmp_path, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    write_photo(shared / "a.png")
    write_mask(shared / "b.png")
    assert run_cli("--checkpoint", ckpt, "--image", shared, "--mask", shared, "-o", tmp_path / "out") == 2
    assert "are the same folder" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_an_image_without_a_mask_of_its_name_is_reported_and_never_gets_another_images_mask(ckpt, folder, capsys):
    (folder / "images" / "b.png").unlink()
    write_photo(folder / "images" / "extra.png", seed=7)  # no masks/extra.png
    rc = run_cli("--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks",
                 "-o", folder / "out", "--no-progress")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len(err) == 1 and "extra.png" in err[0] and "no mask named like it" in err[0]
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["a.png", "c.png"]


def test_masks_named_unlike_the_images_are_paired_in_sorted_order_with_a_note(ckpt, folder, capsys):
    (folder / "images" / "b.png").unlink()
    for stem in "abc":
        (folder / "masks" / f"{stem}.png").rename(folder / "masks" / f"m_{stem}.png")
    rc = run_cli("--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks",
                 "-o", folder / "out", "--no-progress")
    err = capsys.readouterr().err
    assert rc == 0 and "paired in sorted order" in err
    assert "2 images, 3 masks: the last 1 unused" in err  # review 12: a count that differs was not said
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["a.png", "c.png"]


def test_an_output_folder_inside_the_image_folder_is_not_read_back_as_input(ckpt, folder, capsys):
    (folder / "images" / "b.png").unlink()
    args = ["--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks",
            "-o", folder / "images" / "filled", "--no-progress"]
    assert run_cli(*args) == 0
    assert run_cli(*args, "--overwrite") == 0  # a second run: the same two photos, not the first run's outputs
    assert sorted(p.name for p in (folder / "images" / "filled").iterdir()) == ["a.png", "c.png"]


def test_folder_output_must_be_a_folder(ckpt, folder, capsys):
    (folder / "file.txt").write_text("x")
    assert run_cli("--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks",
                   "-o", folder / "file.txt") == 2
    assert "-o must be a folder" in capsys.readouterr().err


def test_folder_output_into_the_image_folder_refuses_each_input(ckpt, folder, capsys):
    rc = run_cli("--checkpoint", ckpt, "--image", folder / "images", "--mask", folder / "masks",
                 "-o", folder / "images", "--overwrite", "--no-progress")
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("it is an input file") == 3  # a, b and c: refused before anything is read
    assert (folder / "images" / "b.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n this")


# ---- demo ---------------------------------------------------------------------------------------------


def test_demo_writes_the_figure_and_the_inpainted_images(ckpt, tmp_path, capsys):
    rc = main(["demo", "--checkpoint", str(ckpt), "-o", str(tmp_path / "demo")])
    printed = capsys.readouterr().out.split()
    assert rc == 0
    assert printed[-1] == str(tmp_path / "demo" / "figure.png")
    assert len(printed) == 9 and all(Path(p).is_file() for p in printed)
    figure = Image.open(tmp_path / "demo" / "figure.png")
    assert figure.width > 300 and figure.height > 600
    assert Image.open(tmp_path / "demo" / "astronaut_random50_inpainted.png").size == (96, 96)  # 3x the model's


def test_demo_figure_shows_each_row_s_three_images_in_place(tmp_path):
    from scipy import ndimage

    from inpnet.commands.demo import _figure

    colours = np.array([[[200, 30, 30], [30, 200, 30], [30, 30, 200]],
                        [[200, 200, 30], [200, 30, 200], [30, 200, 200]]], dtype=np.uint8)  # (row, col, RGB)
    rows = [(f"row {r}", *(np.full((32, 32, 3), colours[r, c]) for c in range(3))) for r in range(2)]
    _figure(rows, tmp_path / "figure.png")
    figure = np.asarray(Image.open(tmp_path / "figure.png").convert("RGB")).astype(int)
    for r in range(2):
        for c in range(3):  # the panel of (r, c) is one large region of exactly its colour
            region = (np.abs(figure - colours[r, c].astype(int)).max(axis=-1) <= 2)
            labels, n = ndimage.label(region)
            sizes = np.bincount(labels.ravel())[1:]
            assert n >= 1 and sizes.max() > 150 * 150, (r, c)
            ys, xs = np.nonzero(labels == 1 + sizes.argmax())
            assert (ys.mean() > figure.shape[0] / 2) == (r == 1)  # top row above the bottom one
            assert int(xs.mean() * 3 / figure.shape[1]) == c  # columns left to right


def test_demo_without_shipped_weights_fails_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INPNET_WEIGHTS", str(tmp_path / "none"))
    assert main(["demo", "-o", str(tmp_path / "demo")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "shipped weights" in err
    assert not (tmp_path / "demo").exists()


def _stored_photos(folder: Path) -> dict[str, np.ndarray]:
    """Photos with more than 8-bit RGB holds, as stored (OpenCV's channel order undone): 16-bit colour (which
    Pillow reads as 8-bit without a word), 16-bit grey, 16-bit RGBA, and 8-bit RGBA / grey + alpha whose
    transparent pixels hold colours of their own."""
    rng = np.random.default_rng(0)
    photos = {
        "deep.png": rng.integers(0, 65536, (48, 64, 3)).astype(np.uint16),
        "deep-grey.tif": rng.integers(0, 65536, (48, 64)).astype(np.uint16),
        "deep-clear.png": rng.integers(0, 65536, (48, 64, 4)).astype(np.uint16),
        "clear.png": rng.integers(0, 256, (48, 64, 4)).astype(np.uint8),
        "clear-grey.png": rng.integers(0, 256, (48, 64, 2)).astype(np.uint8),
    }
    for a in (photos["deep-clear.png"], photos["clear.png"], photos["clear-grey.png"]):
        a[:8, :, -1] = 0  # a transparent band (with colours under it) ...
        a[8:12, :, -1] = 128  # ... a half-transparent one
        a[12:, :, -1] = a[12:, :, -1].max()  # opaque below
    for name, a in photos.items():
        if a.ndim == 3 and a.shape[2] == 2:
            Image.fromarray(a).save(folder / name)  # LA
        else:
            cv2.imwrite(str(folder / name), a if a.ndim == 2 else cv2.cvtColor(
                a, cv2.COLOR_RGBA2BGRA if a.shape[2] == 4 else cv2.COLOR_RGB2BGR))
    return photos


def _read_stored(path: Path) -> np.ndarray:
    if Image.open(path).mode == "LA":
        return np.asarray(Image.open(path))
    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return a if a.ndim == 2 else cv2.cvtColor(a, cv2.COLOR_BGRA2RGBA if a.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def test_a_16_bit_or_transparent_photo_keeps_its_depth_and_alpha_outside_the_hole(ckpt, tmp_path, capsys):
    """Written as PNG / TIFF, every pixel outside the hole is the file's own, bit-exact at its depth (alpha and
    the colours under transparent pixels included); the hole holds the 8-bit fill at that depth. Written as
    BMP (8-bit RGB only), the same fill, with a note for what the format drops."""
    hole = write_mask(tmp_path / "hole.png")
    for name, stored in _stored_photos(tmp_path).items():
        outputs = {}
        for suffix in (".png", ".bmp"):
            target = tmp_path / f"out-{Path(name).stem}{suffix}"
            rc = run_cli("--checkpoint", ckpt, "--image", tmp_path / name, "--mask", tmp_path / "hole.png",
                         "-o", target)
            err = capsys.readouterr().err.strip()
            assert rc == 0 and "Traceback" not in err
            outputs[suffix] = (target, err)
        (png, png_err), (bmp, bmp_err) = outputs[".png"], outputs[".bmp"]
        out = _read_stored(png)
        assert out.dtype == stored.dtype and out.shape == stored.shape, name
        assert np.array_equal(out[~hole], stored[~hole]), name
        scale = 257 if stored.dtype == np.uint16 else 1
        eight = np.asarray(Image.open(bmp).convert("RGB")).astype(int)  # (H, W, 3): the 8-bit fill
        colour = out.astype(int) if out.ndim == 2 else out[..., : 3 if out.shape[2] >= 3 else 1].astype(int)
        colour = colour if colour.ndim == 3 else colour[..., None]
        opaque = hole & (stored[..., -1] == stored[..., -1].max() if stored.ndim == 3 and stored.shape[2] in (2, 4)
                         else True)
        assert np.abs(colour[opaque] / scale - eight[opaque][:, : colour.shape[2]]).max() <= 1, name
        assert png_err == "", name  # nothing was dropped
        if "grey" in name and "deep" in name or "clear" in name:  # what Pillow's 8-bit read drops, it says
            assert len(bmp_err.splitlines()) == 1 and bmp_err.count(name) == 1, name
            assert ("16-bit image" if "clear" not in name else "composited on white") in bmp_err, name



def test_a_webp_output_keeps_the_pixels_and_the_transparency_outside_the_hole_at_8_bits(ckpt, tmp_path, capsys):
    """WebP is written lossless, and holds transparency but no 16 bits: a 16-bit photo with transparency keeps
    its transparency there (review 8: it was composited on white), its colours rounded to 8 bits."""
    hole = write_mask(tmp_path / "hole.png")
    for name, stored in _stored_photos(tmp_path).items():
        if not (stored.ndim == 3 and stored.shape[2] in (2, 4)):
            continue  # no transparency
        target = tmp_path / f"out-{Path(name).stem}.webp"
        assert run_cli("--checkpoint", ckpt, "--image", tmp_path / name, "--mask", tmp_path / "hole.png",
                       "-o", target) == 0
        assert capsys.readouterr().err == "", name
        out = np.asarray(Image.open(target).convert("RGBA")).astype(int)
        scale = 257 if stored.dtype == np.uint16 else 1
        eight = np.rint(stored.astype(float) / scale).astype(int)
        eight = eight if eight.shape[2] == 4 else np.dstack([eight[..., :1]] * 3 + [eight[..., 1:]])  # grey + alpha
        visible = ~hole & (eight[..., 3] > 0)  # WebP may drop the colours under fully transparent pixels
        assert np.array_equal(out[..., 3], eight[..., 3]), name  # the transparency, all of it
        assert np.array_equal(out[visible], eight[visible]), name  # the pixels outside the hole, exact


def test_a_jpeg_output_says_that_it_changes_the_pixels_outside_the_hole(ckpt, tmp_path, capsys):
    write_photo(tmp_path / "photo.png")
    write_mask(tmp_path / "hole.png")
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--mask", tmp_path / "hole.png",
                   "-o", tmp_path / "out.jpg") == 0
    assert capsys.readouterr().err == (f"inpnet inpaint: note: {tmp_path / 'out.jpg'}: JPEG is lossy, so the pixels "
                                       "outside the hole change slightly too; a .png, .tif or .webp output keeps "
                                       "them exact\n")


def test_a_read_only_output_folder_is_refused_before_the_model_runs(ckpt, tmp_path, capsys, monkeypatch):
    import inpnet.commands
    import inpnet.predict

    write_photo(tmp_path / "a.png")
    write_mask(tmp_path / "m.png")
    (tmp_path / "ro").mkdir()
    real_access = os.access  # root writes anywhere: the folder's permission is what os.access answers
    monkeypatch.setattr(inpnet.commands.os, "access",
                        lambda path, mode: False if Path(path) == tmp_path / "ro" else real_access(path, mode))
    monkeypatch.setattr(inpnet.predict, "load_pipeline", lambda *a, **k: pytest.fail("the model was loaded"))
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "a.png", "--mask", tmp_path / "m.png",
                   "-o", tmp_path / "ro" / "out.png") == 2
    assert "folder " + str(tmp_path / "ro") + " is not writable" in capsys.readouterr().err


def test_a_phone_photos_exif_is_kept_without_its_orientation(ckpt, tmp_path):
    """Review 8: camera, date and place were dropped from every output. They are kept; the orientation,
    already applied to the pixels, is not (a viewer would turn the photo a second time)."""
    stored = np.random.default_rng(0).integers(0, 256, (64, 48, 3), dtype=np.uint8)  # stored 48 wide, 64 high
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned by 90 degrees: 64 wide, 48 high
    exif[0x010F] = "Phonemaker"
    exif[0x8769] = {0x9003: "2026:11:30 12:00:00"}  # DateTimeOriginal, in the Exif directory
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPS latitude
    Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    write_mask(tmp_path / "hole.png", h=48, w=64)
    for suffix in (".jpg", ".png", ".webp"):
        target = tmp_path / f"out{suffix}"
        assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "phone.jpg", "--mask", tmp_path / "hole.png",
                       "-o", target, "--texture", "0") == 0
        with Image.open(target) as out:
            kept = out.getexif()
            assert out.size == (64, 48), suffix  # upright, as shown
            assert kept.get(0x010F) == "Phonemaker" and 0x0112 not in kept, suffix
            assert kept.get_ifd(0x8769).get(0x9003) == "2026:11:30 12:00:00", suffix
            assert kept.get_ifd(0x8825).get(1) == "N", suffix


def test_a_mask_with_its_sides_swapped_is_said_to_be_drawn_on_the_unturned_photo(ckpt, tmp_path, capsys):
    write_photo(tmp_path / "photo.png")  # 64 wide, 48 high
    write_mask(tmp_path / "hole.png", h=64, w=48)
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--mask", tmp_path / "hole.png",
                   "-o", tmp_path / "out.png", "--texture", "0") == 0
    assert ("mask 48x64 resized to the image size 64x48 (nearest) (its sides swapped: drawn on the photo as "
            "stored, before its EXIF turn? Draw it on the photo as shown)") in capsys.readouterr().err


def test_fps_with_an_image_is_refused(ckpt, tmp_path, capsys):
    write_photo(tmp_path / "photo.png")
    write_mask(tmp_path / "hole.png")
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "photo.png", "--mask", tmp_path / "hole.png",
                   "-o", tmp_path / "out.png", "--fps", "10") == 2
    assert "--fps applies to --video" in capsys.readouterr().err and not (tmp_path / "out.png").exists()


def test_the_api_writes_a_result_as_the_cli_does_with_save_result(ckpt, tmp_path):
    """Review 8, D5: the API's results are 8-bit RGB; `save_result` puts the file's transparency and 16 bits
    back, as `inpnet inpaint` does."""
    from inpnet.originals import save_result
    from inpnet.predict import load_pipeline

    hole = write_mask(tmp_path / "hole.png")
    stored = _stored_photos(tmp_path)["deep-clear.png"]  # 16-bit RGBA
    pipe = load_pipeline(ckpt, "cpu", texture=0.0)
    result = pipe(tmp_path / "deep-clear.png", tmp_path / "hole.png")
    assert result.mode == "RGB"
    assert save_result(tmp_path / "deep-clear.png", result, tmp_path / "api.png") is True
    assert run_cli("--checkpoint", ckpt, "--image", tmp_path / "deep-clear.png", "--mask", tmp_path / "hole.png",
                   "-o", tmp_path / "cli.png", "--texture", "0") == 0
    api, cli = _read_stored(tmp_path / "api.png"), _read_stored(tmp_path / "cli.png")
    assert api.dtype == np.uint16 and np.array_equal(api, cli) and np.array_equal(api[~hole], stored[~hole])
    plain = tmp_path / "plain.jpg"  # a format that holds neither: the 8-bit result as it is
    assert save_result(tmp_path / "deep-clear.png", result, plain) is False and Image.open(plain).size == (64, 48)
