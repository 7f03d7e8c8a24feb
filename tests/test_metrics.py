"""Metrics: hand-computed cases, random-cipher reference values, batching and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from imgleak.metrics import adjacent_correlation, expected_npcr_uaci, npcr, psnr, shannon_entropy, ssim, uaci


def _random_images(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)


def _full(value: int, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.full(shape, value, dtype=torch.uint8, device=device)


def test_npcr_and_uaci_by_hand(device):
    a = _full(0, (1, 2, 2), device)
    b = a.clone()
    b[0, 0, 0] = 51
    assert npcr(a, b).item() == pytest.approx(25.0)
    assert uaci(a, b).item() == pytest.approx(100 * 51 / 255 / 4)
    assert uaci(_full(0, (3, 4, 4), device), _full(255, (3, 4, 4), device)).item() == pytest.approx(100.0)
    assert npcr(a, a).item() == 0 and uaci(b, a).item() == uaci(a, b).item()


def test_npcr_and_uaci_of_independent_random_images(device):
    a = _random_images((2, 3, 256, 256), 0, device)
    b = _random_images((2, 3, 256, 256), 1, device)
    expected_npcr, expected_uaci = expected_npcr_uaci()
    assert (expected_npcr, expected_uaci) == pytest.approx((99.6094, 33.4635), abs=1e-4)
    values_npcr, values_uaci = npcr(a, b), uaci(a, b)
    assert values_npcr.shape == (2,) and values_npcr.device == a.device
    assert torch.allclose(values_npcr.cpu(), torch.tensor(expected_npcr), atol=0.1)
    assert torch.allclose(values_uaci.cpu(), torch.tensor(expected_uaci), atol=0.2)


def test_adjacent_correlation(device):
    rows = torch.arange(8, device=device)[:, None]
    cols = torch.arange(10, device=device)[None, :]
    ramp = (rows + 2 * cols).to(torch.uint8).expand(3, 8, 10)  # perfectly correlated in every direction
    for direction in ("horizontal", "vertical", "diagonal"):
        assert adjacent_correlation(ramp, direction).item() == pytest.approx(1.0, abs=1e-6)
    stripes = ((cols % 2) * 200).to(torch.uint8).expand(1, 8, 10)  # 0 200 0 200 ...
    assert adjacent_correlation(stripes, "horizontal").item() == pytest.approx(-1.0, abs=1e-6)
    noise = _random_images((2, 3, 128, 128), 2, device)
    values = adjacent_correlation(noise, "diagonal")
    assert values.shape == (2,) and values.abs().max().item() < 0.03
    assert math.isnan(adjacent_correlation(_full(9, (1, 4, 4), device)).item())


def test_shannon_entropy(device):
    assert shannon_entropy(_full(17, (3, 5, 5), device)).item() == 0.0
    every_value = torch.arange(256, dtype=torch.uint8, device=device).reshape(1, 16, 16)
    assert shannon_entropy(every_value).item() == pytest.approx(8.0)
    two_values = torch.tensor([0, 255], dtype=torch.uint8, device=device).repeat(8).reshape(1, 4, 4)
    batch = torch.stack([every_value.expand(3, 16, 16), _full(1, (3, 16, 16), device)])
    values = shannon_entropy(batch)
    assert values.shape == (2,) and values.device == batch.device
    assert values.tolist() == pytest.approx([8.0, 0.0])
    assert shannon_entropy(two_values).item() == pytest.approx(1.0)


def test_ssim_and_psnr(device):
    x = _random_images((2, 3, 16, 16), 3, device)
    values = ssim(x, x)
    assert values.shape == (2,) and values.device == x.device
    assert torch.allclose(values.cpu(), torch.ones(2))
    assert ssim(x[0], x[0], gaussian=True).item() == pytest.approx(1.0)
    assert ssim(x[0], 255 - x[0]).item() < 0
    # x + noise with known squared error: +10 on half the samples, -20 on a quarter
    base = _full(100, (3, 8, 8), device)
    noise = torch.zeros(3, 8, 8, dtype=torch.int16, device=device)
    noise.view(-1)[: 96] = 10
    noise.view(-1)[96:144] = -20
    noisy = (base.to(torch.int16) + noise).to(torch.uint8)
    mse = (96 * 10**2 + 48 * 20**2) / 192
    assert psnr(base, noisy).item() == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-5)
    assert math.isinf(psnr(base, base).item())


def test_errors(device):
    x = _full(0, (3, 8, 8), device)
    with pytest.raises(ValueError, match="same shape"):
        npcr(x, x[:, :4])
    with pytest.raises(TypeError, match="uint8"):
        uaci(x, x.float())
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(N, C, H, W\)"):
        shannon_entropy(x[0])
    with pytest.raises(ValueError, match="direction must be one of"):
        adjacent_correlation(x, "anti-diagonal")
    with pytest.raises(ValueError, match="no vertical neighbours"):
        adjacent_correlation(_full(0, (3, 1, 8), device), "vertical")
    with pytest.raises(ValueError, match="window must be a positive odd int"):
        ssim(x, x, window=4)
    with pytest.raises(ValueError, match="larger than the images"):
        ssim(x, x, window=9)
    with pytest.raises(TypeError, match="gaussian must be True or False"):
        ssim(x, x, gaussian="yes")
    with pytest.raises(ValueError, match="Gaussian window is 11x11"):
        ssim(x, x, gaussian=True, window=7)


@pytest.mark.parametrize("metric", [ssim, psnr, npcr, uaci])
def test_empty_batch_gives_no_values(metric, device):
    empty = torch.zeros(0, 3, 8, 8, dtype=torch.uint8, device=device)
    values = metric(empty, empty)
    assert values.shape == (0,) and values.dtype == torch.float32 and values.device == empty.device


@pytest.mark.parametrize("metric", [adjacent_correlation, shannon_entropy])
def test_empty_batch_gives_no_values_for_single_input_metrics(metric, device):
    values = metric(torch.zeros(0, 3, 8, 8, dtype=torch.uint8, device=device))
    assert values.shape == (0,) and values.dtype == torch.float32


@pytest.mark.parametrize("metric", [ssim, psnr, npcr, uaci])
def test_pair_errors_name_the_argument(metric, device):
    x = _random_images((2, 3, 8, 8), 0, device)
    first, second = ("x", "y") if metric in (ssim, psnr) else ("a", "b")
    with pytest.raises(ValueError, match=f"{first} and {second} must have the same shape"):
        metric(x, x[:1])
    with pytest.raises(TypeError, match=f"{second} must have dtype torch.uint8"):
        metric(x, x.float())
    with pytest.raises(TypeError, match=f"{first} must be a torch.Tensor"):
        metric(x.cpu().numpy(), x)
    with pytest.raises(ValueError, match=f"{first} has no channels"):
        metric(x[:, :0], x[:, :0])


def test_ssim_accepts_numpy_window_and_refuses_non_integers(device):
    x = _random_images((2, 3, 8, 8), 1, device)
    assert torch.equal(ssim(x, 255 - x, window=np.int64(3)), ssim(x, 255 - x, window=3))
    for window in (3.0, "3", True):
        with pytest.raises(ValueError, match="window must be a positive odd int"):
            ssim(x, x, window=window)
    assert ssim(x, x, gaussian=np.bool_(False)).tolist() == [1.0, 1.0]
