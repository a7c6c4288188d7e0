"""Metrics of certification results: certified accuracy, ACR, abstention.

All functions are pure. Every rate is a fraction in [0, 1] over *all* rows
unless its name says otherwise. On a run with no rows (or, for
:func:`accuracy_non_abstained`, no non-abstained rows) a rate is undefined and
is returned as ``float('nan')``, never as a misleading 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from smoothcert.analysis.results import Results


def _check_radius(r: float) -> float:
    r = float(r)
    if math.isnan(r) or r < 0:
        raise ValueError(f"radius must be a number >= 0, got {r}")
    return r


def certified_accuracy(res: Results, r: float) -> float:
    """Fraction of all rows with ``correct == 1`` and ``radius >= r``.

    Abstentions count in the denominator; a radius exactly equal to ``r``
    counts as certified. NaN when the run has no rows.

    Example:
        >>> certified_accuracy(res, 0.5)  # doctest: +SKIP
        0.428
    """
    r = _check_radius(r)
    if len(res) == 0:
        return float("nan")
    return float(np.count_nonzero((res.correct == 1) & (res.radius >= r)) / len(res))


def certified_accuracy_curve(res: Results, radii_grid: Iterable[float]) -> np.ndarray:
    """Certified accuracy at every radius of ``radii_grid`` (float64 array).

    Equal to ``[certified_accuracy(res, r) for r in radii_grid]`` (all NaN
    when the run has no rows), computed in O((n + m) log n).
    """
    grid = np.asarray([_check_radius(r) for r in radii_grid], dtype=np.float64)
    if len(res) == 0:
        return np.full(grid.shape, np.nan)
    certified = np.sort(res.radius[res.correct == 1])
    at_least = certified.size - np.searchsorted(certified, grid, side="left")
    return at_least / len(res)


def acr(res: Results) -> float:
    """Average certified radius: mean over all rows of ``radius * correct``.

    Abstentions and wrong predictions contribute 0. NaN when there are no rows.
    """
    if len(res) == 0:
        return float("nan")
    return float(np.mean(res.radius * res.correct))


def clean_accuracy(res: Results) -> float:
    """Fraction of all rows with ``correct == 1`` (abstentions count as wrong)."""
    if len(res) == 0:
        return float("nan")
    return float(np.count_nonzero(res.correct == 1) / len(res))


def abstention_rate(res: Results) -> float:
    """Fraction of all rows where the smoothed classifier abstained (``predict == -1``)."""
    if len(res) == 0:
        return float("nan")
    return float(np.count_nonzero(res.predict == -1) / len(res))


def accuracy_non_abstained(res: Results) -> float:
    """Fraction correct among rows with ``predict != -1``; NaN when there are none."""
    answered = res.predict != -1
    n = int(np.count_nonzero(answered))
    if n == 0:
        return float("nan")
    return float(np.count_nonzero(res.correct[answered] == 1) / n)


def summarize(res: Results, radii: Sequence[float]) -> dict:
    """One run's entry of the analysis JSON contract (DESIGN.md section 3).

    Returns a dict with exactly the keys ``name``, ``path``, ``examples``,
    ``certified_accuracy`` (keyed by ``str(float(r))`` for each ``r`` in
    ``radii``, in the given order), ``acr``, ``clean_accuracy``,
    ``abstention_rate`` and ``accuracy_non_abstained``. Values are plain,
    unrounded Python floats (NaN where undefined, see the module docstring).
    """
    return {
        "name": res.name,
        "path": str(res.path),
        "examples": len(res),
        "certified_accuracy": {str(float(r)): certified_accuracy(res, r) for r in radii},
        "acr": acr(res),
        "clean_accuracy": clean_accuracy(res),
        "abstention_rate": abstention_rate(res),
        "accuracy_non_abstained": accuracy_non_abstained(res),
    }
