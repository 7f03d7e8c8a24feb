"""The MI bounds as functions of critic scores: closed forms, orderings, MINE's moving average."""

from __future__ import annotations

import math

import pytest
import torch

from imgleak.mi import bounds


def scores(*shape: int, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.parametrize("decay", [0.0, 0.1, 0.5, 0.9, 0.99])
@pytest.mark.parametrize(("a", "b"), [(0.0, 1.0), (-3.0, 2.5), (4.0, -7.0), (80.0, 79.0)])
def test_ema_update_is_the_weighted_mean_of_the_exponentials(decay, a, b):
    """log(d e^a + (1 - d) e^b): the weight d on the OLD average a (swapping the weights fails here)."""
    got = bounds.ema_update(torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64), decay)
    expected = math.log(decay * math.exp(a) + (1 - decay) * math.exp(b))
    assert got.item() == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_ema_update_starts_from_the_batch_and_forgets_at_decay_zero():
    batch = torch.tensor([0.25, -1.5, 30.0])
    assert torch.equal(bounds.ema_update(None, batch, 0.99), batch)
    assert torch.equal(bounds.ema_update(torch.tensor([5.0, 5.0, 5.0]), batch, 0.0), batch)  # exactly, not nearly


def test_dv_nwj_and_smile_on_constant_scores():
    t_joint, t_marg = torch.full((2, 4), 1.5), torch.full((2, 6), -0.5)
    torch.testing.assert_close(bounds.dv(t_joint, t_marg), torch.full((2,), 2.0))
    torch.testing.assert_close(bounds.nwj(t_joint, t_marg), torch.full((2,), 1.5 - math.exp(-1.5)))
    # clipping at tau replaces e^T_marg by e^-tau when T_marg < -tau
    torch.testing.assert_close(bounds.smile(t_joint, t_marg, clip=0.2), torch.full((2,), 1.7))
    torch.testing.assert_close(bounds.smile(t_joint, t_marg, clip=5.0), bounds.dv(t_joint, t_marg))


def test_nwj_never_exceeds_dv_for_the_same_scores():
    t_joint, t_marg = scores(50, 8, seed=1) * 3, scores(50, 20, seed=2) * 3
    assert (bounds.nwj(t_joint, t_marg) <= bounds.dv(t_joint, t_marg) + 1e-12).all()  # log m <= m / e


def test_dv_of_the_true_log_density_ratio_is_the_mutual_information():
    """A discrete pair with known MI: the DV bound at T = log p/q over the exact distributions is I."""
    joint = torch.tensor([[0.4, 0.1], [0.1, 0.4]], dtype=torch.float64)
    product = joint.sum(1, keepdim=True) * joint.sum(0, keepdim=True)
    truth = (joint * (joint / product).log()).sum()
    log_ratio = (joint / product).log()
    # samples weighted by their probability: 1000 copies per 0.1 of mass
    t_joint = torch.cat([log_ratio[i, j].repeat(int(round(joint[i, j].item() * 1e4))) for i in range(2) for j in range(2)])
    t_marg = torch.cat([log_ratio[i, j].repeat(int(round(product[i, j].item() * 1e4))) for i in range(2) for j in range(2)])
    assert bounds.dv(t_joint[None], t_marg[None]).item() == pytest.approx(truth.item(), abs=1e-12)
    assert bounds.nwj((t_joint + 1)[None], (t_marg + 1)[None]).item() == pytest.approx(truth.item(), abs=1e-12)


def test_infonce_is_at_most_log_k_and_reaches_it_for_a_perfect_critic():
    for size in (2, 7, 32):
        random = scores(3, size, size, seed=size) * 4
        assert (bounds.infonce(random) <= math.log(size) + 1e-12).all()
        perfect = 100.0 * torch.eye(size, dtype=torch.float64)[None]
        assert bounds.infonce(perfect).item() == pytest.approx(math.log(size), abs=1e-12)
        assert bounds.infonce(torch.zeros(1, size, size)).item() == pytest.approx(0.0, abs=1e-6)


def test_infonce_matches_its_definition():
    grid = scores(2, 5, 5, seed=3)
    expected = torch.stack([
        torch.stack([grid[e, i, i] - torch.log(torch.exp(grid[e, i]).mean()) for i in range(5)]).mean()
        for e in range(2)
    ])
    torch.testing.assert_close(bounds.infonce(grid), expected)


def test_js_is_maximised_by_the_log_density_ratio():
    """-E_P softplus(-T) - E_Q softplus(T) over two weighted atoms is largest at T = log p/q."""
    p, q = torch.tensor([0.8, 0.2], dtype=torch.float64), torch.tensor([0.3, 0.7], dtype=torch.float64)

    def value(t: torch.Tensor) -> float:
        return float(-(p * torch.nn.functional.softplus(-t)).sum() - (q * torch.nn.functional.softplus(t)).sum())

    best = (p / q).log()
    for shift in (torch.tensor([0.1, 0.0]), torch.tensor([0.0, -0.1]), torch.tensor([0.05, 0.05])):
        assert value(best) > value(best + shift.double())
    assert bounds.js(torch.zeros(1, 3), torch.zeros(1, 5)).item() == pytest.approx(-2 * math.log(2))


def test_off_diagonal_keeps_every_mismatched_pair_in_row_order():
    grid = torch.arange(2 * 4 * 4, dtype=torch.float32).view(2, 4, 4)
    kept = bounds.off_diagonal(grid)
    assert kept.shape == (2, 12)
    for e in range(2):
        expected = [grid[e, i, j].item() for i in range(4) for j in range(4) if i != j]
        assert kept[e].tolist() == expected


def test_mine_surrogate_value_and_gradient():
    t_joint = scores(1, 6, seed=4).requires_grad_()
    t_marg = scores(1, 6, seed=5).requires_grad_()
    log_ema = torch.tensor([0.3], dtype=torch.float64)
    value = bounds.mine_surrogate(t_joint, t_marg, log_ema)
    value.sum().backward()
    torch.testing.assert_close(t_joint.grad, torch.full_like(t_joint, 1 / 6))
    torch.testing.assert_close(t_marg.grad, -torch.exp(t_marg.detach() - 0.3) / 6)
