"""Certified accuracy vs. radius, with the envelope, and histograms of radii (headless, Agg)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from smoothcert.analysis._figure import PLOT_FORMATS, new_figure, plot_format, save_figure
from smoothcert.analysis.envelope import envelope_curve
from smoothcert.analysis.metrics import certified_accuracy_curve
from smoothcert.analysis.results import Results
from smoothcert.errors import UserError

__all__ = ["PLOT_FORMATS", "certified_accuracy_figure", "plot_certified_accuracy",
           "plot_format", "plot_radius_histogram", "radius_histogram_figure"]


_LEGEND_INSIDE = 6  # at most this many legend entries inside the axes
_LEGEND_ROWS = 18  # entries per legend column beside the axes
_STYLES = ("-", "--", ":", "-.")


def _steps(res: Results, max_r: float) -> tuple[np.ndarray, np.ndarray]:
    """Points that draw certified accuracy on [0, max_r] exactly with ``step(where="pre")``.

    Certified accuracy is constant on each interval (u_{k-1}, u_k] between
    consecutive distinct certified radii, so its value at u_k holds there.
    """
    knots = np.unique(res.radius[(res.correct == 1) & (res.radius > 0) & (res.radius < max_r)])
    xs = np.concatenate([[0.0], knots, [max_r]])
    return xs, certified_accuracy_curve(res, xs)


def _max_radius(results: Sequence[Results], max_radius: float | None) -> float:
    if not results:
        raise UserError("nothing to plot: pass at least one certification TSV")
    if max_radius is None:
        seen = [float(res.radius.max()) for res in results if len(res)]
        max_radius = max(seen) if seen and max(seen) > 0 else 1.0
    if not max_radius > 0:
        raise UserError(f"--max-radius must be > 0, got {max_radius}")
    return float(max_radius)


def certified_accuracy_figure(results: Sequence[Results], max_radius: float | None = None,
                              title: str | None = None, envelope: bool = False) -> Figure:
    """The figure of :func:`plot_certified_accuracy` (for embedding, e.g. in the report)."""
    max_r = _max_radius(results, max_radius)
    entries = len(results) + int(envelope)
    columns = math.ceil(entries / _LEGEND_ROWS) if entries > _LEGEND_INSIDE else 0
    fig = new_figure(6 + 2.2 * columns, 4)  # a long legend goes beside the axes, not over the curves
    ax = fig.add_subplot()
    for k, res in enumerate(results):
        xs, ys = _steps(res, max_r)  # past 10 runs the colours repeat, so the line style changes
        ax.step(xs, ys, where="pre", label=res.name, zorder=2, linestyle=_STYLES[k // 10 % len(_STYLES)])
    if envelope:
        xs, ys = envelope_curve(results, max_r)
        ax.step(xs, ys, where="pre", color="0.45", linewidth=7, alpha=0.35, solid_capstyle="butt",
                label="envelope (best per radius)", zorder=1)
    ax.set(xlim=(0, max_r), ylim=(0, 1), xlabel="radius (L2)", ylabel="certified accuracy")
    ax.grid(True, alpha=0.3)
    if columns:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="x-small", ncol=columns)
    else:
        ax.legend(loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_certified_accuracy(results: Sequence[Results], out_path: str | Path,
                            max_radius: float | None = None, title: str | None = None,
                            envelope: bool = False) -> Path:
    """Plot certified accuracy against radius, one step curve per run.

    The x axis runs from 0 to ``max_radius`` (default: the largest radius in
    any run, or 1 if none is positive); the y axis is [0, 1]. Each curve is
    exact (no grid sampling) and labelled with the run's name. With
    ``envelope`` the best certified accuracy over the runs at every radius
    (:func:`~smoothcert.analysis.envelope.envelope_curve`) is drawn as a
    wide grey band behind the curves, so the winning curve stands out. The format follows the extension (png, svg, pdf).
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
    The legend gives each run's count of such rows out of all rows.
    """
    if not results:
        raise UserError("nothing to plot: pass at least one certification TSV")
    if bins < 1:
        raise UserError(f"--bins must be >= 1, got {bins}")
    radii = [res.radius[res.correct == 1] for res in results]
    top = max((float(r.max()) for r in radii if r.size), default=0.0)
    edges = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
    fig = new_figure(6, 4)
    ax = fig.add_subplot()
    for res, r in zip(results, radii, strict=True):
        ax.hist(r, bins=edges.tolist(), histtype="step", linewidth=1.6,
                label=f"{res.name} ({r.size} of {len(res)} correct)")
    ax.set(xlabel="certified radius (L2) of correct predictions", ylabel="examples",
           xlim=(edges[0], edges[-1]))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_radius_histogram(results: Sequence[Results], out_path: str | Path, bins: int = 30,
                          title: str | None = None) -> Path:
    """Write :func:`radius_histogram_figure` to ``out_path`` (png, svg or pdf), atomically.

    Raises:
        UserError: Unsupported extension, no runs or ``bins`` < 1.
    """
    plot_format(out_path)
    return save_figure(radius_histogram_figure(results, bins, title), out_path)
