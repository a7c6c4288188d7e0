"""Headless figures (the Agg backend) and crash-safe, world-readable output files.

Every plot of :mod:`smoothcert.analysis` is a :class:`matplotlib.figure.Figure`
built without pyplot (a Figure owns its canvas: no global state), written in
the format its file extension names, or rendered to bytes for the HTML report.
"""

from __future__ import annotations

import io
import math
import os
import sys
from pathlib import Path
from typing import IO

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # never switch an interactive session's backend
    matplotlib.use("Agg")
from matplotlib.figure import Figure

from smoothcert._io import atomic_write
from smoothcert.errors import UserError

PLOT_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
_DPI = 120


def plot_format(out_path: str | Path) -> str:
    """The image format of ``out_path`` from its extension (``png``, ``svg`` or ``pdf``).

    Raises:
        UserError: The extension is not one of ``PLOT_FORMATS``.
    """
    ext = Path(out_path).suffix.lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise UserError(f"cannot write a plot to {str(out_path)!r}: unsupported extension "
                        f"{ext or '(none)'!r}; use one of .png, .svg, .pdf")
    return ext


def new_figure(width: float = 6.0, height: float = 4.0, constrained: bool = False) -> Figure:
    """A fresh figure of ``width`` x ``height`` inches, not registered with pyplot.

    ``constrained`` turns on matplotlib's constrained layout (needed by
    :func:`legend_outside`; do not call ``tight_layout`` on such a figure).
    """
    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


_BELOW = 6  # at most this many legend entries below the axes; more go beside them
_ROWS_BESIDE = 18  # entries per legend column beside the axes


def legend_room(entries: int) -> tuple[float, float]:
    """Inches to add to a figure's (width, height) for :func:`legend_outside` with ``entries`` entries."""
    if entries <= _BELOW:
        return 0.0, 0.25 * math.ceil(entries / (1 if entries <= 3 else 2))
    return 2.2 * math.ceil(entries / _ROWS_BESIDE), 0.0


def legend_outside(fig: Figure, ax: object) -> None:
    """The legend of ``ax`` outside the axes, never over the data.

    Up to six entries go below the axes (one column, two past three);
    more go beside them, in columns of 18. ``fig`` must be a constrained
    layout figure (:func:`new_figure` with ``constrained=True``) sized with
    :func:`legend_room`.
    """
    handles, labels = ax.get_legend_handles_labels()  # type: ignore[attr-defined]
    if not labels:
        return
    if len(labels) <= _BELOW:
        fig.legend(handles, labels, loc="outside lower center", ncols=1 if len(labels) <= 3 else 2,
                   fontsize="small")
    else:
        fig.legend(handles, labels, loc="outside right upper", ncols=math.ceil(len(labels) / _ROWS_BESIDE),
                   fontsize="x-small")


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure encoded as ``fmt`` (one of ``PLOT_FORMATS``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=_DPI)
    return buf.getvalue()


def write_output(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, readable like an ordinary file.

    The file is written to a temporary name in the same directory, fsynced
    and renamed, so a crash leaves either the old file or the new one. It
    gets the old file's permission bits, or 0644 for a new file (a bare
    temporary file would be 0600). Parent directories are created.

    Raises:
        UserError: ``path`` is a directory or cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{str(path)!r} is a directory; give a file name inside it")
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644

    def write(fh: IO[bytes]) -> None:
        os.fchmod(fh.fileno(), mode)
        fh.write(data)

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise UserError(f"cannot write {str(path)!r}: {exc.strerror}; choose another "
                        "output path") from None
    return path


def save_figure(fig: Figure, out_path: str | Path) -> Path:
    """Write ``fig`` to ``out_path`` in the format of its extension, atomically.

    Raises:
        UserError: Unsupported extension, or the file cannot be written.
    """
    return write_output(out_path, figure_bytes(fig, plot_format(out_path)))
