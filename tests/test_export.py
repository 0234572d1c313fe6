"""ONNX export: onnxruntime reproduces PyTorch (dynamic batch, symbolic visible-token count, ragged masks, ratios
0 / 0.5 / 0.9), the packed graph equals the padded one, int8 within its tolerance, OnnxInpainter, bad files, CLI."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from inpnet import InpNetError, build_model
from inpnet.checkpoint import save_model
from inpnet.cli import main
from inpnet.export import (
    CONFIG_KEY,
    INT8_TOLERANCE,
    PACKED_INPUTS,
    OnnxInpainter,
    check_onnx,
    export_onnx,
    graph_inputs,
)
from inpnet.masks import irregular_pixel_mask, pixel_to_token_mask, random_token_mask, token_to_pixel_mask
from inpnet.models.output import InpaintOutput
from inpnet.predict import InpaintPipeline

ATOL = 1e-4
GRID, PATCH = (4, 4), 8  # nano: 32x32 images, 8x8 patches


def release_like_nano(sweeps: int = 32) -> torch.nn.Module:
    """A nano InP-Net with the release model's switches: mask channel, pixel path, partial-patch threshold,
    harmonic prefill with its 32 sweeps per level (its zero-initialised head randomised, so the network's part
    of the output is checked)."""
    torch.manual_seed(0)
    model = build_model("skip-recon", preset="nano", in_chans=4, pixel_skip=True, token_threshold=0.5,
                        prefill="harmonic", prefill_sweeps=sweeps)
    torch.nn.init.normal_(model.decoder.head.weight, std=0.05)
    return model.eval()


def ragged_masks(seed: int = 0) -> torch.Tensor:
    """(4, 1, 32, 32): no hole, 3 patches, an irregular stroke mask (partial patches), every patch masked."""
    tokens = torch.zeros(4, 16, dtype=torch.bool)
    tokens[1, [1, 6, 11]] = True
    tokens[3] = True
    masks = token_to_pixel_mask(tokens, GRID, PATCH)
    masks[2:3] = irregular_pixel_mask(1, (32, 32), "medium", torch.Generator().manual_seed(seed))
    return masks


def images(batch: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = release_like_nano()
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx")
    return model, path


@pytest.mark.parametrize("which", [[0, 2], [1, 2, 3]], ids=["batch2", "batch3"])
def test_onnxruntime_matches_pytorch_for_ragged_masks(exported, which):
    model, path = exported
    x, m = images(len(which), seed=len(which)), ragged_masks()[which]
    with torch.inference_mode():
        expected = model(x, m)
    got = OnnxInpainter(path)(x, m)
    assert (got.composite - expected.composite).abs().max().item() <= ATOL
    assert (got.prediction - expected.prediction).abs().max().item() <= ATOL


def ratio_masks(ratio: float, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """(batch, 1, 32, 32) random patch masks hiding round(ratio * 16) patches each."""
    tokens = random_token_mask(batch, GRID, ratio, generator=torch.Generator().manual_seed(seed))
    return token_to_pixel_mask(tokens, GRID, PATCH)


@pytest.mark.parametrize("ratio", [0.0, 0.5, 0.9])
def test_onnxruntime_matches_pytorch_at_each_ratio(exported, ratio):
    model, path = exported
    x, m = images(2, seed=7), ratio_masks(ratio)
    with torch.inference_mode():
        expected = model(x, m)
    got = OnnxInpainter(path)(x, m)
    assert (got.prediction - expected.prediction).abs().max().item() <= ATOL
    assert (got.composite - expected.composite).abs().max().item() <= ATOL


def test_visible_token_count_is_a_symbolic_axis_of_the_graph(exported):
    _, path = exported
    session = OnnxInpainter(path).session
    inputs = {i.name: i.shape for i in session.get_inputs()}
    assert tuple(inputs) == PACKED_INPUTS
    batch, visible = inputs["ids"]
    assert isinstance(batch, str) and isinstance(visible, str)  # symbolic, not a fixed L
    assert inputs["valid"] == [batch, visible]
    assert inputs["image"][1:] == [3, 32, 32]


def test_graph_is_fed_only_the_visible_tokens(exported):
    model, _ = exported
    feeds = graph_inputs(model.config, images(3), ratio_masks(0.75, batch=3))
    assert feeds["ids"].shape == (3, 4)  # 16 - round(0.75 * 16) visible tokens, not 16
    assert feeds["valid"].all()


def test_packed_graph_gives_the_padded_graphs_output(exported):
    """The same file fed N = the largest visible count, or all L slots (the old padded graph's work), and
    PyTorch with static shapes (padded to L): one output."""
    model, path = exported
    x, m = images(3, seed=3), ragged_masks()[1:]
    packed = OnnxInpainter(path)(x, m)
    padded = OnnxInpainter(path, full_length=True)(x, m)
    model.static_shapes = True
    try:
        with torch.inference_mode():
            static = model(x, m)
    finally:
        model.static_shapes = False
    assert (packed.prediction - padded.prediction).abs().max().item() <= 1e-5
    assert (padded.prediction - static.prediction).abs().max().item() <= ATOL


def test_graph_size_does_not_grow_with_the_prefill_sweeps(tmp_path):
    """The prefill runs outside the graph (in torch, for both runtimes): 2 or 32 sweeps, the same graph."""
    import onnx

    two = export_onnx(release_like_nano(sweeps=2), tmp_path / "two.onnx", exporter="torchscript")
    many = export_onnx(release_like_nano(sweeps=32), tmp_path / "many.onnx", exporter="torchscript")
    assert len(onnx.load(two).graph.node) == len(onnx.load(many).graph.node)


def test_int8_path_stays_within_its_tolerance(exported):
    from inpnet.export import max_diff

    model, path = exported
    int8 = OnnxInpainter(path, quantize="int8")
    assert int8.quantized == "int8"
    diff = max_diff(model, int8, batch=3, seed=2)
    assert 0 < diff <= INT8_TOLERANCE  # quantized (not the float graph), within the measured tolerance


def test_export_can_write_the_int8_model(tmp_path, exported):
    import onnx

    model, _ = exported
    path = export_onnx(model, tmp_path / "int8.onnx", exporter="torchscript", quantize="int8")
    graph = onnx.load(path).graph
    ops = {node.op_type for node in graph.node}
    assert "DynamicQuantizeLinear" in ops and "MatMulInteger" in ops  # MatMuls: dynamic
    made_by = {out: node.op_type for node in graph.node for out in node.output}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    assert convs and all(made_by.get(node.input[0]) == "DequantizeLinear" for node in convs)  # Convs: static QDQ
    assert OnnxInpainter(path).quantized == "int8"
    assert check_onnx(model, path) <= INT8_TOLERANCE
    x, m = images(2), ragged_masks()[:2]  # quantize="int8" on an int8 file does not quantize it twice
    again = OnnxInpainter(path, quantize="int8")(x, m).prediction
    assert torch.equal(again, OnnxInpainter(path)(x, m).prediction)


def test_calibration_feeds_are_fixed_photos_with_and_without_holes(exported):
    from inpnet.export import CALIBRATION_MASK_SEEDS, CALIBRATION_NOISE, CALIBRATION_PHOTOS, calibration_feeds

    model, _ = exported
    feeds = calibration_feeds(model.config)
    per_photo = 1 + len(CALIBRATION_MASK_SEEDS) + len(CALIBRATION_NOISE)
    assert len(feeds) == len(CALIBRATION_PHOTOS) * per_photo + 1  # + one uniform-noise image
    assert all(set(f) == set(PACKED_INPUTS) and f["image"].shape == (1, 3, 32, 32) for f in feeds)
    hole_fractions = [float(f["mask"].mean()) for f in feeds]
    assert hole_fractions[0] == 0 and max(hole_fractions) > 0.1  # restoration and inpainting ranges
    assert float(feeds[0]["image"].std()) > 0.05 and float(feeds[0]["image"].max()) <= 1  # a photo in [0, 1]
    again = calibration_feeds(model.config)
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(feeds, again) for k in a)  # deterministic
    padded = calibration_feeds(model.config, layout="padded")
    assert set(padded[0]) == {"image", "mask"}


def test_pipeline_from_onnx_int8_is_close_to_pytorch(exported):
    model, path = exported
    g = torch.Generator().manual_seed(1)
    photo = (torch.rand(64, 80, 3, generator=g) * 255).to(torch.uint8).numpy()
    hole = np.zeros((64, 80), bool)
    hole[20:40, 30:55] = True
    torch_pipe = InpaintPipeline(model, fixed_size=True)
    int8_pipe = InpaintPipeline.from_onnx(path, quantize="int8")
    expected = np.asarray(torch_pipe(photo, hole)).astype(int)
    got = np.asarray(int8_pipe(photo, hole)).astype(int)
    assert np.abs(got - expected).max() <= round(255 * INT8_TOLERANCE)
    assert np.array_equal(got[~hole], photo[~hole])


def test_unknown_quantization_is_an_inpnet_error(exported):
    _, path = exported
    with pytest.raises(InpNetError, match="unknown quantization"):
        OnnxInpainter(path, quantize="int4")


def test_export_restores_static_shapes_and_training_mode(tmp_path):
    torch.manual_seed(0)
    model = build_model("skip-recon", preset="nano").train()
    export_onnx(model, tmp_path / "m.onnx", exporter="torchscript")
    assert model.training is True
    assert model.static_shapes is False


def test_mae_exports_with_the_torchscript_exporter(tmp_path):
    torch.manual_seed(0)
    model = build_model("mae", preset="nano").eval()
    path = export_onnx(model, tmp_path / "mae.onnx", exporter="torchscript")
    assert check_onnx(model, path, batch=3) <= ATOL


def test_onnx_file_carries_the_model_config(exported):
    model, path = exported
    inpainter = OnnxInpainter(path)
    assert inpainter.config == model.config
    assert CONFIG_KEY in inpainter.session.get_modelmeta().custom_metadata_map


def test_onnx_inpainter_returns_inpaint_output_keeping_known_pixels(exported):
    _, path = exported
    x, m = images(2), ragged_masks()[[1, 2]]
    out = OnnxInpainter(path)(x, m)
    assert isinstance(out, InpaintOutput)
    assert out.prediction.shape == out.composite.shape == (2, 3, 32, 32)
    assert torch.equal(out.token_mask, pixel_to_token_mask(m, PATCH, 0.5))
    keep = m.expand_as(x) == 0
    assert torch.equal(out.composite[keep], x[keep])


def test_onnx_inpainter_rejects_another_image_size(exported):
    _, path = exported
    with pytest.raises(InpNetError, match="takes 32x32 images"):
        OnnxInpainter(path)(torch.rand(1, 3, 64, 64), torch.zeros(1, 1, 64, 64))


def test_the_device_chooses_the_onnx_providers(exported, tmp_path, capsys):
    import onnxruntime as ort

    _, path = exported
    session = InpaintPipeline.from_onnx(path, device="auto", texture=0).model.session
    expected = "CUDAExecutionProvider" if "CUDAExecutionProvider" in ort.get_available_providers() else "CPUExecutionProvider"
    assert session.get_providers()[0] == expected
    assert OnnxInpainter(path, device="cpu").session.get_providers() == ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():  # `--device cuda` used to be ignored
        photo, hole = tmp_path / "p.png", tmp_path / "h.png"
        Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(photo)
        Image.fromarray(np.pad(np.full((8, 8), 255, np.uint8), 12)).save(hole)
        code = main(["inpaint", "--image", str(photo), "--mask", str(hole), "-o", str(tmp_path / "o.png"),
                     "--checkpoint", str(path), "--device", "cuda", "--texture", "0"])
        err = capsys.readouterr().err.strip()
        assert code != 0 and "no CUDA provider" in err and "\n" not in err
        assert not (tmp_path / "o.png").exists()


def test_corrupt_onnx_file_is_an_inpnet_error(tmp_path, exported):
    _, good = exported
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(good.read_bytes()[:500])
    with pytest.raises(InpNetError, match="not a valid ONNX model") as info:
        OnnxInpainter(bad)
    assert "\n" not in str(info.value)


def test_a_file_whose_config_disagrees_with_its_graph_is_refused_on_loading(tmp_path):
    """Review 12: an export whose metadata was changed to another size failed on its first call with an
    onnxruntime traceback."""
    import json

    import onnx

    from inpnet.export import CONFIG_KEY, _set_metadata

    path = export_onnx(release_like_nano(), tmp_path / "m.onnx")
    proto = onnx.load(str(path))
    config = json.loads(next(e.value for e in proto.metadata_props if e.key == CONFIG_KEY))
    _set_metadata(proto, {CONFIG_KEY: json.dumps({**config, "image_size": [64, 64]})})
    onnx.save(proto, str(tmp_path / "lying.onnx"))
    with pytest.raises(InpNetError, match="its graph takes 32x32 images but its config says 64x64"):
        OnnxInpainter(tmp_path / "lying.onnx")


def test_missing_onnx_file_is_an_inpnet_error(tmp_path):
    with pytest.raises(InpNetError, match="no ONNX file"):
        OnnxInpainter(tmp_path / "absent.onnx")


def test_export_creates_a_missing_folder_like_every_command_and_a_file_in_the_way_is_an_inpnet_error(tmp_path):
    """Review 10: export-onnx refused a missing folder that evaluate, inpaint and train create."""
    export_onnx(release_like_nano(), tmp_path / "no" / "such" / "m.onnx")
    assert (tmp_path / "no" / "such" / "m.onnx").is_file()
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(InpNetError, match="cannot create folder .*file"):
        export_onnx(release_like_nano(), tmp_path / "file" / "m.onnx")


def test_cli_export_onnx_from_a_checkpoint_reports_the_check(tmp_path, capsys):
    model = release_like_nano()
    save_model(model, tmp_path / "ck")
    out = tmp_path / "model.onnx"
    assert main(["export-onnx", "--checkpoint", str(tmp_path / "ck"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "max abs diff" in printed and "(ok," in printed
    x, m = images(3), ragged_masks()[:3]
    with torch.inference_mode():
        expected = model(x, m).composite.numpy()
    assert np.abs(OnnxInpainter(out)(x, m).composite.numpy() - expected).max() <= ATOL


def test_cli_export_onnx_will_not_overwrite_without_the_flag(tmp_path, capsys):
    save_model(release_like_nano(), tmp_path / "ck")
    out = tmp_path / "model.onnx"
    out.write_bytes(b"keep me")
    assert main(["export-onnx", "--checkpoint", str(tmp_path / "ck"), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"


def test_model_at_another_size_gives_the_original_models_output_there():
    model = release_like_nano()
    big = model.at_size(48)
    assert big.config.image_size == (48, 48) and big.pos_embed.shape[1] == 36 and not big.training
    x = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(2))
    m = irregular_pixel_mask(2, (48, 48), "medium", torch.Generator().manual_seed(3))
    with torch.inference_mode():
        assert torch.allclose(big(x, m).composite, model(x, m).composite, atol=1e-6)
    assert model.config.image_size == (32, 32)  # the original is unchanged
    with pytest.raises(InpNetError, match="image_size"):
        model.at_size(44)  # not a multiple of the patch size


def test_a_model_folded_for_inference_moves_to_another_size_too():
    from inpnet.models.decoder import fold_batchnorms

    model = release_like_nano()
    folded = fold_batchnorms(copy.deepcopy(model))  # what InpaintPipeline.from_pretrained holds
    big = folded.at_size(48)
    assert big.config.image_size == (48, 48) and folded.config.image_size == (32, 32)
    x = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(2))
    m = irregular_pixel_mask(2, (48, 48), "medium", torch.Generator().manual_seed(3))
    with torch.inference_mode():
        assert torch.allclose(big(x, m).composite, model(x, m).composite, atol=1e-5)
    big.pos_embed.data.zero_()  # a copy: the folded original keeps its own table
    assert folded.pos_embed.abs().sum() > 0


def test_cli_export_onnx_at_another_image_size(tmp_path, capsys):
    model = release_like_nano()
    save_model(model, tmp_path / "ck")
    out = tmp_path / "model48.onnx"
    assert main(["export-onnx", "--checkpoint", str(tmp_path / "ck"), "-o", str(out), "--image-size", "48"]) == 0
    assert "48x48" in capsys.readouterr().out
    runner = OnnxInpainter(out)
    assert runner.config.image_size == (48, 48)
    x = torch.rand(3, 3, 48, 48, generator=torch.Generator().manual_seed(4))
    m = irregular_pixel_mask(3, (48, 48), "thick", torch.Generator().manual_seed(5))
    with torch.inference_mode():
        expected = model(x, m).composite.numpy()
    assert np.abs(runner(x, m).composite.numpy() - expected).max() <= ATOL
    assert main(["export-onnx", "--checkpoint", str(tmp_path / "ck"), "-o", str(tmp_path / "bad.onnx"),
                 "--image-size", "44"]) == 2
    assert "image_size" in capsys.readouterr().err and not (tmp_path / "bad.onnx").exists()


def test_only_an_inpnet_model_can_be_exported_at_another_size():
    from inpnet.export import model_at_size

    mae = build_model("mae", preset="nano")
    with pytest.raises(InpNetError, match="--image-size needs an InP-Net model"):
        model_at_size(mae, 48, "--image-size")
    assert model_at_size(release_like_nano(), 48, "--onnx-at").config.image_size == (48, 48)
