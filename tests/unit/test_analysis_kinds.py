"""Sequential, PREDICT and attack TSVs in `analyze`, and the warnings about runs that differ. Exact values by hand.

Runs (label 1 everywhere unless said):

    cert  CERTIFY, 4 rows (predict, radius, correct): (1, 0.5, 1) (-1, 0, 0) (1, 1.0, 1) (2, 0.25, 0)
          certified accuracy 0.5 at r = 0 and 0.5, 0.25 at r = 0.75; ACR (0.5 + 1.0) / 4 = 0.375
    seq   sequential, targets 0.25 0.5 0.75, 4 rows: (1, 0.75, 1) (1, 0.25, 1) (-1, 0, 0) (1, 0.5, 1)
          certified accuracy 0.75 at r = 0.25, 0.5 at 0.5, 0.25 at 0.75; no ACR
    pred  PREDICT, 4 rows (predict, correct): (1, 1) (-1, 0) (1, 1) (1, 1): accuracy 0.75, abstained 0.25
    att   attack at eps 0.0 and 0.5, 4 rows: eps 0: all right; eps 0.5: (1, 1) (-1, 0) (2, 0) (1, 1)
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest

from smoothcert.analysis import (
    load_attack_results,
    load_predictions,
    load_results,
    load_run,
    print_predict_summary,
    robust_accuracy,
    setting_warnings,
    summarize,
    summarize_attack,
)
from smoothcert.cli import analyze
from smoothcert.cli.main import main
from smoothcert.errors import UserError

CERT_HEAD = "idx\tlabel\tpredict\tradius\tcorrect\ttime\tp_lower\tcount\tn\n"
SEQ_HEAD = "idx\tlabel\tpredict\tradius\tcorrect\ttime\tsamples\tp_lower\tcount\tn\n"
PRED_HEAD = "idx\tlabel\tpredict\tcorrect\ttime\n"
ATT_HEAD = "idx\tlabel\tpredict_eps0.0\tcorrect_eps0.0\tpredict_eps0.5\tcorrect_eps0.5\ttime\n"
MANIFEST = {"dataset": "digits", "split": "test", "sigma": 0.5, "n": 100, "alpha": 0.001}


def write(tmp_path, name, text, manifest=None):
    path = tmp_path / name
    path.write_text(text)
    if manifest is not None:
        (tmp_path / f"{name}.json").write_text(json.dumps(manifest))
    return path


def cert(tmp_path, name="cert.tsv", manifest=MANIFEST, idx=(0, 1, 2, 3)):
    rows = [(1, 0.5, 1), (-1, 0.0, 0), (1, 1.0, 1), (2, 0.25, 0)]
    body = "".join(f"{i}\t1\t{p}\t{r}\t{c}\t0.1\t0.9\t90\t100\n" for i, (p, r, c) in zip(idx, rows, strict=False))
    return write(tmp_path, name, CERT_HEAD + body, manifest)


def seq(tmp_path, name="seq.tsv", manifest=None):
    manifest = manifest if manifest is not None else {**MANIFEST, "mode": "sequential", "radii": [0.25, 0.5, 0.75]}
    rows = [(1, 0.75, 1), (1, 0.25, 1), (-1, 0.0, 0), (1, 0.5, 1)]
    body = "".join(f"{i}\t1\t{p}\t{r}\t{c}\t0.1\t300\t0.9\t290\t300\n" for i, (p, r, c) in enumerate(rows))
    return write(tmp_path, name, SEQ_HEAD + body, manifest or None)


def pred(tmp_path, name="pred.tsv", manifest=None):
    body = "".join(f"{i}\t1\t{p}\t{c}\t0.1\n" for i, (p, c) in enumerate([(1, 1), (-1, 0), (1, 1), (1, 1)]))
    return write(tmp_path, name, PRED_HEAD + body, manifest)


def att(tmp_path, name="att.tsv"):
    rows = [(1, 1, 1, 1), (1, 1, -1, 0), (1, 1, 2, 0), (1, 1, 1, 1)]
    body = "".join(f"{i}\t1\t{a}\t{b}\t{c}\t{d}\t0.2\n" for i, (a, b, c, d) in enumerate(rows))
    return write(tmp_path, name, ATT_HEAD + body)


def parse(argv):
    parser = argparse.ArgumentParser()
    analyze.add_arguments(parser)
    return parser.parse_args(argv)


# ---------------------------------------------------------------- sequential

def test_sequential_kind_from_manifest_or_samples_column(tmp_path):
    assert load_results(cert(tmp_path)).kind == "certify"
    assert load_results(seq(tmp_path)).kind == "sequential"
    assert load_results(seq(tmp_path, "bare.tsv", manifest={})).kind == "sequential"  # no manifest: `samples`
    res = load_results(seq(tmp_path))
    assert res.manifest["radii"] == [0.25, 0.5, 0.75]
    np.testing.assert_array_equal(res.extra["samples"], [300] * 4)


def test_sequential_has_no_acr_but_certified_accuracy(tmp_path):
    s = summarize(load_results(seq(tmp_path)), [0.25, 0.5, 0.75])
    assert s["kind"] == "sequential" and s["acr"] is None
    assert s["certified_accuracy"] == {"0.25": 0.75, "0.5": 0.5, "0.75": 0.25}
    assert s["clean_accuracy"] == 0.75 and s["abstention_rate"] == 0.25


def test_cli_sequential_json_null_table_dash_and_one_note(tmp_path, capsys):
    paths = [str(cert(tmp_path)), str(seq(tmp_path)), str(seq(tmp_path, "seq2.tsv"))]
    assert analyze.run(parse([*paths, "--radii", "0.25", "0.5", "--format", "json"])) == 0
    captured = capsys.readouterr()
    runs = json.loads(captured.out)["runs"]
    assert [r["acr"] for r in runs] == [0.375, None, None]
    assert runs[1]["certified_accuracy"] == {"0.25": 0.75, "0.5": 0.5}
    notes = [line for line in captured.err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "seq, seq2 are sequential" in notes[0] and "no ACR" in notes[0]
    assert analyze.run(parse([*paths[1:2], "--radii", "0.5"])) == 0
    captured = capsys.readouterr()
    row = captured.out.splitlines()[2]
    assert row == "| seq | 4 | 75.0 | 50.0 | [6.8, 93.2] | — | 25.0 | 100.0 |"
    assert captured.err.count("note: seq is a sequential certification") == 1
    assert analyze.run(parse([*paths[1:2], "--radii", "0.5", "--format", "csv"])) == 0
    header, values = capsys.readouterr().out.splitlines()
    assert dict(zip(header.split(","), values.split(","), strict=False))["acr"] == ""


def test_sequential_radius_off_its_targets_warns(tmp_path, capsys):
    assert analyze.run(parse([str(seq(tmp_path)), "--radii", "0", "0.5", "0.6"])) == 0
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warning.startswith("warning: radius 0.6 is not among the target radii of the sequential run seq "
                              "(0.25 0.5 0.75)")


# ---------------------------------------------------------------- settings that differ

def test_no_warning_for_runs_alike(tmp_path):
    runs = [load_run(cert(tmp_path, "a.tsv")), load_run(cert(tmp_path, "b.tsv"))]
    assert setting_warnings(runs) == []
    assert setting_warnings(runs[:1]) == []


def test_each_difference_is_named_with_its_runs(tmp_path):
    runs = [load_run(cert(tmp_path, "a.tsv")),
            load_run(cert(tmp_path, "b.tsv", {**MANIFEST, "dataset": "mnist", "split": "train"})),
            load_run(cert(tmp_path, "c.tsv", {**MANIFEST, "n": 1000, "alpha": 0.01}, idx=(0, 1, 2, 4))),
            load_run(cert(tmp_path, "d.tsv", None))]  # no manifest: only its images are compared
    assert setting_warnings(runs) == [
        "the runs differ in dataset: digits (a, c); mnist (b); they were evaluated on different data",
        "the runs differ in split: test (a, c); train (b); they were evaluated on different data",
        ("the runs differ in n: 100 (a, b); 1000 (c); n sets the power of the test (and the largest radius a "
         "certificate can reach)"),
        "the runs differ in alpha: 0.001 (a, b); 0.01 (c); their results hold at different confidence levels",
        ("the runs hold different images (idx sets): 4 images (a, b, d); 4 images (c); 3 in all of them; "
         "their rates are over different images (run them with the same --skip and --max)"),
    ]


def test_n_is_compared_within_a_family_only(tmp_path):
    """PREDICT's n (1000) differs from CERTIFY's (100) by design; two PREDICT runs are compared."""
    runs = [load_run(cert(tmp_path)), load_run(pred(tmp_path, "p1.tsv", {**MANIFEST, "n": 1000})),
            load_run(pred(tmp_path, "p2.tsv", {**MANIFEST, "n": 500}))]
    assert setting_warnings(runs) == [
        ("the predict runs differ in n: 1000 (p1); 500 (p2); n sets the power of the test (and the largest radius "
         "a certificate can reach)")]


def test_cli_warns_on_stderr_and_still_answers(tmp_path, capsys):
    paths = [str(cert(tmp_path, "a.tsv")), str(cert(tmp_path, "b.tsv", {**MANIFEST, "alpha": 0.01}))]
    assert main(["analyze", *paths, "--radii", "0.5", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert [r["certified_accuracy"]["0.5"] for r in json.loads(captured.out)["runs"]] == [0.5, 0.5]
    assert captured.err.splitlines() == [
        "warning: the runs differ in alpha: 0.001 (a); 0.01 (b); their results hold at different confidence levels"]


# ---------------------------------------------------------------- PREDICT

def test_load_predictions_and_summary(tmp_path):
    p = load_run(pred(tmp_path))
    assert p.kind == "predict" and len(p) == 4
    np.testing.assert_array_equal(p.predict, [1, -1, 1, 1])
    np.testing.assert_array_equal(p.correct, [1, 0, 1, 1])
    s = summarize(p, [0.0, 0.5])
    assert s["certified_accuracy"] == {"0.0": None, "0.5": None}
    assert s["certified_accuracy_ci"] == {"0.0": None, "0.5": None} and s["acr"] is None
    assert (s["clean_accuracy"], s["abstention_rate"], s["accuracy_non_abstained"]) == (0.75, 0.25, 1.0)


def test_cli_predict_row(tmp_path, capsys):
    assert analyze.run(parse([str(pred(tmp_path)), "--radii", "0.5"])) == 0
    assert capsys.readouterr().out.splitlines()[2] == "| pred | 4 | 75.0 | — | — | — | 25.0 | 100.0 |"


def test_print_predict_summary(tmp_path, capsys):
    rows = [(1, 1)] * 91 + [(2, 0)] * 6 + [(-1, 0)] * 3  # 91 right, 6 wrong, 3 abstained
    path = write(tmp_path, "p.tsv", PRED_HEAD + "".join(f"{i}\t1\t{p}\t{c}\t0.1\n" for i, (p, c) in enumerate(rows)))
    text = print_predict_summary(path)
    assert text == "accuracy 0.9100 (91/100), abstained 0.0300 (3/100)"
    assert capsys.readouterr().err == text + "\n"
    empty = write(tmp_path, "e.tsv", PRED_HEAD)
    assert print_predict_summary(empty) == "accuracy n/a (0/0), abstained n/a (0/0)"


@pytest.mark.parametrize("text, fragment", [
    (PRED_HEAD + "0\t1\t1\t2\t0.1\n", "correct '2' is not 0 or 1"),
    (PRED_HEAD + "0\t1\t-2\t0\t0.1\n", "neither a class nor -1"),
    (PRED_HEAD + "0\t1\t1\t1\n1\t1\t1\t1\t0.1\n", "p.tsv:2"),
    (CERT_HEAD, "not a PREDICT TSV"),
])
def test_bad_predict_files(tmp_path, text, fragment):
    with pytest.raises(UserError, match=fragment):
        load_predictions(write(tmp_path, "p.tsv", text))


def test_predict_and_attack_have_no_radii_to_plot(tmp_path, capsys):
    assert main(["analyze", str(pred(tmp_path)), str(att(tmp_path)), "--plot", str(tmp_path / "p.png")]) == 2
    assert main(["analyze", str(pred(tmp_path)), "--envelope"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("error: ") == 2 and "have no radii" in captured.err
    assert not (tmp_path / "p.png").exists()


def test_writers_columns_are_the_readers(tmp_path):
    """The columns `predict`, `attack` and `certify --mode sequential` write are those the readers expect."""
    from smoothcert.analysis.predictions import PREDICT_COLUMNS
    from smoothcert.certify import rows

    assert tuple(rows.PREDICT_COLUMNS) == PREDICT_COLUMNS
    head = "\t".join(rows.attack_columns([0.0, 0.25, 1.0])) + "\n"
    assert load_run(write(tmp_path, "a.tsv", head)).eps == (0.0, 0.25, 1.0)
    assert load_run(write(tmp_path, "s.tsv", "\t".join(rows.SEQUENTIAL_COLUMNS) + "\n")).kind == "sequential"


# ---------------------------------------------------------------- attack

def test_load_attack_results_exact(tmp_path):
    a = load_attack_results(att(tmp_path))
    assert a.kind == "attack" and a.eps == (0.0, 0.5) and len(a) == 4
    np.testing.assert_array_equal(a.predict, [[1, 1], [1, -1], [1, 2], [1, 1]])
    np.testing.assert_array_equal(a.correct, [[1, 1], [1, 0], [1, 0], [1, 1]])
    assert robust_accuracy(a, 0.0) == 1.0 and robust_accuracy(a, 0.5) == 0.5
    with pytest.raises(ValueError, match=r"not attacked at eps 0\.25"):
        robust_accuracy(a, 0.25)
    s = summarize_attack(a)
    assert s["robust_accuracy"] == {"0.0": 1.0, "0.5": 0.5}
    assert s["abstention_rate"] == {"0.0": 0.0, "0.5": 0.25}
    # 4 of 4: [0.025 ** (1/4), 1]; 2 of 4: R's binom.test(2, 4) gives [0.06758599, 0.93241401]
    np.testing.assert_allclose(s["robust_accuracy_ci"]["0.0"], [0.025 ** 0.25, 1.0], rtol=1e-12)
    np.testing.assert_allclose(s["robust_accuracy_ci"]["0.5"], [0.067585986488543, 0.932414013511457], rtol=1e-12)


@pytest.mark.parametrize("head", [
    "idx\tlabel\tpredict_eps0.5\tcorrect_eps0.25\ttime\n",  # the pair's radii differ
    "idx\tlabel\tpredict_eps0.5\tcorrect_eps0.5\n",  # no time
    "idx\tlabel\tpredict_epsx\tcorrect_epsx\ttime\n",  # not a number
    "idx\tlabel\tpredict_eps0.5\tcorrect_eps0.5\tpredict_eps0.5\tcorrect_eps0.5\ttime\n",  # a radius twice
])
def test_bad_attack_headers(tmp_path, head):
    with pytest.raises(UserError, match="is not an attack TSV"):
        load_run(write(tmp_path, "a.tsv", head))


def test_cli_attack_table_and_json(tmp_path, capsys):
    paths = [str(cert(tmp_path)), str(att(tmp_path))]
    assert analyze.run(parse([*paths, "--radii", "0.5"])) == 0
    out = capsys.readouterr().out
    assert out.index("| cert |") < out.index("### empirical robust accuracy (attack)")
    assert "| name | examples | eps=0 | eps=0 95% CI | eps=0.5 | eps=0.5 95% CI |" in out
    assert "| att | 4 | 100.0 | [39.8, 100.0] | 50.0 | [6.8, 93.2] |" in out
    assert analyze.run(parse([*paths, "--radii", "0.5", "--format", "json"])) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result) == ["runs", "attack"] and [r["name"] for r in result["runs"]] == ["cert"]
    assert result["attack"][0]["robust_accuracy"] == {"0.0": 1.0, "0.5": 0.5}
    assert analyze.run(parse([paths[1], "--format", "json"])) == 0  # attack only: "runs" stays, empty
    assert json.loads(capsys.readouterr().out)["runs"] == []


def test_unknown_header_names_the_three_formats(tmp_path):
    with pytest.raises(UserError, match=r"is not a result TSV: .*\(certify\).*\(predict\).*\(attack\)"):
        load_run(write(tmp_path, "x.tsv", "idx\tlabel\tscore\n0\t1\t0.5\n"))


# ---------------------------------------------------------------- report

def test_report_with_every_kind(tmp_path, capsys):
    from tests.unit.test_analysis_outputs import parse_html

    out = tmp_path / "r.html"
    paths = [str(cert(tmp_path)), str(seq(tmp_path)), str(pred(tmp_path, manifest={**MANIFEST, "n": 1000})),
             str(att(tmp_path))]
    assert main(["report", *paths, "--radii", "0.25", "0.5", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("note: seq is a sequential certification") == 1 and "warning: " not in err
    parsed = parse_html(out.read_text())
    text = "".join(parsed.text)
    assert "seq is a sequential certification" in text and "no ACR is reported" in text
    assert "Empirical robust accuracy (attack)" in text and "[39.8, 100.0]" in text
    assert "r=0.5 95% CI" in text and len(parsed.images) == 2  # certified-accuracy plot and histogram
    assert "(predict, 4 examples)" in text and "(attack, 4 examples)" in text
    only = tmp_path / "p.html"
    assert main(["report", paths[2], "--out", str(only)]) == 0
    parsed = parse_html(only.read_text())
    assert parsed.images == [] and "Summary" in "".join(parsed.text)


def test_header_only_attack_and_predict_files(tmp_path, capsys):
    a = load_run(write(tmp_path, "a.tsv", ATT_HEAD))
    assert a.predict.shape == (0, 2) and summarize_attack(a)["robust_accuracy_ci"] == {"0.0": None, "0.5": None}
    p = load_run(write(tmp_path, "p.tsv", PRED_HEAD))
    assert len(p) == 0 and math.isnan(summarize(p, [0.5])["clean_accuracy"])
    assert analyze.run(parse([str(tmp_path / "a.tsv"), str(tmp_path / "p.tsv"), "--format", "json"])) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"][0]["clean_accuracy"] is None
    assert out["attack"][0]["robust_accuracy"] == {"0.0": None, "0.5": None}
