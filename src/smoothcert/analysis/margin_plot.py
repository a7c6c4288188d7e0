"""Histograms of margins, one outline per model (headless, Agg); reads margin tables only."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from smoothcert.analysis._figure import new_figure, plot_format, save_figure
from smoothcert.analysis.margin_files import MarginTable
from smoothcert.errors import UserError


def _edges(arrays: list[np.ndarray], bins: int) -> np.ndarray:
    values = np.concatenate(arrays) if arrays else np.zeros(0)
    values = values[np.isfinite(values)]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def _grid_edges(arrays: list[np.ndarray], bins: int) -> np.ndarray:
    """One bin per distinct value when there are at most ``bins`` (the attack's eps grid),
    with edges half-way between neighbours; else :func:`_edges`."""
    values = np.unique(np.concatenate(arrays)) if arrays else np.zeros(0)
    if not 2 <= values.size <= bins:
        return _edges(arrays, bins)
    mids = (values[1:] + values[:-1]) / 2
    return np.concatenate([[values[0] - (mids[0] - values[0])], mids,
                           [values[-1] + (values[-1] - mids[-1])]])


def margins_figure(tables: Mapping[str, MarginTable], bins: int = 30) -> Figure:
    """Overlaid histograms per model: the per-example mean logit margin under noise and,
    when computed, the input-space margin.

    The logit panel marks 0 (where the base model's vote turns). The input
    panel counts the finite margins of the examples the smoothed classifier
    gets right; its legend gives how many of them no eps of the grid flipped
    (``inf``, not drawn).

    Raises:
        UserError: No models, or ``bins`` < 1.
    """
    if not tables:
        raise UserError("nothing to plot: no margins were computed")
    if bins < 1:
        raise UserError(f"bins must be >= 1, got {bins}")
    with_input = any(np.any(~np.isnan(c["input_margin"])) for c in tables.values())
    fig = new_figure(11 if with_input else 6, 4)
    axes = fig.subplots(1, 2 if with_input else 1, squeeze=False)[0]
    means = [np.asarray(c["margin_mean"], dtype=np.float64) for c in tables.values()]
    edges = _edges(means, bins)
    for name, values in zip(tables, means, strict=True):
        axes[0].hist(values, bins=edges, histtype="step", linewidth=1.6, label=f"{name} (n={values.size})")
    axes[0].axvline(0, color="gray", linestyle=":")
    axes[0].set(xlabel="mean logit margin under noise (true - best other)", ylabel="examples")
    if with_input:
        finite, labels = [], []
        for name, cols in tables.items():
            right = cols["smoothed_pred"] == cols["label"]
            margin = cols["input_margin"][right & ~np.isnan(cols["input_margin"])]
            finite.append(margin[np.isfinite(margin)])
            labels.append(f"{name} ({int(np.count_nonzero(np.isinf(margin)))} not flipped)")
        edges = _grid_edges(finite, bins)
        for values, label in zip(finite, labels, strict=True):
            axes[1].hist(values, bins=edges, histtype="step", linewidth=1.6, label=label)
        axes[1].set(xlabel="input-space margin: smallest eps that flips g (L2)", ylabel="examples")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def plot_margins(tables: Mapping[str, MarginTable], out_path: str | Path, bins: int = 30) -> Path:
    """Write :func:`margins_figure` to ``out_path`` (png, svg or pdf), atomically.

    Raises:
        UserError: Unsupported extension, no models or ``bins`` < 1.
    """
    plot_format(out_path)
    return save_figure(margins_figure(tables, bins), out_path)
