"""Sharded certification: each rank certifies its share into a part file; rank 0 merges.

Under ``torchrun --nproc_per_node=K -m smoothcert certify ... --out FILE.tsv``:

1. Rank 0 checks or writes ``FILE.tsv.json`` (the manifest, the same as a single
   process writes: results do not depend on K) and merges any part files an
   interrupted earlier run left behind into ``FILE.tsv``.
2. Every rank reads which indices ``FILE.tsv`` already holds and takes every
   K-th of the rest, starting at its rank, certifying them into
   ``FILE.tsv.part<rank>`` (resumable like any TSV: rows are fsynced one by one).
3. After a barrier, rank 0 writes ``FILE.tsv`` anew with its old rows and every
   part's rows, one per index, sorted by index, atomically; then removes the parts.

Every example's noise comes from its own generator seeded by ``(seed, idx)``,
so the merged file equals the single-process one (but for the ``time``
column). A run killed at any moment loses at most the row being computed on
each rank; rerunning the same command (with any K, or without torchrun)
resumes. A single process also merges leftover parts first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from smoothcert._io import atomic_write_text
from smoothcert.certify.rows import run_rows
from smoothcert.runtime import distributed
from smoothcert.errors import UserError


def part_path(out: Path, rank: int) -> Path:
    """Rank ``rank``'s part file beside ``out``."""
    return out.with_name(f"{out.name}.part{rank}")


def run_sharded(
    ctx: distributed.Context,
    out: str | Path,
    manifest: dict[str, Any],
    columns: Sequence[str],
    indices: Sequence[int],
    compute: Callable[[int], dict[str, Any]] | None = None,
    stream: Callable[[list[int]], Iterator[dict[str, Any]]] | None = None,
    desc: str = "certify",
    quiet: bool = False,
) -> Path:
    """:func:`smoothcert.certify.rows.run_rows` for this rank's share; merged into ``out`` by rank 0."""
    out = Path(out)

    def prepare() -> None:
        if out.exists():
            run_rows(out, manifest, columns, [], _unused, quiet=True)  # refuses other settings, repairs a torn row
        finish(out, manifest, columns)  # parts an interrupted run left behind

    distributed.on_main(ctx, prepare)
    if not ctx.distributed:
        return run_rows(out, manifest, columns, indices, compute, desc=desc, quiet=quiet, stream=stream)
    done = set(_rows(out, columns))
    share = [idx for idx in indices if idx not in done][ctx.rank :: ctx.world_size]
    run_rows(part_path(out, ctx.rank), manifest, columns, share, compute, desc=desc,
             quiet=quiet or not ctx.is_main, stream=stream)
    distributed.barrier(ctx)
    distributed.on_main(ctx, lambda: finish(out, manifest, columns))
    return out


def finish(out: Path, manifest: dict[str, Any], columns: Sequence[str]) -> int:
    """Fold every part file beside ``out`` into it (one row per index, sorted); returns rows added.

    Each part's manifest must match ``manifest`` (else a ``UserError``, nothing touched).
    """
    parts = [p for p in out.parent.glob(f"{_glob_escape(out.name)}.part*")
             if re.fullmatch(r"\.part\d+", p.name[len(out.name):])]
    if not parts:
        return 0
    for part in parts:
        run_rows(part, manifest, columns, [], _unused, quiet=True)
    run_rows(out, manifest, columns, [], _unused, quiet=True)
    rows = _rows(out, columns)
    before = len(rows)
    for part in sorted(parts):
        for idx, line in _rows(part, columns).items():
            rows.setdefault(idx, line)
    atomic_write_text(out, "\t".join(columns) + "\n" + "".join(rows[idx] + "\n" for idx in sorted(rows)))
    for part in parts:
        part.unlink()
        Path(str(part) + ".json").unlink(missing_ok=True)
    return len(rows) - before


def _rows(path: Path, columns: Sequence[str]) -> dict[int, str]:
    """``{idx: line}`` of a TSV's whole rows (an unterminated last line is ignored)."""
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


def _glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _unused(idx: int) -> dict[str, Any]:
    raise AssertionError("no index to compute")
