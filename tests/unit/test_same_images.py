"""Restricting published runs to our images, and the per-setting rows computed from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from smoothcert.analysis import load_results
from smoothcert.errors import UserError
from smoothcert.reproduce.same_images import paired_standard_errors, published_spread, restrict, same_images_rows

HEADER = "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"


def _tsv(path: Path, rows: list[tuple[int, float, int]]) -> Path:
    path.write_text(HEADER + "".join(f"{i}\t3\t3\t{r}\t{c}\t0:00:00.5\n" for i, r, c in rows))
    return path


def test_restrict_takes_our_examples_in_our_order(tmp_path: Path) -> None:
    res = load_results(_tsv(tmp_path / "run", [(0, 1.0, 1), (20, 0.5, 1), (40, 0.0, 0), (60, 2.0, 1)]))
    sub = restrict(res, [60, 0])
    assert sub.idx.tolist() == [60, 0] and sub.radius.tolist() == [2.0, 1.0] and sub.correct.tolist() == [1, 1]
    assert len(res) == 4  # the original is untouched


def test_restrict_refuses_missing_or_duplicated_examples(tmp_path: Path) -> None:
    res = load_results(_tsv(tmp_path / "run", [(0, 1.0, 1), (20, 0.5, 1)]))
    with pytest.raises(UserError, match=r"no row for example\(s\) \[40\]"):
        restrict(res, [0, 40])
    twice = load_results(_tsv(tmp_path / "twice", [(0, 1.0, 1), (0, 0.5, 1)]))
    with pytest.raises(UserError, match="appears twice"):
        restrict(twice, [0])


def test_rows_average_the_runs_after_restricting(tmp_path: Path) -> None:
    """Ours: radii 1.0 and 0.0 (wrong) on idx 0 and 20. Runs: (2.0, 0.5) and (1.0, 0.5), idx 40 ignored.
    Accuracy at r = 0.75: ours 50, runs 50 and 50; ACR ours 0.5, runs 1.25 and 0.75 -> mean 1.0."""
    ours = load_results(_tsv(tmp_path / "ours", [(0, 1.0, 1), (20, 0.0, 0)]))
    runs = [load_results(_tsv(tmp_path / "a", [(0, 2.0, 1), (20, 0.5, 1), (40, 9.0, 1)])),
            load_results(_tsv(tmp_path / "b", [(40, 9.0, 1), (20, 0.5, 1), (0, 1.0, 1)]))]
    mine, theirs, diff = same_images_rows(ours, runs, [0.0, 0.75])
    assert mine == [50.0, 50.0, 0.5] and theirs == [100.0, 50.0, 1.0] and diff == [-50.0, 0.0, -0.5]


def _ours_and_runs(tmp_path: Path) -> tuple:
    ours = load_results(_tsv(tmp_path / "ours", [(0, 1.0, 1), (20, 0.0, 0)]))
    runs = [load_results(_tsv(tmp_path / "a", [(0, 2.0, 1), (20, 0.5, 1), (40, 9.0, 1)])),
            load_results(_tsv(tmp_path / "b", [(40, 9.0, 1), (20, 0.5, 1), (0, 1.0, 1)]))]
    return ours, runs


def test_standard_errors_are_those_of_the_per_image_differences(tmp_path: Path) -> None:
    """The setting of the test above, per image. r = 0: ours (100, 0), runs' mean (100, 100): differences
    (0, -100), sd 70.71 (ddof 1), se 70.71 / sqrt 2 = 50. r = 0.75: ours (100, 0), runs (100, 0): se 0.
    ACR: ours (1.0, 0), runs' mean (1.5, 0.5): differences (-0.5, -0.5), se 0; a test that took the
    unpaired run-level differences, or ddof 0 (se 35.36), would fail."""
    ours, runs = _ours_and_runs(tmp_path)
    assert paired_standard_errors(ours, runs, [0.0, 0.75]) == pytest.approx([50.0, 0.0, 0.0], abs=1e-12)
    one_image = restrict(ours, [0])
    assert all(e != e for e in paired_standard_errors(one_image, runs, [0.0]))  # NaN: no spread from one image


def test_spread_is_max_minus_min_over_the_runs_on_our_images(tmp_path: Path) -> None:
    """On idx 0 and 20 (their idx 40 ignored): run a 100 / 50 / ACR 1.25, run b 100 / 50 / 0.75 at r = 0 / 0.75."""
    ours, runs = _ours_and_runs(tmp_path)
    assert published_spread(ours, runs, [0.0, 0.75]) == pytest.approx([0.0, 0.0, 0.5])
    assert all(v != v for v in published_spread(ours, runs[:1], [0.0]))  # one run: no spread
