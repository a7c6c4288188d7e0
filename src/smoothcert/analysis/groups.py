"""Grouping runs (seeds, architectures) under a label and reporting mean ± std per metric.

Groups come from ``LABEL=GLOB`` specs (:func:`groups_from_globs`) or from a
regular expression on the run names (:func:`groups_from_regex`). The standard
deviation is the sample one (``ddof=1``), NaN for a group of one run; the
number of runs ``n`` is always reported beside it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import re
from collections.abc import Callable, Sequence

import numpy as np

from smoothcert.analysis._render import NOT_APPLICABLE, fmt_num, fmt_pct, render
from smoothcert.analysis.intervals import DEFAULT_LEVEL
from smoothcert.analysis.metrics import Labelled, summarize
from smoothcert.analysis.tables import csv_columns, csv_row, raw
from smoothcert.errors import UserError

METRICS: tuple[str, ...] = ("clean_accuracy", "acr", "abstention_rate", "accuracy_non_abstained")


@dataclasses.dataclass(frozen=True)
class Group:
    """Runs under one label, in the order the files were given."""

    label: str
    runs: tuple[Labelled, ...]


def _matches(res: Labelled, pattern: str) -> bool:
    candidates = {res.name, str(res.path), res.path.name} if res.path is not None else {res.name}
    return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)


def groups_from_globs(results: Sequence[Labelled], specs: Sequence[str]) -> list[Group]:
    """Groups from ``LABEL=GLOB`` specs (split at the last ``=``, so a label may hold one).

    A run belongs to a group when the glob matches its path as given, its
    file name or its display name. A label given several times collects the
    runs of all its globs; a run may belong to several groups. Groups keep
    the order of first appearance, runs the order of ``results``.

    Example:
        >>> groups_from_globs(runs, ["gaussian=*gaussian_seed*", "smoothadv=*adv_seed*"])  # doctest: +SKIP

    Raises:
        UserError: A spec without ``=``, an empty label or glob, or a glob
            matching no run.
    """
    members: dict[str, list[int]] = {}
    for spec in specs:
        label, sep, pattern = spec.rpartition("=")
        label, pattern = label.strip(), pattern.strip()
        if not sep or not label or not pattern:
            raise UserError(f"--group {spec!r} is not LABEL=GLOB; e.g. --group 'sigma 0.25=*sigma_0.25_seed*'")
        hits = [i for i, res in enumerate(results) if _matches(res, pattern)]
        if not hits:
            raise UserError(f"--group {spec!r}: the glob {pattern!r} matches none of the files "
                            "given; check it against the file names (quote it to stop the shell expanding it)")
        known = members.setdefault(label, [])
        known.extend(i for i in hits if i not in known)
    return [Group(label, tuple(results[i] for i in sorted(idx))) for label, idx in members.items()]


def groups_from_regex(results: Sequence[Labelled], pattern: str) -> tuple[list[Group], list[Labelled]]:
    """Groups by a regular expression searched in each run's display name.

    The label is the named group ``label`` if the pattern has one, else its
    first capture group, else the whole match. Groups are ordered by first
    appearance.

    Example:
        >>> groups, unmatched = groups_from_regex(runs, r"(.*)_seed\\d+")  # doctest: +SKIP

    Returns:
        The groups, and the runs the pattern does not match (left out).

    Raises:
        UserError: An invalid pattern, or one that matches no run.
    """
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise UserError(f"--group-by {pattern!r} is not a valid regular expression: {exc}") from None
    members: dict[str, list[Labelled]] = {}
    unmatched = []
    for res in results:
        m = regex.search(res.name)
        if m is None:
            unmatched.append(res)
            continue
        label = m.group("label") if "label" in regex.groupindex else m.group(1 if regex.groups else 0)
        members.setdefault(label or "", []).append(res)
    if not members:
        raise UserError(f"--group-by {pattern!r} matches none of the run names "
                        f"({', '.join(res.name for res in results)}); the pattern is searched in "
                        "the file names without .tsv")
    return [Group(label, tuple(runs)) for label, runs in members.items()], unmatched


def _stat(values: Sequence[float | None]) -> dict[str, float | None]:
    if any(v is None for v in values):  # does not apply to some run (e.g. the ACR of a sequential run)
        return {"mean": None, "std": None}
    arr = np.asarray(values, dtype=np.float64)
    std = float(np.std(arr, ddof=1)) if arr.size > 1 else float("nan")
    return {"mean": float(np.mean(arr)), "std": std}


def group_summary(group: Group, radii: Sequence[float]) -> dict:
    """Mean and sample std (``ddof=1``) of every metric over the group's runs.

    A metric that is NaN in any run (an empty file) is NaN for the group;
    one that does not apply to some run (``None``: the ACR of a sequential
    run, certified accuracy of a PREDICT run) is ``None`` for the group.

    Returns:
        ``{"label", "n", "runs": [names], "examples": [per run],
        "certified_accuracy": {str(float(r)): {"mean", "std"}}, "acr":
        {"mean", "std"}, "clean_accuracy": ..., "abstention_rate": ...,
        "accuracy_non_abstained": ...}``.
    """
    summaries = [summarize(res, radii) for res in group.runs]
    keys = [str(float(r)) for r in radii]
    out: dict = {"label": group.label, "n": len(summaries), "runs": [s["name"] for s in summaries],
                 "examples": [s["examples"] for s in summaries],
                 "certified_accuracy": {k: _stat([s["certified_accuracy"][k] for s in summaries])
                                        for k in keys}}
    for metric in METRICS:
        out[metric] = _stat([s[metric] for s in summaries])
    return out


def _pm(stat: dict[str, float | None], show: Callable[[float], str], n: int) -> str:
    mean, std = stat["mean"], stat["std"]
    if mean is None or std is None:
        return NOT_APPLICABLE
    if math.isnan(mean):
        return "n/a"
    return show(mean) if n < 2 else f"{show(mean)} ± {show(std)}"


def format_groups(summaries: Sequence[dict], radii: Sequence[float], fmt: str) -> str:
    """Group summaries as one table: label, n, then ``mean ± std`` per metric.

    ``markdown``/``latex``/``html`` show rates in percent with one decimal,
    ACR with three, and only the mean when ``n`` is 1; ``csv`` has separate
    unrounded ``_mean`` and ``_std`` columns (``nan`` when undefined).
    """
    keys = [str(float(r)) for r in radii]
    if fmt == "csv":
        names = ["clean_accuracy", *(f"certified_accuracy@{k}" for k in keys), *METRICS[1:]]
        head = ["label", "n", "runs"] + [f"{m}_{s}" for m in names for s in ("mean", "std")]
        rows = []
        for g in summaries:
            stats = [g["clean_accuracy"], *(g["certified_accuracy"][k] for k in keys),
                     *(g[m] for m in METRICS[1:])]
            rows.append([g["label"], str(g["n"]), " ".join(g["runs"])]
                        + [repr(st[s]) for st in stats for s in ("mean", "std")])
        return render(head, rows, fmt, left=(0, 2))
    head = ["group", "n", "clean acc", *(f"r={float(r):g}" for r in radii), "ACR",
            "abstain %", "non-abstain acc %"]
    rows = []
    for g in summaries:
        n = g["n"]
        rows.append([g["label"], str(n), _pm(g["clean_accuracy"], fmt_pct, n),
                     *(_pm(g["certified_accuracy"][k], fmt_pct, n) for k in keys),
                     _pm(g["acr"], fmt_num, n), _pm(g["abstention_rate"], fmt_pct, n),
                     _pm(g["accuracy_non_abstained"], fmt_pct, n)])
    latex_head = ["group", "n", "clean acc", *(f"$r={float(r):g}$" for r in radii), "ACR",
                  r"abstain \%", r"non-abstain acc \%"]
    return render(head, rows, fmt, latex_columns=latex_head)


def format_grouped_csv(groups: Sequence[Group], radii: Sequence[float], level: float = DEFAULT_LEVEL) -> str:
    """Runs and group statistics as one CSV table (one header), without a trailing newline.

    The columns are ``group``, ``statistic`` and then those of the ``csv``
    summary table (:func:`~smoothcert.analysis.tables.csv_columns`). Each
    group contributes one row per run (``statistic`` = ``run``), then a row
    ``mean`` and a row ``std`` (sample, ``ddof=1``; ``nan`` for one run)
    holding, in each numeric column, that statistic over the group's runs
    (``name``, ``path``, ``kind`` and the interval columns are empty there;
    so is any metric that does not apply to some run). A run in several
    groups appears in each.
    """
    columns = csv_columns(radii)
    rows = []
    for group in groups:
        summaries = [summarize(res, radii, level) for res in group.runs]
        rows += [[group.label, "run", *csv_row(s, radii)] for s in summaries]
        stats = group_summary(group, radii)
        examples = _stat([float(n) for n in stats["examples"]])
        for which in ("mean", "std"):
            cells = {"examples": raw(examples[which]), "clean_accuracy": raw(stats["clean_accuracy"][which])}
            cells.update({m: raw(stats[m][which]) for m in METRICS[1:]})
            cells.update({f"certified_accuracy@{k}": raw(v[which]) for k, v in stats["certified_accuracy"].items()})
            rows.append([group.label, which, *(cells.get(c, "") for c in columns)])
    return render(["group", "statistic", *columns], rows, "csv", left=(0, 1, 2, 3, 4))
