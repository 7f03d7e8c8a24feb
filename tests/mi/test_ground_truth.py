"""Ground-truth tasks: closed forms against independent computations (log-determinants, scipy's
multivariate t entropy and a Monte Carlo estimate with its log-density), monotone maps that keep
the MI, and the discrete task where the plug-in histogram is exact on the empirical table."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from imgleak.mi import mutual_information, per_image_mutual_information
from imgleak.mi.ground_truth import (
    MONOTONE_MAPS,
    SUITE,
    CorrelatedGaussian,
    NoisyModular,
    StudentT,
    Transformed,
    find_task,
    student_t_dof_term,
)

LN2 = math.log(2)


def joint_scale(dim: int, rho: float) -> np.ndarray:
    """``[[I, rho I], [rho I, I]]``: the covariance (Gaussian) or scale matrix (t) of ``(X, Y)``."""
    eye = np.eye(dim)
    return np.block([[eye, rho * eye], [rho * eye, eye]])


# ----------------------------------------------------------------------------------- Gaussians


@pytest.mark.parametrize(("dim", "rho"), [(1, 0.75), (5, 0.5), (20, 0.4), (3, -0.9), (5, 0.0)])
def test_gaussian_mi_is_the_log_determinant_ratio(dim, rho):
    scale = joint_scale(dim, rho)
    log_det = np.linalg.slogdet(scale)[1] - 2 * np.linalg.slogdet(np.eye(dim))[1]
    assert CorrelatedGaussian(dim, rho).mi_nats == pytest.approx(-0.5 * log_det, rel=1e-12, abs=1e-15)


def test_gaussian_samples_have_the_stated_covariance():
    x, y = CorrelatedGaussian(dim=3, rho=0.6).sample(100_000, seed=4)
    empirical = np.cov(torch.cat([x, y], 1).double().numpy(), rowvar=False)
    np.testing.assert_allclose(empirical, joint_scale(3, 0.6), atol=0.015)


# ----------------------------------------------------------------------------------- Student t


@pytest.mark.parametrize(("dim", "rho", "dof"), [(1, 0.75, 3), (2, 0.5, 5), (5, 0.0, 3), (3, 0.3, 1.5)])
def test_student_t_mi_is_the_sum_of_the_entropies(dim, rho, dof):
    """I = H(X) + H(Y) - H(X, Y) with scipy's entropies of the multivariate t (marginals: t with the
    same degrees of freedom and the diagonal blocks of the scale matrix)."""
    marginal = scipy.stats.multivariate_t(shape=np.eye(dim), df=dof)
    joint = scipy.stats.multivariate_t(shape=joint_scale(dim, rho), df=dof)
    truth = 2 * marginal.entropy() - joint.entropy()
    assert StudentT(dim, rho, dof).mi_nats == pytest.approx(truth, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", ["t-1d-rho0.75-nu3", "t-2d-rho0.5-nu5", "t-5d-rho0-nu3"])
def test_student_t_mi_by_monte_carlo(name):
    """E[log p(x, y) - log p(x) - log p(y)] over the task's own samples, with scipy's t log-density,
    matches the closed form (within 4 standard errors): checks the formula and the sampler."""
    task = find_task(name)
    x, y = (v.double().numpy() for v in task.sample(200_000, seed=1))
    marginal = scipy.stats.multivariate_t(shape=np.eye(task.dim), df=task.dof)
    joint = scipy.stats.multivariate_t(shape=joint_scale(task.dim, task.rho), df=task.dof)
    pointwise = joint.logpdf(np.hstack([x, y])) - marginal.logpdf(x) - marginal.logpdf(y)
    standard_error = pointwise.std() / math.sqrt(pointwise.size)
    assert abs(pointwise.mean() - task.mi_nats) < 4 * standard_error, (pointwise.mean(), task.mi_nats)


def test_student_t_dependence_without_correlation_vanishes_in_the_gaussian_limit():
    terms = [student_t_dof_term(dof, 5, 5) for dof in (1, 3, 10, 100, 1e4)]
    assert all(a > b > 0 for a, b in zip(terms, terms[1:]))
    assert StudentT(dim=5, rho=0.0, dof=3).mi_nats == terms[1] > 0.25
    assert StudentT(dim=4, rho=0.5, dof=1e4).mi_nats == pytest.approx(CorrelatedGaussian(4, 0.5).mi_nats, abs=1e-6)


# ------------------------------------------------------------------------------- monotone maps


@pytest.mark.parametrize("maps", sorted(MONOTONE_MAPS))
def test_monotone_maps_are_strictly_increasing(maps):
    grid = np.linspace(-8, 8, 10_001)
    for coordinate_map in MONOTONE_MAPS[maps]:
        assert (np.diff(coordinate_map(grid)) > 0).all()


def rank_bins(values: torch.Tensor, bins: int) -> torch.Tensor:
    """Each value's equal-frequency bin (0..bins-1) by its rank in its column."""
    ranks = values.argsort(0).argsort(0)
    return ranks * bins // values.shape[0]


