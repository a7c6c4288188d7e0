"""The MNIST table of Jeong & Shin (2020): published values, and ours beside them.

Tabulates every ``<method>_<sigma>.tsv`` in a directory: certified accuracy at
r = 0, 0.25, ..., 2.0 and ACR, beside the published values for the paper's 500
test images, and (:func:`same_images_table`) beside the authors' per-image runs
restricted to our images, with the standard error of each paired difference and
the spread of the authors' runs; and (:func:`ordering_table`) each method minus
gaussian at the same sigma, ours beside the published, which is how the paper's
ordering is checked. A sequential-certification TSV (its manifest says
``"mode": "sequential"``) is exact only at its target radii: its other columns
and its ACR are shown as "—".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from smoothcert.analysis.results import load_results
from smoothcert.reproduce.mnist_published import PAPER_IMAGES, PUBLISHED_ACCURACY, PUBLISHED_ACR, RADII
from smoothcert.reproduce.same_images import (
    accuracy_and_acr,
    load_published,
    paired_difference,
    paired_standard_errors,
    published_spread,
    same_images_rows,
)


def _known(tsv: Path) -> list[bool]:
    """Per column (the radii of RADII, then ACR): whether the run's value is exact there."""
    manifest = Path(str(tsv) + ".json")
    meta = json.loads(manifest.read_text()) if manifest.is_file() else {}
    if meta.get("mode") != "sequential":
        return [True] * (len(RADII) + 1)
    targets = [float(t) for t in meta.get("radii", [])]
    return [*(r == 0 or any(abs(r - t) < 1e-9 for t in targets) for r in RADII), False]


def _cells(values: list[float], known: list[bool], signed: bool) -> list[str]:
    sign = "+" if signed else ""  # round(v) + 0.0 turns a -0.0 into 0.0, so no "-0.0" is printed
    cells = [f"{round(v, 1) + 0.0:{sign}.1f}" if k else "—" for v, k in zip(values[:-1], known[:-1], strict=True)]
    return [*cells, f"{round(values[-1], 3) + 0.0:{sign}.3f}" if known[-1] else "—"]


def _cells_with_errors(values: list[float], errors: list[float], known: list[bool]) -> list[str]:
    """Signed :func:`_cells` with " ± error" appended wherever the error is a number."""
    cells = _cells(values, known, True)
    digits = [1] * (len(values) - 1) + [3]
    return [c if c == "—" or e != e else f"{c} ± {round(e, d) + 0.0:.{d}f}"  # e != e: NaN
            for c, e, d in zip(cells, errors, digits, strict=True)]


def _row(method: str, sigma: float, images: int, source: str, cells: list[str]) -> str:
    return "| " + " | ".join([method, f"{sigma:g}", str(images), source, *cells]) + " |"


