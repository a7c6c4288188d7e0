"""Margin diagnostics: exact logit margins, the input-space margin of a linear classifier, files, CLI.

For the linear two-class model of conftest (||w|| = 5), the logits are (-s, s)
with s = w.x, so the logit margin of class 1 is exactly 2 s, and the smoothed
classifier's decision boundary is the model's own: the true input-space margin
of a point at signed distance d is d.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from smoothcert.analysis.margin_files import (
    FILE_COLUMNS,
    MARGIN_COLUMNS,
    format_margin_summary,
    load_margins,
    margin_summary,
    margins_tsv,
)
from smoothcert.analysis.margins import input_margins, logit_margins, margin_rows, summarize_margins
from smoothcert.certify.seeds import example_generator
from smoothcert.cli.main import main
from smoothcert.errors import UserError


def test_logit_margins_exact(linear_at_distance):
    model, x, _ = linear_at_distance(0.5)
    noise = torch.tensor([[[0.1, 0.0, 0, 0, 0], [0.0, 0.2, 0, 0, 0], [0, 0, 0, 0, 0]]])
    got = logit_margins(model, x.unsqueeze(0), torch.tensor([1]), noise)
    w = torch.tensor([3.0, -4.0, 0, 0, 0])
    expected = torch.stack([2 * (w @ (x + n)) for n in noise[0]]).unsqueeze(0)  # 2 s = 5, 5.6, 3.4
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(logit_margins(model, x.unsqueeze(0), torch.tensor([0]), noise), -expected)


def test_summarize_margins_by_hand():
    m = torch.tensor([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.0, 1.0, 2.0]])
    s = summarize_margins(m)
    torch.testing.assert_close(s["margin_mean"], torch.tensor([2.5, 0.5]))
    torch.testing.assert_close(s["margin_std"], torch.full((2,), math.sqrt(5 / 3)))
    torch.testing.assert_close(s["margin_q05"], torch.tensor([1.15, -0.85]))  # linear, position 0.15
    torch.testing.assert_close(s["margin_q50"], torch.tensor([2.5, 0.5]))
    torch.testing.assert_close(s["p_correct"], torch.tensor([1.0, 0.5]))  # a margin of 0 is not > 0
    assert set(s) == set(MARGIN_COLUMNS) - {"idx", "label", "smoothed_pred", "input_margin"}


def _linear_batch(linear_at_distance, distances):
    model = linear_at_distance(distances[0])[0]
    x = torch.stack([linear_at_distance(d)[1] for d in distances])
    return model, x, torch.ones(len(distances), dtype=torch.long)


GRID = [0.1 * k for k in range(1, 11)]


def test_input_margin_of_linear_classifier(linear_at_distance):
    # sigma 0.1: at eps = d + 0.05 the point lies 0.05 past the boundary and the
    # 100-vote majority flips unless Binomial(100, Phi(0.5) = 0.69) <= 50, which
    # has probability < 1e-4; at eps = d - 0.05 it flips only with the same tiny
    # probability. The draws are seeded, so this is a fixed outcome.
    model, x, y = _linear_batch(linear_at_distance, [0.45, -0.2, 2.0, 0.75])
    gens = [example_generator(0, i, x.device) for i in range(4)]
    got = input_margins(model, x, y, gens, sigma=0.1, grid=GRID, steps=10, attack_noise=4,
                        eval_noise=100, clip=None)
    assert got.dtype == torch.float64
    assert got[0].item() == pytest.approx(0.5) and got[3].item() == pytest.approx(0.8)
    assert got[1].item() == 0.0  # the smoothed classifier already misclassifies
    assert math.isinf(got[2].item())  # no eps of the grid reaches distance 2


def test_margin_rows_do_not_depend_on_batching(linear_at_distance):
    model, x, y = _linear_batch(linear_at_distance, [0.45, 0.15, 0.75])
    attack = {"grid": GRID, "steps": 10, "attack_noise": 4, "eval_noise": 50, "clip": None}
    kw = {"sigma": 0.1, "num_noise": 20, "seed": 3, "attack": attack}
    one = margin_rows(model, x, y, [0, 1, 2], batch_size=1, **kw)
    three = margin_rows(model, x, y, [0, 1, 2], batch_size=3, **kw)
    assert list(one) == list(MARGIN_COLUMNS)
    for col in MARGIN_COLUMNS:
        np.testing.assert_allclose(one[col], three[col], rtol=1e-6, atol=1e-6, err_msg=col)
    np.testing.assert_array_equal(one["idx"], [0, 1, 2])
    np.testing.assert_allclose(one["input_margin"], [0.5, 0.2, 0.8], rtol=1e-9)
    skipped = margin_rows(model, x, y, [2, 0], sigma=0.1, num_noise=5, attack=None)
    np.testing.assert_array_equal(skipped["idx"], [2, 0])
    assert np.isnan(skipped["input_margin"]).all()


def _table(n=4):
    return {"idx": np.arange(n), "label": np.array([1, 1, 0, 2])[:n], "smoothed_pred": np.array([1, 0, 0, 2])[:n],
            "margin_mean": np.array([2.0, -1.0, 0.5, 4.0])[:n], "margin_std": np.ones(n),
            "margin_q05": np.zeros(n), "margin_q25": np.zeros(n), "margin_q50": np.zeros(n),
            "margin_q75": np.zeros(n), "margin_q95": np.zeros(n),
            "p_correct": np.array([0.9, 0.2, 0.6, 1.0])[:n],
            "input_margin": np.array([0.5, 0.0, np.inf, 0.25])[:n]}


def test_margin_file_round_trip_and_summary(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_text(margins_tsv({"a": _table(), "b": _table(2)}))
    assert path.read_text().splitlines()[0].split("\t") == list(FILE_COLUMNS)
    back = load_margins(path)
    assert list(back) == ["a", "b"] and len(back["b"]["idx"]) == 2
    for col in MARGIN_COLUMNS:
        np.testing.assert_array_equal(back["a"][col], _table()[col])
    assert back["a"]["label"].dtype == np.int64
    s = margin_summary(back["a"])  # right: idx 0, 2, 3 -> input margins 0.5, inf, 0.25
    assert s == {"examples": 4, "smoothed_accuracy": 0.75, "mean_logit_margin": 1.375,
                 "median_logit_margin": 1.25, "mean_p_correct": 0.675, "median_input_margin": 0.5,
                 "not_flipped": 1}
    assert "| a | 4 | 75.0 | 1.375 | 1.250 | 67.5 | 0.500 | 1 |" in format_margin_summary(back, "markdown")
    with pytest.raises(UserError, match="tab or newline"):
        margins_tsv({"a\tb": _table()})
    (tmp_path / "bad.tsv").write_text("idx\tlabel\n")
    with pytest.raises(UserError, match="not a margins TSV"):
        load_margins(tmp_path / "bad.tsv")


@pytest.fixture(scope="module")
def synthetic_run(tmp_path_factory):
    """An MLP trained for 3 epochs on the synthetic dataset (about a second)."""
    out = tmp_path_factory.mktemp("margins_run")
    assert main(["train", "--dataset", "synthetic", "--arch", "mlp", "--sigma", "0.25", "--out", str(out),
                 "--epochs", "3", "--device", "cpu", "--quiet"]) == 0
    return out


def test_margins_cli(tmp_path, synthetic_run, capsys):
    out, plot = tmp_path / "m.tsv", tmp_path / "m.png"
    argv = ["margins", str(synthetic_run), str(synthetic_run / "checkpoint.pt"), "--name", "a", "b",
            "--out", str(out), "--plot", str(plot), "--max", "5", "--skip", "7", "--num-noise", "16",
            "--eps-steps", "4", "--attack-steps", "3", "--attack-noise", "2", "--eval-noise", "16",
            "--device", "cpu", "--quiet"]
    assert main(argv) == 0
    tables = load_margins(out)
    assert list(tables) == ["a", "b"]
    np.testing.assert_array_equal(tables["a"]["idx"], [0, 7, 14, 21, 28])
    for col in MARGIN_COLUMNS:  # same checkpoint, same seed: the same numbers
        np.testing.assert_array_equal(tables["a"][col], tables["b"][col])
    assert set(np.unique(tables["a"]["input_margin"])) <= {0.0, 0.25, 0.5, 0.75, 1.0, math.inf}  # 4 sigma grid
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "m.tsv.json").is_file()
    assert "| a | 5 |" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(argv) == 2  # never overwrites results
    assert out.read_bytes() == before and "exists" in capsys.readouterr().err


def test_file_only_analysis_does_not_import_models_or_attacks():
    """Only analysis/margins.py may import torch or the model side (DESIGN: analysis reads files)."""
    import ast
    from pathlib import Path

    import smoothcert.analysis as analysis
    import smoothcert.cli as cli

    files = [p for p in Path(analysis.__file__).parent.glob("*.py") if p.name != "margins.py"]
    files += [Path(cli.__file__).parent / n for n in ("analyze.py", "report.py", "_analysis_args.py")]
    forbidden = ("torch", "smoothcert.models", "smoothcert.attacks", "smoothcert.train", "smoothcert.certify",
                 "smoothcert.checkpoints",
                 "smoothcert.data", "smoothcert.methods", "smoothcert.analysis.margins")
    assert len(files) >= 14
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad = [n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden)]
            assert not bad, f"{path.name} imports {bad}"
