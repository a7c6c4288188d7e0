"""Reading attack TSVs (``smoothcert attack``): empirical robust accuracy per attack radius.

The format: tab-separated, one header line
``idx label predict_eps<E1> correct_eps<E1> ... predict_eps<Ek> correct_eps<Ek> time``,
one row per example. ``<E>`` is the attack radius (L2, in [0,1]-pixel units)
written as Python's ``str(float(E))``; ``predict_eps<E>`` is PREDICT on the
input attacked at radius E (-1 = abstain), ``correct_eps<E>`` is 1 when it
equals the label (abstentions count as wrong). Empirical robust accuracy at E
is the mean of ``correct_eps<E>``: an upper bound on the true robust accuracy
(the attack may miss adversarial inputs), unlike certified accuracy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from smoothcert.analysis import _tsv
from smoothcert.analysis._render import NOT_APPLICABLE, fmt_pct, render
from smoothcert.analysis.intervals import (
    DEFAULT_LEVEL,
    clopper_pearson_interval,
    fmt_interval,
    level_label,
)
from smoothcert.errors import UserError

ATTACK = "attack"
_PREDICT, _CORRECT = "predict_eps", "correct_eps"


@dataclasses.dataclass(frozen=True, eq=False)
class AttackResults(_tsv.ExampleRows):
    """The rows of one attack TSV, as read-only numpy arrays.

    Attributes:
        name, path, idx, label, manifest: As :class:`~smoothcert.analysis._tsv.ExampleRows`.
        predict, correct: int64 arrays of shape ``(examples, len(eps))``;
            column j belongs to ``eps[j]``; ``predict`` is -1 on abstention.
        time: float64 array of seconds per example (all radii together).
        eps: The attack radii, in the order of the columns.
        kind: Always ``"attack"``.
    """

    eps: tuple[float, ...] = ()
    kind: str = ATTACK


def is_attack_header(columns: list[str]) -> bool:
    """Whether ``columns`` look like an attack TSV's (``idx label predict_eps...``)."""
    return columns[:2] == ["idx", "label"] and len(columns) > 2 and columns[2].startswith(_PREDICT)


def _eps(path: Path, columns: list[str]) -> tuple[float, ...]:
    pairs = columns[2:-1]
    bad = UserError(f"{str(path)!r} is not an attack TSV: its header must be 'idx label predict_eps<E> "
                    f"correct_eps<E> ... time' (tab-separated), got {' '.join(columns)[:120]!r}; pass a file "
                    "written by `smoothcert attack`")
    if columns[-1] != "time" or not pairs or len(pairs) % 2:
        raise bad
    eps = []
    for p, c in zip(pairs[::2], pairs[1::2], strict=False):
        tail = p[len(_PREDICT):]
        if not p.startswith(_PREDICT) or c != _CORRECT + tail:
            raise bad
        try:
            e = float(tail)
        except ValueError:
            raise bad from None
        if not (math.isfinite(e) and e >= 0) or e in eps:
            raise bad
        eps.append(e)
    return tuple(eps)


def load_attack_results(path: str | Path) -> AttackResults:
    """Read one attack TSV.

    Guarantees: every returned row parsed completely (each ``predict_eps``
    >= -1, each ``correct_eps`` in {0, 1}); a torn last line is dropped, any
    other bad row is an error; a header with no rows gives 0 examples.

    Raises:
        UserError: The file is missing, unreadable, empty, has a header
            that is not an attack TSV's, or a row that does not parse.
    """
    path = Path(path)
    lines, columns, sep = _tsv.read_table(path)
    eps = _eps(path, columns)
    k = len(eps)

    def parse(fields: list[str]) -> tuple[int, int, list[int], list[int], float]:
        cells = fields[2:-1]
        predict = [_tsv.parse_predict(cells[2 * j], columns[2 + 2 * j]) for j in range(k)]
        correct = [_tsv.parse_correct(cells[2 * j + 1], columns[3 + 2 * j]) for j in range(k)]
        return _tsv.parse_int(fields[0]), _tsv.parse_int(fields[1]), predict, correct, _tsv.parse_seconds(fields[-1])

    rows = _tsv.parse_rows(path, lines, sep, len(columns), parse)
    shape = (len(rows), k)
    return AttackResults(
        name=_tsv.display_name(path), path=path, eps=eps,
        idx=_tsv.frozen([r[0] for r in rows], np.int64), label=_tsv.frozen([r[1] for r in rows], np.int64),
        predict=_tsv.frozen([r[2] for r in rows], np.int64).reshape(shape),
        correct=_tsv.frozen([r[3] for r in rows], np.int64).reshape(shape),
        time=_tsv.frozen([r[4] for r in rows], np.float64), manifest=_tsv.read_manifest(path))


