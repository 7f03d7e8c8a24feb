"""MINE: accuracy on correlated Gaussians with known MI, zero MI, seeding, divergence, errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from imgleak.mi import bounds
from imgleak.mi.critics import CriticEnsemble
from imgleak.mi.ensemble import derangement_rows
from imgleak.mi.mine import (NeuralMIConfig, NeuralMIDivergenceError, NeuralMIResult, StatisticsNetwork, estimate_mi,
                             estimate_mi_many)

# Settings that reach the truth on every Gaussian case below for 6 seeds each on a 2-core CPU
# (worst error -0.08 nats against a tolerance of 0.14 for d=10), in about 4 s per run.
ACCURATE = dict(epochs=20, batch_size=512, lr=2e-3, hidden=128, progress=False)
N_ACCURATE = 20_000
# Tiny settings for the tests that check behaviour, not accuracy.
QUICK = dict(epochs=3, batch_size=128, hidden=32, progress=False)


pytestmark = pytest.mark.usefixtures("one_thread")


def correlated_gaussians(n: int, d: int, rho: float, seed: int, device) -> tuple[torch.Tensor, torch.Tensor, float]:
    """X ~ N(0, I_d), Y = rho X + sqrt(1 - rho^2) Z: I(X; Y) = -d/2 log(1 - rho^2) nats."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=generator)
    z = torch.randn(n, d, generator=generator)
    y = rho * x + math.sqrt(1.0 - rho**2) * z
    return x.to(device), y.to(device), -d / 2 * math.log(1.0 - rho**2)


def tolerance(truth: float) -> float:
    return max(0.1 * truth, 0.1)


# --------------------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize(
    ("d", "rho"),
    [(1, 0.8), (5, 0.5), (10, 0.5), (2, 0.9)],
    ids=["d1-rho0.8-0.51nats", "d5-rho0.5-0.72nats", "d10-rho0.5-1.44nats", "d2-rho0.9-1.66nats"],
)
def test_mine_recovers_gaussian_mutual_information(d, rho, device):
    x, y, truth = correlated_gaussians(N_ACCURATE, d, rho, seed=100 + d, device=device)
    result = estimate_mi(x, y, objective="mine", seed=0, device=device, **ACCURATE)
    assert abs(result.mi_nats - truth) <= tolerance(truth), (result.mi_nats, truth)
    assert result.mi_bits == pytest.approx(result.mi_nats / math.log(2))
    assert result.test_curve[-1] == result.mi_nats


def test_nwj_recovers_gaussian_mutual_information(device):
    x, y, truth = correlated_gaussians(N_ACCURATE, 2, 0.9, seed=7, device=device)
    result = estimate_mi(x, y, objective="nwj", seed=1, device=device, **ACCURATE)
    assert abs(result.mi_nats - truth) <= tolerance(truth), (result.mi_nats, truth)
    # the f-divergence bound is tracked alongside the DV estimate, and is the looser of the two
    assert result.objective_curve[-1] <= result.train_curve[-1] + 1e-6


def test_independent_variables_give_about_zero(device):
    x, y, _ = correlated_gaussians(N_ACCURATE, 5, 0.0, seed=3, device=device)
    result = estimate_mi(x, y, seed=2, device=device, **ACCURATE)
    # a held-out lower bound may come out slightly negative at zero MI: that is expected
    assert abs(result.mi_nats) <= 0.05


def test_estimate_grows_with_dependence(device):
    estimates = []
    for rho in (0.0, 0.6, 0.95):
        x, y, _ = correlated_gaussians(4000, 1, rho, seed=11, device=device)
        estimates.append(estimate_mi(x, y, epochs=8, batch_size=256, lr=3e-3, hidden=64,
                                     progress=False, device=device).mi_nats)
    assert estimates[0] < estimates[1] < estimates[2]


# -------------------------------------------------------------------------------- result & seeding


