"""Exact (Clopper–Pearson) confidence intervals for rates measured over images.

Certified accuracy on a test set of n images is k/n, a binomial proportion if
the images are a random sample from the data distribution. The two-sided
Clopper–Pearson interval at level ``1 - a`` takes the one-sided bounds at
``a / 2`` each: lower = ``Beta.ppf(a/2, k, n - k + 1)`` (0 when k = 0), upper
= ``Beta.ppf(1 - a/2, k + 1, n - k)`` (1 when k = n). It covers the true rate
with probability at least ``1 - a`` for every true rate (exact, never
anti-conservative). It is about the sampling of the *images*; the Monte Carlo
error of each certificate is already inside the certificate (its alpha).
"""

from __future__ import annotations

import math

from smoothcert import stats
from smoothcert.analysis._render import NOT_APPLICABLE
from smoothcert.errors import UserError

DEFAULT_LEVEL = 0.95


def check_level(level: float) -> float:
    """``level`` as a float, or a ``UserError`` unless 0 < level < 1."""
    level = float(level)
    if not (math.isfinite(level) and 0.0 < level < 1.0):
        raise UserError(f"--ci-level must lie strictly between 0 and 1, got {level}; e.g. --ci-level 0.95")
    return level


def clopper_pearson_interval(k: int, n: int, level: float = DEFAULT_LEVEL) -> list[float]:
    """Two-sided Clopper–Pearson interval ``[lower, upper]`` for ``k`` successes in ``n`` trials.

    Guarantee: for every p, if ``k ~ Binomial(n, p)`` the interval contains p
    with probability at least ``level``.

    Example:
        >>> [round(b, 4) for b in clopper_pearson_interval(5, 10)]
        [0.1871, 0.8129]

    Raises:
        ValueError: ``n < 1``, ``k`` outside ``[0, n]`` or ``level`` outside (0, 1).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    tail = (1.0 - level) / 2.0
    return [stats.clopper_pearson_lower(k, n, tail), stats.clopper_pearson_upper(k, n, tail)]


def level_label(level: float) -> str:
    """The interval's column label, e.g. ``95% CI`` (``99.9% CI`` for 0.999)."""
    return f"{100 * level:.10g}% CI"


def fmt_interval(ci: list[float] | None) -> str:
    """An interval in percent with one decimal, ``[15.7, 84.3]``; ``—`` for ``None``."""
    if ci is None:
        return NOT_APPLICABLE
    if any(math.isnan(b) for b in ci):
        return "n/a"
    return f"[{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