def _column(res: AttackResults, eps: float) -> int:
    try:
        return res.eps.index(float(eps))
    except ValueError:
        raise ValueError(f"{res.name!r} was not attacked at eps {eps}; its radii are {list(res.eps)}") from None


def robust_accuracy(res: AttackResults, eps: float) -> float:
    """Empirical robust accuracy at ``eps``: the fraction of all rows with ``correct_eps<eps> == 1``.

    NaN when there are no rows.

    Raises:
        ValueError: ``eps`` is not one of ``res.eps``.
    """
    j = _column(res, eps)
    return float(np.mean(res.correct[:, j])) if len(res) else float("nan")


def summarize_attack(res: AttackResults, level: float = DEFAULT_LEVEL) -> dict:
    """One attack run as a dict (the ``attack`` entries of the analysis JSON).

    Returns:
        ``{"name", "path", "kind": "attack", "examples", "eps": [...],
        "robust_accuracy": {str(float(e)): fraction}, "robust_accuracy_ci":
        {str(float(e)): [lower, upper]} (two-sided Clopper–Pearson at
        ``level`` over the examples; ``None`` with no rows),
        "abstention_rate": {str(float(e)): fraction}}``, unrounded.
    """
    n = len(res)
    right, abstained = res.correct.sum(axis=0), (res.predict == -1).sum(axis=0)  # shape (len(eps),), also for n = 0
    keys = [str(float(e)) for e in res.eps]
    return {
        "name": res.name, "path": str(res.path), "kind": ATTACK, "examples": n, "eps": list(res.eps),
        "robust_accuracy": {k: robust_accuracy(res, e) for k, e in zip(keys, res.eps, strict=False)},
        "robust_accuracy_ci": {k: clopper_pearson_interval(int(c), n, level) if n else None
                               for k, c in zip(keys, right, strict=False)},
        "abstention_rate": {k: int(a) / n if n else float("nan") for k, a in zip(keys, abstained, strict=False)},
    }


def format_attack_table(summaries: Sequence[dict], fmt: str, level: float = DEFAULT_LEVEL) -> str:
    """Attack summaries as one table: name, examples, then per attack radius its accuracy and interval.

    The columns are the union of the runs' radii in order of first appearance;
    a run not attacked at a radius shows ``—`` (an empty cell in CSV).
    ``markdown``/``latex``/``html`` show percentages with one decimal, ``csv``
    unrounded fractions and the interval as ``_lower``/``_upper`` columns.
    """
    eps = list(dict.fromkeys(k for s in summaries for k in s["robust_accuracy"]))
    tag = level_label(level)
    if fmt == "csv":
        head = ["name", "path", "examples"]
        for k in eps:
            head += [f"robust_accuracy@{k}", f"robust_accuracy_ci_lower@{k}", f"robust_accuracy_ci_upper@{k}"]
        rows = []
        for s in summaries:
            row = [s["name"], s["path"], str(s["examples"])]
            for k in eps:
                acc, ci = s["robust_accuracy"].get(k), s["robust_accuracy_ci"].get(k)
                row += ["" if acc is None else repr(acc), *(["", ""] if ci is None else map(repr, ci))]
            rows.append(row)
        return render(head, rows, fmt, left=2)
    head = ["name", "examples"]
    for k in eps:
        head += [f"eps={float(k):g}", f"eps={float(k):g} {tag}"]
    rows = []
    for s in summaries:
        row = [s["name"], str(s["examples"])]
        for k in eps:
            present = k in s["robust_accuracy"]
            row += [fmt_pct(s["robust_accuracy"][k]) if present else NOT_APPLICABLE,
                    fmt_interval(s["robust_accuracy_ci"][k]) if present else NOT_APPLICABLE]
        rows.append(row)
    return render(head, rows, fmt)
