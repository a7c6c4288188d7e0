"""Reading PREDICT TSVs (``smoothcert predict``): accuracy and abstention, no radii.

The format: tab-separated, one header line ``idx label predict correct time``,
one row per example; ``predict`` is -1 when the smoothed classifier abstains
(then ``correct`` is 0), ``correct`` is 1 when ``predict == label``, ``time``
is seconds.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from smoothcert.analysis import _tsv
from smoothcert.errors import UserError

PREDICT_COLUMNS: tuple[str, ...] = ("idx", "label", "predict", "correct", "time")
PREDICT = "predict"


@dataclasses.dataclass(frozen=True, eq=False)
class Predictions(_tsv.ExampleRows):
    """The rows of one PREDICT TSV, as read-only numpy arrays.

    Attributes:
        name, path, idx, label, time, manifest: As :class:`~smoothcert.analysis._tsv.ExampleRows`.
        predict, correct: int64 arrays, one entry per example; ``predict``
            is -1 on abstention, ``correct`` is 0 or 1.
        kind: Always ``"predict"``.
    """

    kind: str = PREDICT


def is_predict_header(columns: list[str]) -> bool:
    """Whether ``columns`` are those of a PREDICT TSV."""
    return tuple(columns) == PREDICT_COLUMNS


def _parse_row(fields: list[str]) -> tuple[int, int, int, int, float]:
    return (_tsv.parse_int(fields[0]), _tsv.parse_int(fields[1]), _tsv.parse_predict(fields[2]),
            _tsv.parse_correct(fields[3]), _tsv.parse_seconds(fields[4]))


def load_predictions(path: str | Path) -> Predictions:
    """Read one PREDICT TSV.

    Guarantees: every returned row parsed completely (``predict`` >= -1,
    ``correct`` in {0, 1}); a torn last line is dropped, any other bad row
    is an error; a header with no rows gives 0 examples.

    Raises:
        UserError: The file is missing, unreadable, empty, not a PREDICT
            TSV, or has a row that does not parse.

    Example:
        >>> p = load_predictions("runs/predict.tsv")  # doctest: +SKIP
        >>> p.correct.mean()  # doctest: +SKIP
    """
    path = Path(path)
    lines, columns, sep = _tsv.read_table(path)
    if not is_predict_header(columns):
        raise UserError(f"{str(path)!r} is not a PREDICT TSV: its header must be "
                        f"'{' '.join(PREDICT_COLUMNS)}' (tab-separated), got {lines[0].rstrip()[:80]!r}; "
                        "pass a file written by `smoothcert predict`")
    rows = _tsv.parse_rows(path, lines, sep, len(columns), _parse_row)
    ints = [_tsv.frozen([r[k] for r in rows], np.int64) for k in range(4)]
    return Predictions(name=_tsv.display_name(path), path=path, idx=ints[0], label=ints[1], predict=ints[2],
                       correct=ints[3], time=_tsv.frozen([r[4] for r in rows], np.float64),
                       manifest=_tsv.read_manifest(path))


def _rate(k: int, n: int) -> str:
    return "n/a" if n == 0 else f"{k / n:.4f}"


def predict_summary(pred: Predictions) -> str:
    """``accuracy 0.9100 (91/100), abstained 0.0300 (3/100)`` for ``pred``.

    Accuracy counts abstentions as wrong; both rates are over all rows and
    read ``n/a`` when there are none.
    """
    n = len(pred)
    right = int(np.count_nonzero(pred.correct == 1))
    abstained = int(np.count_nonzero(pred.predict == -1))
    return f"accuracy {_rate(right, n)} ({right}/{n}), abstained {_rate(abstained, n)} ({abstained}/{n})"


def print_predict_summary(path: str | Path) -> str:
    """Read the PREDICT TSV ``path`` and print its one-line summary on stderr.

    The line is that of :func:`predict_summary`, e.g.
    ``accuracy 0.9100 (91/100), abstained 0.0300 (3/100)``.

    Returns:
        The line printed (without newline).

    Raises:
        UserError: ``path`` is not a readable PREDICT TSV.
    """
    text = predict_summary(load_predictions(path))
    print(text, file=sys.stderr)
    return text


