"""Rendering run summaries (from :func:`~smoothcert.analysis.metrics.summarize`) as tables."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from smoothcert.analysis._render import fmt_num, fmt_pct, latex_escape, render
from smoothcert.analysis.intervals import DEFAULT_LEVEL, fmt_interval, level_label

FORMATS: tuple[str, ...] = ("markdown", "latex", "csv", "json")
"""The formats of ``smoothcert analyze --format`` (the command-line contract)."""
TABLE_FORMATS: tuple[str, ...] = (*FORMATS, "html")
"""Every format :func:`format_table` writes (``html`` is for the report)."""


def _radius_label(r: float) -> str:
    return f"r={float(r):g}"


def _cert(summary: dict, r: float) -> float | None:
    key = str(float(r))
    try:
        return summary["certified_accuracy"][key]
    except KeyError:
        raise ValueError(f"summary {summary.get('name')!r} has no certified accuracy "
                         f"at radius {key}; summarize it with these radii") from None


def _ci(summary: dict, r: float) -> list[float] | None:
    return summary.get("certified_accuracy_ci", {}).get(str(float(r)))


def _rounded(summaries: Sequence[dict], radii: Sequence[float]) -> list[list[str]]:
    rows = []
    for s in summaries:
        cells = [str(s["name"]), str(s["examples"]), fmt_pct(s["clean_accuracy"])]
        for r in radii:
            cells += [fmt_pct(_cert(s, r)), fmt_interval(_ci(s, r))]
        rows.append([*cells, fmt_num(s["acr"]), fmt_pct(s["abstention_rate"]),
                     fmt_pct(s["accuracy_non_abstained"])])
    return rows


def raw(x: float | None) -> str:
    """A value for CSV: ``repr`` of the float (``nan`` where undefined), empty for ``None`` (not applicable)."""
    return "" if x is None else repr(x)


def csv_columns(radii: Sequence[float]) -> list[str]:
    """The columns of the ``csv`` summary table for ``radii``."""
    per_radius = []
    for r in radii:
        k = float(r)
        per_radius += [f"certified_accuracy@{k}", f"certified_accuracy_ci_lower@{k}",
                       f"certified_accuracy_ci_upper@{k}"]
    return ["name", "path", "kind", "examples", "clean_accuracy", *per_radius,
            "acr", "abstention_rate", "accuracy_non_abstained"]


def csv_row(summary: dict, radii: Sequence[float]) -> list[str]:
    """One run's row of the ``csv`` summary table (the cells of :func:`csv_columns`)."""
    s = summary
    cells = [str(s["name"]), str(s["path"]), str(s.get("kind", "")), str(s["examples"]), raw(s["clean_accuracy"])]
    for r in radii:
        ci = _ci(s, r)
        cells += [raw(_cert(s, r)), *(("", "") if ci is None else map(raw, ci))]
    return [*cells, raw(s["acr"]), raw(s["abstention_rate"]), raw(s["accuracy_non_abstained"])]


def json_safe(value: object) -> object:
    """``value`` with every NaN float (also nested in dicts and lists) replaced by ``None``."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def format_table(summaries: Sequence[dict], radii: Sequence[float], fmt: str,
                 level: float = DEFAULT_LEVEL) -> str:
    """Render run summaries as one table, without a trailing newline.

    Formats:
        ``markdown``, ``latex`` and ``html``: one row per run with columns
        name, examples, clean acc, for each radius ``r=<radius>`` and its
        interval ``r=<radius> 95% CI`` (``[lower, upper]``), ACR, abstain %,
        non-abstain acc (accuracy among the predictions that did not
        abstain); rates as percentages with one decimal (81.2), ACR with
        three decimals, ``n/a`` where undefined, ``—`` where not applicable
        (ACR of a sequential run, radii of a PREDICT run). ``csv``: the
        same quantities unrounded (``repr`` of the floats, ``nan`` where
        undefined, an empty cell where not applicable), the interval as
        ``certified_accuracy_ci_lower@r`` and ``_upper@r``, plus the path and
        kind. ``json``: the analysis JSON ``{"runs": [summary, ...]}`` with
        unrounded values; undefined values (NaN) and those that do not apply
        are written as ``null`` so the output is strict JSON.

    Args:
        summaries: Dicts as returned by ``summarize(res, radii)``.
        radii: The radii to show; each must be a key of every summary.
        fmt: One of ``TABLE_FORMATS``.
        level: The level the intervals were computed at (for the header).

    Raises:
        ValueError: Unknown ``fmt``, or a radius missing from a summary.
    """
    if fmt == "json":
        return json.dumps({"runs": [json_safe(s) for s in summaries]}, allow_nan=False)
    if fmt == "csv":
        return render(csv_columns(radii), [csv_row(s, radii) for s in summaries], fmt, left=3)
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
    tag = level_label(level)
    head = ["name", "examples", "clean acc"]
    latex_head = ["name", "examples", "clean acc"]
    for r in radii:
        head += [_radius_label(r), f"{_radius_label(r)} {tag}"]
        latex_head += [f"$r={float(r):g}$", f"$r={float(r):g}$ {latex_escape(tag)}"]
    head += ["ACR", "abstain %", "non-abstain acc %"]
    latex_head += ["ACR", r"abstain \%", r"non-abstain acc \%"]
    return render(head, _rounded(summaries, radii), fmt, latex_columns=latex_head)
