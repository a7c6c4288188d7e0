"""Reading certification TSVs: CERTIFY and sequential runs (ours and the original papers').

The format is tab-separated, one header line whose first six columns are
exactly ``idx label predict radius correct time``, one row per example. Files
published with the original randomized smoothing code have exactly these six
columns (``time`` written as ``H:MM:SS.ffffff``); ours add numeric columns
after them (``p_lower``, ``count``, ``n``; sequential runs also ``samples``).

A *sequential* run (``certify --mode sequential``; its manifest says
``"mode": "sequential"``, its TSV has a ``samples`` column) uses the same
columns, but ``radius`` is the largest *target* radius certified, not a
CERTIFY radius: certified accuracy at the target radii reads the same way,
the average certified radius means nothing.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from smoothcert.analysis import _tsv
from smoothcert.errors import UserError

REQUIRED_COLUMNS: tuple[str, ...] = ("idx", "label", "predict", "radius", "correct", "time")
CERTIFY, SEQUENTIAL = "certify", "sequential"


@dataclasses.dataclass(frozen=True, eq=False)
class Results:
    """The rows of one certification TSV, as read-only numpy arrays.

    Attributes:
        name: Display name: the file name without a ``.tsv`` suffix (only that
            suffix is removed, so ``sigma_0.25`` stays ``sigma_0.25``).
        path: The path the file was read from.
        idx, label, predict, correct: int64 arrays, one entry per example;
            ``predict`` is -1 on abstention, ``correct`` is 0 or 1.
        radius: float64 array of certified radii (>= 0); for a sequential
            run, the largest target radius certified.
        time: float64 array of seconds spent per example.
        extra: Further columns after the six required ones that are numeric in
            every row, as float64 arrays keyed by column name.
        kind: ``"certify"`` or ``"sequential"``.
        manifest: The run's manifest ``FILE.tsv.json`` as a dict, or ``None``
            when there is none (files of the original papers) or it is unreadable.
    """

    name: str
    path: Path
    idx: np.ndarray
    label: np.ndarray
    predict: np.ndarray
    radius: np.ndarray
    correct: np.ndarray
    time: np.ndarray
    extra: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    kind: str = CERTIFY
    manifest: dict[str, Any] | None = None

    def __len__(self) -> int:
        return int(self.idx.shape[0])


def _parse_row(fields: list[str]) -> tuple[int, int, int, float, int, float]:
    radius = float(fields[3])
    if math.isnan(radius) or radius < 0:
        raise ValueError(f"radius {fields[3]!r} is not a number >= 0")
    return (_tsv.parse_int(fields[0]), _tsv.parse_int(fields[1]), _tsv.parse_predict(fields[2]),
            radius, _tsv.parse_correct(fields[4]), _tsv.parse_seconds(fields[5]))


def is_certification_header(columns: list[str]) -> bool:
    """Whether ``columns`` begin with the six columns of a certification TSV."""
    return tuple(columns[:6]) == REQUIRED_COLUMNS


def _extra(columns: list[str], raw: list[list[str]]) -> dict[str, np.ndarray]:
    extra: dict[str, np.ndarray] = {}
    for j, col in enumerate(columns[6:]):
        if col in REQUIRED_COLUMNS or col in extra:
            continue
        try:
            extra[col] = _tsv.frozen([float(r[j]) for r in raw], np.float64)
        except ValueError:
            continue  # a non-numeric column: not part of ``extra``
    return extra


def load_results(path: str | Path) -> Results:
    """Read one certification TSV (CERTIFY or sequential).

    Guarantees: every returned row parsed completely and satisfies the
    contract (``correct`` in {0, 1}, ``radius`` >= 0, ``predict`` >= -1).
    A file with a header and no rows gives 0 examples. The last line is
    dropped only if it lacks a final newline *and* does not parse (a row torn
    by an interrupted writer); any other bad row is an error. Blank lines are
    skipped. The run is sequential when its manifest says ``"mode":
    "sequential"`` or it has a ``samples`` column (CERTIFY never writes one).

    Args:
        path: The TSV file.

    Returns:
        The file's rows as :class:`Results`.

    Raises:
        UserError: The file is missing, unreadable, empty, has a wrong header,
            or has a row that does not parse.

    Example:
        >>> res = load_results("runs/cifar10/sigma_0.25.tsv")  # doctest: +SKIP
        >>> res.radius.mean()  # doctest: +SKIP
    """
    path = Path(path)
    lines, columns, sep = _tsv.read_table(path)
    if not is_certification_header(columns):
        hint = " (the header line is missing)" if _tsv.header_is_missing(columns) else ""
        raise UserError(
            f"{str(path)!r} is not a certification TSV{hint}: its header must begin "
            f"with the columns 'idx label predict radius correct time' (tab-separated), "
            f"got {lines[0].rstrip()[:80]!r}; pass a file written by `smoothcert certify` "
            "or by the original randomized-smoothing certify.py")
    rows = _tsv.parse_rows(path, lines, sep, len(columns), lambda f: (_parse_row(f), f[6:]))
    manifest = _tsv.read_manifest(path)
    sequential = (manifest or {}).get("mode") == SEQUENTIAL or "samples" in columns[6:]
    parsed = [r for r, _ in rows]
    ints = [_tsv.frozen([r[k] for r in parsed], np.int64) for k in (0, 1, 2, 4)]
    return Results(name=_tsv.display_name(path), path=path, idx=ints[0], label=ints[1], predict=ints[2],
                   radius=_tsv.frozen([r[3] for r in parsed], np.float64), correct=ints[3],
                   time=_tsv.frozen([r[5] for r in parsed], np.float64),
                   extra=_extra(columns, [raw for _, raw in rows]),
                   kind=SEQUENTIAL if sequential else CERTIFY, manifest=manifest)
