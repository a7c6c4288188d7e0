"""Analysis of certification TSV files: metrics, tables and plots.

Reads only files (ours and the original papers'), never models::

    from smoothcert.analysis import load_results, summarize
    res = load_results("runs/sigma_0.25.tsv")
    summarize(res, radii=[0.0, 0.25, 0.5])

``plot_certified_accuracy`` is imported on first use, so importing this
package does not import matplotlib.
"""

from __future__ import annotations

from typing import Any

from smoothcert.analysis.metrics import (
    abstention_rate,
    accuracy_non_abstained,
    acr,
    certified_accuracy,
    certified_accuracy_curve,
    clean_accuracy,
    summarize,
)
from smoothcert.analysis.results import Results, load_results
from smoothcert.analysis.tables import FORMATS, format_table

__all__ = [
    "FORMATS",
    "Results",
    "abstention_rate",
    "accuracy_non_abstained",
    "acr",
    "certified_accuracy",
    "certified_accuracy_curve",
    "clean_accuracy",
    "format_table",
    "load_results",
    "plot_certified_accuracy",
    "summarize",
]


def __getattr__(name: str) -> Any:
    if name == "plot_certified_accuracy":
        from smoothcert.analysis.plots import plot_certified_accuracy

        return plot_certified_accuracy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
