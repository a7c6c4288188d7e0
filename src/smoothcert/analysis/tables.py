"""Rendering run summaries (from :func:`~smoothcert.analysis.metrics.summarize`) as tables."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence

FORMATS: tuple[str, ...] = ("markdown", "latex", "csv", "json")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$",
                  "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _radius_label(r: float) -> str:
    return f"r={float(r):g}"


def _cert(summary: dict, r: float) -> float:
    key = str(float(r))
    try:
        return summary["certified_accuracy"][key]
    except KeyError:
        raise ValueError(f"summary {summary.get('name')!r} has no certified accuracy "
                         f"at radius {key}; summarize it with these radii") from None


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def _num(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def _rounded_rows(summaries: Sequence[dict], radii: Sequence[float]) -> list[list[str]]:
    return [[str(s["name"]), str(s["examples"]), _pct(s["clean_accuracy"]),
             *(_pct(_cert(s, r)) for r in radii), _num(s["acr"]), _pct(s["abstention_rate"])]
            for s in summaries]


def _markdown(summaries: Sequence[dict], radii: Sequence[float]) -> str:
    head = ["name", "examples", "clean acc", *map(_radius_label, radii), "ACR", "abstain %"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for row in _rounded_rows(summaries, radii):
        row[0] = row[0].replace("|", "\\|")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _latex(summaries: Sequence[dict], radii: Sequence[float]) -> str:
    head = ["name", "examples", "clean acc", *(f"$r={float(r):g}$" for r in radii),
            "ACR", r"abstain \%"]
    lines = [r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}", r"\hline",
             " & ".join(head) + r" \\", r"\hline"]
    for row in _rounded_rows(summaries, radii):
        row[0] = "".join(_LATEX_SPECIAL.get(c, c) for c in row[0])
        lines.append(" & ".join(row) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)


def _csv(summaries: Sequence[dict], radii: Sequence[float]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "path", "examples", "clean_accuracy",
                     *(f"certified_accuracy@{float(r)}" for r in radii),
                     "acr", "abstention_rate", "accuracy_non_abstained"])
    for s in summaries:
        writer.writerow([s["name"], s["path"], s["examples"], repr(s["clean_accuracy"]),
                         *(repr(_cert(s, r)) for r in radii), repr(s["acr"]),
                         repr(s["abstention_rate"]), repr(s["accuracy_non_abstained"])])
    return buf.getvalue().rstrip("\n")


def _json_safe(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def format_table(summaries: Sequence[dict], radii: Sequence[float], fmt: str) -> str:
    """Render run summaries as one table, without a trailing newline.

    Formats:
        ``markdown`` and ``latex``: one row per run with columns name,
        examples, clean acc, ``r=<radius>`` for each radius, ACR, abstain %;
        rates as percentages with one decimal (81.2), ACR with three
        decimals, ``n/a`` where undefined. ``csv``: the same quantities
        unrounded (``repr`` of the floats, ``nan`` where undefined), plus the
        path and the accuracy of non-abstained predictions. ``json``: the
        analysis JSON contract ``{"runs": [summary, ...]}`` with unrounded
        values; undefined values (NaN) are written as ``null`` so the output
        is strict JSON.

    Args:
        summaries: Dicts as returned by ``summarize(res, radii)``.
        radii: The radii to show; each must be a key of every summary.
        fmt: One of ``FORMATS``.

    Raises:
        ValueError: Unknown ``fmt``, or a radius missing from a summary.
    """
    if fmt == "json":
        return json.dumps({"runs": [_json_safe(s) for s in summaries]}, allow_nan=False)
    renderers = {"markdown": _markdown, "latex": _latex, "csv": _csv}
    if fmt not in renderers:
        raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return renderers[fmt](summaries, radii)
