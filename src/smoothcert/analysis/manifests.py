"""What the runs' manifests say: settings that differ between runs, sequential runs, the radius N allows.

A manifest is the JSON object ``FILE.tsv.json`` written beside each TSV by
``smoothcert certify``, ``predict`` and ``attack``; files of the original
papers have none, and then nothing here can be said about them (except their
image sets, which come from the TSV itself).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from smoothcert import stats
from smoothcert.analysis.results import SEQUENTIAL, Results
from smoothcert.analysis.runs import Run, certification_runs

_EVERYWHERE = {"dataset": "they were evaluated on different data",
               "split": "they were evaluated on different data"}
_PER_FAMILY = {"n": "n sets the power of the test (and the largest radius a certificate can reach)",
               "alpha": "their results hold at different confidence levels"}


def _family(run: Run) -> str:
    return "certification" if isinstance(run, Results) else run.kind


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _names(runs: Sequence[Run]) -> str:
    return ", ".join(r.name for r in runs)


def _differ(runs: Sequence[Run], key: str, scope: str, why: str) -> str | None:
    by_value: dict[str, list[Run]] = {}
    for run in runs:
        if run.manifest is not None and key in run.manifest:
            by_value.setdefault(_show(run.manifest[key]), []).append(run)
    if len(by_value) < 2:
        return None
    shown = "; ".join(f"{value} ({_names(members)})" for value, members in by_value.items())
    return f"the {scope}runs differ in {key}: {shown}; {why}"


def _image_sets(runs: Sequence[Run]) -> str | None:
    sets: dict[bytes, tuple[np.ndarray, list[Run]]] = {}
    for run in runs:
        idx = np.unique(run.idx)
        sets.setdefault(idx.tobytes(), (idx, []))[1].append(run)
    if len(sets) < 2:
        return None
    common = None
    for idx, _ in sets.values():
        common = idx if common is None else np.intersect1d(common, idx)
    shown = "; ".join(f"{len(idx)} images ({_names(members)})" for idx, members in sets.values())
    return (f"the runs hold different images (idx sets): {shown}; {0 if common is None else common.size} "
            "in all of them; their rates are over different images (run them with the same --skip and --max)")


def setting_warnings(runs: Sequence[Run]) -> list[str]:
    """Why the numbers of ``runs`` may not be comparable, one message per difference.

    Compared, from the manifests where present: ``dataset`` and ``split``
    across all runs; ``n`` and ``alpha`` among runs of one family
    (certification — CERTIFY and sequential —, PREDICT, attack: their n
    differ by design). Compared from the TSVs: the set of ``idx`` values.
    Each message names the runs and the values that differ. Empty for fewer
    than two runs.
    """
    if len(runs) < 2:
        return []
    messages = [_differ(runs, key, "", why) for key, why in _EVERYWHERE.items()]
    families: dict[str, list[Run]] = {}
    for run in runs:
        families.setdefault(_family(run), []).append(run)
    several = len(families) > 1
    for family, members in families.items():
        scope = f"{family} " if several else ""
        messages += [_differ(members, key, scope, why) for key, why in _PER_FAMILY.items()]
    messages.append(_image_sets(runs))
    return [m for m in messages if m is not None]


def sequential_note(runs: Sequence[Run]) -> str | None:
    """A note naming the sequential runs, whose ACR is not reported; ``None`` when there are none."""
    names = [r.name for r in certification_runs(runs) if r.kind == SEQUENTIAL]
    if not names:
        return None
    subject = f"{names[0]} is a sequential certification" if len(names) == 1 else \
        f"{', '.join(names)} are sequential certifications"
    return (f"{subject}: the radius column is the largest target radius certified, not a CERTIFY radius, "
            "so no ACR is reported (certified accuracy at the target radii stands)")


def off_target_warnings(runs: Sequence[Run], radii: Sequence[float]) -> list[str]:
    """For each sequential run, the radii > 0 asked for that are not among its target radii.

    Certified accuracy there is that at the next lower target (an underestimate).
    """
    messages = []
    for run in certification_runs(runs):
        targets = (run.manifest or {}).get("radii") if run.kind == SEQUENTIAL else None
        if not isinstance(targets, list):
            continue
        off = [r for r in radii if r > 0 and not any(math.isclose(r, float(t)) for t in targets)]
        if off:
            shown = " ".join(f"{r:g}" for r in off)
            messages.append(f"radius {shown} {'is' if len(off) == 1 else 'are'} not among the target radii of the "
                            f"sequential run {run.name} ({' '.join(f'{float(t):g}' for t in targets)}): its certified "
                            "accuracy there is that at the next lower target; ask for its target radii")
    return messages


def radius_limit(res: Results) -> float | None:
    """The largest radius any certificate of ``res`` can reach with its N, from its manifest.

    ``max_radius(n, alpha, sigma)`` = σ·Φ⁻¹(alpha^(1/n)) for CERTIFY; for a
    sequential run its final look, ``max_radius(n_max, alpha / 2, sigma)``.
    ``None`` when the manifest is missing or lacks ``n``, ``alpha`` or ``sigma``.
    """
    m = res.manifest or {}
    try:
        n, alpha, sigma = int(m["n"]), float(m["alpha"]), float(m["sigma"])
        if res.kind == SEQUENTIAL:
            alpha /= 2
        return stats.max_radius(n, alpha, sigma)
    except (KeyError, TypeError, ValueError):
        return None