def test_result_fields_settings_and_bits(device):
    x, y, _ = correlated_gaussians(1000, 3, 0.5, seed=0, device=device)
    result = estimate_mi(x, y, seed=5, test_fraction=0.25, device=device, **QUICK)
    assert isinstance(result, NeuralMIResult)
    assert (result.n_train, result.n_test) == (750, 250)
    assert len(result.train_curve) == len(result.test_curve) == len(result.objective_curve) == 3
    assert result.mi_bits == pytest.approx(result.mi_nats / math.log(2), rel=1e-12)
    assert result.test_curve_bits[-1] == pytest.approx(result.mi_bits)
    assert result.settings["device"] == str(device)
    assert result.settings["seed"] == 5
    assert result.settings["objective"] == "mine"
    assert result.settings["ema_decay"] == 0.99
    assert (result.settings["dim_x"], result.settings["dim_y"]) == (3, 3)
    assert result.settings["batches_per_epoch"] == 750 // 128
    assert all(isinstance(v, float) for v in result.train_curve + result.test_curve)
    frame = result.to_dataframe()
    assert list(frame["epoch"]) == [1, 2, 3]
    assert frame["test_bits"].iloc[-1] == pytest.approx(result.mi_bits)


def test_same_seed_same_result_different_seed_different_curves(device):
    x, y, _ = correlated_gaussians(1500, 2, 0.7, seed=1, device=device)
    first = estimate_mi(x, y, seed=3, device=device, **QUICK)
    again = estimate_mi(x, y, seed=3, device=device, **QUICK)
    other = estimate_mi(x, y, seed=4, device=device, **QUICK)
    assert first.train_curve == again.train_curve
    assert first.test_curve == again.test_curve
    assert first.mi_nats == again.mi_nats
    assert first.train_curve != other.train_curve
    assert first.test_curve != other.test_curve


def test_seed_none_draws_and_records_a_seed(device):
    x, y, _ = correlated_gaussians(300, 1, 0.5, seed=1, device=device)
    result = estimate_mi(x, y, seed=None, device=device, **QUICK)
    assert isinstance(result.settings["seed"], int)
    replay = estimate_mi(x, y, seed=result.settings["seed"], device=device, **QUICK)
    assert replay.test_curve == result.test_curve


def test_global_rng_state_is_untouched(device):
    x, y, _ = correlated_gaussians(800, 2, 0.5, seed=2, device=device)
    cpu_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    estimate_mi(x, y, seed=9, device=device, **QUICK)
    assert torch.equal(torch.get_rng_state(), cpu_state)
    if cuda_state is not None:
        assert torch.equal(torch.cuda.get_rng_state(device), cuda_state)


BOUND_OF = {"mine": "dv", "dv": "dv", "nwj": "nwj", "smile": "smile", "infonce": "infonce"}


@pytest.mark.parametrize("critic", ["joint", "separable"])
@pytest.mark.parametrize("objective", list(BOUND_OF))
def test_every_objective_and_critic_runs_and_names_its_bound(objective, critic, device):
    x, y, _ = correlated_gaussians(1000, 2, 0.8, seed=4, device=device)
    result = estimate_mi(x, y, objective=objective, critic=critic, seed=0, device=device, **QUICK)
    assert (result.settings["objective"], result.settings["critic"]) == (objective, critic)
    assert result.bound == BOUND_OF[objective]
    assert all(math.isfinite(v) for v in result.test_curve + result.train_curve + result.objective_curve)
    assert result.epoch == 3 and result.mi_nats == result.test_curve[-1]
    if objective in ("mine", "dv"):
        assert result.objective_curve == result.train_curve  # the DV bound, tracked once
    if objective == "infonce":
        assert result.ceiling_nats == math.log(128)  # held-out batches of the training batch size
        assert max(result.test_curve + result.objective_curve) <= math.log(128)
    else:
        assert result.ceiling_nats == math.inf


