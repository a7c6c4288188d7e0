"""Reading tab-separated result files and their manifests: the parts every reader shares.

A result TSV has one header line and one row per example; a row torn by an
interrupted writer (the last line, without its newline) is dropped, any other
row that does not parse is an error naming the file and line. Beside
``FILE.tsv``, ``FILE.tsv.json`` may hold the run's manifest (a JSON object).
"""

# No ``from __future__ import annotations`` here: the dataclasses below are subclassed in other
# modules, and their inherited fields' annotations must be objects, not strings to resolve there.

import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from smoothcert.errors import UserError

T = TypeVar("T")
_TIMEDELTA = re.compile(r"^(?:(-?\d+) days?, )?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)$")

FORMATS_HINT = ("a TSV written by `smoothcert certify`, `predict` or `attack`, "
                "or by the original randomized-smoothing certify.py")


@dataclasses.dataclass(frozen=True, eq=False)
class ExampleRows:
    """Columns every per-example result file has, as read-only numpy arrays.

    Attributes:
        name: Display name (the file name without ``.tsv``).
        path: The path the file was read from.
        idx, label: int64 arrays, one entry per example.
        predict, correct: int64 arrays, one row per example (-1 = abstain; 0 or 1).
        time: float64 array of seconds per example.
        manifest: The manifest ``FILE.tsv.json`` as a dict, or ``None``.
    """

    name: str
    path: Path
    idx: np.ndarray
    label: np.ndarray
    predict: np.ndarray
    correct: np.ndarray
    time: np.ndarray
    manifest: dict[str, Any] | None = None

    def __len__(self) -> int:
        return int(self.idx.shape[0])


def display_name(path: Path) -> str:
    """The file name without a ``.tsv`` suffix (only that suffix: ``sigma_0.25`` stays)."""
    name = path.name
    return name[:-4] if name.lower().endswith(".tsv") and len(name) > 4 else name


def split(line: str, sep: str | None) -> list[str]:
    """The fields of ``line``, stripped, without trailing empty fields."""
    fields = [f.strip() for f in line.rstrip("\r\n").split(sep)]
    while fields and fields[-1] == "":  # trailing whitespace or tabs
        fields.pop()
    return fields


def parse_int(text: str) -> int:
    """An integer, also written as a float with no fraction (``3.0``); ``ValueError`` otherwise."""
    try:
        return int(text)
    except ValueError:
        value = float(text)  # raises ValueError if not a number
        if not value.is_integer():
            raise ValueError(f"{text!r} is not an integer") from None
        return int(value)


def parse_seconds(text: str) -> float:
    """Seconds, as a float or as the original code's ``H:MM:SS.ffffff``."""
    try:
        return float(text)
    except ValueError:
        m = _TIMEDELTA.match(text)
        if m is None:
            raise ValueError(f"time {text!r} is neither seconds nor H:MM:SS") from None
        days = int(m.group(1) or 0)
        return days * 86400 + int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4))


def parse_predict(text: str, column: str = "predict") -> int:
    """A predicted class or -1 (abstain)."""
    value = parse_int(text)
    if value < -1:
        raise ValueError(f"{column} {text!r} is neither a class nor -1 (abstain)")
    return value


def parse_correct(text: str, column: str = "correct") -> int:
    """0 or 1."""
    value = parse_int(text)
    if value not in (0, 1):
        raise ValueError(f"{column} {text!r} is not 0 or 1")
    return value


def read_lines(path: Path) -> list[str]:
    """The lines of ``path`` with their line ends; the first is a non-blank header.

    Raises:
        UserError: The file is missing, a directory, not UTF-8 text,
            unreadable or has no header line.
    """
    if not path.exists():
        raise UserError(f"results file {str(path)!r} not found; check the path (pass {FORMATS_HINT})")
    if path.is_dir():
        raise UserError(f"{str(path)!r} is a directory; pass the TSV file inside it")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{str(path)!r} is not a text file; pass {FORMATS_HINT}") from None
    except OSError as exc:
        raise UserError(f"cannot read {str(path)!r}: {exc.strerror}; check the file's permissions") from None
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].strip():
        raise UserError(f"{str(path)!r} is empty (no header line); the run may not have started — "
                        "rerun the command that writes it")
    return lines


def header(first: str) -> tuple[list[str], str | None]:
    """The column names of a header line and the separator (tab, else any whitespace)."""
    sep = "\t" if "\t" in first else None
    return split(first, sep), sep


def read_table(path: Path) -> tuple[list[str], list[str], str | None]:
    """The lines of ``path`` (:func:`read_lines`), its column names and separator (:func:`header`)."""
    lines = read_lines(path)
    columns, sep = header(lines[0])
    return lines, columns, sep


def header_is_missing(columns: list[str]) -> bool:
    """Whether the first line looks like a row (its first field is an integer)."""
    try:
        parse_int(columns[0])
    except (ValueError, IndexError):
        return False
    return True


def parse_rows(path: Path, lines: list[str], sep: str | None, ncols: int,
               parse: Callable[[list[str]], T]) -> list[T]:
    """Every row after the header, each parsed by ``parse(fields)``.

    Blank lines are skipped. A row with other than ``ncols`` fields, or for
    which ``parse`` raises ``ValueError``, is an error, except the last line
    when it lacks its newline (a row torn by an interrupted writer): that one
    is dropped.

    Raises:
        UserError: A row that does not parse, naming ``path:line``.
    """
    rows: list[T] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = split(line, sep)
        try:
            if len(fields) != ncols:
                raise ValueError(f"{len(fields)} fields, the header has {ncols}")
            rows.append(parse(fields))
        except ValueError as exc:
            if lineno == len(lines) and not line.endswith(("\n", "\r")):
                break
            raise UserError(f"{path!s}:{lineno}: cannot parse row ({exc}): "
                            f"{line.rstrip()[:80]!r}; fix or delete that line") from None
    return rows


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest ``FILE.tsv.json`` beside ``path``, or ``None`` when absent or not a JSON object."""
    meta = Path(str(path) + ".json")
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def frozen(values: list[Any], dtype: type) -> np.ndarray:
    """``values`` as a read-only numpy array of ``dtype``."""
    arr: np.ndarray = np.array(values, dtype=dtype)
    arr.setflags(write=False)
    return arr
