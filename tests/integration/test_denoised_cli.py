"""Denoised smoothing from the command line: a noise-free classifier, an MSE denoiser, its stability fine-tuning.

Everything goes through ``smoothcert train`` (the one training loop) on the bundled digits, then
``build_base_model`` puts the denoiser in front of the classifier it was tuned for.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import torch

from smoothcert import Smooth
from smoothcert.checkpoints.composite import build_base_model
from smoothcert.checkpoints.store import file_sha256, load_checkpoint, model_from_checkpoint, save_checkpoint
from smoothcert.cli.main import main
from smoothcert.models.composite import Denoised

SMALL = ["arch_args.depth=3", "arch_args.width=8"]
COMMON = ["--dataset", "digits", "--batch-size", "128", "--optimizer", "adam", "--quiet"]


def _log(run: Path) -> list[dict[str, str]]:
    with open(run / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def mse_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("denoisers") / "mse"
    assert main(["train", "--arch", "dncnn", "--method", "denoise_mse", "--sigma", "0.25", "--out", str(out),
                 "--epochs", "2", "--lr", "0.001", *COMMON, *SMALL]) == 0
    return out


def test_mse_denoiser_run_records_a_denoiser_and_learns(mse_run: Path) -> None:
    ckpt = load_checkpoint(mse_run)
    assert (ckpt["role"], ckpt["method"], ckpt["sigma"], ckpt["arch"], ckpt["arch_args"]) == (
        "denoiser", "denoise_mse", 0.25, "dncnn", {"depth": 3, "width": 8})
    assert (ckpt["mean"], ckpt["std"]) == ([0.0], [1.0])  # a denoiser works in pixel space
    rows = _log(mse_run)
    assert list(rows[0]) == ["epoch", "lr", "loss", "mse", "test_mse_noisy", "time"]
    # the untrained DnCNN is the identity, whose test MSE is sigma^2 = 0.0625; training must beat it
    assert float(rows[-1]["test_mse_noisy"]) < 0.0625 * 0.8


def test_stability_fine_tuning_records_its_classifier_and_init(mse_run: Path, digits_run: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    classifier = tmp_path / "classifier.pt"
    shutil.copy(digits_run / "checkpoint.pt", classifier)
    out = tmp_path / "stab"
    args = ["train", "--arch", "dncnn", "--method", "denoise_stability", "--sigma", "0.25", "--out", str(out),
            "--epochs", "1", "--lr", "0.0001", *COMMON, *SMALL, f"method_args.classifier={classifier}",
            f"init={mse_run}"]
    assert main(args) == 0
    ckpt = load_checkpoint(out)
    assert ckpt["classifier"]["sha256"] == file_sha256(classifier) and ckpt["classifier"]["arch"] == "digits_cnn"
    assert ckpt["init"]["sha256"] == file_sha256(mse_run / "checkpoint.pt")
    assert list(_log(out)[0]) == ["epoch", "lr", "loss", "ce", "agree", "acc", "test_mse_noisy", "test_acc_noisy",
                                  "time"]
    # the run resumes while the classifier is the same file, and refuses once it has changed
    assert main([*args[:args.index("--epochs")], "--epochs", "2", *args[args.index("--epochs") + 2:], "--resume"]) == 0
    assert len(_log(out)) == 2
    other = load_checkpoint(classifier)
    other["state_dict"] = {k: v + 1e-3 if v.is_floating_point() else v for k, v in other["state_dict"].items()}
    save_checkpoint(classifier, other)  # another classifier under the same name
    before = (out / "checkpoint.pt").read_bytes()
    status = main([*args[:args.index("--epochs")], "--epochs", "3", *args[args.index("--epochs") + 2:], "--resume"])
    assert status == 2 and (out / "checkpoint.pt").read_bytes() == before
    assert "now has sha256" in capsys.readouterr().err.splitlines()[-1]


def test_init_starts_from_the_given_weights(mse_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    assert main(["train", "--arch", "dncnn", "--method", "denoise_mse", "--sigma", "0.25", "--out", str(out),
                 "--epochs", "1", "--lr", "1e-30", *COMMON, *SMALL, "eval_noise=false", f"init={mse_run}"]) == 0
    start, after = load_checkpoint(mse_run)["state_dict"], load_checkpoint(out)["state_dict"]
    for key, value in start.items():  # lr 1e-30: the weights stay the init's (batch-norm statistics move)
        if "running" not in key and "num_batches" not in key:
            torch.testing.assert_close(after[key], value, rtol=1e-6, atol=1e-20)


def test_denoiser_in_front_of_its_classifier_certifies(mse_run: Path, digits_run: Path) -> None:
    model, fields = build_base_model(digits_run, denoiser=mse_run, sigma=0.25, device="cpu")
    assert isinstance(model, Denoised) and fields["denoiser"]["sha256"] == file_sha256(mse_run / "checkpoint.pt")
    x = torch.rand(1, 8, 8)
    cert = Smooth(model, 10, 0.25).certify(x, 10, 100, 0.01, 50, torch.Generator().manual_seed(0))
    hand = torch.nn.Sequential(model_from_checkpoint(load_checkpoint(mse_run)),
                               model_from_checkpoint(load_checkpoint(digits_run))).eval()
    assert cert == Smooth(hand, 10, 0.25).certify(x, 10, 100, 0.01, 50, torch.Generator().manual_seed(0))


def test_standard_trains_without_sigma(tmp_path: Path) -> None:
    for name, sigma in (("none", []), ("zero", ["--sigma", "0"])):
        out = tmp_path / name
        assert main(["train", "--dataset", "digits", "--arch", "digits_cnn", "--method", "standard", *sigma,
                     "--out", str(out), "--epochs", "1", "--batch-size", "128", "--lr", "0.05", "--quiet"]) == 0
        ckpt = load_checkpoint(out)
        assert (ckpt["sigma"], ckpt["method"], ckpt["role"]) == (None, "standard", "classifier")
        assert list(_log(out)[0]) == ["epoch", "lr", "loss", "ce", "acc", "test_acc", "time"]
    assert load_checkpoint(tmp_path / "none")["state_dict"].keys() == load_checkpoint(tmp_path / "zero")[
        "state_dict"].keys()