def test_ema_decay_zero_follows_plain_dv(device):
    """With ema_decay=0 the moving average is the batch's own mean, so MINE's gradient is DV's.

    Not bit for bit: MINE's surrogate differentiates to exp(T - (lse - log B)) / B where autograd
    gives DV exp(T - lse), which round differently in float32; 36 steps stay within 1e-6 nats
    (measured 4.5e-7 on the CPU), while swapping the moving average's weights (keeping the
    first batch's mean for ever) is 6e-5 off."""
    x, y, _ = correlated_gaussians(1000, 2, 0.9, seed=0, device=device)
    steps = dict(epochs=3, batch_size=64, hidden=32, progress=False, seed=0, device=device)  # 36 steps
    mine = estimate_mi(x, y, objective="mine", ema_decay=0.0, **steps)
    plain = estimate_mi(x, y, objective="dv", **steps)
    torch.testing.assert_close(mine.test_curve, plain.test_curve, rtol=0, atol=1e-6)
    torch.testing.assert_close(mine.train_curve, plain.train_curve, rtol=0, atol=1e-6)
    default = estimate_mi(x, y, objective="mine", **steps)
    assert max(abs(a - b) for a, b in zip(default.test_curve, plain.test_curve)) > 1e-5  # the EMA does matter


def test_nwj_reports_the_looser_nwj_bound_of_its_critic(device, monkeypatch):
    """NWJ's held-out NWJ is never above the held-out DV of the same critic (log m <= m / e): the same
    run with the held-out bound swapped for DV trains the same critic and reports at least as much."""
    x, y, _ = correlated_gaussians(1000, 2, 0.8, seed=5, device=device)
    nwj = estimate_mi(x, y, objective="nwj", seed=1, device=device, **QUICK)
    monkeypatch.setitem(bounds.OBJECTIVES, "nwj", dataclasses.replace(bounds.OBJECTIVES["nwj"],
                                                                      held_out=bounds.OBJECTIVES["dv"].held_out))
    dv = estimate_mi(x, y, objective="nwj", seed=1, device=device, **QUICK)
    assert nwj.train_curve == dv.train_curve and nwj.objective_curve == dv.objective_curve
    assert all(a <= b + 1e-6 for a, b in zip(nwj.test_curve, dv.test_curve))
    assert nwj.test_curve != dv.test_curve


def test_smile_clip_changes_only_the_reported_value(device):
    """SMILE's critic learns with the JS objective, whatever the clip; the clip acts on the estimate."""
    x, y, _ = correlated_gaussians(1000, 2, 0.95, seed=6, device=device)
    wide = estimate_mi(x, y, objective="smile", clip=50.0, seed=2, device=device, **QUICK)
    tight = estimate_mi(x, y, objective="smile", clip=0.05, seed=2, device=device, **QUICK)
    assert wide.train_curve == tight.train_curve  # the same critic at every epoch (its DV on the batches)
    assert wide.objective_curve == wide.train_curve  # no score reaches +-50: the clipped DV is the DV
    # clipping T_marg to +-0.05 bounds the partition term, so the estimate is at least mean T_joint - 0.05
    assert tight.test_curve != wide.test_curve


def test_early_stopping_reports_the_best_epoch(device):
    x, y, _ = correlated_gaussians(600, 2, 0.0, seed=7, device=device)  # independent: the held-out bound wanders
    full = estimate_mi(x, y, seed=3, epochs=12, batch_size=64, hidden=16, progress=False, device=device)
    assert (full.epoch, full.mi_nats) == (12, full.test_curve[-1])
    stopped = estimate_mi(x, y, seed=3, epochs=12, batch_size=64, hidden=16, early_stopping=2, progress=False,
                          device=device)
    curve = stopped.test_curve
    assert curve == full.test_curve[: len(curve)]  # the same run, cut short
    best = max(range(len(curve)), key=lambda e: (curve[e], -e)) + 1  # the first best epoch
    assert (stopped.epoch, stopped.mi_nats) == (best, curve[best - 1])
    assert len(curve) == min(12, best + 2)
    assert len(curve) < 12, "this seed should stop early; pick another if the data changed"
    assert stopped.settings["early_stopping"] == 2


