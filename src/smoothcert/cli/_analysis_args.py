"""Arguments shared by ``analyze`` and ``report``: radii, interval level, display names, groups, notes."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from smoothcert.errors import UserError

if TYPE_CHECKING:
    from smoothcert.analysis import Group, Run
    from smoothcert.analysis.metrics import Labelled

DEFAULT_RADII: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# smoothcert.analysis.intervals.DEFAULT_LEVEL, written out so that building the parser imports no numpy
# (a test keeps them equal).
DEFAULT_LEVEL = 0.95


def add_radii(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--radii", nargs="+", type=float, default=list(DEFAULT_RADII),
                        metavar="R", help="radii for certified accuracy (default: %(default)s)")


def add_ci_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ci-level", type=float, default=DEFAULT_LEVEL, metavar="L",
                        help="level of the two-sided Clopper-Pearson intervals of certified accuracy over the "
                             "images (default: %(default)s)")


def add_groups(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", action="append", default=[], metavar="LABEL=GLOB",
                        help="put the files matching GLOB (path or file name) in group LABEL (split at the last '='); "
                             "repeat for several groups; reports mean ± std per group")
    parser.add_argument("--group-by", metavar="REGEX",
                        help="group by a regular expression searched in each file name without .tsv; "
                             "the label is its group 'label', else its first group, else the match")


def radii(values: Sequence[float]) -> list[float]:
    """The radii as floats, repeats dropped, order kept; a ``UserError`` for a bad one."""
    bad = [r for r in values if not (math.isfinite(r) and r >= 0)]
    if bad:
        raise UserError(f"--radii must be finite numbers >= 0, got {bad[0]}; e.g. --radii 0 0.25 0.5")
    return list(dict.fromkeys(float(r) for r in values))


def check_group_flags(args: argparse.Namespace) -> None:
    if args.group and args.group_by:
        raise UserError("give either --group LABEL=GLOB or --group-by REGEX, not both")


def renamed(results: list[Run], names: Sequence[str] | None) -> list[Run]:
    """``results`` with display names ``names`` (one per run).

    Without ``names``, runs whose file names coincide (``a/certify.tsv``,
    ``b/certify.tsv``) are told apart by their directory (``a/certify``).
    """
    if names is None:
        counts = Counter(r.name for r in results)
        return [dataclasses.replace(r, name=f"{r.path.parent.name}/{r.name}")
                if counts[r.name] > 1 and r.path.parent.name else r for r in results]
    if len(names) != len(results):
        raise UserError(f"--name got {len(names)} names for {len(results)} files; "
                        "give one name per file, in the same order")
    return [dataclasses.replace(r, name=n) for r, n in zip(results, names, strict=True)]


def groups(args: argparse.Namespace, results: Sequence[Labelled]) -> list[Group] | None:
    """The groups asked for on the command line, or ``None``; warns about unmatched runs.

    Only CERTIFY, sequential and PREDICT runs are grouped (``results``).
    """
    if (args.group or args.group_by) and not results:
        raise UserError("--group and --group-by group certification or PREDICT runs; none were given "
                        "(attack TSVs are not grouped)")
    from smoothcert.analysis import groups_from_globs, groups_from_regex

    if args.group:
        return groups_from_globs(results, args.group)
    if args.group_by:
        found, unmatched = groups_from_regex(results, args.group_by)
        for res in unmatched:
            print(f"warning: --group-by {args.group_by!r} does not match {res.name!r}; "
                  "it is left out of the groups", file=sys.stderr)
        return found
    return None


def notes(runs: Sequence[Run], radii: Sequence[float]) -> list[str]:
    """The lines to print on stderr about ``runs``: ``note: ...`` (sequential runs), then ``warning: ...``."""
    from smoothcert.analysis import off_target_warnings, sequential_note, setting_warnings

    lines = []
    seq = sequential_note(runs)
    if seq is not None:
        lines.append(f"note: {seq}")
    lines += [f"warning: {w}" for w in [*setting_warnings(runs), *off_target_warnings(runs, radii)]]
    return lines
