"""Result files: the TSV rows of every mode and their manifest; written, resumed and read in one place.

The TSV's first six columns are those of the original randomized-smoothing code
(``idx label predict radius correct time``); ours follow. Each row is written,
flushed and fsynced as soon as it is computed. Beside ``FILE.tsv``,
``FILE.tsv.json`` holds the manifest. A rerun resumes (skipping finished
indices, dropping a torn last line) only if it would compute the same thing:

* a manifest key that differs is refused, naming the difference, except
  ``max`` when it grows (the same index set, continued);
* every index already in the file must belong to the rerun's index set
  (``--skip``, ``--max``, ``--split``), so two samplings never mix.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from smoothcert._io import atomic_write_text
from smoothcert.errors import UserError
from smoothcert.runtime.progress import progress
from smoothcert.sequential import SequentialCertificate
from smoothcert.smooth import Certificate, ModelOutputError

CERTIFY_COLUMNS = ["idx", "label", "predict", "radius", "correct", "time", "p_lower", "count", "n"]
SEQUENTIAL_COLUMNS = ["idx", "label", "predict", "radius", "correct", "time", "samples", "p_lower", "count", "n"]
PREDICT_COLUMNS = ["idx", "label", "predict", "correct", "time"]
UNCOMPARED = ("created", "checkpoint_path")  # manifest keys that may differ on resume
Rows = Callable[[list[int]], Iterator[dict[str, Any]]]
"""Given the indices still to do, yields their rows in that order."""


def per_index(compute: Callable[[int], dict[str, Any]]) -> Rows:
    """:data:`Rows` from a function of one index (rows computed one at a time, in order)."""
    return lambda todo: (compute(idx) for idx in todo)


def attack_columns(eps: Sequence[float]) -> list[str]:
    """``idx label predict_eps<E> correct_eps<E> ... time``, E as ``str(float(E))`` in the order given."""
    columns = ["idx", "label"]
    for e in eps:
        columns += [f"predict_eps{float(e)}", f"correct_eps{float(e)}"]
    return [*columns, "time"]


def certify_row(idx: int, label: int, cert: Certificate) -> dict[str, Any]:
    """A CERTIFY row (``time`` is set by the writer)."""
    return {"idx": idx, "label": label, "predict": cert.prediction, "radius": cert.radius,
            "correct": int(cert.prediction == label), "time": 0.0, "p_lower": cert.p_lower, "count": cert.count,
            "n": cert.n}


def sequential_row(idx: int, label: int, cert: SequentialCertificate) -> dict[str, Any]:
    """A sequential row: ``radius`` is the largest target radius certified, ``samples`` all noise samples used."""
    return {**certify_row(idx, label, Certificate(cert.prediction, cert.radius, cert.p_lower, cert.count, cert.n)),
            "samples": cert.samples}


def predict_row(idx: int, label: int, prediction: int) -> dict[str, Any]:
    """A PREDICT row."""
    return {"idx": idx, "label": label, "predict": prediction, "correct": int(prediction == label), "time": 0.0}


def attack_row(idx: int, label: int, predictions: dict[float, int]) -> dict[str, Any]:
    """An attack row: PREDICT on the input attacked at each radius."""
    row: dict[str, Any] = {"idx": idx, "label": label, "time": 0.0}
    for e, prediction in predictions.items():
        row[f"predict_eps{float(e)}"] = prediction
        row[f"correct_eps{float(e)}"] = int(prediction == label)
    return row


def select_indices(size: int, skip: int = 1, maximum: int | None = None) -> list[int]:
    """Indices 0, skip, 2*skip, ... below ``size``; at most ``maximum`` of them (a count)."""
    if skip < 1:
        raise UserError(f"--skip must be >= 1, got {skip}")
    if maximum is not None and maximum < 0:
        raise UserError(f"--max must be >= 0, got {maximum}")
    indices = list(range(0, size, skip))
    return indices if maximum is None else indices[:maximum]


def read_rows(path: Path, columns: Sequence[str]) -> dict[int, str]:
    """``{idx: line}`` of a TSV's whole rows, the first of each index (an unterminated last line is ignored)."""
    if not path.is_file():
        return {}
    raw = path.read_bytes()
    try:
        lines = raw[: raw.rfind(b"\n") + 1].decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text TSV; move it away or choose another --out") from None
    if lines and lines[0].split("\t") != list(columns):
        raise UserError(f"{path} has header {lines[0]!r}, not this command's columns; choose another --out")
    rows: dict[int, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(columns) or not fields[0].isdigit():
            raise UserError(f"{path} line {number} is malformed; fix or move the file, or choose another --out")
        rows.setdefault(int(fields[0]), line)
    return rows


def write_all(path: Path, columns: Sequence[str], rows: dict[int, str]) -> None:
    """Write ``rows`` (``{idx: line}``) as a whole TSV, sorted by index, atomically."""
    atomic_write_text(path, "\t".join(columns) + "\n" + "".join(rows[idx] + "\n" for idx in sorted(rows)))


def open_results(out: Path, manifest: dict[str, Any], columns: Sequence[str],
                 indices: Sequence[int] | None) -> set[int]:
    """Check (or create) ``out``'s manifest; the indices ``out`` holds. Repairs a torn last row.

    ``indices`` (None: no check) is the rerun's index set: a file holding an
    index outside it was made with another sampling and is refused. The file
    is checked before anything is cut, so a refused file stays byte-identical.
    """
    meta = Path(str(out) + ".json")
    if out.is_dir():
        raise UserError(f"--out {out} is a directory; give a file name such as {out / 'certify.tsv'}")
    if not out.exists():
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(meta, json.dumps({**manifest, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
                                               indent=2))
        except OSError as exc:
            raise UserError(f"cannot write {meta}: {exc.strerror}; choose another --out") from None
        return set()
    if not meta.is_file():
        raise UserError(f"{out} exists without its manifest {meta.name}; move it away or choose another --out")
    old = _check_manifest(meta, manifest)
    done = set(read_rows(out, columns))
    if indices is not None:
        outside = sorted(done - set(indices))
        if outside:
            raise UserError(f"{out} holds rows of indices this run would not certify (e.g. {outside[0]}): it was "
                            "written with another --skip, --max or --split; rerun with those, or choose another --out")
    _truncate_torn_row(out)
    if old.get("max") != manifest.get("max"):  # only a grown --max gets here: record it
        atomic_write_text(meta, json.dumps({**old, "max": manifest.get("max")}, indent=2))
    return done


def run_rows(out: str | Path, manifest: dict[str, Any], columns: Sequence[str], indices: Iterable[int],
             rows: Rows, desc: str = "certify", quiet: bool = False) -> Path:
    """Append one row per index not yet in ``out``, resuming an earlier run; returns ``out``.

    ``rows(todo)`` yields the rows of the indices ``todo``, in that order.
    """
    out = Path(out)
    indices = list(indices)
    done = open_results(out, manifest, columns, indices)
    created = not out.exists()
    todo = [idx for idx in indices if idx not in done]
    produced = rows(todo)
    try:
        with open(out, "a", encoding="utf-8") as fh:
            if fh.tell() == 0:
                fh.write("\t".join(columns) + "\n")
            for idx in progress(todo, desc=desc, disable=quiet, unit="ex"):
                row = _next_row(produced, idx)
                fh.write("\t".join(_format(row[c]) for c in columns) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                created = False  # a result exists now: never remove the file
    except Exception:
        if created:  # nothing certified yet: leave no header-only TSV (its manifest would block a rerun)
            out.unlink(missing_ok=True)
            Path(str(out) + ".json").unlink(missing_ok=True)
        raise
    return out


def _next_row(produced: Iterator[dict[str, Any]], idx: int) -> dict[str, Any]:
    """The next row, which must be ``idx``'s; a base model's unusable output as a ``UserError``."""
    try:
        row = next(produced)
    except ModelOutputError as exc:
        raise UserError(
            f"example {idx}: {exc}; the checkpoint does not compute valid logits (diverged training or a "
            "corrupt file?): retrain, or use an earlier checkpoint"
        ) from None
    if row["idx"] != idx:
        raise AssertionError(f"rows out of order: expected {idx}, got {row['idx']}")
    return row


def _format(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _check_manifest(path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The old manifest, if the rerun may continue it; else a ``UserError`` naming what differs."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(f"manifest {path} is unreadable; move the TSV and manifest away or choose another --out") \
            from None
    keys = (set(old) | set(manifest)) - set(UNCOMPARED)
    differ = sorted(k for k in keys if old.get(k) != manifest.get(k) and not (k == "max" and _grows(old, manifest)))
    if differ:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {manifest.get(k)!r}" for k in differ[:4])
        raise UserError(
            f"{path.with_suffix('')} was written with other settings ({shown}); "
            "rerun with the same arguments to resume (a larger --max continues), or choose another --out"
        )
    return dict(old)


def _grows(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """``--max`` grew (None is everything): the earlier index set is a prefix of the new one."""
    before, after = old.get("max"), new.get("max")
    return after is None or (before is not None and after > before)


def _truncate_torn_row(path: Path) -> None:
    """Cut an unterminated last line (a kill mid-row); rows before it are whole."""
    raw = path.read_bytes()
    cut = raw.rfind(b"\n") + 1
    if cut < len(raw):
        with open(path, "r+b") as fh:
            fh.truncate(cut)
            fh.flush()
            os.fsync(fh.fileno())
