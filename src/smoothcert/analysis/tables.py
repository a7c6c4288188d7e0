"""Rendering run summaries (from :func:`~smoothcert.analysis.metrics.summarize`) as tables."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from smoothcert.analysis._render import fmt_num, fmt_pct, render

FORMATS: tuple[str, ...] = ("markdown", "latex", "csv", "json")
"""The formats of ``smoothcert analyze --format`` (the command-line contract)."""
TABLE_FORMATS: tuple[str, ...] = (*FORMATS, "html")
"""Every format :func:`format_table` writes (``html`` is for the report)."""


def _radius_label(r: float) -> str:
    return f"r={float(r):g}"


def _cert(summary: dict, r: float) -> float:
    key = str(float(r))
    try:
        return summary["certified_accuracy"][key]
    except KeyError:
        raise ValueError(f"summary {summary.get('name')!r} has no certified accuracy "
                         f"at radius {key}; summarize it with these radii") from None


def _rounded(summaries: Sequence[dict], radii: Sequence[float]) -> list[list[str]]:
    return [[str(s["name"]), str(s["examples"]), fmt_pct(s["clean_accuracy"]),
             *(fmt_pct(_cert(s, r)) for r in radii), fmt_num(s["acr"]),
             fmt_pct(s["abstention_rate"]), fmt_pct(s["accuracy_non_abstained"])]
            for s in summaries]


def _raw(summaries: Sequence[dict], radii: Sequence[float]) -> list[list[str]]:
    return [[str(s["name"]), str(s["path"]), str(s["examples"]), repr(s["clean_accuracy"]),
             *(repr(_cert(s, r)) for r in radii), repr(s["acr"]),
             repr(s["abstention_rate"]), repr(s["accuracy_non_abstained"])]
            for s in summaries]


def json_safe(value: object) -> object:
    """``value`` with every NaN float (also nested in dicts and lists) replaced by ``None``."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def format_table(summaries: Sequence[dict], radii: Sequence[float], fmt: str) -> str:
    """Render run summaries as one table, without a trailing newline.

    Formats:
        ``markdown``, ``latex`` and ``html``: one row per run with columns
        name, examples, clean acc, ``r=<radius>`` for each radius, ACR,
        abstain %, non-abstain acc (accuracy among the predictions that did
        not abstain); rates as percentages with one decimal (81.2), ACR
        with three decimals, ``n/a`` where undefined. ``csv``: the same
        quantities unrounded (``repr`` of the floats, ``nan`` where
        undefined), plus the path. ``json``: the analysis JSON contract
        ``{"runs": [summary, ...]}`` with unrounded values; undefined values
        (NaN) are written as ``null`` so the output is strict JSON.

    Args:
        summaries: Dicts as returned by ``summarize(res, radii)``.
        radii: The radii to show; each must be a key of every summary.
        fmt: One of ``TABLE_FORMATS``.

    Raises:
        ValueError: Unknown ``fmt``, or a radius missing from a summary.
    """
    if fmt == "json":
        return json.dumps({"runs": [json_safe(s) for s in summaries]}, allow_nan=False)
    if fmt == "csv":
        head = ["name", "path", "examples", "clean_accuracy",
                *(f"certified_accuracy@{float(r)}" for r in radii),
                "acr", "abstention_rate", "accuracy_non_abstained"]
        return render(head, _raw(summaries, radii), fmt)
    if fmt not in TABLE_FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(TABLE_FORMATS)}")
    tail = ["ACR", "abstain %", "non-abstain acc %"]
    head = ["name", "examples", "clean acc", *map(_radius_label, radii), *tail]
    latex_head = ["name", "examples", "clean acc", *(f"$r={float(r):g}$" for r in radii),
                  "ACR", r"abstain \%", r"non-abstain acc \%"]
    return render(head, _rounded(summaries, radii), fmt, latex_columns=latex_head)
