"""estimate_mi_many: critics trained as one batched ensemble give the separate runs' results, bit for bit."""

from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

from imgleak.mi import estimate_mi, estimate_mi_many
from imgleak.mi.critics import CriticEnsemble, SeparableNetwork, StackedLinear, StatisticsNetwork
from imgleak.mi.ensemble import _Member, _Trainer
from imgleak.mi.mine import NeuralMIConfig, NeuralMIDivergenceError

pytestmark = pytest.mark.usefixtures("one_thread")

QUICK = dict(epochs=3, batch_size=64, hidden=16, progress=False)


def sweep(device, n: int = 400, levels: int = 9) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One x and ``levels`` noisier and noisier y (different dims than x): an n-sweep in small."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 5, generator=generator)
    ys = [x[:, :3] * (levels - k) / levels + torch.randn(n, 3, generator=generator) for k in range(levels)]
    return x.to(device), [y.to(device) for y in ys]


def same_run(a, b) -> bool:
    fields = ("mi_nats", "mi_bits", "train_curve", "test_curve", "objective_curve", "settings", "n_train", "n_test",
              "bound", "epoch", "ceiling_nats")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def assert_matches_separate_runs(many, separate, device) -> None:
    """CPU: every field equal (bit for bit). CUDA: the batched products round differently, so the
    estimates agree to float32 rounding amplified by a few epochs of training."""
    if device.type == "cpu":
        assert all(same_run(a, b) for a, b in zip(many, separate))
    else:
        for a, b in zip(many, separate):
            torch.testing.assert_close(a.test_curve, b.test_curve, rtol=0, atol=1e-3)
            assert a.settings == b.settings


@pytest.mark.parametrize(
    ("options", "seeds"),
    [
        (dict(objective="mine"), 0),  # the chapter's sweep: one x, one seed - x shared
        (dict(objective="mine"), list(range(9))),
        (dict(objective="smile", critic="separable"), [3, 1, 4, 1, 5, 9, 2, 6, 5]),
        (dict(objective="infonce", batch_size=32), 0),
        (dict(objective="dv", early_stopping=1), 0),
    ],
    ids=["mine-shared-x", "mine-nine-seeds", "smile-separable", "infonce-joint", "dv-early-stopping"],
)
def test_an_ensemble_of_nine_is_nine_separate_runs(options, seeds, device):
    x, ys = sweep(device)
    options = {**QUICK, **options}
    many = estimate_mi_many([(x, y) for y in ys], seeds=seeds, device=device, **options)
    per_pair = seeds if isinstance(seeds, list) else [seeds] * len(ys)
    separate = [estimate_mi(x, y, seed=s, device=device, **options) for y, s in zip(ys, per_pair)]
    assert_matches_separate_runs(many, separate, device)
    assert len({r.mi_nats for r in many}) > 1  # the members did learn different things


def test_members_may_stop_early_at_different_epochs(device):
    x, ys = sweep(device, levels=2)
    independent = torch.randn(x.shape[0], 3, generator=torch.Generator().manual_seed(9)).to(device)
    ys = [ys[0], independent, ys[1]]  # the independent pair's held-out bound stops improving first
    options = dict(early_stopping=1, device=device, **{**QUICK, "epochs": 8, "lr": 1e-2, "lr_schedule": "constant"})
    many = estimate_mi_many([(x, y) for y in ys], seeds=[0, 1, 2], **options)
    separate = [estimate_mi(x, y, seed=s, **options) for s, y in enumerate(ys)]
    assert_matches_separate_runs(many, separate, device)
    assert len({len(r.test_curve) for r in many}) > 1, "pick seeds whose runs stop at different epochs"


def test_the_batched_products_used_on_cuda_agree_to_rounding(monkeypatch):
    """CUDA's path (one baddbmm for all members), forced on the CPU: the same runs to float32 rounding."""
    x, ys = sweep(torch.device("cpu"), levels=3)
    exact = {0: [estimate_mi(x, y, seed=0, **QUICK) for y in ys],
             1: estimate_mi_many([(x, y) for y in ys], seeds=[0, 1, 2], **QUICK)}
    monkeypatch.setattr(StackedLinear, "batched", property(lambda self: True))
    for seeds, reference in ((0, exact[0]), ([0, 1, 2], exact[1])):  # x shared, and each member its own x rows
        batched = estimate_mi_many([(x, y) for y in ys], seeds=seeds, **QUICK)
        for a, b in zip(batched, reference):
            torch.testing.assert_close(a.test_curve, b.test_curve, rtol=0, atol=1e-4)


