"""The envelope: best certified accuracy per radius over a set of models.

Salman et al. (2019, SmoothAdv) report, at each radius, the best certified
accuracy over models trained with different sigmas (and other settings);
:func:`envelope` computes that curve and names the model that wins at each
radius, :func:`envelope_curve` gives it exactly for plotting.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from smoothcert.analysis._render import fmt_pct, render
from smoothcert.analysis.metrics import certified_accuracy, certified_accuracy_curve
from smoothcert.analysis.results import Results
from smoothcert.errors import UserError


@dataclasses.dataclass(frozen=True)
class EnvelopePoint:
    """The best certified accuracy at one radius.

    Attributes:
        radius: The radius.
        certified_accuracy: The largest certified accuracy of any run at
            ``radius`` (NaN when every run is empty).
        winners: Names of every run that reaches it, in the given order (more
            than one on a tie; empty when every run is empty).
    """

    radius: float
    certified_accuracy: float
    winners: tuple[str, ...]


def _check(results: Sequence[Results]) -> None:
    if not results:
        raise UserError("the envelope needs at least one certification TSV")


def envelope(results: Sequence[Results], radii: Sequence[float]) -> list[EnvelopePoint]:
    """Best certified accuracy at each radius of ``radii`` and the runs reaching it.

    Guarantees: ``point.certified_accuracy == max(certified_accuracy(res, r))``
    over the non-empty runs, and ``winners`` lists every run whose value
    equals it exactly (ties are all named, in the order of ``results``).

    Example:
        >>> [(p.radius, p.winners) for p in envelope(runs, [0.25, 1.0])]  # doctest: +SKIP
        [(0.25, ('sigma_0.25',)), (1.0, ('sigma_0.5',))]

    Raises:
        UserError: No runs.
    """
    _check(results)
    points = []
    for r in radii:
        values = [certified_accuracy(res, r) for res in results]
        finite = [v for v in values if not math.isnan(v)]
        best = max(finite) if finite else float("nan")
        winners = tuple(res.name for res, v in zip(results, values, strict=True) if v == best)
        points.append(EnvelopePoint(float(r), best, winners))
    return points


def envelope_curve(results: Sequence[Results], max_radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The envelope on [0, ``max_radius``] as step points for ``step(where="pre")``.

    Each run's certified accuracy is constant between consecutive certified
    radii, so the maximum over runs is too: evaluating it at every run's
    knots gives the envelope exactly. Empty runs are ignored.

    Raises:
        UserError: No runs.
    """
    _check(results)
    knots = [res.radius[(res.correct == 1) & (res.radius > 0) & (res.radius < max_radius)]
             for res in results]
    xs = np.unique(np.concatenate([[0.0, float(max_radius)], *knots]))
    curves = [certified_accuracy_curve(res, xs) for res in results if len(res)]
    ys = np.max(curves, axis=0) if curves else np.full(xs.shape, np.nan)
    return xs, ys


def envelope_to_json(points: Sequence[EnvelopePoint]) -> list[dict]:
    """Plain dicts ``{"radius", "certified_accuracy", "winners"}`` (NaN stays NaN)."""
    return [{"radius": p.radius, "certified_accuracy": p.certified_accuracy,
             "winners": list(p.winners)} for p in points]


def format_envelope(points: Sequence[EnvelopePoint], fmt: str) -> str:
    """The envelope as a table: radius, best certified accuracy, winner(s).

    ``markdown``/``latex``/``html`` show percentages with one decimal; ``csv``
    the unrounded fraction. Tied winners are joined by ``", "``.
    """
    raw = fmt == "csv"
    rows = [[f"{p.radius:g}" if not raw else repr(p.radius),
             repr(p.certified_accuracy) if raw else fmt_pct(p.certified_accuracy),
             ", ".join(p.winners) or "n/a"] for p in points]
    head = ["radius", "best certified accuracy" if raw else "best cert. acc %", "winner"]
    return render(head, rows, fmt, left=(0, 2))
