"""Margin TSV files (written by ``smoothcert margins``): columns, writing, reading, summary.

File-only (numpy): the margins themselves are computed by
:mod:`smoothcert.analysis.margins`, which runs a model. One file holds one or
more models, one row per (model, example), tab-separated with the header
``model`` followed by ``MARGIN_COLUMNS``. ``input_margin`` is ``inf`` where no
eps of the grid flipped the smoothed prediction and ``nan`` where it was not
computed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import SupportsFloat

import numpy as np

from smoothcert.analysis._render import fmt_num, fmt_pct, render
from smoothcert.errors import UserError

QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)


def quantile_column(q: float) -> str:
    """The column of the ``q`` quantile of the logit margin (``0.05`` -> ``margin_q05``)."""
    return f"margin_q{round(100 * q):02d}"


MARGIN_COLUMNS: tuple[str, ...] = (
    "idx", "label", "smoothed_pred", "margin_mean", "margin_std",
    *(quantile_column(q) for q in QUANTILES), "p_correct", "input_margin")
FILE_COLUMNS: tuple[str, ...] = ("model", *MARGIN_COLUMNS)
_INT_COLUMNS = ("idx", "label", "smoothed_pred")

MarginTable = Mapping[str, np.ndarray]
"""One model's margins: an array per column of ``MARGIN_COLUMNS``, one entry per example."""


def margins_tsv(tables: Mapping[str, MarginTable]) -> str:
    """The TSV text of several models' margins (model names must not hold tabs or newlines)."""
    lines = ["\t".join(FILE_COLUMNS)]
    for name, cols in tables.items():
        if any(c in name for c in "\t\r\n"):
            raise UserError(f"model name {name!r} holds a tab or newline; choose another --name")
        for i in range(len(cols["idx"])):
            cells = [str(int(cols[c][i])) if c in _INT_COLUMNS else repr(float(cols[c][i]))
                     for c in MARGIN_COLUMNS]
            lines.append("\t".join([name, *cells]))
    return "\n".join(lines) + "\n"


def load_margins(path: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """Read a margins TSV: ``{model: {column: array}}`` in the file's order of models.

    Raises:
        UserError: Missing file, wrong header, or a row that does not parse.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read margins file {str(path)!r} ({exc}); pass a TSV written "
                        "by `smoothcert margins`") from None
    if not lines or tuple(lines[0].split("\t")) != FILE_COLUMNS:
        raise UserError(f"{str(path)!r} is not a margins TSV: its header must be "
                        f"{' '.join(FILE_COLUMNS)!r}; pass a file written by `smoothcert margins`")
    rows: dict[str, list[list[float]]] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        try:
            if len(fields) != len(FILE_COLUMNS):
                raise ValueError(f"{len(fields)} fields, the header has {len(FILE_COLUMNS)}")
            rows.setdefault(fields[0], []).append([float(f) for f in fields[1:]])
        except ValueError as exc:
            raise UserError(f"{path}:{lineno}: cannot parse row ({exc}); fix or delete that line") from None
    out = {}
    for name, values in rows.items():
        arr = np.asarray(values, dtype=np.float64)
        out[name] = {c: arr[:, j].astype(np.int64) if c in _INT_COLUMNS else arr[:, j]
                     for j, c in enumerate(MARGIN_COLUMNS)}
    return out


def margin_summary(cols: MarginTable) -> dict[str, float]:
    """One model's margins in a few numbers (NaN where undefined).

    Keys: ``examples``; ``smoothed_accuracy`` (vote == label);
    ``mean_logit_margin`` and ``median_logit_margin`` (over examples, of the
    per-example mean margin); ``mean_p_correct``; ``median_input_margin``
    over the examples the smoothed classifier gets right (``inf`` when most
    were never flipped); ``not_flipped``: how many of those no eps of the
    grid flipped.
    """
    n = len(cols["idx"])
    right = cols["smoothed_pred"] == cols["label"]
    margin = cols["input_margin"][right]
    computed = margin[~np.isnan(margin)]

    def stat(fn: Callable[[np.ndarray], SupportsFloat], values: np.ndarray) -> float:
        return float(fn(values)) if values.size else float("nan")

    return {
        "examples": n,
        "smoothed_accuracy": stat(np.mean, right.astype(np.float64)),
        "mean_logit_margin": stat(np.mean, cols["margin_mean"]),
        "median_logit_margin": stat(np.median, cols["margin_mean"]),
        "mean_p_correct": stat(np.mean, cols["p_correct"]),
        "median_input_margin": stat(np.median, computed),
        "not_flipped": int(np.count_nonzero(np.isinf(computed))) if computed.size else float("nan"),
    }


def format_margin_summary(tables: Mapping[str, MarginTable], fmt: str) -> str:
    """:func:`margin_summary` of each model as one table (``csv`` unrounded)."""
    raw = fmt == "csv"
    rows = []
    for name, cols in tables.items():
        s = margin_summary(cols)

        def show(x: float, pct: bool = False) -> str:
            if raw:
                return repr(x)
            if math.isinf(x):
                return "inf"
            return fmt_pct(x) if pct else fmt_num(x)

        rows.append([name, str(s["examples"]), show(s["smoothed_accuracy"], True),
                     show(s["mean_logit_margin"]), show(s["median_logit_margin"]),
                     show(s["mean_p_correct"], True), show(s["median_input_margin"]),
                     str(s["not_flipped"]) if not isinstance(s["not_flipped"], float) else "n/a"])
    head = (["model", "examples", "smoothed_accuracy", "mean_logit_margin", "median_logit_margin",
             "mean_p_correct", "median_input_margin", "not_flipped"] if raw else
            ["model", "examples", "smoothed acc %", "mean logit margin", "median logit margin",
             "mean p_correct %", "median input margin", "not flipped"])
    return render(head, rows, fmt)
