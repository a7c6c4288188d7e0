"""Compare runs on the images they share: ours against published per-image results.

A reduced reproduction certifies a subset of a paper's test images, and a
subset's ACR can differ from the full set's by more than any effect under study
(MNIST's hard test images are not spread evenly). When the authors published
their per-image TSVs, the fair comparison restricts them to *our* images.
:func:`restrict` does that, and :func:`same_images_rows` gives ours beside
the mean of the published runs on the same images, with the standard error of
the paired per-image difference (:func:`paired_standard_errors`) and the spread
of the published runs (:func:`published_spread`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from smoothcert.analysis.metrics import acr, certified_accuracy
from smoothcert.analysis.results import Results, load_results
from smoothcert.errors import UserError


def restrict(res: Results, idx: Sequence[int] | np.ndarray) -> Results:
    """The rows of ``res`` for the examples ``idx``, in that order.

    Raises:
        UserError: an example of ``idx`` is not in ``res`` (the comparison would
            not be on the same images), or ``res`` has an index twice.
    """
    position = {int(i): k for k, i in enumerate(res.idx)}
    if len(position) != len(res):
        raise UserError(f"{res.path}: an example index appears twice; cannot match examples")
    missing = [int(i) for i in idx if int(i) not in position]
    if missing:
        raise UserError(f"{res.path} has no row for example(s) {missing[:5]}"
                        f"{' ...' if len(missing) > 5 else ''}; cannot compare on the same images")
    rows = np.array([position[int(i)] for i in idx], dtype=np.int64)
    take = {f.name: getattr(res, f.name)[rows] for f in dataclasses.fields(res)
            if isinstance(getattr(res, f.name), np.ndarray)}
    return dataclasses.replace(res, **take, extra={k: v[rows] for k, v in res.extra.items()})


def load_published(directory: Path) -> list[Results]:
    """Every run file (original six-column format or ours) in ``directory``; manifests skipped."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and not p.name.endswith(".json"))
    if not files:
        raise UserError(f"{directory} holds no published run files")
    return [load_results(p) for p in files]


def accuracy_and_acr(res: Results, radii: Sequence[float]) -> list[float]:
    """Certified accuracy in percent at each of ``radii``, then the ACR."""
    return [100 * certified_accuracy(res, r) for r in radii] + [acr(res)]


def same_images_rows(ours: Results, published: Sequence[Results], radii: Sequence[float]) -> list[list[float]]:
    """:func:`accuracy_and_acr` of ours, the published mean, and the difference.

    The published rows are first restricted to ours' examples; the mean is over
    the published runs (each run's metric, then the mean).
    """
    mine = accuracy_and_acr(ours, radii)
    theirs = np.mean([accuracy_and_acr(restrict(run, ours.idx), radii) for run in published], axis=0).tolist()
    return [mine, theirs, [a - b for a, b in zip(mine, theirs, strict=True)]]


def _per_image(res: Results, radii: Sequence[float]) -> np.ndarray:
    """Shape (len(radii) + 1, images): 100 * certified-at-r indicators, then the radius counted in the ACR."""
    correct = res.correct == 1
    hits = [100.0 * (correct & (res.radius >= float(r))) for r in radii]
    return np.array([*hits, res.radius * correct], dtype=np.float64)


def paired_difference(first: Sequence[Results], second: Sequence[Results], idx: Sequence[int] | np.ndarray,
                      radii: Sequence[float]) -> tuple[list[float], list[float]]:
    """Mean and standard error of first minus second on the images ``idx``, paired image by image.

    Each side is one run or several (a setting's runs, averaged per image). Per
    image, the difference is of the indicator "correct and certified at r" (in
    points) at each of ``radii``, then of the radius counted in the ACR; its mean
    over the images equals the difference of :func:`accuracy_and_acr` (averaging
    is linear), and the standard error is its sample standard deviation (ddof = 1)
    over sqrt(images). The error measures how much the difference would move with
    other test images and certification noise, *not* training-to-training
    variation (:func:`published_spread` shows that scale). Errors are NaN with
    fewer than two images.

    Raises:
        UserError: a run lacks one of ``idx`` (see :func:`restrict`).
    """
    def per_image(runs: Sequence[Results]) -> np.ndarray:
        return np.mean([_per_image(restrict(run, idx), radii) for run in runs], axis=0)

    diff = per_image(first) - per_image(second)
    if diff.shape[1] < 2:
        return diff.mean(axis=1).tolist(), [float("nan")] * len(diff)
    return diff.mean(axis=1).tolist(), (diff.std(axis=1, ddof=1) / np.sqrt(diff.shape[1])).tolist()


def paired_standard_errors(ours: Results, published: Sequence[Results], radii: Sequence[float]) -> list[float]:
    """Standard error of each difference of :func:`same_images_rows` (:func:`paired_difference` on our images)."""
    return paired_difference([ours], published, ours.idx, radii)[1]


def published_spread(ours: Results, published: Sequence[Results], radii: Sequence[float]) -> list[float]:
    """Max minus min over the published runs of :func:`accuracy_and_acr` on our images.

    How far apart the authors' training runs of one setting land on these
    images: the scale of training-to-training variation a single run of ours
    should be judged against. NaN with fewer than two runs.
    """
    if len(published) < 2:
        return [float("nan")] * (len(radii) + 1)
    values = np.array([accuracy_and_acr(restrict(run, ours.idx), radii) for run in published])
    return (values.max(axis=0) - values.min(axis=0)).tolist()
