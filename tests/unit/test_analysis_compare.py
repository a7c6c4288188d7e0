"""Comparing runs: abstention overlap, groups (mean ± std), envelope. Exact values by hand.

Runs for groups and the envelope (rows: predict, radius, correct; label 1):

    s1: (1, 0.5, 1) (1, 0.25, 1) (-1, 0, 0) (2, 0.5, 0)   clean 0.5,  ACR 0.1875, CA@0.5 0.25
    s2: (1, 1.0, 1) (1, 0.5, 1) (1, 0.25, 1) (-1, 0, 0)   clean 0.75, ACR 0.4375, CA@0.5 0.5
    s3: (1, 0.5, 1) x 4                                   clean 1.0,  ACR 0.5,    CA@0.5 1.0
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from smoothcert.analysis import (
    abstention_overlap,
    envelope,
    envelope_curve,
    format_envelope,
    format_groups,
    format_overlap,
    group_summary,
    groups_from_globs,
    groups_from_regex,
    load_results,
)
from smoothcert.cli import analyze
from smoothcert.cli.main import main
from smoothcert.errors import UserError

HEADER = "idx\tlabel\tpredict\tradius\tcorrect\ttime\n"


def tsv(tmp_path, name, rows):
    """rows: (idx, predict, radius, correct) with label 1."""
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{i}\t1\t{p}\t{r}\t{c}\t0.1\n" for i, p, r, c in rows))
    return path


def abst(tmp_path, name, predicts, start=0):
    return tsv(tmp_path, name, [(start + k, p, 0.0 if p == -1 else 0.5, int(p == 1))
                                for k, p in enumerate(predicts)])


S_ROWS = {
    "s1": [(1, 0.5, 1), (1, 0.25, 1), (-1, 0.0, 0), (2, 0.5, 0)],
    "s2": [(1, 1.0, 1), (1, 0.5, 1), (1, 0.25, 1), (-1, 0.0, 0)],
    "s3": [(1, 0.5, 1)] * 4,
}


@pytest.fixture
def seeds(tmp_path):
    return [load_results(tsv(tmp_path, f"sigma_{name}.tsv", [(i, *row) for i, row in enumerate(rows)]))
            for name, rows in S_ROWS.items()]


# ---------------------------------------------------------------- abstention

def test_abstention_pair_by_hand(tmp_path):
    a = load_results(abst(tmp_path, "a.tsv", [-1, 2, -1, 1, -1, 1]))  # abstains on 0 2 4
    b = load_results(abst(tmp_path, "b.tsv", [-1, -1, 5, 1, -1, 1, -1]))  # 0 1 4 (+6, not in a)
    ov = abstention_overlap([a, b])
    assert ov.names == ("a", "b") and ov.compared == 6 and ov.extra == (0, 1)
    assert [x.tolist() for x in ov.abstained] == [[0, 2, 4], [0, 1, 4]]
    assert ov.in_all.tolist() == [0, 4]
    (p,) = ov.pairs
    assert (p.a, p.b, p.both, p.union) == ("a", "b", 2, 4)
    assert p.only_a.tolist() == [2] and p.only_b.tolist() == [1]
    assert p.jaccard == 0.5  # |{0,4}| / |{0,1,2,4}|


def test_abstention_three_runs_partial_overlap(tmp_path):
    a = load_results(abst(tmp_path, "a.tsv", [-1, 2, -1, 1, -1, 1]))  # idx 0..5
    b = load_results(abst(tmp_path, "b.tsv", [-1, -1, 5, 1, -1, 1, -1]))  # idx 0..6
    c = load_results(abst(tmp_path, "c.tsv", [-1, 1, 1, 1, 1, 1], start=2))  # idx 2..7, abstains on 2
    ov = abstention_overlap([a, b, c])
    assert ov.compared == 4 and ov.extra == (2, 3, 2)  # common idx 2..5
    assert [x.tolist() for x in ov.abstained] == [[2, 4], [4], [2]]
    assert ov.in_all.tolist() == []
    ab, ac, bc = ov.pairs
    assert (ab.both, ab.only_a.tolist(), ab.only_b.tolist(), ab.jaccard) == (1, [2], [], 0.5)
    assert (ac.both, ac.only_a.tolist(), ac.only_b.tolist(), ac.jaccard) == (1, [4], [], 0.5)
    assert (bc.both, bc.union, bc.jaccard) == (0, 2, 0.0)


def test_abstention_no_abstentions_gives_nan_jaccard(tmp_path):
    a = load_results(abst(tmp_path, "a.tsv", [1, 1]))
    ov = abstention_overlap([a, a])
    assert ov.pairs[0].union == 0 and math.isnan(ov.pairs[0].jaccard)
    assert "| a | a | 0 | 0 | 0 | 0 | n/a |" in format_overlap(ov, "markdown")


@pytest.mark.parametrize("runs, fragment", [
    (lambda t: [abst(t, "a.tsv", [1])], "two or more"),
    (lambda t: [abst(t, "a.tsv", [1, -1]), abst(t, "b.tsv", [1, 1], start=5)], "share no example idx"),
    (lambda t: [tsv(t, "a.tsv", [(0, 1, 0.5, 1), (0, 1, 0.5, 1)]), abst(t, "b.tsv", [1])], "idx 0 more than once"),
])
def test_abstention_errors(tmp_path, runs, fragment):
    with pytest.raises(UserError, match=fragment):
        abstention_overlap([load_results(p) for p in runs(tmp_path)])


def test_abstention_tables(tmp_path):
    a = load_results(abst(tmp_path, "a.tsv", [-1, 2, -1, 1, -1, 1]))
    b = load_results(abst(tmp_path, "b.tsv", [-1, -1, 5, 1, -1, 1, -1]))
    md = format_overlap(abstention_overlap([a, b]), "markdown")
    assert "| a | 6 | 3 | 50.0 | 0 |" in md and "| b | 6 | 3 | 50.0 | 1 |" in md
    assert "| (every run) | 6 | 2 | 33.3 |  |" in md
    assert "| a | b | 2 | 1 | 1 | 4 | 0.500 |" in md
    assert "| a | b | 1 | 2 |" in md and "| b | a | 1 | 1 |" in md
    csv_text = format_overlap(abstention_overlap([a, b]), "csv")
    assert "a,b,2,1,1,4,0.5" in csv_text and "# abstention overlap per pair" in csv_text


def test_abstention_long_lists_are_cut_except_in_csv(tmp_path):
    a = load_results(abst(tmp_path, "a.tsv", [-1] * 60))
    b = load_results(abst(tmp_path, "b.tsv", [1] * 60))
    ov = abstention_overlap([a, b])
    assert "… (+10 more)" in format_overlap(ov, "markdown")
    assert " ".join(map(str, range(60))) in format_overlap(ov, "csv")


# ---------------------------------------------------------------- groups

def test_group_mean_std_by_hand(seeds):
    (group,) = groups_from_globs(seeds, ["sigma=*sigma_s*"])
    g = group_summary(group, [0.5])
    assert g["n"] == 3 and g["runs"] == ["sigma_s1", "sigma_s2", "sigma_s3"] and g["examples"] == [4, 4, 4]
    assert g["clean_accuracy"] == {"mean": 0.75, "std": 0.25}
    assert g["acr"]["mean"] == pytest.approx(0.375, abs=1e-15)
    assert g["acr"]["std"] == pytest.approx(math.sqrt(0.0546875 / 2), abs=1e-15)
    ca = g["certified_accuracy"]["0.5"]
    assert ca["mean"] == pytest.approx(7 / 12) and ca["std"] == pytest.approx(math.sqrt(21) / 12)
    assert g["abstention_rate"]["std"] == pytest.approx(math.sqrt(3) / 12)
    assert g["accuracy_non_abstained"]["mean"] == pytest.approx(8 / 9)
    md = format_groups([g], [0.5], "markdown").splitlines()
    assert md[0] == "| group | n | clean acc | r=0.5 | ACR | abstain % | non-abstain acc % |"
    assert md[2] == "| sigma | 3 | 75.0 ± 25.0 | 58.3 ± 38.2 | 0.375 ± 0.165 | 16.7 ± 14.4 | 88.9 ± 19.2 |"
    assert r"75.0 $\pm$ 25.0" in format_groups([g], [0.5], "latex")
    csv_lines = format_groups([g], [0.5], "csv").splitlines()
    assert csv_lines[0].startswith("label,n,runs,clean_accuracy_mean,clean_accuracy_std,")
    assert csv_lines[1].startswith("sigma,3,sigma_s1 sigma_s2 sigma_s3,0.75,0.25,")


def test_group_of_one_shows_mean_only_and_nan_std(seeds):
    g = group_summary(groups_from_globs(seeds, ["one=sigma_s3.tsv"])[0], [0.5])
    assert g["n"] == 1 and math.isnan(g["acr"]["std"])
    assert "| one | 1 | 100.0 | 100.0 | 0.500 | 0.0 | 100.0 |" in format_groups([g], [0.5], "markdown")


def test_groups_from_globs_label_with_equals_and_repeats(seeds):
    groups = groups_from_globs(seeds, ["σ=a=*s1*", "b=*s2*", "σ=a=*s3*"])
    assert [(g.label, [r.name for r in g.runs]) for g in groups] == [
        ("σ=a", ["sigma_s1", "sigma_s3"]), ("b", ["sigma_s2"])]


@pytest.mark.parametrize("spec, fragment", [
    ("nolabel", "not LABEL=GLOB"), ("=*s1*", "not LABEL=GLOB"), ("x=*nothing*", "matches none"),
])
def test_group_glob_errors(seeds, spec, fragment):
    with pytest.raises(UserError, match=fragment):
        groups_from_globs(seeds, [spec])


def test_groups_from_regex(seeds):
    groups, unmatched = groups_from_regex(seeds, r"sigma_(s[12])")
    assert [g.label for g in groups] == ["s1", "s2"] and [r.name for r in unmatched] == ["sigma_s3"]
    groups, _ = groups_from_regex(seeds, r"(?P<label>sigma)_s\d")
    assert [(g.label, len(g.runs)) for g in groups] == [("sigma", 3)]
    with pytest.raises(UserError, match="not a valid regular expression"):
        groups_from_regex(seeds, "(")
    with pytest.raises(UserError, match="matches none"):
        groups_from_regex(seeds, "resnet")


def test_group_with_empty_run_is_nan(seeds, tmp_path):
    empty = load_results(tsv(tmp_path, "sigma_empty.tsv", []))
    g = group_summary(groups_from_globs([*seeds, empty], ["all=*sigma_*"])[0], [0.5])
    assert g["n"] == 4 and math.isnan(g["acr"]["mean"])
    assert "| all | 4 | n/a |" in format_groups([g], [0.5], "markdown")


# ---------------------------------------------------------------- envelope

def test_envelope_winners_by_hand(seeds):
    points = envelope(seeds, [0, 0.25, 0.5, 0.75, 1.0, 2.0])
    assert [(p.radius, p.certified_accuracy, p.winners) for p in points] == [
        (0.0, 1.0, ("sigma_s3",)), (0.25, 1.0, ("sigma_s3",)), (0.5, 1.0, ("sigma_s3",)),
        (0.75, 0.25, ("sigma_s2",)), (1.0, 0.25, ("sigma_s2",)),
        (2.0, 0.0, ("sigma_s1", "sigma_s2", "sigma_s3")),  # a tie names every run
    ]
    md = format_envelope(points, "markdown").splitlines()
    assert md[0] == "| radius | best cert. acc % | winner |"
    assert md[5] == "| 0.75 | 25.0 | sigma_s2 |"
    assert md[7] == "| 2 | 0.0 | sigma_s1, sigma_s2, sigma_s3 |"
    assert "0.75,0.25,sigma_s2" in format_envelope(points, "csv")


def test_envelope_curve_exact(seeds):
    xs, ys = envelope_curve(seeds, 1.5)
    np.testing.assert_array_equal(xs, [0, 0.25, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(ys, [1, 1, 1, 0.25, 0])


def test_envelope_ignores_empty_runs(seeds, tmp_path):
    empty = load_results(tsv(tmp_path, "empty.tsv", []))
    (point,) = envelope([empty, seeds[1]], [0.75])
    assert (point.certified_accuracy, point.winners) == (0.25, ("sigma_s2",))
    (point,) = envelope([empty], [0.75])
    assert math.isnan(point.certified_accuracy) and point.winners == ()
    with pytest.raises(UserError):
        envelope([], [0.5])


# ---------------------------------------------------------------- CLI

def parse(argv):
    parser = argparse.ArgumentParser()
    analyze.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_json_with_everything(seeds, capsys):
    paths = [str(r.path) for r in seeds]
    assert analyze.run(parse([*paths, "--radii", "0.5", "--format", "json", "--abstention",
                              "--envelope", "--group", "all=*sigma_s*"])) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["runs", "abstention", "envelope", "groups"]
    assert [r["certified_accuracy"]["0.5"] for r in out["runs"]] == [0.25, 0.5, 1.0]
    assert out["envelope"] == [{"radius": 0.5, "certified_accuracy": 1.0, "winners": ["sigma_s3"]}]
    assert out["abstention"]["abstain_in_all"] == []
    assert out["groups"][0]["clean_accuracy"] == {"mean": 0.75, "std": 0.25}


def test_cli_markdown_sections(seeds, capsys):
    paths = [str(r.path) for r in seeds]
    assert analyze.run(parse([*paths, "--radii", "0.5", "--envelope", "--group-by", "sigma"])) == 0
    out = capsys.readouterr().out
    assert out.index("| name |") < out.index("### envelope") < out.index("### groups")


def test_cli_errors_exit_2(seeds, capsys, tmp_path):
    one = str(seeds[0].path)
    assert main(["analyze", one, "--abstention"]) == 2
    assert main(["analyze", one, "--group", "a=*", "--group-by", "s"]) == 2
    assert main(["analyze", one, "--group", "a=nothing*"]) == 2
    assert main(["analyze", one, "--hist", str(tmp_path / "h.gif")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("error: ") == 4


def test_cli_same_file_names_get_their_directory(tmp_path, capsys):
    for d in ("seed1", "seed2"):
        (tmp_path / d).mkdir()
        abst(tmp_path / d, "certify.tsv", [1, -1])
    paths = [str(tmp_path / d / "certify.tsv") for d in ("seed1", "seed2")]
    assert analyze.run(parse([*paths, "--format", "json", "--group-by", r"seed\d"])) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in out["runs"]] == ["seed1/certify", "seed2/certify"]
    assert [g["label"] for g in out["groups"]] == ["seed1", "seed2"]  # the regex sees these names


def test_cli_csv_with_groups_is_one_table(seeds, capsys):
    """One header, a group column: each group's runs, then its mean and sample std (ddof=1) rows."""
    import csv
    import io

    paths = [str(r.path) for r in seeds]
    assert analyze.run(parse([*paths, "--radii", "0.5", "--format", "csv",
                              "--group", "all=*sigma_s*", "--group", "one=*s3*"])) == 0
    text = capsys.readouterr().out
    assert text.count("group,statistic,name,") == 1 and "#" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["group"], r["statistic"], r["name"]) for r in rows] == [
        ("all", "run", "sigma_s1"), ("all", "run", "sigma_s2"), ("all", "run", "sigma_s3"),
        ("all", "mean", ""), ("all", "std", ""), ("one", "run", "sigma_s3"), ("one", "mean", ""), ("one", "std", "")]
    assert [float(rows[k]["clean_accuracy"]) for k in range(5)] == [0.5, 0.75, 1.0, 0.75, 0.25]
    assert float(rows[3]["certified_accuracy@0.5"]) == pytest.approx(7 / 12)
    assert float(rows[4]["certified_accuracy@0.5"]) == pytest.approx(math.sqrt(21) / 12)
    assert float(rows[3]["acr"]) == pytest.approx(0.375) and float(rows[3]["examples"]) == 4.0
    assert rows[3]["certified_accuracy_ci_lower@0.5"] == "" and rows[0]["certified_accuracy_ci_lower@0.5"] != ""
    assert rows[6]["acr"] == "0.5" and rows[7]["acr"] == "nan"  # one run: std undefined
