"""The harmonic prefill: known pixels kept, Laplace's equation solved in the hole, the model built on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import lil_matrix
from scipy.sparse.linalg import spsolve

from inpnet import InpNetError, build_model
from inpnet.config import ModelConfig
from inpnet.eval.baselines import ClassicalInpainter
from inpnet.eval.metrics import psnr
from inpnet.models.prefill import harmonic_fill
from inpnet.train import reinit_parameters


def exact_harmonic(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Direct sparse solve of the same discrete problem: each hole pixel = mean of its 4 neighbours, a
    neighbour outside the image replaced by the pixel itself (replicate border). image (H,W), hole (H,W) bool."""
    h, w = hole.shape
    index = -np.ones((h, w), dtype=int)
    index[hole] = np.arange(hole.sum())
    a = lil_matrix((hole.sum(), hole.sum()))
    b = np.zeros(hole.sum())
    for (y, x), i in zip(np.argwhere(hole), index[hole]):
        a[i, i] = 4.0
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            ny, nx = min(max(y + dy, 0), h - 1), min(max(x + dx, 0), w - 1)
            if hole[ny, nx]:
                a[i, index[ny, nx]] -= 1.0
            else:
                b[i] += image[ny, nx]
    out = image.copy()
    out[hole] = spsolve(a.tocsr(), b)
    return out


def holes_48x40() -> torch.Tensor:
    mask = torch.zeros(1, 1, 48, 40)
    mask[..., 10:30, 8:26] = 1  # a 20 x 18 hole: hundreds of plain Jacobi sweeps would be needed
    mask[..., 40:48, 30:40] = 1  # touching two image borders
    return mask


def test_many_sweeps_converge_to_a_direct_solve_of_laplaces_equation():
    image, mask = torch.rand(1, 1, 48, 40, generator=torch.Generator().manual_seed(0)), holes_48x40()
    expected = exact_harmonic(image[0, 0].double().numpy(), mask[0, 0].bool().numpy())
    errors = [np.abs(harmonic_fill(image, mask, n)[0, 0].double().numpy() - expected).max() for n in (8, 128, 1000)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-4


def test_default_sweeps_are_close_to_the_exact_fill_on_a_smooth_image():
    # a photo-like image: low frequencies only (the default is an approximation tuned for such content)
    coarse = torch.rand(1, 1, 6, 5, generator=torch.Generator().manual_seed(1))
    image = torch.nn.functional.interpolate(coarse, size=(48, 40), mode="bicubic", align_corners=False)
    mask = holes_48x40()
    expected = exact_harmonic(image[0, 0].double().numpy(), mask[0, 0].bool().numpy())
    got = harmonic_fill(image, mask)[0, 0].double().numpy()
    hole = mask[0, 0].bool().numpy()
    assert np.abs(got - expected)[hole].mean() < 0.01
    assert np.abs(got - expected)[hole].mean() < 0.2 * np.abs(image[0, 0].numpy() - 0.5)[hole].mean()


def test_a_linear_ramp_is_filled_exactly():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    ramp = (0.2 + 0.3 * xx + 0.4 * yy).expand(1, 3, 64, 64)  # harmonic: its own solution
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 20:40] = 1
    filled = harmonic_fill(ramp * (1 - mask), mask)
    assert (filled - ramp).abs().max() < 5e-3


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 37), w=st.integers(1, 37), channels=st.sampled_from([1, 3]), seed=st.integers(0, 2**16),
)
def test_known_pixels_are_kept_and_hole_content_is_ignored(h, w, channels, seed):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(2, channels, h, w, generator=g)
    mask = (torch.rand(2, 1, h, w, generator=g) > 0.5).float()
    filled = harmonic_fill(image, mask)
    assert filled.shape == image.shape and torch.isfinite(filled).all()
    keep = mask.expand_as(image) == 0
    assert torch.equal(filled[keep], image[keep])
    noisy = image + mask * torch.rand(image.shape, generator=g)  # other values in the hole
    assert torch.equal(harmonic_fill(noisy, mask), filled)
    for b in range(2):  # maximum principle: the fill stays within the range of the known pixels
        if (mask[b] == 0).any():
            known = image[b][keep[b]]
            assert filled[b].min() >= known.min() - 1e-6 and filled[b].max() <= known.max() + 1e-6
        else:
            assert torch.equal(filled[b], torch.full_like(filled[b], 0.5))  # nothing known: mid-grey


def test_edge_cases_no_hole_and_all_hole():
    image = torch.rand(2, 3, 16, 16)
    assert torch.equal(harmonic_fill(image, torch.zeros(2, 1, 16, 16)), image)
    assert torch.equal(harmonic_fill(image, torch.ones(2, 1, 16, 16)), torch.full_like(image, 0.5))