def test_inputs_are_converted(device):
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (600, 4), generator=generator, dtype=torch.uint8)
    noisy = (pixels.to(torch.int16) + torch.randint(-8, 9, (600, 4), generator=generator)).clamp(0, 255)
    from_uint8 = estimate_mi(pixels.to(device), noisy.to(torch.uint8).to(device), seed=0, device=device, **QUICK)
    # scaled as the library scales, on the same device (CUDA divides by a scalar as a multiplication by its
    # reciprocal: last-bit differences from the CPU's division)
    from_float = estimate_mi(pixels.to(device).float() / 255, noisy.to(torch.uint8).to(device).float() / 255,
                             seed=0, device=device, **QUICK)
    assert from_uint8.test_curve == from_float.test_curve
    # 1-D inputs are read as (N, 1); lists and NumPy arrays are accepted
    one_d = estimate_mi(pixels[:, 0].tolist(), noisy[:, 0].numpy(), seed=0, device=device, **QUICK)
    assert (one_d.settings["dim_x"], one_d.settings["dim_y"]) == (1, 1)
    # tensors that carry a graph are detached; NumPy integers are fine as settings
    leaf = torch.randn(300, 2, requires_grad=True)
    result = estimate_mi(leaf.to(device) * 2, leaf.detach().to(device), seed=np.int64(1),
                         epochs=np.int64(2), batch_size=64, hidden=8, progress=False, device=device)
    assert leaf.grad is None and len(result.test_curve) == 2


def test_batch_size_is_capped_at_the_training_set(device):
    x, y, _ = correlated_gaussians(50, 1, 0.5, seed=0, device=device)
    result = estimate_mi(x, y, epochs=2, batch_size=1000, hidden=8, progress=False, device=device)
    assert result.settings["effective_batch_size"] == result.n_train == 40
    assert result.settings["batches_per_epoch"] == 1


def test_progress_bar_can_be_switched_off(device, capsys):
    x, y, _ = correlated_gaussians(300, 1, 0.5, seed=0, device=device)
    estimate_mi(x, y, seed=0, device=device, **QUICK)
    assert capsys.readouterr().err == ""
    estimate_mi(x, y, seed=0, device=device, **{**QUICK, "progress": True})
    assert "MINE" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ divergence


