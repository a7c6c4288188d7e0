"""Certified accuracy vs. radius plots (headless: the Agg backend, no display needed)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np

if "matplotlib.pyplot" not in sys.modules:  # never switch an interactive session's backend
    matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (a Figure owns its canvas: no global state)

from smoothcert.analysis.metrics import certified_accuracy_curve  # noqa: E402
from smoothcert.analysis.results import Results  # noqa: E402
from smoothcert.errors import UserError  # noqa: E402

PLOT_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")


def plot_format(out_path: str | Path) -> str:
    """The image format of ``out_path`` from its extension.

    Raises:
        UserError: The extension is not one of ``PLOT_FORMATS``.
    """
    ext = Path(out_path).suffix.lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise UserError(f"cannot write a plot to {str(out_path)!r}: unsupported extension "
                        f"{ext or '(none)'!r}; use one of .png, .svg, .pdf")
    return ext


def _steps(res: Results, max_r: float) -> tuple[np.ndarray, np.ndarray]:
    """Points that draw certified accuracy on [0, max_r] exactly with ``step(where="pre")``.

    Certified accuracy is constant on each interval (u_{k-1}, u_k] between
    consecutive distinct certified radii, so its value at u_k holds there.
    """
    knots = np.unique(res.radius[(res.correct == 1) & (res.radius > 0) & (res.radius < max_r)])
    xs = np.concatenate([[0.0], knots, [max_r]])
    return xs, certified_accuracy_curve(res, xs)


def plot_certified_accuracy(results: Sequence[Results], out_path: str | Path,
                            max_radius: float | None = None, title: str | None = None) -> Path:
    """Plot certified accuracy against radius, one step curve per run.

    The x axis runs from 0 to ``max_radius`` (default: the largest radius in
    any run, or 1 if none is positive); the y axis is [0, 1]. Each curve is
    exact (no grid sampling) and labelled with the run's name. The format
    follows the extension (png, svg, pdf). Parent directories are created;
    the file is written to a temporary name in the same directory and renamed,
    so an existing file is never left half-written.

    Args:
        results: The runs to plot (at least one).
        out_path: The image file to write.
        max_radius: Right end of the x axis; must be > 0.
        title: Optional title.

    Returns:
        The path written.

    Raises:
        UserError: Unsupported extension, no runs, or ``max_radius`` <= 0.
    """
    out_path = Path(out_path)
    ext = plot_format(out_path)
    if not results:
        raise UserError("nothing to plot: pass at least one certification TSV")
    if max_radius is None:
        seen = [float(res.radius.max()) for res in results if len(res)]
        max_radius = max(seen) if seen and max(seen) > 0 else 1.0
    if not max_radius > 0:
        raise UserError(f"--max-radius must be > 0, got {max_radius}")
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for res in results:
        xs, ys = _steps(res, float(max_radius))
        ax.step(xs, ys, where="pre", label=res.name)
    ax.set(xlim=(0, max_radius), ylim=(0, 1), xlabel="radius (L2)",
           ylabel="certified accuracy")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.stem}.", suffix=f".{ext}", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=ext)
        # mkstemp makes the file 0600; give it the usual mode (or the old file's).
        os.chmod(tmp, out_path.stat().st_mode & 0o777 if out_path.exists() else 0o644)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path
