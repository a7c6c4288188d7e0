"""Warnings and notes about settings that are likely mistakes: printed on stderr, never fatal.

Users of the original code asked why every example abstained with ``--n 10``:
at ``alpha = 0.001`` even ten votes out of ten give a Clopper–Pearson lower
bound of ``0.001 ** (1/10) = 0.501``, barely above 1/2, and nine samples can
never certify. :func:`futile_settings` says so before hours of sampling, from
the exact formulas of :mod:`smoothcert.stats` alone (no model is run).

Noise is added to pixels in [0, 1], so a sigma of 25 is almost surely a value
meant for the 0-255 scale (:func:`implausible_sigma`); and certifying at a sigma
other than the one the model was trained with is legitimate but rarely meant
(:func:`sigma_differs`).

Each check is a pure function returning its messages (empty when all is well);
``warn_*`` and ``note_*`` print them as ``warning: ...`` and ``note: ...`` lines.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable

SANE_SIGMA_MAX = 4.0
"""The largest sigma taken as meant for pixels in [0, 1]: papers use 0.12 to 1.0, and at 4 the noise is four
times the whole pixel range."""


def futile_settings(n: int, alpha: float, sigma: float, radii: Iterable[float] = (),
                    procedure: str = "certify") -> list[str]:
    """Messages for settings under which the result is fixed in advance; empty when all can work.

    * ``procedure="certify"``: CERTIFY abstains on every input when
      ``alpha ** (1/n) < 1/2`` (the bound when all ``n`` samples agree), and a
      target radius above ``stats.max_radius(n, alpha, sigma)`` is never reached.
    * ``procedure="predict"``: PREDICT abstains on every input when even a
      unanimous vote has binomial p-value ``2 * 0.5 ** n > alpha``.
    """
    from smoothcert import stats

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


def implausible_sigma(sigma: float | None) -> list[str]:
    """A message when ``sigma`` lies above :data:`SANE_SIGMA_MAX` (likely a 0-255 scale value); else empty.

    ``None`` (a noise-free method such as ``standard``) has nothing to check.
    """
    if sigma is None or sigma <= SANE_SIGMA_MAX:
        return []
    return [f"sigma is in [0,1]-pixel units; {sigma:g} looks like a 0-255 scale value (did you mean --sigma "
            f"{sigma / 255:.3g}?): noise of sigma {sigma:g} drowns every image"]


def warn_sigma(sigma: float | None) -> None:
    """Print :func:`implausible_sigma`'s message as one ``warning: ...`` line on stderr."""
    for message in implausible_sigma(sigma):
        print(f"warning: {message}", file=sys.stderr)


def sigma_differs(sigma: float, trained_sigma: float | None) -> list[str]:
    """A message when the smoothing ``sigma`` is not the checkpoint's ``trained_sigma``; else empty.

    ``trained_sigma`` is None for a checkpoint that does not record it (converted
    from the original code without ``--sigma``): nothing to compare, no message.
    """
    if trained_sigma is None or math.isclose(sigma, trained_sigma, rel_tol=1e-9):
        return []
    return [f"--sigma {sigma:g} differs from the sigma the checkpoint was trained with ({trained_sigma:g}): the "
            f"results hold for the smoothed classifier at sigma {sigma:g}, whose base model never trained at that "
            f"noise level; omit --sigma to use {trained_sigma:g}"]


def note_sigma(sigma: float, trained_sigma: float | None) -> None:
    """Print :func:`sigma_differs`'s message as one ``note: ...`` line on stderr."""
    for message in sigma_differs(sigma, trained_sigma):
        print(f"note: {message}", file=sys.stderr)


def _smallest_predict_n(alpha: float) -> int:
    from smoothcert import stats

    n = max(1, math.floor(math.log2(2.0 / alpha)))
    while stats.binomial_pvalue(n, 0) > alpha:
        n += 1
    return n
