"""Any result TSV by its header: CERTIFY, sequential, PREDICT or attack.

One reader per kind (:func:`~smoothcert.analysis.results.load_results`,
:func:`~smoothcert.analysis.predictions.load_predictions`,
:func:`~smoothcert.analysis.attack_results.load_attack_results`);
:func:`load_run` picks it from the file's header line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from smoothcert.analysis import _tsv
from smoothcert.analysis.attack_results import (
    AttackResults,
    is_attack_header,
    load_attack_results,
)
from smoothcert.analysis.metrics import Labelled
from smoothcert.analysis.predictions import (
    Predictions,
    is_predict_header,
    load_predictions,
)
from smoothcert.analysis.results import Results, is_certification_header, load_results
from smoothcert.errors import UserError

Run = Results | Predictions | AttackResults
"""A run read from any result TSV."""


def load_run(path: str | Path) -> Run:
    """Read a result TSV of any kind, chosen by its header.

    ``idx label predict radius correct time ...``: certification
    (:class:`Results`, CERTIFY or sequential); ``idx label predict correct
    time``: PREDICT (:class:`Predictions`); ``idx label predict_eps<E>
    correct_eps<E> ... time``: attack (:class:`AttackResults`).

    Raises:
        UserError: The file is missing, unreadable or empty, its header is
            none of these, or a row does not parse.

    Example:
        >>> run = load_run("runs/predict.tsv")  # doctest: +SKIP
        >>> run.kind  # doctest: +SKIP
        'predict'
    """
    path = Path(path)
    _, columns, _ = _tsv.read_table(path)
    if is_certification_header(columns):
        return load_results(path)
    if is_predict_header(columns):
        return load_predictions(path)
    if is_attack_header(columns):
        return load_attack_results(path)
    hint = " (the header line is missing)" if _tsv.header_is_missing(columns) else ""
    raise UserError(f"{str(path)!r} is not a result TSV{hint}: its header must begin with "
                    "'idx label predict radius correct time' (certify), or be 'idx label predict correct time' "
                    "(predict) or 'idx label predict_eps<E> correct_eps<E> ... time' (attack), tab-separated; "
                    f"got {' '.join(columns)[:80]!r}; pass {_tsv.FORMATS_HINT}")


def certification_runs(runs: Sequence[Run]) -> list[Results]:
    """The CERTIFY and sequential runs of ``runs``, in order."""
    return [r for r in runs if isinstance(r, Results)]


def labelled_runs(runs: Sequence[Run]) -> list[Labelled]:
    """The CERTIFY, sequential and PREDICT runs of ``runs`` (one prediction per example), in order."""
    return [r for r in runs if isinstance(r, (Results, Predictions))]


def attack_runs(runs: Sequence[Run]) -> list[AttackResults]:
    """The attack runs of ``runs``, in order."""
    return [r for r in runs if isinstance(r, AttackResults)]
