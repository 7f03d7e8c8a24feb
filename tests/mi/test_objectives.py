"""The objectives as a table (one entry each), and the rank option (normal scores fitted on the training split)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from imgleak.mi import bounds, estimate_mi, estimate_mi_many
from imgleak.mi.bounds import OBJECTIVES, Objective, TrainingScores
from imgleak.mi.config import NeuralMIConfig
from imgleak.mi.ensemble import normal_scores

pytestmark = pytest.mark.usefixtures("one_thread")

QUICK = dict(epochs=2, batch_size=64, hidden=16, progress=False)


def gaussian_pair(n: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=generator)
    return x, 0.8 * x + 0.6 * torch.randn(n, 2, generator=generator)


# ------------------------------------------------------------------------------ the objective table


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_every_entry_has_its_fields(name):
    objective = OBJECTIVES[name]
    assert isinstance(objective, Objective) and objective.name == name
    assert all(isinstance(getattr(objective, f), str) and getattr(objective, f)
               for f in ("label", "bound", "summary", "remedy"))
    assert callable(objective.train) and callable(objective.held_out)
    assert isinstance(objective.all_pairs, bool) and isinstance(objective.batch_ceiling, bool)
    with pytest.raises(dataclasses.FrozenInstanceError):
        objective.bound = "other"


def test_the_table_names_each_bound_and_which_objectives_score_all_pairs():
    table = {name: (o.bound, o.all_pairs, o.batch_ceiling) for name, o in OBJECTIVES.items()}
    assert table == {"mine": ("dv", False, False), "dv": ("dv", False, False), "nwj": ("nwj", False, False),
                     "smile": ("smile", False, False), "infonce": ("infonce", True, True)}
    assert "mine_f" not in OBJECTIVES  # no objective under an old name: MINE-f is "nwj"


def _half_dv(scores: TrainingScores, settings, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """A throw-away objective: half the DV bound, counting its steps in ``state``; it needs the grid."""
    assert scores.grid is not None and scores.grid.shape[-1] == scores.grid.shape[-2]
    state["steps"] = state.get("steps", 0) + 1
    value = bounds.dv(scores.joint, scores.marginal)
    return 0.5 * value, value


def test_a_registered_objective_is_usable_with_no_other_edit(monkeypatch):
    throwaway = Objective("half_dv", "HalfDV", "half-dv", _half_dv, OBJECTIVES["dv"].held_out, all_pairs=True,
                          batch_ceiling=True, summary="half the DV bound, for the test")
    monkeypatch.setitem(OBJECTIVES, "half_dv", throwaway)
    x, y = gaussian_pair()
    result = estimate_mi(x, y, objective="half_dv", **QUICK)
    assert (result.bound, result.settings["objective"], result.epoch) == ("half-dv", "half_dv", 2)
    assert result.ceiling_nats == math.log(64)  # min(batch 64, 80 held-out pairs)
    assert result.objective_curve == result.train_curve  # its own bound is DV here
    many = estimate_mi_many([(x, y), (x, -y)], objective="half_dv", seeds=[0, 1], **QUICK)
    assert many[0].test_curve == result.test_curve
    assert NeuralMIConfig(objective="half_dv").bound == "half-dv"
    with pytest.raises(ValueError, match="objective must be one of .*'half_dv'; got 'nope'"):
        estimate_mi(x, y, objective="nope", **QUICK)


def test_a_registered_objective_names_itself_when_it_diverges(monkeypatch):
    def exploding(scores, settings, state):
        value = bounds.dv(scores.joint, scores.marginal) + float("inf")
        return value, value

    monkeypatch.setitem(OBJECTIVES, "boom", Objective("boom", "Boom", "dv", exploding, OBJECTIVES["dv"].held_out,
                                                      summary="always infinite", remedy="another objective"))
    x, y = gaussian_pair()
    result = estimate_mi_many([(x, y)], objective="boom", **QUICK)[0]
    assert result.diverged.startswith("Boom diverged at epoch 1: ") and result.diverged.endswith("another objective.")


def test_register_adds_an_entry_and_refuses_anything_else(monkeypatch):
    monkeypatch.setattr(bounds, "OBJECTIVES", dict(OBJECTIVES))
    entry = dataclasses.replace(OBJECTIVES["dv"], name="dv2")
    assert bounds.register(entry) is entry and bounds.OBJECTIVES["dv2"] is entry
    with pytest.raises(TypeError, match="register takes an Objective, got dict"):
        bounds.register({"name": "x"})


# ------------------------------------------------------------------------------ rank standardisation


def test_normal_scores_are_exact_on_a_small_example():
    """u = mid-rank / (n + 1) per column, then Phi^-1; ties share their mid-rank."""
    train = torch.tensor([[3.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
    u = torch.tensor([[3 / 4, 1.5 / 4], [1 / 4, 1.5 / 4], [2 / 4, 3 / 4]], dtype=torch.float64)
    expected = torch.special.ndtri(u).float()
    assert torch.equal(normal_scores(train, train), expected)
    # held out: interpolated between training values, clamped beyond them (column 0: u = 3/8, 1/4, 3/4)
    held_out = torch.tensor([[1.5, 1.5], [-7.0, 0.0], [9.0, 5.0]])
    u_held = torch.tensor([[3 / 8, (1.5 / 4 + 3 / 4) / 2], [1 / 4, 1.5 / 4], [3 / 4, 3 / 4]], dtype=torch.float64)
    assert torch.equal(normal_scores(train, held_out), torch.special.ndtri(u_held).float())


def test_held_out_mapping_is_monotone_and_fitted_on_the_reference_alone():
    generator = torch.Generator().manual_seed(0)
    train = torch.randn(50, 3, generator=generator).exp()  # skewed marginals
    values = torch.linspace(-1.0, 30.0, 2001)[:, None].expand(-1, 3)
    scores = normal_scores(train, values)
    assert bool((scores.diff(dim=0) >= 0).all())
    inside = (values[:, 0] > train.min(0).values.max()) & (values[:, 0] < train.max(0).values.min())
    assert bool((scores[inside].diff(dim=0) > 0).all())  # strictly increasing on the training range
    assert torch.equal(normal_scores(train, values[:7]), scores[:7])  # row by row: no fit on ``values``


def _training_rows(n: int, test_fraction: float, seed: int) -> torch.Tensor:
    """The rows :func:`estimate_mi` trains on (its split is ``randperm(n)`` seeded with ``seed``)."""
    n_test = int(round(n * test_fraction))
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: n - n_test]


def test_ranks_are_fitted_on_the_training_split_only():
    """Held-out rows changed wildly leave training unchanged (a fit on all rows would move every
    training score); a strictly increasing map of the training rows changes nothing either."""
    x, y = gaussian_pair(seed=1)
    held_out = torch.ones(len(x), dtype=torch.bool)
    held_out[_training_rows(len(x), 0.2, seed=3)] = False
    x_wild = torch.where(held_out[:, None], x * 100 + 50, x)
    runs = [estimate_mi(a, b, ranks=True, seed=3, **QUICK) for a, b in ((x, y), (x_wild, y), (x.exp(), y ** 3))]
    assert runs[0].train_curve == runs[1].train_curve == runs[2].train_curve
    assert runs[0].test_curve != runs[1].test_curve  # the held-out rows did change
    assert runs[0].settings["ranks"] is True
    plain = estimate_mi(x.exp(), y ** 3, seed=3, **QUICK)  # z-scores alone are not invariant to exp
    assert plain.train_curve != runs[2].train_curve


def test_ranks_reach_the_critic_as_normal_scores_of_the_training_rows(monkeypatch):
    seen = []
    original = normal_scores

    def spy(train, values):
        seen.append((train.clone(), values.shape[0]))
        return original(train, values)

    monkeypatch.setattr("imgleak.mi.ensemble.normal_scores", spy)
    x, y = gaussian_pair(n=100, seed=2)
    estimate_mi(x, y, ranks=True, seed=5, **QUICK)
    rows = _training_rows(100, 0.2, seed=5)
    assert len(seen) == 4  # x and y, each for its training and its held-out rows
    for (train, count), values in zip(seen, (x, x, y, y)):
        assert torch.equal(train, values[rows])  # fitted on the 80 training rows, never the held-out 20
    assert [count for _, count in seen] == [80, 20, 80, 20]


def test_ranks_must_be_a_bool():
    x, y = gaussian_pair()
    with pytest.raises(TypeError, match="ranks must be True or False, got 1"):
        estimate_mi(x, y, ranks=1, **QUICK)
