"""Clopper–Pearson intervals of certified accuracy: known values, closed forms, the table, JSON and --ci-level."""

from __future__ import annotations

import json

import numpy as np
import pytest

from smoothcert.analysis import certified_accuracy_ci, clopper_pearson_interval, load_results, summarize
from smoothcert.cli.main import main

HEADER = "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"


@pytest.mark.parametrize("k, n, expected", [
    (5, 10, [0.18708602844739855, 0.8129139715526015]),  # R: binom.test(5, 10)$conf.int = 0.1870860 0.8129140
    (3, 8, [0.08523341413725355, 0.7551367836334484]),  # these two: the binomial tails inverted by bisection
    (91, 100, [0.8360177449703647, 0.9580164043716077]),  # (scipy.stats.binom + brentq, xtol 1e-15)
])
def test_known_values(k, n, expected):
    np.testing.assert_allclose(clopper_pearson_interval(k, n), expected, rtol=1e-9)


@pytest.mark.parametrize("n", [1, 7, 100, 10_000])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.999])
def test_closed_forms(n, level):
    """k = 0: [0, 1 - (a/2)^(1/n)]; k = n: [(a/2)^(1/n), 1]; k = 1: lower 1 - (1 - a/2)^(1/n); symmetry."""
    half = (1 - level) / 2
    np.testing.assert_allclose(clopper_pearson_interval(0, n, level), [0.0, 1 - half ** (1 / n)], rtol=1e-9)
    np.testing.assert_allclose(clopper_pearson_interval(n, n, level), [half ** (1 / n), 1.0], rtol=1e-9)
    lower, _ = clopper_pearson_interval(1, n, level)
    assert lower == pytest.approx(1 - (1 - half) ** (1 / n), rel=1e-9)
    for k in {0, 1, n // 3, n}:
        lo, hi = clopper_pearson_interval(k, n, level)
        lo_mirror, hi_mirror = clopper_pearson_interval(n - k, n, level)
        assert lo == pytest.approx(1 - hi_mirror, abs=1e-12) and hi == pytest.approx(1 - lo_mirror, abs=1e-12)
        assert lo <= k / n <= hi


@pytest.mark.parametrize("k, n", [(1, 3), (3, 8), (17, 40), (91, 100), (499, 500)])
def test_the_definition(k, n):
    """The bounds are where the binomial tails reach (1 - level) / 2: P(X >= k | lower) = P(X <= k | upper) = 0.025."""
    from scipy.stats import binom

    lower, upper = clopper_pearson_interval(k, n)
    assert binom.sf(k - 1, n, lower) == pytest.approx(0.025, rel=1e-7)
    assert binom.cdf(k, n, upper) == pytest.approx(0.025, rel=1e-7)


def test_a_higher_level_gives_a_wider_interval():
    narrow, wide = clopper_pearson_interval(30, 50, 0.9), clopper_pearson_interval(30, 50, 0.99)
    assert wide[0] < narrow[0] < 0.6 < narrow[1] < wide[1]


def test_bad_arguments():
    for level in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="level"):
            clopper_pearson_interval(1, 2, level)
    with pytest.raises(ValueError):
        clopper_pearson_interval(3, 2)


def test_per_radius_and_empty_run(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text(HEADER + "0\t1\t1\t0.5\t1\t0.1\n1\t1\t1\t0.25\t1\t0.1\n")
    res = load_results(path)
    np.testing.assert_allclose(certified_accuracy_ci(res, 0.5), clopper_pearson_interval(1, 2), rtol=0)
    np.testing.assert_allclose(certified_accuracy_ci(res, 0.6), [0.0, 1 - 0.025 ** 0.5], rtol=1e-12)
    (tmp_path / "e.tsv").write_text(HEADER)
    empty = summarize(load_results(tmp_path / "e.tsv"), [0.5])
    assert empty["certified_accuracy_ci"] == {"0.5": None}


def test_cli_ci_level(tmp_path, capsys):
    path = tmp_path / "r.tsv"
    path.write_text(HEADER + "".join(f"{i}\t1\t1\t{0.5 if i < 5 else 0.0}\t{int(i < 5)}\t0.1\n" for i in range(10)))
    assert main(["analyze", str(path), "--radii", "0.5", "--format", "json", "--ci-level", "0.9"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["certified_accuracy"] == {"0.5": 0.5}
    np.testing.assert_allclose(run["certified_accuracy_ci"]["0.5"], clopper_pearson_interval(5, 10, 0.9), rtol=0)
    assert main(["analyze", str(path), "--radii", "0.5", "--ci-level", "0.9"]) == 0
    head, _, row = capsys.readouterr().out.splitlines()
    assert "| r=0.5 90% CI |" in head
    lo, hi = clopper_pearson_interval(5, 10, 0.9)
    assert f"| 50.0 | [{100 * lo:.1f}, {100 * hi:.1f}] |" in row
    for bad in ("1", "0", "nan"):
        assert main(["analyze", str(path), "--ci-level", bad]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("error: --ci-level must lie strictly between 0 and 1") == 3
