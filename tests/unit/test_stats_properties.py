"""Property-based tests (hypothesis) of ``smoothcert.stats``: the laws every bound and budget must obey."""

from __future__ import annotations

import math

import mpmath
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import beta, binom, norm

from smoothcert import stats

alphas = st.floats(min_value=1e-8, max_value=0.5)
sigmas = st.floats(min_value=0.01, max_value=10.0)


@st.composite
def counts(draw: st.DrawFn, max_n: int = 5000) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=max_n))
    return draw(st.integers(min_value=0, max_value=n)), n


@settings(max_examples=300, deadline=None)
@given(counts(), alphas)
def test_bounds_lie_in_the_unit_interval_around_the_frequency(kn: tuple[int, int], alpha: float) -> None:
    k, n = kn
    lower, upper = stats.clopper_pearson_lower(k, n, alpha), stats.clopper_pearson_upper(k, n, alpha)
    assert 0.0 <= lower <= k / n <= upper <= 1.0
    assert (lower == 0.0) == (k == 0) and (upper == 1.0) == (k == n)


@settings(max_examples=200, deadline=None)
@given(counts(), alphas)
def test_lower_bound_is_monotone_in_k_and_alpha(kn: tuple[int, int], alpha: float) -> None:
    k, n = kn
    assume(k < n)
    here = stats.clopper_pearson_lower(k, n, alpha)
    assert stats.clopper_pearson_lower(k + 1, n, alpha) >= here  # more votes, higher bound
    assert stats.clopper_pearson_lower(k, n, min(2 * alpha, 0.9)) >= here  # less confidence, higher bound
    assert stats.clopper_pearson_upper(k + 1, n, alpha) >= stats.clopper_pearson_upper(k, n, alpha)


@settings(max_examples=200, deadline=None)
@given(counts(max_n=400), alphas)
def test_lower_bound_has_exact_coverage_at_its_own_value(kn: tuple[int, int], alpha: float) -> None:
    """The defining property: at p = lower(k), P(K >= k) = alpha, so P(lower(K) > p) <= alpha for every p."""
    k, n = kn
    assume(k > 0)
    p = stats.clopper_pearson_lower(k, n, alpha)
    assume(0.0 < p < 1.0)
    assert math.isclose(float(binom.sf(k - 1, n, p)), alpha, rel_tol=1e-6, abs_tol=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0), st.floats(min_value=0.0, max_value=1.0), sigmas)
def test_radius_is_monotone_and_zero_without_a_majority(p1: float, p2: float, sigma: float) -> None:
    low, high = sorted((p1, p2))
    assume(high < 1.0)
    r_low, r_high = stats.certified_radius(low, sigma), stats.certified_radius(high, sigma)
    assert 0.0 <= r_low <= r_high
    assert (r_low == 0.0) == (low <= 0.5)
    assert math.isclose(stats.certified_radius(high, 2 * sigma), 2 * r_high, rel_tol=1e-12)  # linear in sigma


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=10**7), alphas, sigmas)
def test_max_radius_grows_with_n_and_alpha(n: int, alpha: float, sigma: float) -> None:
    best = stats.max_radius(n, alpha, sigma)
    assert best >= 0.0
    assert stats.max_radius(n + 1, alpha, sigma) >= best
    assert stats.max_radius(n, min(2 * alpha, 0.9), sigma) >= best
    assert math.isclose(best, stats.certified_radius(stats.clopper_pearson_lower(n, n, alpha), sigma),
                        rel_tol=1e-6, abs_tol=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=3.0), sigmas, alphas)
def test_samples_needed_with_unanimity_is_minimal(ratio: float, sigma: float, alpha: float) -> None:
    """The smallest n whose unanimous bound alpha ** (1/n) reaches Phi(radius / sigma)."""
    radius = ratio * sigma
    target = float(norm.cdf(radius / sigma))
    n = stats.samples_needed(radius, sigma, alpha)
    assert alpha ** (1.0 / n) >= target
    assert n == 1 or alpha ** (1.0 / (n - 1)) < target


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=60.0), st.sampled_from([0.5, 0.1, 1e-3, 1e-6, 1e-12]))
def test_samples_needed_answers_for_any_ratio_as_high_precision_arithmetic_does(ratio: float, alpha: float) -> None:
    """The closed form against mpmath at 80 digits+: n* = log(alpha) / log Phi(z), the answer ceil(n*).

    float64 cannot resolve Phi(z) from 1 beyond z ~ 8.3 (the old loop never ended from z ~ 7 on);
    the answer must still come at once and agree with exact arithmetic: to the integer while n* is
    below 10^15 and further from an integer than float64's relative rounding (1e-14 n* allows for
    scipy's tail function), to 12 digits beyond.
    """
    n = stats.samples_needed(ratio * 0.25, 0.25, alpha)
    with mpmath.workdps(int(ratio**2 / 4.6) + 80):
        z = mpmath.mpf(ratio * 0.25) / mpmath.mpf(0.25)
        log_phi = mpmath.log(1 - mpmath.erfc(z / mpmath.sqrt(2)) / 2)
        exact = mpmath.log(alpha) / log_phi
        if exact < 1e15:
            fraction = exact - mpmath.floor(exact)
            margin = exact * 1e-14 + 1e-9
            assume(margin < fraction < 1 - margin or exact < 1)
            assert n == max(1, int(mpmath.ceil(exact)))
        else:
            assert abs(mpmath.mpf(n) / exact - 1) < 1e-12


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=0.05, max_value=1.5), st.floats(min_value=0.7, max_value=0.999), st.sampled_from(
    [0.1, 0.01, 0.001]))
def test_samples_needed_with_a_true_p_a_is_minimal(ratio: float, p_a: float, alpha: float) -> None:
    target = float(norm.cdf(ratio))  # Phi(radius / sigma) with sigma = 1
    assume(p_a > target + 1e-3)
    n = stats.samples_needed(ratio, 1.0, alpha, p_a)

    def certifies(m: int) -> bool:
        k = p_a * m
        return k > 0 and float(beta.ppf(alpha, k, m - k + 1)) >= target

    assert certifies(n) and (n == 1 or not certifies(n - 1))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=3000), st.integers(min_value=0, max_value=3000))
def test_binomial_pvalue_is_a_symmetric_probability(c1: int, c2: int) -> None:
    value = stats.binomial_pvalue(c1, c2)
    # abs_tol: below 1e-300 scipy may return 0.0 one way and the subnormal 5e-324 the other (c1=0, c2=2344)
    assert 0.0 <= value <= 1.0 and math.isclose(value, stats.binomial_pvalue(c2, c1), rel_tol=1e-9, abs_tol=1e-300)
    if c1 >= c2:
        assert stats.binomial_pvalue(c1 + 1, c2) <= value + 1e-12  # a wider margin is more significant