def test_a_pair_given_twice_and_x_equal_to_y(device):
    x, ys = sweep(device, levels=2)
    pairs = [(x, ys[0]), (x, ys[0]), (x, x[:, :3].clone())]
    many = estimate_mi_many(pairs, seeds=[0, 0, 0], device=device, **QUICK)
    assert same_run(many[0], many[1]) if device.type == "cpu" else True
    assert many[2].mi_nats > many[0].mi_nats  # y a copy of part of x: much more information


def test_stacked_layers_compute_what_each_member_computes(device):
    torch.manual_seed(0)
    layers = [nn.Linear(6, 4).to(device) for _ in range(3)]
    stacked = StackedLinear.stack(layers)
    own, shared = torch.randn(3, 10, 6, device=device), torch.randn(10, 6, device=device)
    exact = torch.equal if device.type == "cpu" else torch.allclose
    assert all(exact(stacked(own)[e], layers[e](own[e])) for e in range(3))
    assert all(exact(stacked(shared)[e], layers[e](shared)) for e in range(3))


@pytest.mark.parametrize("network", [StatisticsNetwork, SeparableNetwork])
def test_the_ensemble_scores_as_its_members(network, device):
    torch.manual_seed(1)
    members = [network(4, 3, hidden=8).to(device) for _ in range(2)]
    ensemble = CriticEnsemble(members)
    x, y = torch.randn(2, 6, 4, device=device), torch.randn(2, 6, 3, device=device)
    fx, fy = ensemble.features(x, y)
    paired, grid = ensemble.paired(fx, fy), ensemble.grid(fx, fy)
    for e, member in enumerate(members):
        torch.testing.assert_close(paired[e], member(x[e], y[e]))
        every_pair = member(x[e].repeat_interleave(6, 0), y[e].repeat(6, 1)).view(6, 6)
        torch.testing.assert_close(grid[e], every_pair)


def test_divergence_is_a_result_naming_the_pair(device):
    x, ys = sweep(device, levels=2)
    results = estimate_mi_many([(x, y) for y in ys], lr=50.0, epochs=3, hidden=64, progress=False, device=device)
    for k, result in enumerate(results):
        assert re.match(rf"MINE \(pair {k}, seed 0\) diverged at epoch {result.epoch}: ", result.diverged)
        assert math.isnan(result.mi_nats) and math.isnan(result.mi_bits)
        assert len(result.test_curve) == result.epoch - 1  # the curves end before the epoch it diverged at


@pytest.mark.parametrize("objective", ["mine", "dv", "infonce"])
def test_a_diverging_member_leaves_the_others_equal_to_their_separate_runs(objective, device):
    # without standardisation, pixel-like values in the thousands make the middle member's scores explode
    x, ys = sweep(device, levels=2)
    pairs = [(x, ys[0]), (x * 1000.0, x[:, :3] * 1000.0), (x, ys[1])]
    options = dict(QUICK, objective=objective, standardize=False, device=device)
    results = estimate_mi_many(pairs, seeds=[0, 1, 2], **options)
    assert results[1].diverged is not None and math.isnan(results[1].mi_nats)
    for k in (0, 2):
        assert results[k].diverged is None
        assert same_run(results[k], estimate_mi(*pairs[k], seed=k, **options))
    label = {"mine": "MINE", "dv": "DV", "infonce": "InfoNCE"}[objective]  # the estimator named in the message
    with pytest.raises(NeuralMIDivergenceError, match=rf"^{label} diverged at epoch \d+: "):  # one pair: it raises
        estimate_mi(*pairs[1], seed=1, **options)


