"""Warnings for settings that cannot work (n, alpha, radii): exact thresholds, CLI lines, documented text."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from smoothcert import stats
from smoothcert.checkpoints.store import save_checkpoint
from smoothcert.cli._warnings import SANE_SIGMA_MAX, futile_settings, implausible_sigma, sigma_differs
from smoothcert.cli.main import main
from smoothcert.models import create_model
from smoothcert.smooth import Smooth

DOC = (Path(__file__).resolve().parents[2] / "docs" / "errors.md").read_text(encoding="utf-8")


def test_certify_warns_exactly_when_unanimity_cannot_reach_one_half() -> None:
    # alpha ** (1/n) >= 1/2  <=>  n >= log(alpha) / log(1/2) = 9.97 at alpha = 0.001: n = 9 never certifies
    assert 0.001 ** (1 / 9) < 0.5 <= 0.001 ** (1 / 10)
    assert "everything will abstain; use --n >= 10" in futile_settings(9, 0.001, 0.5)[0]
    assert futile_settings(10, 0.001, 0.5) == []
    for alpha in (0.1, 0.01, 0.001, 1e-5):
        need = math.ceil(math.log(alpha) / math.log(0.5))
        assert futile_settings(need - 1, alpha, 1.0) and not futile_settings(need, alpha, 1.0)


def test_the_certify_warning_is_true_for_a_model_that_always_agrees() -> None:
    always_one = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    with torch.no_grad():
        always_one[1].weight.zero_()
        always_one[1].bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    smooth, x, gen = Smooth(always_one, 3, 0.5), torch.zeros(4), torch.Generator().manual_seed(0)
    assert smooth.certify(x, 5, 9, 0.001, generator=gen).prediction == Smooth.ABSTAIN  # all 9 votes agree
    assert smooth.certify(x, 5, 10, 0.001, generator=gen).prediction == 1


def test_radius_beyond_the_largest_certifiable_one() -> None:
    largest = stats.max_radius(1000, 0.001, 0.5)  # 1.2316
    assert futile_settings(1000, 0.001, 0.5, [0.25, largest]) == []
    (message,) = futile_settings(1000, 0.001, 0.5, [0.25, 2.0])
    assert "radius 2 can never be certified" in message and "1.2316" in message
    assert f"--n >= {stats.samples_needed(2.0, 0.5, 0.001)}" in message


def test_predict_warns_exactly_when_a_unanimous_vote_is_not_significant() -> None:
    # two-sided p-value of n votes to 0 is 2 * 0.5 ** n: 0.00195 > 0.001 at n = 10, 0.00098 at n = 11
    assert "use --n >= 11" in futile_settings(10, 0.001, 0.5, procedure="predict")[0]
    assert futile_settings(11, 0.001, 0.5, procedure="predict") == []
    assert futile_settings(1, 0.9, 0.5, procedure="predict")  # p-value of one vote is 1


@pytest.mark.parametrize("argv,warning", [
    (["budget", "--n", "9", "--sigma", "0.5", "--alpha", "0.001"], "lower bound on p_A is at most 0.4642"),
    (["budget", "--n", "1000", "--sigma", "0.5", "--radius", "2"], "radius 2 can never be certified"),
])
def test_budget_prints_the_warning_and_succeeds(argv: list[str], warning: str, capsys) -> None:
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: ") and warning in err and err.count("\n") == 1
    assert err.strip() in DOC  # the documented example lines, verbatim


def test_certify_and_predict_warn_but_run(tmp_path: Path, capsys) -> None:
    model = create_model("mlp", 4, (1, 4, 4))
    save_checkpoint(tmp_path / "m.pt", {"arch": "mlp", "dataset": "synthetic", "num_classes": 4,
                                        "input_shape": [1, 4, 4], "mean": [0.0], "std": [1.0], "sigma": 0.25,
                                        "method": "gaussian", "state_dict": model.state_dict()})
    certify = ["certify", str(tmp_path / "m.pt"), "--out", str(tmp_path / "c.tsv"), "--n", "9", "--n0", "5",
               "--max", "3", "--quiet"]
    assert main(certify) == 0
    assert "warning: with --n 9 at --alpha 0.001 the lower bound" in capsys.readouterr().err
    rows = (tmp_path / "c.tsv").read_text().splitlines()[1:]
    assert len(rows) == 3 and all(row.split("\t")[2] == "-1" for row in rows)  # everything abstained, as warned
    predict = ["predict", str(tmp_path / "m.pt"), "--out", str(tmp_path / "p.tsv"), "--n", "10", "--max", "2",
               "--quiet"]
    assert main(predict) == 0
    err = capsys.readouterr().err
    assert "warning: with --n 10 at --alpha 0.001 even a unanimous vote is not significant" in err
    assert err.splitlines()[0] in DOC


def test_documented_warnings_are_the_printed_ones() -> None:
    assert f"`warning: {futile_settings(9, 0.001, 0.5)[0]}`" in DOC
    assert f"`warning: {futile_settings(1000, 0.001, 0.5, [2.0])[0]}`" in DOC
    assert f"`warning: {futile_settings(10, 0.001, 0.5, procedure='predict')[0]}`" in DOC


def test_sigma_above_the_pixel_range_is_taken_for_the_0_255_scale() -> None:
    assert SANE_SIGMA_MAX == 4.0
    for sane in (0.12, 0.25, 1.0, 2.0, 4.0):  # the papers' range and a margin above it
        assert implausible_sigma(sane) == []
    (message,) = implausible_sigma(25.0)
    assert message == ("sigma is in [0,1]-pixel units; 25 looks like a 0-255 scale value (did you mean --sigma "
                       "0.098?): noise of sigma 25 drowns every image")  # 25 / 255 = 0.0980...
    assert implausible_sigma(4.0001) and "--sigma 0.0157?" in implausible_sigma(4.0001)[0]


def test_a_sigma_other_than_the_training_sigma_is_noted() -> None:
    assert sigma_differs(0.25, 0.25) == [] and sigma_differs(0.1 + 0.2, 0.3) == []  # equal up to rounding
    assert sigma_differs(0.5, None) == []  # a converted checkpoint that records no sigma
    (message,) = sigma_differs(0.5, 0.25)
    assert message.startswith("--sigma 0.5 differs from the sigma the checkpoint was trained with (0.25)")
    assert message.endswith("omit --sigma to use 0.25")


@pytest.mark.parametrize("sigma,warned", [("25", True), ("0.25", False)])
def test_train_warns_about_a_0_255_sigma_and_trains(sigma: str, warned: bool, tmp_path: Path, capsys) -> None:
    argv = ["train", "--dataset", "synthetic", "--arch", "mlp", "--sigma", sigma, "--out", str(tmp_path / "run"),
            "--epochs", "1", "--quiet"]
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [f"warning: {implausible_sigma(25.0)[0]}"] * warned + [f"wrote {tmp_path / 'run' / 'checkpoint.pt'}"]


def test_documented_sigma_lines_are_the_printed_ones() -> None:
    assert f"`warning: {implausible_sigma(25.0)[0]}`" in DOC
    assert f"`note: {sigma_differs(0.5, 0.25)[0]}`" in DOC
