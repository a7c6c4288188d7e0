"""Restricting published runs to our images, and the per-setting rows computed from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from smoothcert.analysis import load_results
from smoothcert.analysis.same_images import restrict, same_images_rows
from smoothcert.errors import UserError

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