@pytest.mark.parametrize("task", [t for t in SUITE if isinstance(t, Transformed)], ids=lambda t: t.name)
def test_transformed_task_maps_the_base_sample_and_keeps_the_mi(task, device):
    base_x, base_y = task.base.sample(5000, seed=3)
    x, y = task.sample(5000, seed=3)
    map_x, map_y = MONOTONE_MAPS[task.maps]
    torch.testing.assert_close(x, torch.from_numpy(map_x(base_x.double().numpy())).float(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(y, torch.from_numpy(map_y(base_y.double().numpy())).float(), rtol=1e-6, atol=1e-6)
    assert task.mi_nats == task.base.mi_nats
    # a rank-based (equal-frequency) histogram estimate cannot tell the pairs apart
    bins = [rank_bins(v, 16).to(device) for v in (base_x, base_y, x, y)]
    for column in range(x.shape[1]):
        before, after = (mutual_information(bx[:, column], by[:, column]) for bx, by in (bins[:2], bins[2:]))
        assert after == before > 0


# ------------------------------------------------------------------------------------ discrete


def table_mi_nats(joint: np.ndarray) -> float:
    """sum p(x, y) log(p(x, y) / (p(x) p(y))) of a (possibly unnormalised) table."""
    p = joint / joint.sum()
    outer = p.sum(1, keepdims=True) * p.sum(0, keepdims=True)
    cells = p > 0
    return float((p[cells] * np.log(p[cells] / outer[cells])).sum())


@pytest.mark.parametrize(("levels", "flip"), [(8, 0.2), (3, 0.5), (5, 0.0)])
def test_discrete_mi_is_the_mi_of_its_table(levels, flip):
    noise = {0: 1 - flip, 1: flip / 2, levels - 1: flip / 2}
    joint = np.array([[noise.get((j - i) % levels, 0.0) / levels for j in range(levels)] for i in range(levels)])
    assert NoisyModular(levels, flip).mi_nats == pytest.approx(table_mi_nats(joint), rel=1e-12)


def test_plug_in_histogram_is_exact_on_the_empirical_table(device):
    x, y = NoisyModular(levels=8, flip=0.2).sample(20_000, seed=5)
    counts = np.zeros((8, 8))
    np.add.at(counts, (x.long().numpy().ravel(), y.long().numpy().ravel()), 1)
    plug_in = mutual_information(x.long().to(device), y.long().to(device)) * LN2
    assert plug_in == pytest.approx(table_mi_nats(counts), rel=1e-12)


def test_plug_in_histogram_is_biased_up_by_its_known_term(device):
    """Over 400 samples of N = 500 pairs, the plug-in mean is the truth plus the first-order bias
    (cells_xy - cells_x - cells_y + 1) / 2N = (3K - 2K + 1) / 2N nats, and not the truth itself."""
    task, n, replicas = NoisyModular(levels=8, flip=0.2), 500, 400
    samples = [task.sample(n, seed=seed) for seed in range(replicas)]
    x = torch.stack([s[0] for s in samples]).long().to(device)
    y = torch.stack([s[1] for s in samples]).long().to(device)
    estimates = per_image_mutual_information(x, y).cpu().numpy() * LN2
    bias = (task.levels + 1) / (2 * n)
    standard_error = estimates.std() / math.sqrt(replicas)
    assert abs(estimates.mean() - task.mi_nats - bias) < 4 * standard_error
    assert estimates.mean() - task.mi_nats > 4 * standard_error


# --------------------------------------------------------------------------- suite and errors


def test_suite_covers_the_issue_and_has_unique_names():
    names = [task.name for task in SUITE]
    assert len(set(names)) == len(names) and 11 <= len(names) <= 14
    gaussian_dims = {t.dim for t in SUITE if isinstance(t, CorrelatedGaussian) and t.rho != 0}
    assert gaussian_dims == {1, 5, 10, 20}
    assert any(isinstance(t, StudentT) and t.rho == 0 for t in SUITE)
    assert any(t.mi_nats == 0 for t in SUITE) and any(isinstance(t, NoisyModular) for t in SUITE)
    assert all(find_task(name).name == name for name in names)


def test_same_seed_same_pairs_other_seed_other_pairs():
    for task in SUITE:
        first, again, other = task.sample(50, seed=0), task.sample(50, seed=0), task.sample(50, seed=1)
        assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
        assert not torch.equal(first[1], other[1])
        assert first[0].dtype == first[1].dtype == torch.float32


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CorrelatedGaussian(dim=0, rho=0.5), "dim"),
        (lambda: CorrelatedGaussian(dim=2, rho=1.0), "rho"),
        (lambda: StudentT(dim=2, rho=0.5, dof=0), "dof"),
        (lambda: NoisyModular(levels=2), "levels"),
        (lambda: NoisyModular(flip=1.0), "flip"),
        (lambda: Transformed(CorrelatedGaussian(1, 0.5), "square"), "maps"),
        (lambda: CorrelatedGaussian(1, 0.5).sample(0), "n"),
        (lambda: CorrelatedGaussian(1, 0.5).sample(10, seed=-1), "seed"),
        (lambda: find_task("gauss-3d"), "task"),
    ],
)
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_transforming_something_else_is_a_type_error():
    with pytest.raises(TypeError, match="base"):
        Transformed("gauss-1d-rho0.75", "asinh")
