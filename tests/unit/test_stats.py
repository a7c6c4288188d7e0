"""Exact statistics: Clopper–Pearson, radius, budget, binomial test."""

from __future__ import annotations

import math

import pytest
from scipy.stats import beta, binomtest, norm

from smoothcert import stats


@pytest.mark.parametrize("k,n,alpha", [(1, 1, 0.05), (7, 10, 0.001), (990, 1000, 0.01), (99_990, 100_000, 0.001)])
def test_clopper_pearson_lower_equals_beta_quantile(k: int, n: int, alpha: float) -> None:
    assert stats.clopper_pearson_lower(k, n, alpha) == beta.ppf(alpha, k, n - k + 1)


def test_clopper_pearson_lower_is_zero_without_successes() -> None:
    assert stats.clopper_pearson_lower(0, 50, 0.05) == 0.0


def test_clopper_pearson_upper_mirrors_lower() -> None:
    # Upper bound of p from k successes equals 1 - lower bound of 1-p from n-k successes.
    for k, n in [(0, 10), (3, 10), (10, 10), (123, 1000)]:
        expected = 1.0 - (stats.clopper_pearson_lower(n - k, n, 0.01) if n - k > 0 else 0.0)
        assert math.isclose(stats.clopper_pearson_upper(k, n, 0.01), expected, rel_tol=1e-12, abs_tol=1e-15)


def test_all_agree_bound_is_alpha_to_one_over_n() -> None:
    assert math.isclose(stats.clopper_pearson_lower(100, 100, 0.001), 0.001 ** (1 / 100), rel_tol=1e-12)


def test_max_radius_reference_value() -> None:
    assert stats.max_radius(100_000, 0.001, 1.0) == pytest.approx(3.8115, abs=1e-4)
    assert stats.max_radius(100_000, 0.001, 0.5) == pytest.approx(3.8115 / 2, abs=1e-4)


def test_certified_radius() -> None:
    assert stats.certified_radius(norm.cdf(1.0), 0.5) == pytest.approx(0.5, abs=1e-12)
    assert stats.certified_radius(0.5, 1.0) == 0.0
    assert stats.certified_radius(0.3, 1.0) == 0.0


def test_samples_needed_all_agree_is_smallest() -> None:
    for radius, sigma, alpha in [(1.0, 0.5, 0.001), (0.25, 0.25, 0.05), (2.0, 1.0, 1e-6)]:
        n = stats.samples_needed(radius, sigma, alpha)
        assert stats.max_radius(n, alpha, sigma) >= radius
        assert n == 1 or stats.max_radius(n - 1, alpha, sigma) < radius
    assert stats.samples_needed(1.0, 0.5, 0.001) == 301  # ceil(log 0.001 / log Phi(2))


def test_samples_needed_with_imperfect_pa() -> None:
    n = stats.samples_needed(0.5, 0.5, 0.001, p_a=0.99)
    target = norm.cdf(1.0)
    assert beta.ppf(0.001, 0.99 * n, n - 0.99 * n + 1) >= target
    assert beta.ppf(0.001, 0.99 * (n - 1), (n - 1) - 0.99 * (n - 1) + 1) < target
    with pytest.raises(ValueError):
        stats.samples_needed(0.5, 0.5, 0.001, p_a=0.8)  # 0.8 < Phi(1): impossible


def test_binomial_pvalue_uses_binomtest() -> None:
    assert stats.binomial_pvalue(60, 40) == binomtest(60, 100, 0.5).pvalue
    assert stats.binomial_pvalue(50, 50) == 1.0


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_alpha_outside_unit_interval_is_rejected(bad: float) -> None:
    with pytest.raises(ValueError):
        stats.clopper_pearson_lower(5, 10, bad)
