"""Analysis of result TSV files: metrics, intervals, tables, groups, envelope, abstention, plots, report.

Reads only files (CERTIFY, sequential, PREDICT and attack TSVs, ours and the
original papers'), never models::

    from smoothcert.analysis import load_run, summarize
    res = load_run("runs/sigma_0.25.tsv")
    summarize(res, radii=[0.0, 0.25, 0.5])

The plotting functions (``plot_certified_accuracy``, ``plot_radius_histogram``)
are imported on first use, so importing this package does not import
matplotlib. The margin diagnostics, which run a model, live apart in
:mod:`smoothcert.analysis.margins` and are not imported here.
"""

from __future__ import annotations

from typing import Any

from smoothcert.analysis.abstention import (
    AbstentionOverlap,
    PairOverlap,
    abstention_overlap,
    format_overlap,
)
from smoothcert.analysis.attack_results import (
    AttackResults,
    format_attack_table,
    load_attack_results,
    robust_accuracy,
    summarize_attack,
)
from smoothcert.analysis.envelope import (
    EnvelopePoint,
    envelope,
    envelope_curve,
    format_envelope,
)
from smoothcert.analysis.groups import (
    Group,
    format_grouped_csv,
    format_groups,
    group_summary,
    groups_from_globs,
    groups_from_regex,
)
from smoothcert.analysis.intervals import DEFAULT_LEVEL, clopper_pearson_interval
from smoothcert.analysis.manifests import (
    off_target_warnings,
    radius_limit,
    sequential_note,
    setting_warnings,
)
from smoothcert.analysis.metrics import (
    abstention_rate,
    accuracy_non_abstained,
    acr,
    certified_accuracy,
    certified_accuracy_ci,
    certified_accuracy_curve,
    clean_accuracy,
    summarize,
)
from smoothcert.analysis.predictions import (
    Predictions,
    load_predictions,
    predict_summary,
    print_predict_summary,
)
from smoothcert.analysis.results import Results, load_results
from smoothcert.analysis.runs import Run, load_run
from smoothcert.analysis.tables import FORMATS, TABLE_FORMATS, format_table

__all__ = [
    "DEFAULT_LEVEL",
    "FORMATS",
    "TABLE_FORMATS",
    "AbstentionOverlap",
    "AttackResults",
    "EnvelopePoint",
    "Group",
    "PairOverlap",
    "Predictions",
    "Results",
    "Run",
    "abstention_overlap",
    "abstention_rate",
    "accuracy_non_abstained",
    "acr",
    "certified_accuracy",
    "certified_accuracy_ci",
    "certified_accuracy_curve",
    "clean_accuracy",
    "clopper_pearson_interval",
    "envelope",
    "envelope_curve",
    "format_attack_table",
    "format_envelope",
    "format_grouped_csv",
    "format_groups",
    "format_overlap",
    "format_table",
    "group_summary",
    "groups_from_globs",
    "groups_from_regex",
    "load_attack_results",
    "load_predictions",
    "load_results",
    "load_run",
    "off_target_warnings",
    "plot_certified_accuracy",
    "plot_radius_histogram",
    "predict_summary",
    "print_predict_summary",
    "radius_limit",
    "robust_accuracy",
    "sequential_note",
    "setting_warnings",
    "summarize",
    "summarize_attack",
]

_LAZY = {"plot_certified_accuracy", "plot_radius_histogram"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from smoothcert.analysis import plots

        value = getattr(plots, name)
        globals()[name] = value  # later lookups (and documentation tools) find it without this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
