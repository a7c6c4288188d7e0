"""Every registered method trains from the command line; `smoothcert attack` end to end.

The attack tests use the session fixture ``digits_run`` (tests/conftest.py): a
digits_cnn trained briefly under Gaussian noise.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from smoothcert.checkpoints.store import load_checkpoint
from smoothcert.cli.main import main
from smoothcert.data import create_dataset
from smoothcert.methods import list_methods
from smoothcert.train.trainer import build_model

# Cheap settings so one digits epoch takes a second or two on a CPU.
FAST = {
    "smoothadv": ["method_args.num_noise=2", "method_args.num_steps=2", "method_args.epsilon=0.5"],
    "consistency_smoothadv": ["method_args.num_steps=2", "method_args.warmup=1", "method_args.epsilon=0.5"],
    "macer": ["method_args.num_noise=4", "method_args.beta=4"],
    "smoothmix": ["method_args.num_noise=2", "method_args.num_steps=2", "method_args.mix_step=1"],
    "catrs": ["method_args.num_noise=2", "method_args.num_steps=2", "method_args.prior_samples=10",
              "method_args.prior_batch=10"],
}


def _model_args(name: str, classifier: Path) -> tuple[list[str], list[str]]:
    """Flags and overrides a method needs: a denoiser arch, a frozen classifier, or no sigma."""
    denoiser = ["arch_args.depth=3", "arch_args.width=8"]
    if name == "standard":
        return ["--arch", "digits_cnn"], []
    if name == "denoise_mse":
        return ["--arch", "dncnn", "--sigma", "0.5"], denoiser
    if name == "denoise_stability":
        return ["--arch", "dncnn", "--sigma", "0.5"], [*denoiser, f"method_args.classifier={classifier}"]
    return ["--arch", "digits_cnn", "--sigma", "0.5"], []


@pytest.mark.parametrize("name", list_methods())
def test_every_method_trains_an_epoch_from_the_cli(tmp_path: Path, name: str, digits_run: Path) -> None:
    out = tmp_path / name
    flags, overrides = _model_args(name, digits_run)
    # CAT-RS reads the smoothed prediction of a Gaussian-trained model: the session's digits run
    pretrained = [f"method_args.pretrained={digits_run}"] if name == "catrs" else []
    status = main(["train", "--dataset", "digits", "--method", name, *flags,
                   "--out", str(out), "--epochs", "1", "--batch-size", "128", "--lr", "0.05", "--quiet",
                   "eval_noise=false", *overrides, *FAST.get(name, []), *pretrained])
    assert status == 0
    with open(out / "log.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert math.isfinite(float(row["loss"])) and float(row["loss"]) > 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    torch.manual_seed(config["seed"])  # the trainer seeds, then builds the model
    initial = build_model(config, create_dataset("digits", "train")).state_dict()
    trained = load_checkpoint(out)["state_dict"]
    changed = [key for key in trained if "weight" in key and not torch.equal(trained[key], initial[key])]
    assert len(changed) == sum("weight" in key for key in trained)  # every layer moved
    assert load_checkpoint(out)["method"] == name


ATTACK = ["--num-noise", "8", "--num-steps", "4", "--n", "100", "--max", "6", "--skip", "7", "--quiet"]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_attack_end_to_end_resumes_and_matches_predict(digits_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "attack.tsv"
    args = ["attack", str(digits_run), "--out", str(out), "--eps", "0", "0.5", "2.0", *ATTACK]
    assert main(args) == 0
    header = out.read_text().splitlines()[0].split("\t")
    assert header == ["idx", "label", "predict_eps0.0", "correct_eps0.0", "predict_eps0.5", "correct_eps0.5",
                      "predict_eps2.0", "correct_eps2.0", "time"]
    rows = _rows(out)
    assert [int(r["idx"]) for r in rows] == [0, 7, 14, 21, 28, 35]
    for r in rows:
        for e in ("0.0", "0.5", "2.0"):
            assert int(r[f"correct_eps{e}"]) == int(int(r[f"predict_eps{e}"]) == int(r["label"]))
        assert float(r["time"]) > 0
    manifest = json.loads(Path(str(out) + ".json").read_text())
    assert manifest["eps"] == [0.0, 0.5, 2.0] and manifest["attack"] == "pgd" and manifest["num_noise"] == 8
    # eps = 0 is PREDICT on the clean input with the same per-example noise as `smoothcert predict`
    predicted = tmp_path / "predict.tsv"
    assert main(["predict", str(digits_run), "--out", str(predicted), "--n", "100", "--max", "6", "--skip", "7",
                 "--quiet"]) == 0
    assert [r["predict"] for r in _rows(predicted)] == [r["predict_eps0.0"] for r in rows]
    # a radius of 2 on 8x8 digits in [0, 1] breaks the smoothed classifier on most examples
    assert sum(int(r["correct_eps2.0"]) for r in rows) < sum(int(r["correct_eps0.0"]) for r in rows)
    # rerunning with a larger --max appends only the new example and keeps the old rows
    before = out.read_text()
    assert main([*args, "--max", "7"]) == 0  # the last --max wins
    after = out.read_text()
    assert after.startswith(before) and [int(r["idx"]) for r in _rows(out)][-1] == 42


def test_attack_results_do_not_depend_on_the_list_of_radii(digits_run: Path, tmp_path: Path) -> None:
    both, one = tmp_path / "both.tsv", tmp_path / "one.tsv"
    assert main(["attack", str(digits_run), "--out", str(both), "--eps", "0.25", "1.0", "--attack", "ddn",
                 *ATTACK]) == 0
    assert main(["attack", str(digits_run), "--out", str(one), "--eps", "1.0", "--attack", "ddn", *ATTACK]) == 0
    assert [r["predict_eps1.0"] for r in _rows(both)] == [r["predict_eps1.0"] for r in _rows(one)]


@pytest.mark.parametrize("extra, message", [
    (["--eps", "-0.5"], "--eps: must be >= 0"),
    (["--eps", "0.5", "0.50"], "twice"),
    (["--eps", "0.5", "--num-noise", "1", "--no-grad-attack"], "--num-noise >= 2"),
    (["--eps", "0.5", "--attack", "fgsm"], "invalid choice"),
])
def test_attack_bad_inputs_are_one_line_errors(digits_run: Path, tmp_path: Path, capsys, extra, message) -> None:
    out = tmp_path / "bad.tsv"
    assert _status(["attack", str(digits_run), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def _status(argv: list[str]) -> int:
    """Exit status of the command line, whether argparse exits or ``main`` returns."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_attack_refuses_to_append_with_other_radii(digits_run: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "a.tsv"
    assert main(["attack", str(digits_run), "--out", str(out), "--eps", "0.5", *ATTACK]) == 0
    before = out.read_text()
    assert main(["attack", str(digits_run), "--out", str(out), "--eps", "0.25", *ATTACK]) == 2
    assert "other settings" in capsys.readouterr().err and out.read_text() == before
