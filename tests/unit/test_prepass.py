"""The smoothed-prediction pass of CAT-RS: exact counts, resumable by chunks, recorded, refused when foreign.

Uses the session fixture ``digits_run`` (tests/conftest.py): a digits_cnn trained
briefly under Gaussian noise at sigma 0.25, the pretrained model of the pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from smoothcert.certify.seeds import example_seed
from smoothcert.checkpoints.store import file_sha256, load_checkpoint, model_from_checkpoint
from smoothcert.cli.main import main
from smoothcert.data import TensorData, create_dataset
from smoothcert.errors import UserError
from smoothcert.methods import SmoothedPredictionSpec
from smoothcert.train import prepass
from smoothcert.train.prepass import PARTS_NAME, RESULT_NAME, smoothed_prediction

CPU = torch.device("cpu")


def _subset(count: int) -> TensorData:
    train = create_dataset("digits", "train")
    return TensorData(train.images[:count], train.labels[:count], train.info)


class Interrupting(TensorData):
    """The digits subset, but reading image ``stop_at`` raises KeyboardInterrupt (a kill), once; records reads."""

    def __init__(self, data: TensorData, stop_at: int) -> None:
        super().__init__(data.images, data.labels, data.info)
        self.stop_at, self.reads = stop_at, []

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if index == self.stop_at:
            self.stop_at = -1
            raise KeyboardInterrupt
        self.reads.append(index)
        return super().__getitem__(index)


def test_rows_are_the_class_counts_over_n_of_seeded_draws(digits_run: Path, tmp_path: Path) -> None:
    spec = SmoothedPredictionSpec(checkpoint=str(digits_run), sigma=0.25, num_samples=70, batch_size=30, seed=4)
    data = _subset(5)
    rows, record = smoothed_prediction(spec, data, tmp_path, CPU, quiet=True)
    model = model_from_checkpoint(load_checkpoint(digits_run)).eval()
    for i in range(5):
        gen = torch.Generator().manual_seed(example_seed(4, i))
        counts = torch.zeros(10, dtype=torch.long)
        with torch.no_grad():
            for size in (30, 30, 10):  # ceil(70 / 30) calls, the last one of the rest
                noise = torch.randn((size, 1, 8, 8), generator=gen) * 0.25
                counts += torch.bincount(model(data.images[i] + noise).argmax(1), minlength=10)
        assert torch.equal(rows[i], (counts.double() / 70).float()), i
    assert record["checkpoint_sha256"] == file_sha256(digits_run / "checkpoint.pt")
    assert (record["num_samples"], record["batch_size"], record["seed"], record["sigma"]) == (70, 30, 4, 0.25)
    assert sorted(p.name for p in tmp_path.iterdir()) == [RESULT_NAME]  # the parts are gone


def test_an_interrupted_pass_resumes_at_its_first_missing_chunk(digits_run: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepass, "CHUNK", 3)  # 10 images: 4 parts
    spec = SmoothedPredictionSpec(checkpoint=str(digits_run), sigma=0.25, num_samples=40, batch_size=40, seed=0)
    straight, _ = smoothed_prediction(spec, _subset(10), tmp_path / "straight", CPU, quiet=True)
    data = Interrupting(_subset(10), stop_at=7)
    with pytest.raises(KeyboardInterrupt):
        smoothed_prediction(spec, data, tmp_path / "resumed", CPU, quiet=True)
    assert sorted(p.name for p in (tmp_path / "resumed" / PARTS_NAME).iterdir()) == ["part_000000.pt", "part_000001.pt"]
    data.reads.clear()
    resumed, _ = smoothed_prediction(spec, data, tmp_path / "resumed", CPU, quiet=True)
    assert data.reads == [6, 7, 8, 9]  # parts 0 and 1 were kept, not recomputed
    assert torch.equal(resumed, straight)


def test_a_pass_of_other_settings_or_model_is_refused_and_kept(digits_run: Path, tmp_path: Path) -> None:
    spec = SmoothedPredictionSpec(checkpoint=str(digits_run), sigma=0.25, num_samples=20, batch_size=20, seed=0)
    smoothed_prediction(spec, _subset(3), tmp_path, CPU, quiet=True)
    before = (tmp_path / RESULT_NAME).read_bytes()
    other = SmoothedPredictionSpec(checkpoint=str(digits_run), sigma=0.5, num_samples=20, batch_size=20, seed=0)
    with pytest.raises(UserError, match=r"other settings \(sigma: 0.25 -> 0.5\)"):
        smoothed_prediction(other, _subset(3), tmp_path, CPU, quiet=True)
    assert (tmp_path / RESULT_NAME).read_bytes() == before
    with pytest.raises(UserError, match="not on synthetic"):
        smoothed_prediction(spec, create_dataset("synthetic", "train"), tmp_path / "foreign", CPU, quiet=True)
    with pytest.raises(UserError, match="does not exist"):
        smoothed_prediction(SmoothedPredictionSpec(str(tmp_path / "nowhere"), 0.25, 20, 20, 0), _subset(3),
                            tmp_path / "missing", CPU, quiet=True)


def test_one_catrs_training_step_from_the_command_line_records_the_pass(digits_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "catrs"
    args = ["train", "--dataset", "digits", "--arch", "digits_cnn", "--method", "catrs", "--sigma", "0.5",
            "--batch-size", "2048", "--device", "cpu", "--out", str(out), "--quiet", "method_args.num_noise=2",
            f"method_args.pretrained={digits_run}", "method_args.prior_samples=10", "method_args.prior_batch=10"]
    assert main([*args, "--epochs", "1"]) == 0  # 1,437 training images: one step
    ckpt = load_checkpoint(out)
    record = ckpt["smoothed_prediction"]
    assert record["checkpoint_sha256"] == file_sha256(digits_run / "checkpoint.pt")
    assert (record["images"], record["num_samples"], record["sigma"]) == (1437, 10, 0.25) and record["seconds"] > 0
    assert ckpt["method"] == "catrs" and ckpt["config"]["method_args"]["pretrained"] == str(digits_run)
    saved = torch.load(out / RESULT_NAME, weights_only=True)
    assert saved["counts"].shape == (1437, 10) and bool((saved["counts"].sum(1) == 10).all())
    stamp = (out / RESULT_NAME).stat().st_mtime_ns
    assert main([*args, "--epochs", "2", "--resume"]) == 0  # reuses the pass
    assert (out / RESULT_NAME).stat().st_mtime_ns == stamp and load_checkpoint(out)["epoch"] == 2


def test_catrs_without_a_pretrained_model_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["train", "--dataset", "digits", "--arch", "digits_cnn", "--method", "catrs", "--sigma", "0.5",
                   "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "run"), "--quiet"])
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: catrs needs a Gaussian-trained model") and "pretrained" in err[0]
