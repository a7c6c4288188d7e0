"""Metrics of certification and PREDICT results: certified accuracy, ACR, abstention.

All functions are pure. Every rate is a fraction in [0, 1] over *all* rows
unless its name says otherwise. On a run with no rows (or, for
:func:`accuracy_non_abstained`, no non-abstained rows) a rate is undefined and
is returned as ``float('nan')``, never as a misleading 0. A quantity that does
not apply to a kind of run (ACR of a sequential run, any radius of a PREDICT
run) is ``None`` in :func:`summarize`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from smoothcert.analysis.intervals import DEFAULT_LEVEL, clopper_pearson_interval
from smoothcert.analysis.predictions import Predictions
from smoothcert.analysis.results import SEQUENTIAL, Results

Labelled = Results | Predictions
"""A run with a prediction per example: CERTIFY, sequential or PREDICT."""


def _check_radius(r: float) -> float:
    r = float(r)
    if math.isnan(r) or r < 0:
        raise ValueError(f"radius must be a number >= 0, got {r}")
    return r


def certified_count(res: Results, r: float) -> int:
    """Number of rows with ``correct == 1`` and ``radius >= r``."""
    return int(np.count_nonzero((res.correct == 1) & (res.radius >= _check_radius(r))))


def certified_accuracy(res: Results, r: float) -> float:
    """Fraction of all rows with ``correct == 1`` and ``radius >= r``.

    Abstentions count in the denominator; a radius exactly equal to ``r``
    counts as certified. NaN when the run has no rows.

    Example:
        >>> certified_accuracy(res, 0.5)  # doctest: +SKIP
        0.428
    """
    count = certified_count(res, r)
    return count / len(res) if len(res) else float("nan")


def certified_accuracy_ci(res: Results, r: float, level: float = DEFAULT_LEVEL) -> list[float] | None:
    """Two-sided Clopper–Pearson interval ``[lower, upper]`` of certified accuracy at ``r``.

    The interval is over the sampling of images (see
    :mod:`smoothcert.analysis.intervals`); ``None`` when the run has no rows.

    Example:
        >>> certified_accuracy_ci(res, 0.5)  # 3 of 8 certified  # doctest: +SKIP
        [0.0852, 0.7551]
    """
    count = certified_count(res, r)
    return clopper_pearson_interval(count, len(res), level) if len(res) else None


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
    Meaningless for a sequential run (its radii are target radii), for which
    :func:`summarize` gives ``None``.
    """
    if len(res) == 0:
        return float("nan")
    return float(np.mean(res.radius * res.correct))


def clean_accuracy(res: Labelled) -> float:
    """Fraction of all rows with ``correct == 1`` (abstentions count as wrong)."""
    if len(res) == 0:
        return float("nan")
    return float(np.count_nonzero(res.correct == 1) / len(res))


def abstention_rate(res: Labelled) -> float:
    """Fraction of all rows where the smoothed classifier abstained (``predict == -1``)."""
    if len(res) == 0:
        return float("nan")
    return float(np.count_nonzero(res.predict == -1) / len(res))


def accuracy_non_abstained(res: Labelled) -> float:
    """Fraction correct among rows with ``predict != -1``; NaN when there are none."""
    answered = res.predict != -1
    n = int(np.count_nonzero(answered))
    if n == 0:
        return float("nan")
    return float(np.count_nonzero(res.correct[answered] == 1) / n)


def summarize(res: Labelled, radii: Sequence[float], level: float = DEFAULT_LEVEL) -> dict:
    """One run's entry of the analysis JSON ``runs`` list.

    Returns a dict with the keys ``name``, ``path``, ``kind`` (``certify``,
    ``sequential`` or ``predict``), ``examples``, ``certified_accuracy``
    (keyed by ``str(float(r))`` for each ``r`` in ``radii``, in the given
    order), ``certified_accuracy_ci`` (the same keys, each a two-sided
    Clopper–Pearson interval ``[lower, upper]`` at ``level``), ``acr``,
    ``clean_accuracy``, ``abstention_rate`` and ``accuracy_non_abstained``.
    Values are plain, unrounded Python floats (NaN where undefined, see the
    module docstring). ``None`` marks what does not apply: ``acr`` of a
    sequential run, every radius entry and ``acr`` of a PREDICT run, the
    intervals of a run with no rows.
    """
    keys = [str(float(r)) for r in radii]
    if isinstance(res, Predictions):
        certified: dict = dict.fromkeys(keys)
        intervals: dict = dict.fromkeys(keys)
        mean_radius = None
    else:
        certified = {k: certified_accuracy(res, r) for k, r in zip(keys, radii, strict=False)}
        intervals = {k: certified_accuracy_ci(res, r, level) for k, r in zip(keys, radii, strict=False)}
        mean_radius = None if res.kind == SEQUENTIAL else acr(res)
    return {
        "name": res.name,
        "path": str(res.path),
        "kind": res.kind,
        "examples": len(res),
        "certified_accuracy": certified,
        "certified_accuracy_ci": intervals,
        "acr": mean_radius,
        "clean_accuracy": clean_accuracy(res),
        "abstention_rate": abstention_rate(res),
        "accuracy_non_abstained": accuracy_non_abstained(res),
    }
