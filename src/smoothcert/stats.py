"""Exact statistics of randomized smoothing. Pure functions of numbers.

Notation: ``k`` successes in ``n`` Bernoulli trials, confidence level ``1 - alpha``,
noise level ``sigma``; ``Phi`` is the standard normal CDF.
"""

from __future__ import annotations

import math

from scipy.stats import beta, binomtest, norm


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")


def _check_counts(k: int, n: int) -> None:
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")


def clopper_pearson_lower(k: int, n: int, alpha: float) -> float:
    """One-sided Clopper–Pearson lower bound: ``Beta.ppf(alpha, k, n - k + 1)``, 0 for ``k = 0``.

    For every p, if ``k ~ Binomial(n, p)`` then ``P(bound > p) <= alpha``: the bound
    is exact (never anti-conservative), unlike a normal approximation.

    Example:
        >>> round(clopper_pearson_lower(100, 100, 0.001), 6)  # = 0.001 ** (1/100)
        0.933254
    """
    _check_counts(k, n)
    _check_alpha(alpha)
    if k == 0:
        return 0.0
    return float(beta.ppf(alpha, k, n - k + 1))


def clopper_pearson_upper(k: int, n: int, alpha: float) -> float:
    """One-sided Clopper–Pearson upper bound: ``Beta.ppf(1 - alpha, k + 1, n - k)``, 1 for ``k = n``.

    For every p, if ``k ~ Binomial(n, p)`` then ``P(bound < p) <= alpha``.
    """
    _check_counts(k, n)
    _check_alpha(alpha)
    if k == n:
        return 1.0
    return float(beta.ppf(1.0 - alpha, k + 1, n - k))


def certified_radius(p_lower: float, sigma: float) -> float:
    """L2 radius ``sigma * Phi^-1(p_lower)`` certified by a lower bound ``p_lower`` on p_A.

    Returns 0.0 when ``p_lower <= 0.5`` (nothing is certified; CERTIFY abstains).
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if p_lower <= 0.5:
        return 0.0
    return float(sigma * norm.ppf(p_lower))


def max_radius(n: int, alpha: float, sigma: float) -> float:
    """Largest radius CERTIFY can ever give with ``n`` samples: ``sigma * Phi^-1(alpha ** (1/n))``.

    ``alpha ** (1/n)`` is the Clopper–Pearson lower bound when all ``n`` samples agree.

    Example:
        >>> round(max_radius(100_000, 0.001, 1.0), 4)
        3.8115
    """
    _check_alpha(alpha)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return certified_radius(alpha ** (1.0 / n), sigma)


def samples_needed(radius: float, sigma: float, alpha: float, p_a: float = 1.0) -> int:
    """Smallest n with which a true ``p_a`` can certify ``radius`` at level ``1 - alpha``.

    Exactly: the smallest n such that observing the expected count ``k = p_a * n``
    (all n when ``p_a = 1``) gives ``clopper_pearson_lower >= Phi(radius / sigma)``.
    With ``p_a = 1`` this is the closed form ``ceil(log(alpha) / log Phi(radius / sigma))``,
    evaluated in log space (``log Phi(z)`` from the normal's log-survival function
    when ``Phi(z)`` rounds to 1), so it answers at once for any ``radius / sigma``
    (50 needs about 10^545 samples); for ``p_a < 1``, a bisection over n with
    at most ~130 evaluations of the bound. Raises ``ValueError`` when
    ``p_a <= Phi(radius / sigma)``: no n suffices.

    Example:
        >>> samples_needed(1.0, 0.5, 0.001)   # Phi(2) = 0.97725
        301
    """
    _check_alpha(alpha)
    if not (sigma > 0 and math.isfinite(sigma)) or not (radius >= 0 and math.isfinite(radius)):
        raise ValueError(f"need a finite sigma > 0 and radius >= 0, got sigma={sigma}, radius={radius}")
    z = radius / sigma
    if p_a >= 1.0:
        return _samples_needed_unanimous(z, alpha)
    target = float(norm.cdf(z))
    if p_a <= target:
        raise ValueError(
            f"p_A = {p_a} cannot certify radius {radius} at sigma {sigma}: it needs p_A > {target:.10g}"
        )

    def certifies(n: int) -> bool:
        k = p_a * n
        return k > 0 and float(beta.ppf(alpha, k, n - k + 1)) >= target

    hi = 1
    while not certifies(hi):
        hi *= 2
        if hi > 2**64:
            raise ValueError(f"p_A = {p_a} would need more than 2^64 samples to certify radius {radius}")
    lo = hi // 2
    while lo + 1 < hi:  # invariant: certifies(hi), not certifies(lo) (or lo == 0)
        mid = (lo + hi) // 2
        if certifies(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _samples_needed_unanimous(z: float, alpha: float) -> int:
    """Smallest n with ``alpha ** (1/n) >= Phi(z)``, i.e. ``n >= log(alpha) / log Phi(z)`` (both negative).

    ``-log Phi(z)`` is computed as ``-log1p(-Q(z))`` from the normal's survival
    function Q, which keeps its relative precision where ``Phi(z)`` rounds to 1
    (z above ~8.3), so the ratio never divides by a rounded zero; the result is
    then corrected by comparison in log space. Where n would exceed 10^15 (z
    above ~7.5 at alpha = 0.001) float64 holds no exact integers: the answer is
    ``exp(log(-log alpha) - log Q(z))`` rounded up, exact to about 12 digits.
    """
    log_alpha = math.log(alpha)
    log_sf = float(norm.logsf(z))
    if log_sf < math.log(1e-12):  # -log Phi(z) = Q(z) (1 + Q(z)/2 + ...) = Q(z) to 1e-12 relative
        log_ratio = math.log(-log_alpha) - log_sf
        if log_ratio > math.log(1e15):
            return _ceil_exp(log_ratio)
    neg_log_cdf = -math.log1p(-float(norm.sf(z)))
    n = max(1, math.ceil(-log_alpha / neg_log_cdf))

    def ok(m: int) -> bool:
        return log_alpha / m >= -neg_log_cdf

    while n > 1 and ok(n - 1):
        n -= 1
    while not ok(n):
        n += 1
    return n


def _ceil_exp(log_value: float) -> int:
    """``ceil(exp(log_value))`` as a Python integer, for values too large for a float."""
    from decimal import Decimal, getcontext

    getcontext().prec = max(50, int(log_value / 2.3) + 20)
    value = Decimal(log_value).exp()
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def normal_cdf(z: float) -> float:
    """Phi(z), the standard normal CDF: the p_A a radius ``z * sigma`` needs."""
    return float(norm.cdf(z))


def binomial_pvalue(c1: int, c2: int) -> float:
    """Two-sided p-value of ``binomtest(c1, c1 + c2, 0.5)``: are the top two classes tied?

    PREDICT abstains when this exceeds alpha. Returns 1.0 when ``c1 + c2 = 0``.
    """
    if c1 + c2 == 0:
        return 1.0
    return float(binomtest(c1, c1 + c2, 0.5).pvalue)
