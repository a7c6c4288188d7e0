"""Reading certification TSV files (ours and those of the original papers).

The format is the contract of DESIGN.md section 3: tab-separated, one header
line whose first six columns are exactly ``idx label predict radius correct
time``, one row per example. Files published with the original randomized
smoothing code have exactly these six columns (``time`` written as
``H:MM:SS.ffffff``); ours add numeric columns after them (``p_lower``,
``count``, ``n``, ``samples``, ...).
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np

from smoothcert.errors import UserError

REQUIRED_COLUMNS: tuple[str, ...] = ("idx", "label", "predict", "radius", "correct", "time")
_HEADER_HINT = "\t".join(REQUIRED_COLUMNS)
_TIMEDELTA = re.compile(r"^(?:(-?\d+) days?, )?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)$")


@dataclasses.dataclass(frozen=True, eq=False)
class Results:
    """The rows of one certification TSV, as read-only numpy arrays.

    Attributes:
        name: Display name: the file name without a ``.tsv`` suffix (only that
            suffix is removed, so ``sigma_0.25`` stays ``sigma_0.25``).
        path: The path the file was read from.
        idx, label, predict, correct: int64 arrays, one entry per example;
            ``predict`` is -1 on abstention, ``correct`` is 0 or 1.
        radius: float64 array of certified radii (>= 0).
        time: float64 array of seconds spent per example.
        extra: Further columns after the six required ones that are numeric in
            every row, as float64 arrays keyed by column name.
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

    def __len__(self) -> int:
        return int(self.idx.shape[0])


def _display_name(path: Path) -> str:
    name = path.name
    return name[:-4] if name.lower().endswith(".tsv") and len(name) > 4 else name


def _split(line: str, sep: str | None) -> list[str]:
    fields = [f.strip() for f in line.rstrip("\r\n").split(sep)]
    while fields and fields[-1] == "":  # trailing whitespace or tabs
        fields.pop()
    return fields


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        value = float(text)  # raises ValueError if not a number
        if not value.is_integer():
            raise ValueError(f"{text!r} is not an integer") from None
        return int(value)


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        m = _TIMEDELTA.match(text)
        if m is None:
            raise ValueError(f"time {text!r} is neither seconds nor H:MM:SS") from None
        days = int(m.group(1) or 0)
        return days * 86400 + int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))


def _parse_row(fields: list[str], ncols: int) -> tuple[int, int, int, float, int, float]:
    if len(fields) != ncols:
        raise ValueError(f"{len(fields)} fields, the header has {ncols}")
    idx, label, predict = _int(fields[0]), _int(fields[1]), _int(fields[2])
    radius, correct, seconds = float(fields[3]), _int(fields[4]), _seconds(fields[5])
    if math.isnan(radius) or radius < 0:
        raise ValueError(f"radius {fields[3]!r} is not a number >= 0")
    if correct not in (0, 1):
        raise ValueError(f"correct {fields[4]!r} is not 0 or 1")
    if predict < -1:
        raise ValueError(f"predict {fields[2]!r} is neither a class nor -1 (abstain)")
    return idx, label, predict, radius, correct, seconds


def _read_text(path: Path) -> str:
    if not path.exists():
        raise UserError(f"results file {str(path)!r} not found; check the path "
                        "(analyze reads TSV files written by `smoothcert certify`)")
    if path.is_dir():
        raise UserError(f"{str(path)!r} is a directory; pass the certification "
                        "TSV file inside it")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{str(path)!r} is not a text file; pass a certification "
                        "TSV written by `smoothcert certify`") from None
    except OSError as exc:
        raise UserError(f"cannot read {str(path)!r}: {exc.strerror}; check the "
                        "file's permissions") from None


def _header(path: Path, first: str) -> tuple[list[str], str | None]:
    sep = "\t" if "\t" in first else None
    columns = _split(first, sep)
    if tuple(columns[:6]) != REQUIRED_COLUMNS:
        hint = ""
        try:
            _int(columns[0])
            hint = " (the header line is missing)"
        except (ValueError, IndexError):
            pass
        raise UserError(
            f"{str(path)!r} is not a certification TSV{hint}: its header must begin "
            f"with the columns 'idx label predict radius correct time' (tab-separated), "
            f"got {first.rstrip()[:80]!r}; pass a file written by `smoothcert certify` "
            "or by the original randomized-smoothing certify.py")
    return columns, sep


def load_results(path: str | Path) -> Results:
    """Read one certification TSV.

    Guarantees: every returned row parsed completely and satisfies the
    contract (``correct`` in {0, 1}, ``radius`` >= 0, ``predict`` >= -1).
    A file with a header and no rows gives 0 examples. The last line is
    dropped only if it lacks a final newline *and* does not parse (a row torn
    by an interrupted writer); any other bad row is an error. Blank lines are
    skipped.

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
    lines = _read_text(path).splitlines(keepends=True)
    if not lines or not lines[0].strip():
        raise UserError(f"{str(path)!r} is empty (no header line); certification may "
                        "not have started — rerun `smoothcert certify` to write it")
    columns, sep = _header(path, lines[0])
    ncols = len(columns)
    rows: list[tuple[int, int, int, float, int, float]] = []
    raw_extra: list[list[str]] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = _split(line, sep)
        try:
            rows.append(_parse_row(fields, ncols))
        except ValueError as exc:
            torn = lineno == len(lines) and not line.endswith(("\n", "\r"))
            if torn:
                break
            raise UserError(f"{path!s}:{lineno}: cannot parse row ({exc}): "
                            f"{line.rstrip()[:80]!r}; fix or delete that line") from None
        raw_extra.append(fields[6:])
    arr = np.array(rows, dtype=np.float64).reshape(len(rows), 6)
    extra: dict[str, np.ndarray] = {}
    for j, col in enumerate(columns[6:]):
        if col in REQUIRED_COLUMNS or col in extra:
            continue
        try:
            extra[col] = np.array([float(r[j]) for r in raw_extra], dtype=np.float64)
        except ValueError:
            continue  # a non-numeric column: not part of ``extra``
    ints = [np.array([r[k] for r in rows], dtype=np.int64) for k in (0, 1, 2, 4)]
    arrays = [*ints, arr[:, 3].copy(), arr[:, 5].copy(), *extra.values()]
    for a in arrays:
        a.setflags(write=False)
    return Results(name=_display_name(path), path=path, idx=ints[0], label=ints[1],
                   predict=ints[2], radius=arrays[4], correct=ints[3], time=arrays[5],
                   extra=extra)