def test_huge_learning_rate_raises_a_clear_error(device):
    x, y, _ = correlated_gaussians(2000, 2, 0.9, seed=0, device=device)
    with pytest.raises(NeuralMIDivergenceError, match=r"epoch 1\b.*lower learning rate") as info:
        estimate_mi(x, y, lr=10.0, epochs=5, hidden=64, progress=False, device=device)
    assert isinstance(info.value, FloatingPointError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(("objective", "critic"), [("mine", "joint"), ("nwj", "joint"), ("dv", "joint"),
                                                 ("smile", "joint"), ("infonce", "joint"), ("nwj", "separable")])
def test_non_finite_scores_stop_at_the_right_epoch(objective, critic, device, monkeypatch):
    calls = {"n": 0}

    def exploding(original):
        def scores(self, fx, fy):
            out = original(self, fx, fy)
            if torch.is_grad_enabled():  # training, not the held-out evaluation
                calls["n"] += 1
                if calls["n"] > 4:  # 4 batches per epoch below
                    out = out + float("inf")
            return out
        return scores

    for method in ("paired", "grid"):
        monkeypatch.setattr(CriticEnsemble, method, exploding(getattr(CriticEnsemble, method)))
    x, y, _ = correlated_gaussians(640, 1, 0.5, seed=0, device=device)
    with pytest.raises(NeuralMIDivergenceError, match=r"epoch 2: .*NaN or infinite.*lower learning rate"):
        estimate_mi(x, y, objective=objective, critic=critic, epochs=5, batch_size=128, hidden=16, progress=False,
                    device=device)


# ------------------------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (dict(y=torch.zeros(99, 2)), ValueError, "same number of samples"),
        (dict(x=torch.zeros(4, 2), y=torch.zeros(4, 2)), ValueError, "too few samples"),
        (dict(x=torch.zeros(100, 2, 2)), ValueError, r"x must be shaped \(N, d\)"),
        (dict(y=torch.zeros(100, 0)), ValueError, "y has no features"),
        (dict(x=torch.full((100, 2), float("nan"))), ValueError, "x contains NaN"),
        (dict(x=["a", "b"]), TypeError, "x must be a tensor"),
        (dict(x=torch.zeros(100, 2, dtype=torch.complex64)), TypeError, "x must hold real"),
        (dict(objective="info_nce"), ValueError, "objective must be one of"),
        (dict(critic="bilinear"), ValueError, "critic must be one of 'joint', 'separable'"),
        (dict(clip=0.0), ValueError, "clip must be a positive finite number"),
        (dict(clip=float("inf")), ValueError, "clip must be a positive finite number"),
        (dict(early_stopping=0), ValueError, "early_stopping must be a positive int"),
        (dict(early_stopping=2.0), ValueError, "early_stopping must be a positive int"),
        (dict(embedding=0), ValueError, "embedding must be a positive int"),
        (dict(epochs=0), ValueError, "epochs must be a positive int"),
        (dict(epochs=2.5), ValueError, "epochs must be a positive int"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive int"),
        (dict(batch_size=-3), ValueError, "batch_size must be a positive int"),
        (dict(batch_size=1), ValueError, r"batch_size must be at least 2: the shuffled \(product-of-marginals\) pairs"),
        (dict(lr=0.0), ValueError, "lr must be a positive"),
        (dict(lr_schedule="step"), ValueError, "lr_schedule must be one of"),
        (dict(ema_decay=1.0), ValueError, r"ema_decay must be a number in \[0, 1\)"),
        (dict(test_fraction=1.0), ValueError, "test_fraction must be"),
        (dict(test_fraction=0), ValueError, "test_fraction must be"),
        (dict(test_shuffles=0), ValueError, "test_shuffles must be a positive int"),
        (dict(hidden=0), ValueError, "hidden must be a positive int"),
        (dict(layers=0), ValueError, "layers must be a positive int"),
        (dict(activation="tanh"), ValueError, "activation must be one of"),
        (dict(seed="1"), TypeError, "seed must be an int"),
        (dict(seed=-1), ValueError, "seed must be in"),
        (dict(device="tpu"), ValueError, "device must be"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(kwargs, error, pattern):
    arguments = dict(x=torch.zeros(100, 2), y=torch.zeros(100, 2), epochs=1, progress=False)
    arguments.update(kwargs)
    x, y = arguments.pop("x"), arguments.pop("y")
    with pytest.raises(error, match=pattern):
        estimate_mi(x, y, **arguments)


def test_many_takes_seed_for_every_pair_or_seeds_not_both():
    pairs = [(torch.zeros(100, 2), torch.ones(100, 2)), (torch.ones(100, 2), torch.zeros(100, 2))]
    results = estimate_mi_many(pairs, seed=3, epochs=1, hidden=4, progress=False)
    assert [r.settings["seed"] for r in results] == [3, 3]
    with pytest.raises(TypeError, match=r"give seed= \(every pair\) or seeds= \(one seed for every pair, or one "
                                        r"per pair\), not both; got seed=3 and seeds=\[1, 2\]"):
        estimate_mi_many(pairs, seed=3, seeds=[1, 2], epochs=1, progress=False)


# ------------------------------------------------------------------------------------ components


def test_statistics_network_is_an_mlp_on_the_concatenation(device):
    torch.manual_seed(0)
    net = StatisticsNetwork(3, 2, hidden=16, layers=2).to(device)
    x, y = torch.randn(10, 3, device=device), torch.randn(10, 2, device=device)
    first = torch.nn.Linear(5, 16).to(device)
    with torch.no_grad():
        first.weight.copy_(torch.cat([net.input_x.weight, net.input_y.weight], dim=1))
        first.bias.copy_(net.input_x.bias)
    expected = net.body(first(torch.cat([x, y], dim=1))).squeeze(-1)
    torch.testing.assert_close(net(x, y), expected)
    index = torch.roll(torch.arange(10, device=device), 1)
    joint, marginal = net.joint_and_marginal(x, y, index)
    torch.testing.assert_close(joint, net(x, y))
    torch.testing.assert_close(marginal, net(x, y[index]))


def test_marginal_shuffles_never_keep_a_pair(device):
    generator = torch.Generator(device=device).manual_seed(0)
    index = derangement_rows(50, 7, generator, device)
    assert index.shape == (50, 7)
    assert torch.equal(index.sort(dim=1).values, torch.arange(7, device=device).expand(50, 7))
    assert not (index == torch.arange(7, device=device)).any()


# ------------------------------------------------------------------------------------ the config

DATA = dict(dim_x=2, dim_y=3, n=100)


def _filled(**kwargs) -> NeuralMIConfig:
    """The config of a run on ``DATA`` (the data's fields among ``kwargs`` go to ``for_data``)."""
    data = {**DATA, **{k: v for k, v in kwargs.items() if k in DATA}}
    config = NeuralMIConfig(**{k: v for k, v in kwargs.items() if k not in DATA})
    return config.for_data(**data, device="cpu")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(objective="jsd"), ValueError,
         "objective must be one of 'mine', 'dv', 'nwj', 'smile', 'infonce'; got 'jsd'"),
        (dict(critic="mlp"), ValueError, "critic must be one of 'joint', 'separable'; got 'mlp'"),
        (dict(clip=-1), ValueError, "clip must be a positive finite number, got -1"),
        (dict(early_stopping=True), ValueError, "early_stopping must be a positive int, got True"),
        (dict(objective=["mine"]), ValueError, "objective must be one of"),
        (dict(epochs=0), ValueError, "epochs must be a positive int, got 0"),
        (dict(epochs=True), ValueError, "epochs must be a positive int, got True"),
        (dict(batch_size=2.0), ValueError, "batch_size must be a positive int, got 2.0"),
        (dict(lr=-1e-3), ValueError, "lr must be a positive finite number, got -0.001"),
        (dict(lr=float("nan")), ValueError, "lr must be a positive finite number, got nan"),
        (dict(lr="1e-3"), ValueError, "lr must be a positive finite number, got '1e-3'"),
        (dict(lr_schedule="step"), ValueError, "lr_schedule must be one of 'cosine', 'constant'; got 'step'"),
        (dict(hidden=np.int64(0)), ValueError, "hidden must be a positive int"),
        (dict(layers=-2), ValueError, "layers must be a positive int, got -2"),
        (dict(activation="tanh"), ValueError, "activation must be one of 'elu', 'relu'; got 'tanh'"),
        (dict(activation=["elu"]), ValueError, "activation must be one of"),
        (dict(ema_decay=-0.1), ValueError, r"ema_decay must be a number in [0, 1), got -0.1"),
        (dict(ema_decay=1), ValueError, r"ema_decay must be a number in [0, 1), got 1"),
        (dict(ema_decay=True), ValueError, r"ema_decay must be a number in [0, 1), got True"),
        (dict(test_fraction=0.0), ValueError, "test_fraction must be a number in (0, 1), got 0.0"),
        (dict(test_fraction=float("nan")), ValueError, "test_fraction must be a number in (0, 1), got nan"),
        (dict(test_shuffles=0), ValueError, "test_shuffles must be a positive int, got 0"),
        (dict(standardize="no"), TypeError, "standardize must be True or False, got 'no'"),
        (dict(standardize=1), TypeError, "standardize must be True or False, got 1"),
        (dict(ranks="yes"), TypeError, "ranks must be True or False, got 'yes'"),
        (dict(seed=1.5), TypeError, "seed must be an int, got float 1.5"),
        (dict(seed=-1), ValueError, r"seed must be in [0, 2**63 - 1), got -1"),
        (dict(seed=2**63 - 1), ValueError, r"seed must be in [0, 2**63 - 1), got 9223372036854775807"),
        (dict(device="tpu"), ValueError, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'tpu'"),
        (dict(dim_x=0), ValueError, "dim_x must be a positive int, got 0"),
        (dict(dim_y=1.0), ValueError, "dim_y must be a positive int, got 1.0"),
        (dict(n=-1), ValueError, "n must be a non-negative int, got -1"),
        (dict(n=5), ValueError, "too few samples: N=5 with test_fraction=0.2 gives 4 training and 1 held-out"),
    ],
)
def test_config_rejects_each_bad_setting_by_name(kwargs, error, message):
    with pytest.raises(error) as info:
        _filled(**kwargs)
    assert str(info.value).startswith(message), str(info.value)


def test_config_normalises_derives_and_freezes():
    config = _filled(epochs=np.int64(3), batch_size=np.int32(500), lr=np.float32(0.5), ema_decay=0,
                     test_fraction=np.float64(0.25), standardize=np.bool_(False), seed=np.int64(7))
    settings = dataclasses.asdict(config)
    assert settings == {
        "objective": "mine", "critic": "joint", "clip": 5.0, "early_stopping": None, "embedding": 32, "epochs": 3, "batch_size": 500, "effective_batch_size": 75, "batches_per_epoch": 1,
        "lr": 0.5, "lr_schedule": "cosine", "hidden": 256, "layers": 2, "activation": "elu", "ema_decay": 0.0,
        "test_fraction": 0.25, "test_shuffles": 10, "standardize": False, "ranks": False, "seed": 7, "device": "cpu",
        "dim_x": 2, "dim_y": 3, "n": 100, "optimizer": "Adam",
    }
    assert {k: type(v) for k, v in settings.items()} == {
        "objective": str, "critic": str, "clip": float, "early_stopping": type(None), "embedding": int, "epochs": int,
        "batch_size": int, "effective_batch_size": int, "batches_per_epoch": int, "lr": float, "lr_schedule": str,
        "hidden": int, "layers": int, "activation": str, "ema_decay": float, "test_fraction": float,
        "test_shuffles": int, "standardize": bool, "ranks": bool, "seed": int, "device": str, "dim_x": int,
        "dim_y": int, "n": int, "optimizer": str,
    }
    assert (config.n_train, config.n_test) == (75, 25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 5
    with pytest.raises(TypeError):  # derived fields are not arguments
        NeuralMIConfig(effective_batch_size=10)
    with pytest.raises(TypeError):  # and neither are the data's
        NeuralMIConfig(**DATA)
    drawn = _filled(seed=None).seed
    assert isinstance(drawn, int) and 0 <= drawn < 2**63 - 1


def test_settings_record_is_the_config(device):
    x, y, _ = correlated_gaussians(300, 2, 0.5, seed=0, device=device)
    result = estimate_mi(x, y, seed=4, lr=np.float32(2e-3), device=device, **QUICK)
    options = {k: v for k, v in QUICK.items() if k != "progress"}
    config = NeuralMIConfig(seed=4, lr=np.float32(2e-3), device=device, **options).for_data(n=300, dim_x=2, dim_y=2,
                                                                                        device="cpu")
    assert result.settings == dataclasses.asdict(config)
    assert result.to_dict()["settings"] == result.settings
    assert (result.n_train, result.n_test) == (config.n_train, config.n_test) == (240, 60)


def test_progress_must_be_a_bool():
    with pytest.raises(TypeError, match="progress must be True or False, got 'no'"):
        estimate_mi(torch.zeros(100, 2), torch.zeros(100, 2), epochs=1, progress="no")