def _header(first: list[str]) -> list[str]:
    header = ["method", "sigma", "images", "source"] + [f"r={r:g}" for r in RADII] + ["ACR"]
    return [*first, "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]


def _settings(out: Path) -> list[tuple[str, float, Path]]:
    """Every ``<method>_<sigma>.tsv`` in ``out`` of a known method, in the paper's order."""
    found = []
    for method in PUBLISHED_ACR:
        for tsv in out.glob(f"{method}_*.tsv"):
            try:
                found.append((method, float(tsv.name[len(method) + 1:-4]), tsv))
            except ValueError:
                continue  # consistency_smoothadv_0.5.tsv also matches consistency_*
    order = list(PUBLISHED_ACR)
    return sorted(found, key=lambda t: (order.index(t[0]), t[1]))


def comparison_table(out: Path) -> str:
    """Markdown: ours and the published values (500 images) per setting; their difference on the same 500.

    A run certified on fewer images (``--max``) gets no difference row: a
    subset's numbers differ from the full set's by more than the effects under
    study; ``--published`` compares such a run on its own images.
    """
    lines = _header([])
    for method, sigma, tsv in _settings(out):
        res, known = load_results(tsv), _known(tsv)
        ours = accuracy_and_acr(res, RADII)
        lines.append(_row(method, sigma, len(res), "ours", _cells(ours, known, False)))
        if sigma not in PUBLISHED_ACR[method]:
            continue
        published = [*PUBLISHED_ACCURACY[method][sigma], PUBLISHED_ACR[method][sigma]]
        lines.append(_row(method, sigma, PAPER_IMAGES, "published", _cells(published, [True] * len(known), False)))
        if len(res) == PAPER_IMAGES:
            diff = [a - b for a, b in zip(ours, published, strict=True)]
            lines.append(_row(method, sigma, PAPER_IMAGES, "difference", _cells(diff, known, True)))
    return "\n".join(lines)


def same_images_table(out: Path, published: Path) -> str:
    """Markdown: ours, the published runs' mean on the same images, and the difference, per setting.

    Each difference carries its paired standard error (:func:`paired_standard_errors`);
    a setting with several published runs gets a row of their spread (:func:`published_spread`).

    ``published`` holds ``<method>_<sigma>/`` folders of the authors' per-image TSVs, one file per run.
    """
    lines = _header(["On the same images as ours (the published runs restricted to our images; certified "
                     "accuracy in %, differences in points):", ""])
    for method, sigma, tsv in _settings(out):
        runs_dir = published / f"{method}_{sigma:g}"
        if not runs_dir.is_dir():
            continue
        res, runs, known = load_results(tsv), load_published(runs_dir), _known(tsv)
        ours, theirs, diff = same_images_rows(res, runs, RADII)
        source = f"published (mean of {len(runs)} run{'s' if len(runs) > 1 else ''})"
        lines.append(_row(method, sigma, len(res), "ours", _cells(ours, known, False)))
        lines.append(_row(method, sigma, len(res), source, _cells(theirs, [True] * len(known), False)))
        errors = paired_standard_errors(res, runs, RADII)
        lines.append(_row(method, sigma, len(res), "difference", _cells_with_errors(diff, errors, known)))
        if len(runs) > 1:
            spread = published_spread(res, runs, RADII)
            lines.append(_row(method, sigma, len(res), "spread of the published runs (max − min)",
                              _cells(spread, [True] * len(known), False)))
    lines += ["", "± is the standard error of the difference paired image by image (our value minus the "
              "published runs' mean on the same image): it counts the choice of images and certification "
              "noise, not training-to-training variation, whose scale the spread of the published runs shows."]
    return "\n".join(lines)


def _published_difference(method: str, sigma: float, idx: np.ndarray, published: Path | None) -> list[float] | None:
    """The published runs' ``method`` minus gaussian on the images ``idx``, or None when unknown.

    From the authors' per-image runs when ``published`` has both settings; else,
    when ``idx`` is all 500 paper images, from the built-in published means.
    """
    dirs = [published / f"{m}_{sigma:g}" for m in (method, "gaussian")] if published is not None else []
    if dirs and all(d.is_dir() for d in dirs):
        return paired_difference(load_published(dirs[0]), load_published(dirs[1]), idx, RADII)[0]
    if len(idx) == PAPER_IMAGES and sigma in PUBLISHED_ACR[method]:
        values = [[*PUBLISHED_ACCURACY[m][sigma], PUBLISHED_ACR[m][sigma]] for m in (method, "gaussian")]
        return [a - b for a, b in zip(*values, strict=True)]
    return None


def ordering_table(out: Path, published: Path | None = None) -> str:
    """Markdown: each method minus gaussian at the same sigma, on the images both runs certified.

    Ours carries the paired standard error (:func:`paired_difference`); the
    published row is the same difference of the authors' runs on the same
    images (``published`` as in :func:`same_images_table`), or of the built-in
    500-image values. Empty when no sigma has gaussian and another method.
    """
    settings = _settings(out)
    base = {sigma: tsv for method, sigma, tsv in settings if method == "gaussian"}
    lines = _header(["Each method minus gaussian at the same sigma, on the images both were certified on "
                     "(points; the published ordering has gaussian below the others):", ""])
    rows = 0
    for method, sigma, tsv in settings:
        if method == "gaussian" or sigma not in base:
            continue
        res, gauss = load_results(tsv), load_results(base[sigma])
        idx = res.idx[np.isin(res.idx, gauss.idx)]
        if len(idx) == 0:
            continue
        known = [a and b for a, b in zip(_known(tsv), _known(base[sigma]), strict=True)]
        mean, errors = paired_difference([res], [gauss], idx, RADII)
        name = f"{method} − gaussian"
        lines.append(_row(name, sigma, len(idx), "ours", _cells_with_errors(mean, errors, known)))
        theirs = _published_difference(method, sigma, idx, published)
        if theirs is not None:
            lines.append(_row(name, sigma, len(idx), "published", _cells(theirs, [True] * len(known), True)))
        rows += 1
    lines += ["", "± is the standard error of the per-image difference between the two runs (the choice of "
              "images and certification noise; not training-to-training variation)."]
    return "\n".join(lines) if rows else ""
