"""smoothcert.analysis and `smoothcert analyze`: exact values on hand-made TSVs.

The 8 example rows below (radii exact in binary, so every metric is exact):

    idx predict radius correct
    0   3       0.75   1      tie at r = 0.75
    1   1       0.25   1      tie at r = 0.25
    2   -1      0.0    0      abstain
    3   5       0.625  0      wrong, radius must not count
    4   0       0.5    1      tie at r = 0.5
    5   7       1.25   1
    6   -1      0.0    0      abstain
    7   5       0.125  1

Correct radii: {0.75, 0.25, 0.5, 1.25, 0.125}, so certified accuracy is
5/8 at r=0, 4/8 at 0.25, 3/8 at 0.5, 2/8 at 0.75, 1/8 at 1.0; ACR is
2.875/8 = 0.359375; abstention 2/8; accuracy on non-abstained 5/6.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smoothcert.analysis import (
    Results,
    abstention_rate,
    accuracy_non_abstained,
    acr,
    certified_accuracy,
    certified_accuracy_curve,
    clean_accuracy,
    format_table,
    load_results,
    plot_certified_accuracy,
    summarize,
)
from smoothcert.cli import analyze
from smoothcert.errors import UserError

ROWS = [  # idx, label, predict, radius, correct
    (0, 3, 3, "0.75", 1), (1, 1, 1, "0.25", 1), (2, 2, -1, "0.0", 0), (3, 4, 5, "0.625", 0),
    (4, 0, 0, "0.5", 1), (5, 7, 7, "1.25", 1), (6, 9, -1, "0.0", 0), (7, 5, 5, "0.125", 1),
]
RADII = [0, 0.25, 0.5, 0.75, 1]
EXPECTED_CA = {"0.0": 0.625, "0.25": 0.5, "0.5": 0.375, "0.75": 0.25, "1.0": 0.125}


def ours_text() -> str:
    lines = ["idx\tlabel\tpredict\tradius\tcorrect\ttime\tp_lower\tcount\tn"]
    for i, label, pred, radius, corr in ROWS:
        lines.append(f"{i}\t{label}\t{pred}\t{radius}\t{corr}\t0.5\t0.9\t{90 + i}\t100")
    return "\n".join(lines) + "\n"


def original_text() -> str:
    # The original certify.py: six columns, time as a timedelta, some trailing whitespace.
    lines = ["idx\tlabel\tpredict\tradius\tcorrect\ttime  "]
    for i, label, pred, radius, corr in ROWS:
        lines.append(f"{i}\t{label}\t{pred}\t{radius}\t{corr}\t0:00:0{i}.250000" + " " * (i % 2))
    return "\n".join(lines) + "\n"


@pytest.fixture
def ours(tmp_path):
    path = tmp_path / "ours.tsv"
    path.write_text(ours_text())
    return path


def write(tmp_path, text, name="run.tsv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_ours(ours):
    res = load_results(ours)
    assert res.name == "ours" and res.path == ours and len(res) == 8
    np.testing.assert_array_equal(res.idx, np.arange(8))
    np.testing.assert_array_equal(res.predict, [3, 1, -1, 5, 0, 7, -1, 5])
    np.testing.assert_array_equal(res.correct, [1, 1, 0, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(res.radius, [0.75, 0.25, 0, 0.625, 0.5, 1.25, 0, 0.125])
    assert sorted(res.extra) == ["count", "n", "p_lower"]
    np.testing.assert_array_equal(res.extra["count"], np.arange(90, 98))
    with pytest.raises(ValueError):
        res.radius[0] = 9.0  # read-only


def test_metrics_exact(ours):
    res = load_results(ours)
    assert [certified_accuracy(res, r) for r in RADII] == list(EXPECTED_CA.values())
    assert certified_accuracy(res, 1.25) == 0.125  # radius == r counts
    assert certified_accuracy(res, 1.2500001) == 0.0
    assert acr(res) == 0.359375
    assert clean_accuracy(res) == 0.625
    assert abstention_rate(res) == 0.25
    assert accuracy_non_abstained(res) == 5 / 6
    grid = [0, 0.1, 0.125, 0.2, 1.25, 1.3]
    np.testing.assert_array_equal(certified_accuracy_curve(res, grid),
                                  [0.625, 0.625, 0.625, 0.5, 0.125, 0.0])
    with pytest.raises(ValueError):
        certified_accuracy(res, -0.1)


def test_summarize_contract(ours):
    s = summarize(load_results(ours), RADII)
    assert list(s) == ["name", "path", "kind", "examples", "certified_accuracy", "certified_accuracy_ci", "acr",
                       "clean_accuracy", "abstention_rate", "accuracy_non_abstained"]
    assert s["kind"] == "certify"
    assert s["certified_accuracy"] == EXPECTED_CA
    assert list(s["certified_accuracy_ci"]) == list(EXPECTED_CA)
    # 3 of 8 certified at r = 0.5: two-sided 95% Clopper-Pearson (R's binom.test(3, 8): 0.0852, 0.7551)
    np.testing.assert_allclose(s["certified_accuracy_ci"]["0.5"], [0.08523341413725355, 0.7551367836334484],
                               rtol=1e-12)
    assert list(s["certified_accuracy"]) == ["0.0", "0.25", "0.5", "0.75", "1.0"]
    assert (s["name"], s["path"], s["examples"], s["acr"]) == ("ours", str(ours), 8, 0.359375)


def test_original_format_gives_same_numbers(tmp_path, ours):
    orig = load_results(write(tmp_path, original_text(), name="sigma_0.25"))
    assert orig.name == "sigma_0.25"  # no .tsv: the name keeps its dot
    assert orig.extra == {}
    np.testing.assert_allclose(orig.time, np.arange(8) + 0.25)
    a, b = summarize(orig, RADII), summarize(load_results(ours), RADII)
    for key in ("name", "path"):
        del a[key], b[key]
    assert a == b


def test_header_only_gives_nan(tmp_path):
    res = load_results(write(tmp_path, "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"))
    assert len(res) == 0
    for value in (certified_accuracy(res, 0.5), acr(res), clean_accuracy(res),
                  abstention_rate(res), accuracy_non_abstained(res)):
        assert math.isnan(value)
    out = json.loads(format_table([summarize(res, [0.5])], [0.5], "json"))
    assert out["runs"][0]["examples"] == 0 and out["runs"][0]["acr"] is None
    assert out["runs"][0]["certified_accuracy"] == {"0.5": None}


def test_torn_last_line(tmp_path):
    torn = load_results(write(tmp_path, ours_text() + "8\t3\t3\t0."))
    assert len(torn) == 8 and acr(torn) == 0.359375
    whole = load_results(write(tmp_path, ours_text() + "8\t3\t3\t0.5\t1\t0.5\t0.9\t9\t100"))
    assert len(whole) == 9  # parses: kept although it has no newline


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("idx\tlabel\tpredict\tcorrect\ttime\n0\t1\t1\t1\t0.5\n", "header must begin"),
    ("0\t1\t1\t0.5\t1\t0.5\n", "header line is missing"),
    (ours_text().replace("4\t0\t0\t0.5", "4\t0\t0\tx"), "run.tsv:6"),
    (ours_text() + "8\t3\t3\t0.\n", "run.tsv:10"),  # complete line: not torn
    (ours_text().replace("0.5\t1\t0.5", "0.5\t2\t0.5"), "correct '2' is not 0 or 1"),
])
def test_bad_files_raise_user_error(tmp_path, text, fragment):
    with pytest.raises(UserError, match=fragment):
        load_results(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_results(tmp_path / "nope.tsv")


def test_tables(ours):
    res = load_results(ours)
    radii = [0, 0.25, 0.5]
    summaries = [summarize(res, radii)]
    md = format_table(summaries, radii, "markdown")
    assert md.splitlines() == [
        ("| name | examples | clean acc | r=0 | r=0 95% CI | r=0.25 | r=0.25 95% CI | r=0.5 | r=0.5 95% CI "
         "| ACR | abstain % | non-abstain acc % |"),
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ("| ours | 8 | 62.5 | 62.5 | [24.5, 91.5] | 50.0 | [15.7, 84.3] | 37.5 | [8.5, 75.5] "
         "| 0.359 | 25.0 | 83.3 |"),  # 5/6 answered right
    ]
    latex = format_table([{**summaries[0], "name": "a_b"}], radii, "latex")
    assert r"\begin{tabular}" in latex and r"$r=0.25$ & $r=0.25$ 95\% CI" in latex
    row = r"a\_b & 8 & 62.5 & 62.5 & [24.5, 91.5] & 50.0 & [15.7, 84.3] & 37.5 & [8.5, 75.5] & 0.359 & 25.0 & 83.3 \\"
    assert row in latex
    rows = list(csv.DictReader(io.StringIO(format_table(summaries, radii, "csv"))))
    assert len(rows) == 1 and float(rows[0]["acr"]) == 0.359375 and rows[0]["kind"] == "certify"
    assert float(rows[0]["certified_accuracy@0.5"]) == 0.375
    assert float(rows[0]["certified_accuracy_ci_lower@0.5"]) == summaries[0]["certified_accuracy_ci"]["0.5"][0]
    assert float(rows[0]["certified_accuracy_ci_upper@0.5"]) == summaries[0]["certified_accuracy_ci"]["0.5"][1]
    out = json.loads(format_table(summaries, radii, "json"))
    assert out == {"runs": [summarize(res, radii)]}
    html_table = format_table([{**summaries[0], "name": "<b>&"}], radii, "html")
    assert "<td>&lt;b&gt;&amp;</td>" in html_table and '<td class="num">83.3</td>' in html_table
    with pytest.raises(ValueError):
        format_table(summaries, radii, "yaml")


def test_plot_png_and_svg(tmp_path, ours):
    res = load_results(ours)
    png = plot_certified_accuracy([res, res], tmp_path / "a" / "b" / "ca.png", title="t")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    svg = plot_certified_accuracy([res], tmp_path / "ca.svg", max_radius=2.0)
    assert b"<svg" in svg.read_bytes()[:1000]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "ca.svg", "ours.tsv"]  # no temp left
    with pytest.raises(UserError, match="unsupported extension"):
        plot_certified_accuracy([res], tmp_path / "ca.jpg")
    assert not (tmp_path / "ca.jpg").exists()


def parse(argv):
    parser = argparse.ArgumentParser()
    analyze.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_json_and_plot(tmp_path, ours, capsys):
    plot = tmp_path / "out" / "p.png"
    assert analyze.run(parse([str(ours), str(ours), "--format", "json", "--radii", "0.5", "1",
                              "--name", "A", "B", "--plot", str(plot)])) == 0
    captured = capsys.readouterr()
    runs = json.loads(captured.out)["runs"]
    assert [r["name"] for r in runs] == ["A", "B"]
    assert runs[0]["certified_accuracy"] == {"0.5": 0.375, "1.0": 0.125}
    assert f"wrote {plot}" in captured.err and plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("extra, fragment", [
    (["--radii", "0.5", "-0.25"], "--radii"),
    (["--name", "A", "B"], "--name got 2 names for 1 files"),
    (["--plot", "x.gif"], "unsupported extension"),
])
def test_cli_user_errors(ours, capsys, extra, fragment):
    with pytest.raises(UserError, match=fragment):
        analyze.run(parse([str(ours), *extra]))
    assert capsys.readouterr().out == ""  # nothing printed before the error


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.25, 0.5, 1.0, 1.5]), st.booleans()),
                max_size=12),
       st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0]), max_size=6))
def test_curve_matches_pointwise(rows, grid):
    radius = np.array([r for r, _ in rows], dtype=float)
    correct = np.array([int(c) for _, c in rows], dtype=np.int64)
    n = len(rows)
    res = Results("h", None, np.arange(n), np.zeros(n, np.int64), np.zeros(n, np.int64),
                  radius, correct, np.zeros(n))
    curve = certified_accuracy_curve(res, grid)
    expected = [certified_accuracy(res, r) for r in grid]
    np.testing.assert_array_equal(curve, expected)
