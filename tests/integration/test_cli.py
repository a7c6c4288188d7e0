"""The command line end to end on digits: train, certify (resume), predict, analyze, budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from smoothcert.checkpoints.store import load_checkpoint
from smoothcert.cli.main import main

CERTIFY = ["--n0", "20", "--n", "300", "--alpha", "0.01", "--batch-size", "128", "--quiet"]


def rows(path: Path, drop_time: bool = True) -> list[list[str]]:
    """TSV rows without the wall-clock ``time`` column (the one non-deterministic field)."""
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    col = lines[0].index("time")
    return [line[:col] + line[col + 1 :] if drop_time else line for line in lines]


def test_train_writes_run_directory(digits_run: Path) -> None:
    assert {"checkpoint.pt", "config.yaml", "log.csv"} <= {p.name for p in digits_run.iterdir()}
    ckpt = load_checkpoint(digits_run)
    assert ckpt["arch"] == "digits_cnn" and ckpt["dataset"] == "digits" and ckpt["sigma"] == 0.25
    assert ckpt["method"] == "gaussian" and ckpt["epoch"] == 8 and ckpt["mean"] == [0.3049]
    log = (digits_run / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,lr,loss") and len(log) == 9
    assert float(log[-1].split(",")[-2]) > 0.5  # noisy test accuracy after 8 epochs


def test_certify_tsv_and_manifest(digits_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.tsv"
    assert main(["certify", str(digits_run), "--out", str(out), "--max", "6", "--skip", "3", *CERTIFY]) == 0
    lines = rows(out, drop_time=False)
    assert lines[0][:6] == ["idx", "label", "predict", "radius", "correct", "time"]
    assert [int(r[0]) for r in lines[1:]] == [0, 3, 6, 9, 12, 15]
    for r in lines[1:]:
        predict, radius, correct = int(r[2]), float(r[3]), int(r[4])
        assert correct == int(predict == int(r[1]))
        assert (radius == 0.0) if predict == -1 else radius > 0.0
    manifest = json.loads(Path(str(out) + ".json").read_text())
    assert manifest["arch"] == "digits_cnn" and manifest["method"] == "gaussian"
    assert manifest["sigma"] == 0.25 and manifest["n"] == 300 and manifest["n0"] == 20
    assert manifest["dtype"] == "float32" and len(manifest["checkpoint_sha256"]) == 64


def test_results_do_not_depend_on_skip_max_or_resume(digits_run: Path, tmp_path: Path) -> None:
    full, part = tmp_path / "full.tsv", tmp_path / "part.tsv"
    main(["certify", str(digits_run), "--out", str(full), "--max", "8", *CERTIFY])
    main(["certify", str(digits_run), "--out", str(part), "--max", "3", *CERTIFY])
    main(["certify", str(digits_run), "--out", str(part), "--max", "8", *CERTIFY])  # resumes
    assert rows(part) == rows(full)
    every_other = tmp_path / "skip.tsv"
    main(["certify", str(digits_run), "--out", str(every_other), "--max", "4", "--skip", "2", *CERTIFY])
    by_idx = {r[0]: r for r in rows(full)[1:]}
    assert all(by_idx[r[0]] == r for r in rows(every_other)[1:])


def test_rerun_is_a_noop_and_repairs_a_torn_line(digits_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.tsv"
    main(["certify", str(digits_run), "--out", str(out), "--max", "4", *CERTIFY])
    reference = rows(out)
    main(["certify", str(digits_run), "--out", str(out), "--max", "4", *CERTIFY])
    assert rows(out) == reference
    text = out.read_text()
    out.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1] + "3\t5\t")  # torn last row
    main(["certify", str(digits_run), "--out", str(out), "--max", "4", *CERTIFY])
    assert rows(out) == reference


def test_mismatched_manifest_is_refused(digits_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "c.tsv"
    main(["certify", str(digits_run), "--out", str(out), "--max", "2", *CERTIFY])
    before = out.read_bytes()
    status = main(["certify", str(digits_run), "--out", str(out), "--max", "2", *CERTIFY[:-1], "--seed", "1"])
    assert status == 2
    assert "seed" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_predict_and_analyze(digits_run: Path, tmp_path: Path, capsys) -> None:
    pred = tmp_path / "p.tsv"
    assert main(["predict", str(digits_run), "--out", str(pred), "--max", "5", "--n", "200", "--quiet"]) == 0
    header, *body = rows(pred, drop_time=False)
    assert header == ["idx", "label", "predict", "correct", "time"] and len(body) == 5
    cert = tmp_path / "c.tsv"
    main(["certify", str(digits_run), "--out", str(cert), "--max", "5", *CERTIFY])
    capsys.readouterr()
    assert main(["analyze", str(cert), "--radii", "0", "0.25", "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    data = rows(cert)[1:]
    correct_at = lambda r: sum(int(x[4]) == 1 and float(x[3]) >= r for x in data) / len(data)  # noqa: E731
    assert run["examples"] == 5
    assert run["certified_accuracy"] == {"0.0": correct_at(0.0), "0.25": correct_at(0.25)}


def test_budget(capsys) -> None:
    assert main(["budget", "--n", "100000", "--alpha", "0.001", "--sigma", "1.0", "--radius", "2"]) == 0
    out = capsys.readouterr().out
    assert "3.8115" in out and "within" in out


def test_a_leading_double_dash_is_dropped(capsys) -> None:
    """``torchrun ... -m smoothcert -- budget ...`` may hand us the ``--``: same output as without it."""
    argv = ["budget", "--n", "1000", "--alpha", "0.001", "--sigma", "0.5"]
    assert main(argv) == 0
    plain = capsys.readouterr().out
    assert main(["--", *argv]) == 0
    assert capsys.readouterr().out == plain != ""


def test_budget_lists_every_radius_and_the_unreachable_ones_as_rows(capsys) -> None:
    """Radius/sigma = 8 used to hang (float64 cannot resolve alpha^(1/n) near 1); p_A = 0.9 cannot reach 2."""
    argv = ["budget", "--n", "100000", "--sigma", "0.25", "--radius", "0.5", "2.0", "12.5", "--p-a", "0.99"]
    assert main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("radius")]
    assert len(rows) == 3
    assert "needs N >= 1148 (within" in rows[0]  # the bisection's answer, checked by stats' own tests
    assert "unreachable" in rows[1] and "unreachable" in rows[2]
    assert main(["budget", "--n", "100000", "--sigma", "0.25", "--radius", "2.0", "12.5"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("radius")]
    assert "needs N >= 11104001056606604 (beyond" in rows[0]  # closed form: ceil(log(0.001) / log Phi(8))
    assert "needs N >= 6.393e545 (beyond" in rows[1]


def test_train_refuses_to_overwrite_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    base = ["train", "--dataset", "synthetic", "--arch", "mlp", "--sigma", "0.25", "--out", str(out),
            "--batch-size", "32", "--quiet"]
    assert main([*base, "--epochs", "2"]) == 0
    first = load_checkpoint(out)
    assert main([*base, "--epochs", "2"]) == 2  # exists, no --resume
    assert main([*base, "--epochs", "4", "--resume"]) == 0
    resumed = load_checkpoint(out)
    assert resumed["epoch"] == 4 and first["epoch"] == 2
    through = tmp_path / "through"  # the same 4 epochs without interruption: identical weights
    assert main([*[a if a != str(out) else str(through) for a in base], "--epochs", "4"]) == 0
    for key, value in load_checkpoint(through)["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, rtol=0, atol=0)


def test_demo_small(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n", "200", "--epochs", "2", "--max", "5"]) == 0
    table = capsys.readouterr().out
    assert "certify_sigma0.25_n200" in table and "ACR" in table
    png = (out / "certified_accuracy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


@pytest.mark.parametrize("argv,needle", [
    (["certify", "RUN", "--out", "OUT", "--sigma", "0"], "--sigma"),
    (["certify", "RUN", "--out", "OUT", "--sigma", "-1"], "--sigma"),
    (["certify", "RUN", "--out", "OUT", "--alpha", "1.5"], "--alpha"),
    (["certify", "RUN", "--out", "OUT", "--alpha", "0"], "--alpha"),
    (["certify", "RUN", "--out", "OUT", "--n0", "0"], "--n0"),
    (["certify", "RUN", "--out", "OUT", "--n", "0"], "--n"),
    (["certify", "RUN", "--out", "OUT", "--dataset", "mnist", "--data-dir", "EMPTY"], "not found"),
    (["certify", "RUN", "--out", "OUT", "--dataset", "mnist", "--data-dir", "TRUNC"], "truncated"),
    (["certify", "RUN", "--out", "OUT", "--dataset", "mnist", "--data-dir", "GOOD"], "does not fit"),
    (["certify", "MISSING", "--out", "OUT"], "does not exist"),
    (["certify", "GARBAGE", "--out", "OUT"], "not a loadable checkpoint"),
    (["train", "--dataset", "digits", "--arch", "nope", "--sigma", "0.5", "--out", "OUT2"], "unknown model"),
    (["train", "--dataset", "digits", "--arch", "mlp", "--sigma", "0.5", "--out", "OUT2", "epochs=-3"], "epochs"),
    (["train", "--dataset", "digits", "--arch", "mlp", "--sigma", "0", "--out", "OUT2"], "--sigma"),
])
def test_bad_input_gives_one_error_line(argv: list[str], needle: str, digits_run: Path, tmp_path: Path) -> None:
    from tests.unit.test_data import write_mnist

    write_mnist(tmp_path / "good")
    write_mnist(tmp_path / "trunc", compress=False)
    trunc = tmp_path / "trunc" / "t10k-images-idx3-ubyte"
    trunc.write_bytes(trunc.read_bytes()[:1000])
    (tmp_path / "empty").mkdir()
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all")
    out = tmp_path / "out.tsv"
    out.write_text("precious\n")
    subs = {"RUN": str(digits_run), "OUT": str(out), "OUT2": str(tmp_path / "run2"), "EMPTY": str(tmp_path / "empty"),
            "TRUNC": str(tmp_path / "trunc"), "GOOD": str(tmp_path / "good"), "MISSING": str(tmp_path / "missing.pt"),
            "GARBAGE": str(tmp_path / "garbage.pt")}
    proc = subprocess.run([sys.executable, "-m", "smoothcert", *[subs.get(a, a) for a in argv]],
                          capture_output=True, text=True, env={**os.environ, "SMOOTHCERT_PROGRESS": "0"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert out.read_text() == "precious\n"
    assert not (tmp_path / "run2").exists()
