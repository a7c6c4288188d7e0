"""Certifying (or predicting on) a dataset: resumable TSV + manifest, per-example seeds.

The TSV's first six columns are those of the original randomized-smoothing code
(``idx label predict radius correct time``); ours follow. Each row is written,
flushed and fsynced as soon as it is computed. Beside ``FILE.tsv``,
``FILE.tsv.json`` holds the manifest; a rerun with the same manifest resumes
(skipping finished indices and dropping a torn last line), a rerun whose
manifest differs is refused. The noise for example ``idx`` comes from a
generator seeded by ``(seed, idx)`` alone, so results do not depend on order,
``--skip``/``--max``, sharding or interruption.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from smoothcert._io import atomic_write_text
from smoothcert.runtime.progress import progress
from smoothcert.errors import UserError
from smoothcert.smooth import ModelOutputError, Smooth

CERTIFY_COLUMNS = ["idx", "label", "predict", "radius", "correct", "time", "p_lower", "count", "n"]
PREDICT_COLUMNS = ["idx", "label", "predict", "correct", "time"]
UNCOMPARED = ("created", "checkpoint_path")  # manifest keys that may differ on resume


def example_seed(seed: int, idx: int) -> int:
    """A 63-bit seed derived from ``(seed, idx)`` by NumPy's SeedSequence (well mixed, order-free)."""
    state = np.random.SeedSequence([seed, idx]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31 | int(state[1]) >> 1) & (2**63 - 1)


def example_generator(seed: int, idx: int, device: torch.device) -> torch.Generator:
    """The noise generator of example ``idx`` on ``device``."""
    return torch.Generator(device=device).manual_seed(example_seed(seed, idx))


def select_indices(size: int, skip: int = 1, maximum: int | None = None) -> list[int]:
    """Indices 0, skip, 2*skip, ... below ``size``; at most ``maximum`` of them (a count)."""
    if skip < 1:
        raise UserError(f"--skip must be >= 1, got {skip}")
    if maximum is not None and maximum < 0:
        raise UserError(f"--max must be >= 0, got {maximum}")
    indices = list(range(0, size, skip))
    return indices if maximum is None else indices[:maximum]


def _format(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _read_existing(path: Path, columns: Sequence[str]) -> set[int]:
    """Indices already in ``path``; truncates a torn (unterminated) last line.

    The file is checked before anything is cut, so a file that is refused stays
    byte-identical.
    """
    raw = path.read_bytes()
    cut = raw.rfind(b"\n") + 1  # a kill mid-row leaves an unterminated tail; rows before it are whole
    try:
        lines = raw[:cut].decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a text TSV; move it away or choose another --out") from None
    if lines and lines[0].split("\t") != list(columns):
        raise UserError(f"{path} has header {lines[0]!r}, not this command's columns; choose another --out")
    done: set[int] = set()
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(columns) or not fields[0].isdigit():
            raise UserError(f"{path} line {number} is malformed; fix or move the file, or choose another --out")
        done.add(int(fields[0]))
    if cut < len(raw):
        with open(path, "r+b") as fh:
            fh.truncate(cut)
            fh.flush()
            os.fsync(fh.fileno())
    return done


def _check_manifest(path: Path, manifest: dict[str, Any]) -> None:
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        raise UserError(f"manifest {path} is unreadable; move the TSV and manifest away or choose another --out") from None
    keys = (set(old) | set(manifest)) - set(UNCOMPARED)
    differ = sorted(k for k in keys if old.get(k) != manifest.get(k))
    if differ:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {manifest.get(k)!r}" for k in differ[:4])
        raise UserError(
            f"{path.with_suffix('')} was written with other settings ({shown}); "
            "rerun with the same arguments to resume, or choose another --out"
        )


def run_rows(
    out: str | Path,
    manifest: dict[str, Any],
    columns: Sequence[str],
    indices: Iterable[int],
    compute: Callable[[int], dict[str, Any]] | None,
    desc: str = "certify",
    quiet: bool = False,
    stream: Callable[[list[int]], Iterator[dict[str, Any]]] | None = None,
) -> Path:
    """Append one row per index not yet in ``out``, resuming an earlier run.

    ``compute(idx)`` returns the row as a dict keyed by ``columns``; or, instead,
    ``stream(todo)`` yields the rows of the indices ``todo`` in that order (an
    engine that works on several examples at once). Returns ``out``.
    """
    out = Path(out)
    meta = Path(str(out) + ".json")
    if out.is_dir():
        raise UserError(f"--out {out} is a directory; give a file name such as {out / 'certify.tsv'}")
    done: set[int] = set()
    if out.exists():
        if not meta.is_file():
            raise UserError(f"{out} exists without its manifest {meta.name}; move it away or choose another --out")
        _check_manifest(meta, manifest)
        done = _read_existing(out, columns)
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(meta, json.dumps({**manifest, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2))
        except OSError as exc:
            raise UserError(f"cannot write {meta}: {exc.strerror}; choose another --out") from None
    created = not out.exists()
    todo = [idx for idx in indices if idx not in done]
    if stream is not None:
        rows = stream(todo)
        compute = lambda idx: next(rows)  # noqa: E731 -- rows come in the order of todo
    assert compute is not None, "run_rows needs compute or stream"
    try:
        with open(out, "a", encoding="utf-8") as fh:
            if fh.tell() == 0:
                fh.write("\t".join(columns) + "\n")
            for idx in progress(todo, desc=desc, disable=quiet, unit="ex"):
                row = _compute(compute, idx)
                fh.write("\t".join(_format(row[c]) for c in columns) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
                created = False  # a result exists now: never remove the file
    except Exception:
        if created:  # nothing certified yet: leave no header-only TSV (its manifest would block a rerun)
            out.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
        raise
    return out


def _compute(compute: Callable[[int], dict[str, Any]], idx: int) -> dict[str, Any]:
    """``compute(idx)``, with a base model's unusable output (NaN logits, wrong width) as a ``UserError``."""
    try:
        return compute(idx)
    except ModelOutputError as exc:
        raise UserError(
            f"example {idx}: {exc}; the checkpoint does not compute valid logits (diverged training or a "
            "corrupt file?): retrain, or use an earlier checkpoint"
        ) from None


def certify_row(
    smooth: Smooth, x: torch.Tensor, label: int, idx: int, *, n0: int, n: int, alpha: float,
    batch_size: int, seed: int,
) -> dict[str, Any]:
    """CERTIFY one example with its own generator; the TSV row."""
    began = time.perf_counter()
    cert = smooth.certify(x, n0, n, alpha, batch_size, example_generator(seed, idx, x.device))
    correct = int(cert.prediction == label)
    return {
        "idx": idx, "label": label, "predict": cert.prediction, "radius": cert.radius,
        "correct": correct, "time": round(time.perf_counter() - began, 6),
        "p_lower": cert.p_lower, "count": cert.count, "n": cert.n,
    }


def predict_row(
    smooth: Smooth, x: torch.Tensor, label: int, idx: int, *, n: int, alpha: float, batch_size: int, seed: int,
) -> dict[str, Any]:
    """PREDICT one example with its own generator; the TSV row."""
    began = time.perf_counter()
    prediction = smooth.predict(x, n, alpha, batch_size, example_generator(seed, idx, x.device))
    return {"idx": idx, "label": label, "predict": prediction, "correct": int(prediction == label),
            "time": round(time.perf_counter() - began, 6)}