def test_fill_runs_in_float32_under_bf16_autocast():
    image, mask = torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 8:20] = 1
    reference = harmonic_fill(image, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = harmonic_fill(image, mask)
    assert under_autocast.dtype == torch.float32
    assert torch.equal(under_autocast, reference)


def test_harmonic_baseline_beats_telea_on_a_smooth_image():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 48), indexing="ij")
    image = torch.stack([0.5 + 0.3 * torch.sin(3 * xx), 0.4 + 0.2 * yy, 0.3 + 0.4 * xx * yy]).unsqueeze(0)
    mask = torch.zeros(1, 1, 48, 48)
    mask[..., 12:36, 14:30] = 1
    harmonic = ClassicalInpainter("harmonic")(image * (1 - mask), mask)
    telea = ClassicalInpainter("telea")(image * (1 - mask), mask)
    assert psnr(harmonic.composite, image, mask) > psnr(telea.composite, image, mask)


def prefill_nano(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("skip-recon", preset="nano", in_chans=4, pixel_skip=True, token_threshold=0.5,
                       prefill="harmonic", **overrides)


def stroke_batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, 32, 32, generator=g)
    mask = torch.zeros(2, 1, 32, 32)
    mask[0, :, 4:20, 10:14] = 1
    mask[1, :, 16:32, 0:32] = 1
    return images, mask


def test_a_fresh_prefill_model_outputs_the_prefill_then_learns_a_correction():
    model = prefill_nano()
    images, mask = stroke_batch()
    out = model(images, mask)
    assert torch.equal(out.prediction, harmonic_fill(images * (1 - mask), mask))
    loss = ((out.prediction - images) * mask).square().mean()
    loss.backward()
    assert model.decoder.head.weight.grad.abs().sum() > 0  # the zero head is what learns first
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = loss.item()
    for _ in range(20):
        opt.zero_grad()
        loss = ((model(images, mask).prediction - images) * mask).square().mean()
        loss.backward()
        opt.step()
    assert loss.item() < 0.8 * first


def test_prefill_model_never_sees_hole_content():
    model = prefill_nano().eval()
    torch.nn.init.normal_(model.decoder.head.weight, std=0.05)
    images, mask = stroke_batch()
    with torch.no_grad():
        a = model(images, mask).prediction
        b = model(images + mask * torch.rand_like(images), mask).prediction
    assert torch.equal(a, b)


def test_reinit_resets_only_the_named_module():
    model = prefill_nano()
    for p in model.parameters():
        torch.nn.init.normal_(p)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = reinit_parameters(model, model.config, ["decoder.head"])
    assert names == ["decoder.head.weight", "decoder.head.bias"]
    after = model.state_dict()
    assert torch.count_nonzero(after["decoder.head.weight"]) == 0
    assert all(torch.equal(after[k], before[k]) for k in after if not k.startswith("decoder.head."))
    with pytest.raises(InpNetError, match="names no module"):
        reinit_parameters(model, model.config, ["decoder.nothing"])


@pytest.mark.parametrize(("field", "value"), [("prefill", "telea"), ("prefill_sweeps", 0)])
def test_bad_prefill_settings_are_clear_errors(field, value):
    with pytest.raises(InpNetError, match=field):
        ModelConfig.from_name("skip-recon", "nano", **{field: value})


@pytest.mark.parametrize("shape", [(1, 3, 128, 128), (4, 3, 37, 53), (2, 1, 48, 40), (3, 3, 1, 9), (1, 3, 1, 1)])
def test_the_cpu_opencv_sweeps_match_the_torch_sweeps(shape):
    """On the CPU the sweeps run in OpenCV (per-op overhead); with a gradient they run in torch: the same
    fill up to float rounding, known pixels bit-exact in both."""
    g = torch.Generator().manual_seed(sum(shape))
    image = torch.rand(*shape, generator=g)
    mask = (torch.rand(shape[0], 1, *shape[2:], generator=g) > 0.6).float()
    opencv = harmonic_fill(image, mask)
    with torch.enable_grad():
        in_torch = harmonic_fill(image.clone().requires_grad_(True), mask).detach()
    assert (opencv - in_torch).abs().max() < 1e-5
    known = mask.expand_as(image) == 0
    assert torch.equal(opencv[known], image[known]) and torch.equal(in_torch[known], image[known])


def test_cpu_fills_take_the_opencv_sweeps_and_gradients_the_torch_ones(monkeypatch):
    from inpnet.models import prefill as module

    calls = []
    for name in ("_relax", "_relax_opencv"):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    image, mask = torch.rand(1, 3, 8, 8), torch.zeros(1, 1, 8, 8)
    mask[..., 2:5, 3:7] = 1
    module.harmonic_fill(image, mask)
    assert set(calls) == {"_relax_opencv"}
    calls.clear()
    with torch.enable_grad():
        module.harmonic_fill(image.requires_grad_(True), mask)
    assert set(calls) == {"_relax"}


def test_no_hole_returns_the_image_itself_as_a_new_tensor():
    image = torch.rand(2, 3, 16, 16)
    out = harmonic_fill(image, torch.zeros(2, 1, 16, 16))
    assert torch.equal(out, image) and out.data_ptr() != image.data_ptr()
    mask = torch.zeros(2, 1, 16, 16)
    mask[1, :, 4:9, 4:9] = 1  # one image with a hole: the batch is filled as usual, the other image unchanged
    out = harmonic_fill(image, mask)
    assert torch.equal(out[0], image[0]) and not torch.equal(out[1], image[1])