@pytest.mark.parametrize(
    ("pairs", "options", "error", "pattern"),
    [
        ([], {}, ValueError, "pairs must be a non-empty sequence"),
        ("xy", {}, ValueError, "pairs must be a non-empty sequence"),
        ([(torch.zeros(100, 2),)], {}, ValueError, r"pairs\[0\] must be an \(x, y\) pair"),
        ([(torch.zeros(100, 2), torch.zeros(99, 2))], {}, ValueError,
         r"pairs\[0\] x and pairs\[0\] y must have the same number of samples"),
        ([(torch.zeros(100, 2), torch.zeros(100, 2)), (torch.zeros(90, 2), torch.zeros(90, 2))], {}, ValueError,
         r"every pair must have the shapes of pairs\[0\]"),
        ([(torch.zeros(100, 2), torch.zeros(100, 2)), (torch.zeros(100, 3), torch.zeros(100, 2))], {}, ValueError,
         r"every pair must have the shapes of pairs\[0\], \(100, 2\) and \(100, 2\); pairs\[1\] has \(100, 3\)"),
        ([(["a"], ["b"])], {}, TypeError, r"pairs\[0\] x must be a tensor"),
        ([(torch.zeros(100, 2), torch.zeros(100, 2))] * 2, dict(seeds=[1, 2, 3]), ValueError,
         r"seeds must be one seed or one per pair \(2\), got 3"),
        ([(torch.zeros(100, 2), torch.zeros(100, 2))], dict(seeds=1.5), TypeError, "seeds must be an int"),
        ([(torch.zeros(100, 2), torch.zeros(100, 2))], dict(objective="mime"), ValueError, "objective must be one of"),
        ([(torch.zeros(100, 2), torch.zeros(100, 2))], dict(critic="deep"), ValueError, "critic must be one of"),
        ([(torch.zeros(100, 2), torch.zeros(100, 2))], dict(epoch=3), TypeError, "epoch"),
        ([(torch.zeros(100, 2), torch.zeros(100, 2))], dict(progress=1), TypeError, "progress must be True or False"),
    ],
)
def test_bad_pairs_and_settings_are_rejected_by_name(pairs, options, error, pattern):
    with pytest.raises(error, match=pattern):
        estimate_mi_many(pairs, **{"epochs": 1, "progress": False, **options})


def test_infonce_never_exceeds_its_ceiling_on_a_perfect_dependence(device):
    x, _ = sweep(device, levels=1)
    result = estimate_mi_many([(x, x * 2)], objective="infonce", critic="separable", device=device,
                              **{**QUICK, "epochs": 6, "lr": 1e-2})[0]
    assert result.ceiling_nats == math.log(64)  # held-out batches of the batch size (80 held-out pairs)
    assert max(result.test_curve) <= result.ceiling_nats
    assert result.mi_nats > 0.5 * result.ceiling_nats  # the true MI is infinite: InfoNCE heads for log K


class _ProductCritic:
    """A stub critic with known scores: T(x, y) = x · y (features are the data themselves)."""

    def features(self, x, y):
        return x, y

    def paired(self, fx, fy):
        return (fx * fy).sum(-1)


@pytest.mark.parametrize("objective,expected", [
    ("smile", 7.0 - 1.0),  # SMILE clips the shuffled scores (8, 3) to clip = 1 in the partition term only
    ("mine", 7.0 - math.log((math.exp(8.0) + math.exp(3.0)) / 2)),  # DV: nothing clipped
])
def test_held_out_smile_clips_the_partition_term_not_the_joint_one(objective, expected):
    """x = (2, 3), y = (1, 4) held out: joint scores 2 and 12 (mean 7); the one derangement of two pairs
    gives shuffled scores 2 · 4 = 8 and 3 · 1 = 3. Clipping the joint term instead would give 1 - 7.31."""
    config = NeuralMIConfig(objective=objective, clip=1.0, test_shuffles=2).for_data(n=10, dim_x=1, dim_y=1,
                                                                                     device="cpu")
    assert config.n_test == 2
    x, y = torch.tensor([[2.0], [3.0]]), torch.tensor([[1.0], [4.0]])
    member = _Member(config, x, y, x, y, torch.Generator().manual_seed(0))
    trainer = object.__new__(_Trainer)  # the held-out bound with a stub in place of the trained critic
    trainer.members, trainer.shared_x, trainer.config, trainer.critic = [member], False, config, _ProductCritic()
    assert trainer.held_out()[0] == pytest.approx(expected, abs=1e-5)  # float32 scores
