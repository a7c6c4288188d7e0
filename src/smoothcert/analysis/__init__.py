"""Analysis of certification TSV files: metrics, tables, groups, envelope, abstention, plots, report.

Reads only files (ours and the original papers'), never models::

    from smoothcert.analysis import load_results, summarize
    res = load_results("runs/sigma_0.25.tsv")
    summarize(res, radii=[0.0, 0.25, 0.5])

The plotting functions (``plot_certified_accuracy``, ``plot_radius_histogram``)
are imported on first use, so importing this package does not import
matplotlib. The margin diagnostics, which run a model, live apart in
:mod:`smoothcert.analysis.margins` and are not imported here.
"""

from __future__ import annotations

from typing import Any

from smoothcert.analysis.abstention import AbstentionOverlap, PairOverlap, abstention_overlap, format_overlap
from smoothcert.analysis.envelope import EnvelopePoint, envelope, envelope_curve, format_envelope
from smoothcert.analysis.groups import Group, format_groups, group_summary, groups_from_globs, groups_from_regex
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
from smoothcert.analysis.tables import FORMATS, TABLE_FORMATS, format_table

__all__ = [
    "FORMATS",
    "TABLE_FORMATS",
    "AbstentionOverlap",
    "EnvelopePoint",
    "Group",
    "PairOverlap",
    "Results",
    "abstention_overlap",
    "abstention_rate",
    "accuracy_non_abstained",
    "acr",
    "certified_accuracy",
    "certified_accuracy_curve",
    "clean_accuracy",
    "envelope",
    "envelope_curve",
    "format_envelope",
    "format_groups",
    "format_overlap",
    "format_table",
    "group_summary",
    "groups_from_globs",
    "groups_from_regex",
    "load_results",
    "plot_certified_accuracy",
    "plot_radius_histogram",
    "summarize",
]

_LAZY = {"plot_certified_accuracy", "plot_radius_histogram"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from smoothcert.analysis import plots

        value = getattr(plots, name)
        globals()[name] = value  # later lookups (and documentation tools) find it without this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
