"""Smoke tests of the figures of the RVT chapter: each returns a Figure with the expected panels."""

from __future__ import annotations

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from imgleak import plots  # noqa: E402
from imgleak.experiments import rvt as rx  # noqa: E402
from imgleak.keys import Key  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _images(n: int = 4, size: int = 16) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_m_neig_plot():
    fig = plots.m_neig_plot(decay=2.0, change_scale=0.5, radius=3.0)
    assert len(fig.axes) == 2 and "decay = 2" in fig.axes[0].get_title()


def test_swap_check_plot():
    check = rx.swap_experiment(_images(), n_swaps=50, seed=0)
    fig = plots.swap_check_plot(check)
    assert "50 swaps" in fig.axes[0].get_title() and "0 raised" in fig.axes[0].get_title()


def test_vortex_key_and_displacement_plots():
    variant = rx.rvt_variant(Key.from_seed(0), "mnist", "faithful")
    vortex_key = variant.cipher.vortex_key(variant.key, (16, 16))
    fig = plots.vortex_key_plot(_images()[0], vortex_key, "key")
    assert len(fig.axes[0].patches) == vortex_key.active
    maps = {mode: rx.pixel_maps(rx.rvt_in_mode(variant, mode), 1, (16, 16)) for mode in ("faithful", "invertible")}
    fig = plots.displacement_plot(maps, (16, 16))
    assert len(fig.axes) == 3  # two maps and the colour bar
    assert "0 never read" in fig.axes[1].get_title()


def test_variant_rows_plot():
    fig = plots.variant_rows_plot({"plain": _images(3), "other": _images(2)})
    assert len(fig.axes) == 6 and fig.axes[0].get_ylabel() == "plain"
    with pytest.raises(ValueError, match="at least one"):
        plots.variant_rows_plot({})


def test_loss_rate_scatter():
    points = pd.DataFrame({"model": ["vit"] * 3, "variant": ["RVT", "RVT s=0.05", "permutation"],
                           "scheme": ["rvt", "rvt", "permutation"], "info_loss_rate": [0.5, 0.2, 0.8],
                           "accuracy_loss_rate": [0.1, 0.02, 0.6]})
    fig = plots.loss_rate_scatter(points, rx.loss_rate_correlation(points), "toy")
    assert "Pearson r = " in fig.axes[0].get_title()
