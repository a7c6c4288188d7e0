"""Abstention overlap: do two runs abstain on the same examples?

Runs are matched by example ``idx`` (the first column of every certification
TSV) and compared on the indices present in *every* run. For each pair of runs
:func:`abstention_overlap` counts the examples both abstain on, those only one
abstains on (and lists them), and the Jaccard overlap
``|A ∩ B| / |A ∪ B|`` of their abstention sets.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence

import numpy as np

from smoothcert.analysis._render import fmt_pct, render, section
from smoothcert.analysis.metrics import Labelled
from smoothcert.errors import UserError

LIST_LIMIT = 50
"""Indices listed per cell in markdown, LaTeX and HTML (CSV and JSON list all)."""


@dataclasses.dataclass(frozen=True)
class PairOverlap:
    """Abstentions of runs ``a`` and ``b`` on their common examples.

    Attributes:
        a, b: Run names.
        both: Examples both abstain on.
        only_a, only_b: Sorted idx that only ``a`` (only ``b``) abstains on.
        union: Examples at least one abstains on.
        jaccard: ``both / union``; NaN when neither abstains anywhere.
    """

    a: str
    b: str
    both: int
    only_a: np.ndarray
    only_b: np.ndarray
    union: int
    jaccard: float


@dataclasses.dataclass(frozen=True)
class AbstentionOverlap:
    """Abstentions of several runs compared on the examples they all hold.

    Attributes:
        names: Run names, in the given order.
        compared: Number of idx present in every run.
        extra: Per run, rows whose idx is missing from some other run (not compared).
        abstained: Per run, the sorted idx it abstains on among the compared ones.
        in_all: Sorted idx every run abstains on.
        pairs: One :class:`PairOverlap` per pair ``(i, j)``, ``i < j``.
    """

    names: tuple[str, ...]
    compared: int
    extra: tuple[int, ...]
    abstained: tuple[np.ndarray, ...]
    in_all: np.ndarray
    pairs: tuple[PairOverlap, ...]


def _check_unique(res: Labelled) -> None:
    values, counts = np.unique(res.idx, return_counts=True)
    if np.any(counts > 1):
        dup = int(values[np.argmax(counts > 1)])
        raise UserError(f"{str(res.path)!r} holds example idx {dup} more than once; "
                        "abstention analysis matches rows by idx, so each must be unique")


def abstention_overlap(results: Sequence[Labelled]) -> AbstentionOverlap:
    """Compare where two or more runs abstain, matching examples by idx.

    Guarantees: only idx present in every run are compared; for every pair
    ``both + len(only_a) + len(only_b) == union`` and ``jaccard`` is
    ``both / union``.

    Example:
        >>> ov = abstention_overlap([load_results("a.tsv"), load_results("b.tsv")])  # doctest: +SKIP
        >>> ov.pairs[0].jaccard, ov.pairs[0].only_a  # doctest: +SKIP

    Raises:
        UserError: Fewer than two runs, an idx repeated within a run, or no
            idx common to all runs.
    """
    if len(results) < 2:
        raise UserError("abstention analysis compares two or more runs; pass at least two TSVs")
    for res in results:
        _check_unique(res)
    common = results[0].idx
    for res in results[1:]:
        common = np.intersect1d(common, res.idx)
    if common.size == 0:
        names = ", ".join(repr(res.name) for res in results)
        raise UserError(f"runs {names} share no example idx, so their abstentions cannot be "
                        "compared; pass certifications of the same examples (same --skip/--max)")
    abstained = tuple(np.intersect1d(res.idx[res.predict == -1], common) for res in results)
    in_all = abstained[0]
    for a in abstained[1:]:
        in_all = np.intersect1d(in_all, a)
    pairs = []
    for i, j in itertools.combinations(range(len(results)), 2):
        a, b = abstained[i], abstained[j]
        both = int(np.intersect1d(a, b).size)
        union = int(np.union1d(a, b).size)
        pairs.append(PairOverlap(results[i].name, results[j].name, both, np.setdiff1d(a, b),
                                 np.setdiff1d(b, a), union,
                                 both / union if union else float("nan")))
    return AbstentionOverlap(
        names=tuple(res.name for res in results), compared=int(common.size),
        extra=tuple(len(res) - int(common.size) for res in results), abstained=abstained,
        in_all=in_all, pairs=tuple(pairs))


def overlap_to_json(ov: AbstentionOverlap) -> dict:
    """Plain dict of ``ov`` (idx lists in full; NaN Jaccard stays NaN)."""
    return {
        "compared": ov.compared,
        "runs": [{"name": n, "abstain": int(a.size), "not_compared": e}
                 for n, a, e in zip(ov.names, ov.abstained, ov.extra, strict=True)],
        "abstain_in_all": ov.in_all.tolist(),
        "pairs": [{"a": p.a, "b": p.b, "both": p.both, "only_a": p.only_a.tolist(),
                   "only_b": p.only_b.tolist(), "union": p.union, "jaccard": p.jaccard}
                  for p in ov.pairs],
    }


def _idx_list(idx: np.ndarray, full: bool) -> str:
    shown = idx if full else idx[:LIST_LIMIT]
    text = " ".join(str(int(i)) for i in shown)
    if idx.size > shown.size:
        text += f" … (+{idx.size - shown.size} more)"
    return text


def format_overlap(ov: AbstentionOverlap, fmt: str) -> str:
    """Three titled tables: abstentions per run, pairwise overlap, and who abstains alone.

    ``markdown``/``latex``/``html`` show rates in percent and at most
    ``LIST_LIMIT`` indices per cell; ``csv`` shows unrounded values and
    every index.
    """
    raw = fmt == "csv"
    rate = (lambda x: repr(x)) if raw else fmt_pct

    def frac(k: int) -> float:
        return k / ov.compared

    per_run = [[n, str(ov.compared), str(a.size), rate(frac(a.size)), str(e)]
               for n, a, e in zip(ov.names, ov.abstained, ov.extra, strict=True)]
    per_run.append(["(every run)", str(ov.compared), str(ov.in_all.size),
                    rate(frac(ov.in_all.size)), ""])
    pairs = [[p.a, p.b, str(p.both), str(p.only_a.size), str(p.only_b.size), str(p.union),
              repr(p.jaccard) if raw else ("n/a" if math.isnan(p.jaccard) else f"{p.jaccard:.3f}")]
             for p in ov.pairs]
    alone = []
    for p in ov.pairs:
        alone.append([p.a, p.b, str(p.only_a.size), _idx_list(p.only_a, raw)])
        alone.append([p.b, p.a, str(p.only_b.size), _idx_list(p.only_b, raw)])
    tables = [
        ("abstentions per run (on the examples all runs hold)",
         render(["run", "compared", "abstain", "abstain rate" if raw else "abstain %", "not compared"],
                per_run, fmt)),
        ("abstention overlap per pair",
         render(["a", "b", "both", "only a", "only b", "union", "jaccard"], pairs, fmt, left=2)),
        ("examples one run abstains on and the other does not",
         render(["abstains", "does not", "count", "idx"], alone, fmt, left=(0, 1, 3))),
    ]
    return "\n\n".join(section(title, body, fmt) for title, body in tables)
