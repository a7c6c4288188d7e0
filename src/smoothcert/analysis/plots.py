"""Certified accuracy vs. radius, with the envelope, and histograms of radii (headless, Agg)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from smoothcert.analysis._figure import (
    PLOT_FORMATS,
    legend_outside,
    legend_room,
    new_figure,
    plot_format,
    save_figure,
)
from smoothcert.analysis.envelope import envelope_curve
from smoothcert.analysis.manifests import radius_limit
from smoothcert.analysis.metrics import certified_accuracy_curve
from smoothcert.analysis.results import Results
from smoothcert.errors import UserError

__all__ = ["PLOT_FORMATS", "certified_accuracy_figure", "plot_certified_accuracy",
           "plot_format", "plot_radius_histogram", "radius_histogram_figure"]


_STYLES = ("-", "--", ":", "-.")
_LIMIT_COLOR = "0.25"


def _steps(res: Results, max_r: float) -> tuple[np.ndarray, np.ndarray]:
    """Points that draw certified accuracy on [0, max_r] exactly with ``step(where="pre")``.

    Certified accuracy is constant on each interval (u_{k-1}, u_k] between
    consecutive distinct certified radii, so its value at u_k holds there.
    """
    knots = np.unique(res.radius[(res.correct == 1) & (res.radius > 0) & (res.radius < max_r)])
    xs = np.concatenate([[0.0], knots, [max_r]])
    return xs, certified_accuracy_curve(res, xs)


def radius_limits(results: Sequence[Results]) -> list[tuple[float, list[int]]]:
    """The distinct largest radii N allows (:func:`~smoothcert.analysis.manifests.radius_limit`).

    Returns:
        ``(limit, [indices of the runs with it])`` in order of first
        appearance; limits equal to 1e-9 relative are one. Runs without a
        manifest (or one lacking n, alpha, sigma) are left out.
    """
    limits: list[tuple[float, list[int]]] = []
    for k, res in enumerate(results):
        limit = radius_limit(res)
        if limit is None:
            continue
        for value, members in limits:
            if math.isclose(value, limit, rel_tol=1e-9):
                members.append(k)
                break
        else:
            limits.append((limit, [k]))
    return limits


def _max_radius(results: Sequence[Results], max_radius: float | None,
                limits: Sequence[tuple[float, list[int]]] = ()) -> float:
    if not results:
        raise UserError("nothing to plot: pass at least one certification TSV (PREDICT and attack TSVs have no radii)")
    if max_radius is None:
        seen = [float(res.radius.max()) for res in results if len(res)]
        top = max(seen) if seen and max(seen) > 0 else 0.0
        reach = max((limit for limit, _ in limits), default=0.0)
        max_radius = 1.05 * max(top, reach) if reach > 0 else (top or 1.0)
    if not max_radius > 0:
        raise UserError(f"--max-radius must be > 0, got {max_radius}")
    return float(max_radius)


def _draw_limits(ax: object, results: Sequence[Results], limits: Sequence[tuple[float, list[int]]],
                 right: float, colors: Sequence[object] | None) -> None:
    """One vertical dotted line per distinct limit, labelled with the runs it belongs to unless all share it."""
    shared = len(limits) == 1 and len(limits[0][1]) == len(results)
    for limit, members in limits:
        owner = "" if shared else f" ({', '.join(results[k].name for k in members)})"
        ns = {(results[k].manifest or {}).get("n") for k in members}
        n = f"={ns.pop():,}" if len(ns) == 1 else ""
        color = colors[members[0]] if colors is not None and not shared and len(members) == 1 else _LIMIT_COLOR
        beyond = " — beyond the axis" if limit > right else ""
        ax.axvline(limit, linestyle=":", linewidth=1.4, color=color, zorder=3,  # type: ignore[attr-defined]
                   label=f"largest radius N{n} allows{owner}: {limit:.3g}{beyond}")


def certified_accuracy_figure(results: Sequence[Results], max_radius: float | None = None,
                              title: str | None = None, envelope: bool = False) -> Figure:
    """The figure of :func:`plot_certified_accuracy` (for embedding, e.g. in the report)."""
    limits = radius_limits(results)
    max_r = _max_radius(results, max_radius, limits)
    width, height = legend_room(len(results) + int(envelope) + len(limits))
    fig = new_figure(6 + width, 4 + height, constrained=True)  # the legend goes outside, not over the curves
    ax = fig.add_subplot()
    colors: list[object] = []
    for k, res in enumerate(results):
        xs, ys = _steps(res, max_r)  # past 10 runs the colours repeat, so the line style changes
        (line,) = ax.step(xs, ys, where="pre", label=res.name, zorder=2, linestyle=_STYLES[k // 10 % len(_STYLES)])
        colors.append(line.get_color())
    if envelope:
        xs, ys = envelope_curve(results, max_r)
        ax.step(xs, ys, where="pre", color="0.45", linewidth=7, alpha=0.35, solid_capstyle="butt",
                label="envelope (best per radius)", zorder=1)
    _draw_limits(ax, results, limits, max_r, colors)
    ax.set(xlim=(0, max_r), ylim=(0, 1), xlabel="radius (L2)", ylabel="certified accuracy")
    ax.grid(True, alpha=0.3)
    legend_outside(fig, ax)
    if title:
        ax.set_title(title)
    return fig


def plot_certified_accuracy(results: Sequence[Results], out_path: str | Path,
                            max_radius: float | None = None, title: str | None = None,
                            envelope: bool = False) -> Path:
    """Plot certified accuracy against radius, one step curve per run.

    The x axis runs from 0 to ``max_radius`` (default: 1.05 times the
    largest of the runs' radii and the radii N allows, or the largest
    radius, or 1 if none is positive); the y axis is [0, 1]. Each curve is
    exact (no grid sampling) and labelled with the run's name. With
    ``envelope`` the best certified accuracy over the runs at every radius
    (:func:`~smoothcert.analysis.envelope.envelope_curve`) is drawn as a
    wide grey band behind the curves, so the winning curve stands out. The
    largest radius the runs' N allows (from their manifests, see
    :func:`radius_limits`) is a vertical dotted line, one per distinct value,
    its legend entry naming the runs unless all share it. The legend sits
    outside the axes (below them, or beside them past six entries). The
    format follows the extension (png, svg, pdf).
    Parent directories are created; the file is written to a temporary name
    in the same directory and renamed, so an existing file is never left
    half-written.

    Args:
        results: The runs to plot (at least one).
        out_path: The image file to write.
        max_radius: Right end of the x axis; must be > 0.
        title: Optional title.
        envelope: Also draw the envelope.

    Returns:
        The path written.

    Raises:
        UserError: Unsupported extension, no runs, or ``max_radius`` <= 0.
    """
    plot_format(out_path)
    return save_figure(certified_accuracy_figure(results, max_radius, title, envelope), out_path)


def radius_histogram_figure(results: Sequence[Results], bins: int = 30,
                            title: str | None = None) -> Figure:
    """Histograms of the certified radii of correct predictions, one outline per run.

    Only rows with ``correct == 1`` are counted (the radii behind certified
    accuracy and ACR; abstentions and wrong predictions certify nothing for
    the true class). All runs share the same bins on [0, largest radius].
    The legend, outside the axes, gives each run's count of such rows out of
    all rows, and the largest radius N allows (dotted lines, as in
    :func:`certified_accuracy_figure`).
    """
    if not results:
        raise UserError("nothing to plot: pass at least one certification TSV (PREDICT and attack TSVs have no radii)")
    if bins < 1:
        raise UserError(f"--bins must be >= 1, got {bins}")
    radii = [res.radius[res.correct == 1] for res in results]
    top = max((float(r.max()) for r in radii if r.size), default=0.0)
    edges = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
    limits = radius_limits(results)
    right = max([edges[-1], *(1.05 * limit for limit, _ in limits)])
    width, height = legend_room(len(results) + len(limits))
    fig = new_figure(6 + width, 4 + height, constrained=True)
    ax = fig.add_subplot()
    colors: list[object] = []
    for res, r in zip(results, radii, strict=False):
        ax.hist(r, bins=edges, histtype="step", linewidth=1.6,  # type: ignore[arg-type]
                label=f"{res.name} ({r.size} of {len(res)} correct)")
        colors.append(ax.patches[-1].get_edgecolor())
    _draw_limits(ax, results, limits, right, colors)
    ax.set(xlabel="certified radius (L2) of correct predictions", ylabel="examples", xlim=(edges[0], right))
    ax.grid(True, alpha=0.3)
    legend_outside(fig, ax)
    if title:
        ax.set_title(title)
    return fig


def plot_radius_histogram(results: Sequence[Results], out_path: str | Path, bins: int = 30,
                          title: str | None = None) -> Path:
    """Write :func:`radius_histogram_figure` to ``out_path`` (png, svg or pdf), atomically.

    Raises:
        UserError: Unsupported extension, no runs or ``bins`` < 1.
    """
    plot_format(out_path)
    return save_figure(radius_histogram_figure(results, bins, title), out_path)
