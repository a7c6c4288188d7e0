"""Warnings for Monte Carlo settings that cannot work: printed, never fatal.

Users of the original code asked why every example abstained with ``--n 10``:
at ``alpha = 0.001`` even ten votes out of ten give a Clopper–Pearson lower
bound of ``0.001 ** (1/10) = 0.501``, barely above 1/2, and nine samples can
never certify. These checks say so before hours of sampling, from the exact
formulas of :mod:`smoothcert.stats` alone (no model is run).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable

from smoothcert import stats


def futile_settings(n: int, alpha: float, sigma: float, radii: Iterable[float] = (),
                    procedure: str = "certify") -> list[str]:
    """Messages for settings under which the result is fixed in advance; empty when all can work.

    * ``procedure="certify"``: CERTIFY abstains on every input when
      ``alpha ** (1/n) < 1/2`` (the bound when all ``n`` samples agree), and a
      target radius above ``stats.max_radius(n, alpha, sigma)`` is never reached.
    * ``procedure="predict"``: PREDICT abstains on every input when even a
      unanimous vote has binomial p-value ``2 * 0.5 ** n > alpha``.
    """
    messages: list[str] = []
    if procedure == "predict":
        if stats.binomial_pvalue(n, 0) > alpha:
            need = _smallest_predict_n(alpha)
            messages.append(f"with --n {n} at --alpha {alpha:g} even a unanimous vote is not significant "
                            f"(p-value {stats.binomial_pvalue(n, 0):.3g} > alpha): PREDICT will abstain on every "
                            f"input; use --n >= {need}")
        return messages
    best = alpha ** (1.0 / n)
    if best < 0.5:
        need = stats.samples_needed(0.0, sigma, alpha)
        messages.append(f"with --n {n} at --alpha {alpha:g} the lower bound on p_A is at most {best:.4f} < 0.5 "
                        f"(even when all {n} samples agree): everything will abstain; use --n >= {need}")
        return messages
    largest = stats.max_radius(n, alpha, sigma)
    for radius in radii:
        if radius > largest:
            messages.append(f"radius {radius:g} can never be certified with --n {n} at --alpha {alpha:g}, "
                            f"sigma {sigma:g}: the largest certifiable radius is {largest:.4f} (all samples agree); "
                            f"it needs --n >= {stats.samples_needed(radius, sigma, alpha)}")
    return messages


def warn_futile(n: int, alpha: float, sigma: float, radii: Iterable[float] = (), procedure: str = "certify") -> None:
    """Print each of :func:`futile_settings`'s messages as one ``warning: ...`` line on stderr."""
    for message in futile_settings(n, alpha, sigma, radii, procedure):
        print(f"warning: {message}", file=sys.stderr)


def _smallest_predict_n(alpha: float) -> int:
    n = max(1, math.floor(math.log2(2.0 / alpha)))
    while stats.binomial_pvalue(n, 0) > alpha:
        n += 1
    return n
