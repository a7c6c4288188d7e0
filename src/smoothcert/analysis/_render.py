"""Rendering a table of already-formatted cells as markdown, LaTeX, CSV or HTML.

Every cell is escaped for its format (``|`` in markdown, LaTeX specials,
HTML via :func:`html.escape`), so file names can never break the table.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Collection, Sequence

TEXT_FORMATS: tuple[str, ...] = ("markdown", "latex", "csv", "html")
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$",
                  "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "±": r"$\pm$",
                  "—": "---"}
NOT_APPLICABLE = "—"
"""The cell of a quantity that does not apply to a run (e.g. the ACR of a sequential run)."""


def fmt_pct(x: float | None) -> str:
    """A rate as a percentage with one decimal (``0.8125`` -> ``81.2``); ``n/a`` for NaN, ``—`` for ``None``."""
    if x is None:
        return NOT_APPLICABLE
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}"


def fmt_num(x: float | None) -> str:
    """A number with three decimals; ``n/a`` for NaN, ``—`` for ``None``."""
    if x is None:
        return NOT_APPLICABLE
    return "n/a" if math.isnan(x) else f"{x:.3f}"


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (``a_b`` -> ``a\\_b``)."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in text)


def _text_columns(left: int | Collection[int]) -> frozenset[int]:
    return frozenset(range(left)) if isinstance(left, int) else frozenset(left)


def _markdown(columns: Sequence[str], rows: Sequence[Sequence[str]], left: frozenset[int]) -> str:
    def cell(text: str) -> str:
        return text.replace("\r", " ").replace("\n", " ").replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, columns)) + " |",
             "|" + "|".join("---" if j in left else "--:" for j in range(len(columns))) + "|"]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def _latex(columns: Sequence[str], rows: Sequence[Sequence[str]], left: frozenset[int],
           latex_columns: Sequence[str] | None) -> str:
    head = list(latex_columns) if latex_columns is not None else [latex_escape(c) for c in columns]
    spec = "".join("l" if j in left else "r" for j in range(len(columns)))
    lines = [r"\begin{tabular}{" + spec + "}", r"\hline", " & ".join(head) + r" \\", r"\hline"]
    lines += [" & ".join(latex_escape(c) for c in row) + r" \\" for row in rows]
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines)


def _csv(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue().rstrip("\n")


def _html(columns: Sequence[str], rows: Sequence[Sequence[str]], left: frozenset[int]) -> str:
    def cls(j: int) -> str:
        return "" if j in left else ' class="num"'

    head = "".join(f"<th{cls(j)}>{html.escape(c)}</th>" for j, c in enumerate(columns))
    body = "\n".join("<tr>" + "".join(f"<td{cls(j)}>{html.escape(c)}</td>" for j, c in enumerate(row))
                     + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def render(columns: Sequence[str], rows: Sequence[Sequence[str]], fmt: str, *,
           left: int | Collection[int] = 1,
           latex_columns: Sequence[str] | None = None) -> str:
    """One table, without a trailing newline.

    Args:
        columns: Header cells.
        rows: Body cells, each row as long as ``columns``.
        fmt: One of ``TEXT_FORMATS``.
        left: The left-aligned text columns: a count of leading columns, or
            their indices (the rest are right-aligned numbers).
        latex_columns: Header cells already written in LaTeX (e.g. math),
            used verbatim instead of escaping ``columns``.

    Raises:
        ValueError: Unknown ``fmt`` or a row of the wrong length.
    """
    text = _text_columns(left)
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells for {len(columns)} columns")
    if fmt == "markdown":
        return _markdown(columns, rows, text)
    if fmt == "latex":
        return _latex(columns, rows, text, latex_columns)
    if fmt == "csv":
        return _csv(columns, rows)
    if fmt == "html":
        return _html(columns, rows, text)
    raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(TEXT_FORMATS)}")


def section(title: str, body: str, fmt: str) -> str:
    """``body`` preceded by a ``title`` line in the idiom of ``fmt``.

    markdown ``### title``, LaTeX ``% title``, CSV ``# title``, HTML ``<h3>``.
    """
    one_line = " ".join(title.split())
    if fmt == "markdown":
        return f"### {one_line}\n\n{body}"
    if fmt == "latex":
        return f"% {one_line}\n{body}"
    if fmt == "csv":
        return f"# {one_line}\n{body}"
    if fmt == "html":
        return f"<h3>{html.escape(one_line)}</h3>\n{body}"
    raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(TEXT_FORMATS)}")
