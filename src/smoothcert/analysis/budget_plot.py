"""The Monte Carlo budget drawn: largest certifiable radius against the number of samples N.

With N estimation samples that all agree, the Clopper–Pearson bound is
``alpha ** (1/N)``, so no certificate can exceed
``sigma * Phi^-1(alpha ** (1/N))`` (:func:`smoothcert.stats.max_radius`),
whatever the model. The plot shows this ceiling for several alphas on a log N
axis and marks the N the user chose.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import norm

from smoothcert import stats
from smoothcert.analysis._figure import new_figure, plot_format, save_figure
from smoothcert.errors import UserError


def max_radius_curve(ns: np.ndarray, alpha: float, sigma: float) -> np.ndarray:
    """``sigma * Phi^-1(alpha ** (1/N))`` for each N of ``ns`` (0 where it is <= 0).

    Equal to :func:`smoothcert.stats.max_radius` at every N (vectorized).
    """
    p = np.power(alpha, 1.0 / np.asarray(ns, dtype=np.float64))
    return np.maximum(sigma * norm.ppf(p), 0.0)


def budget_figure(n: int, sigma: float, alphas: Sequence[float],
                  radii: Sequence[float] = ()) -> Figure:
    """Largest certifiable radius vs N (log x axis), one curve per alpha.

    The x axis spans 10 to 100 N (at least 10^5). The given ``n`` is marked
    by a vertical line and a dot on every curve, whose radius the legend gives;
    each target radius of ``radii`` is a horizontal dotted line.

    Raises:
        UserError: ``n`` < 1, ``sigma`` <= 0, no alphas or an alpha outside (0, 1).
    """
    if n < 1 or not sigma > 0:
        raise UserError(f"need N >= 1 and sigma > 0, got N={n}, sigma={sigma}")
    if not alphas:
        raise UserError("--alphas needs at least one failure probability, e.g. --alphas 0.01 0.001")
    bad = [a for a in alphas if not 0 < a < 1]
    if bad:
        raise UserError(f"each alpha must lie strictly between 0 and 1, got {bad[0]}")
    top = max(5, math.ceil(math.log10(n)) + 2)
    ns = np.unique(np.geomspace(10, 10.0**top, 400).round())
    fig = new_figure(6.5, 4.2)
    ax = fig.add_subplot()
    for alpha in alphas:
        at_n = stats.max_radius(n, alpha, sigma)
        (line,) = ax.plot(ns, max_radius_curve(ns, alpha, sigma),
                          label=f"alpha = {alpha:g}: {at_n:.3f} at N = {n:,}")
        ax.plot([n], [at_n], "o", color=line.get_color())
    ax.axvline(n, color="gray", linestyle=":")
    for r in radii:
        ax.axhline(r, color="tab:red", linestyle=":", linewidth=1)
        ax.annotate(f"r = {r:g}", (ns[0], r), textcoords="offset points", xytext=(2, 3),
                    fontsize="small", color="tab:red")
    ax.set_xscale("log")
    ax.set(xlabel="estimation samples N", ylabel="largest certifiable radius (L2)",
           title=f"Monte Carlo budget, sigma = {sigma:g}", xlim=(ns[0], ns[-1]), ylim=(0, None))
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return fig


def plot_budget(out_path: str | Path, n: int, sigma: float, alphas: Sequence[float],
                radii: Sequence[float] = ()) -> Path:
    """Write :func:`budget_figure` to ``out_path`` (png, svg or pdf), atomically.

    Example:
        >>> plot_budget("budget.png", n=100_000, sigma=0.5, alphas=[0.01, 0.001])  # doctest: +SKIP

    Raises:
        UserError: Unsupported extension or an invalid argument.
    """
    plot_format(out_path)
    return save_figure(budget_figure(n, sigma, alphas, radii), out_path)
