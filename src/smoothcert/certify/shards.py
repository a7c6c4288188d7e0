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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smoothcert.certify.rows import Rows, open_results, read_rows, run_rows, write_all
from smoothcert.runtime import distributed


def part_path(out: Path, rank: int) -> Path:
    """Rank ``rank``'s part file beside ``out``."""
    return out.with_name(f"{out.name}.part{rank}")


def run_sharded(ctx: distributed.Context, out: str | Path, manifest: dict[str, Any], columns: Sequence[str],
                indices: Sequence[int], rows: Rows, desc: str = "certify", quiet: bool = False) -> Path:
    """:func:`smoothcert.certify.rows.run_rows` for this rank's share; merged into ``out`` by rank 0."""
    out = Path(out)

    def prepare() -> None:
        if out.exists():
            open_results(out, manifest, columns, indices)  # refuses other settings, repairs a torn row
        finish(out, manifest, columns)  # parts an interrupted run left behind

    distributed.on_main(ctx, prepare)
    if not ctx.distributed:
        return run_rows(out, manifest, columns, indices, rows, desc=desc, quiet=quiet)
    done = set(read_rows(out, columns))
    share = [idx for idx in indices if idx not in done][ctx.rank :: ctx.world_size]
    run_rows(part_path(out, ctx.rank), manifest, columns, share, rows, desc=desc, quiet=quiet or not ctx.is_main)
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
        open_results(part, manifest, columns, None)
    open_results(out, manifest, columns, None)
    rows = read_rows(out, columns)
    before = len(rows)
    for part in sorted(parts):
        for idx, line in read_rows(part, columns).items():
            rows.setdefault(idx, line)
    write_all(out, columns, rows)
    for part in parts:
        part.unlink()
        Path(str(part) + ".json").unlink(missing_ok=True)
    return len(rows) - before


def _glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)
