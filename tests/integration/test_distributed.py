"""Two processes under torchrun (gloo, CPU): training with DDP resumes; sharded certification merges."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from smoothcert.checkpoints.store import load_checkpoint
from smoothcert.cli.main import main

TRAIN = ["train", "--dataset", "synthetic", "--arch", "mlp", "--sigma", "0.25", "--batch-size", "32", "--quiet"]
CERTIFY = ["--n0", "20", "--n", "300", "--alpha", "0.01", "--batch-size", "128", "--quiet"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc_per_node=2 -m smoothcert -- ARGS`` (``--`` keeps torchrun off ``--max``)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master-addr=127.0.0.1",
           f"--master-port={_free_port()}", "-m", "smoothcert", "--", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow  # three torchrun launches, ~25 s on 2 shared cores
def test_ddp_training_writes_once_and_resumes_bit_for_bit(tmp_path: Path) -> None:
    torchrun(*TRAIN, "--epochs", "2", "--out", "straight", cwd=tmp_path)
    torchrun(*TRAIN, "--epochs", "1", "--out", "resumed", cwd=tmp_path)
    torchrun(*TRAIN, "--epochs", "2", "--out", "resumed", "--resume", cwd=tmp_path)
    straight, resumed = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "resumed")
    assert straight["epoch"] == resumed["epoch"] == 2 and len(straight["rng_states"]) == 2
    assert not torch.equal(straight["rng_states"][0], straight["rng_states"][1])  # per-rank noise
    for key, value in straight["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, rtol=0, atol=0)
    log = (tmp_path / "straight" / "log.csv").read_text().splitlines()
    assert len(log) == 3 and log[0].startswith("epoch,lr,loss")  # one writer: no duplicate rows
    assert sorted(p.name for p in (tmp_path / "straight").iterdir()) == ["checkpoint.pt", "config.yaml", "log.csv"]


@pytest.mark.slow  # one torchrun launch with the pass, ~20 s on 2 shared cores
def test_ranks_share_the_catrs_pass_and_get_one_processs_result(digits_run: Path, tmp_path: Path) -> None:
    from smoothcert.data import create_dataset
    from smoothcert.methods import SmoothedPredictionSpec
    from smoothcert.train.prepass import RESULT_NAME, smoothed_prediction

    torchrun("train", "--dataset", "digits", "--arch", "digits_cnn", "--method", "catrs", "--sigma", "0.5",
             "--epochs", "1", "--batch-size", "512", "--quiet", "--out", "ddp", "method_args.num_noise=2",
             f"method_args.pretrained={digits_run}", "method_args.prior_samples=8", "method_args.prior_batch=8",
             cwd=tmp_path)
    spec = SmoothedPredictionSpec(checkpoint=str(digits_run), sigma=0.25, num_samples=8, batch_size=8, seed=0)
    single, _ = smoothed_prediction(spec, create_dataset("digits", "train"), tmp_path / "single", torch.device("cpu"),
                                    quiet=True)
    shared = torch.load(tmp_path / "ddp" / RESULT_NAME, weights_only=True)["counts"]
    assert torch.equal((shared.double() / 8).float(), single)
    assert load_checkpoint(tmp_path / "ddp")["smoothed_prediction"]["images"] == 1437
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == ["checkpoint.pt", "config.yaml", "log.csv",
                                                                   RESULT_NAME]


def _rows(path: Path) -> list[list[str]]:
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    col = lines[0].index("time")
    return [line[:col] + line[col + 1:] for line in lines]


def test_sharded_certification_equals_one_process(digits_run: Path, tmp_path: Path) -> None:
    single = tmp_path / "single.tsv"
    assert main(["certify", str(digits_run), "--out", str(single), "--max", "9", *CERTIFY]) == 0
    sharded = tmp_path / "sharded.tsv"
    torchrun("certify", str(digits_run), "--out", str(sharded), "--max", "5", *CERTIFY, cwd=tmp_path)
    torchrun("certify", str(digits_run), "--out", str(sharded), "--max", "9", *CERTIFY, cwd=tmp_path)  # resumes
    assert _rows(sharded) == _rows(single)
    assert [int(r[0]) for r in _rows(sharded)[1:]] == list(range(9))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("sharded")) == [
        "sharded.tsv", "sharded.tsv.json"]


def test_sequential_mode_tsv(digits_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seq.tsv"
    args = ["certify", str(digits_run), "--out", str(out), "--max", "6", "--mode", "sequential", "--radii", "0.5",
            "0.25", "--n-max", "2000", "--n0", "50", "--batch-size", "500", "--quiet"]
    assert main(args) == 0
    lines = [line.split("\t") for line in out.read_text().splitlines()]
    assert lines[0] == ["idx", "label", "predict", "radius", "correct", "time", "samples", "p_lower", "count", "n"]
    for row in lines[1:]:
        predict, radius, samples, n = int(row[2]), float(row[3]), int(row[6]), int(row[9])
        assert radius in (0.0, 0.25, 0.5) and samples == 50 + n and n <= 2000
        assert radius == 0.0 if predict == -1 else True
    assert sum(int(row[6]) for row in lines[1:]) < 6 * 2050  # some example stopped early
    reference = out.read_text()
    assert main(args) == 0 and out.read_text() == reference  # resumes: nothing to do
    assert main(["certify", str(digits_run), "--out", str(tmp_path / "x.tsv"), "--mode", "sequential"]) == 2
    assert "needs target radii" in capsys.readouterr().err and not (tmp_path / "x.tsv").exists()


def test_sequential_futility_only_changes_samples_spent(digits_run: Path, tmp_path: Path) -> None:
    """A looser futility level abandons unreachable targets sooner: never more samples, and every radius it
    certifies the default also certifies (same seed, so the same votes up to where it stops)."""
    args = ["certify", str(digits_run), "--max", "20", "--mode", "sequential", "--radii", "0.25", "0.5", "0.75",
            "--n-max", "20000", "--n0", "50", "--batch-size", "500", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "strict.tsv")]) == 0
    assert main([*args, "--out", str(tmp_path / "loose.tsv"), "--futility", "0.3"]) == 0
    strict, loose = ([line.split("\t") for line in (tmp_path / name).read_text().splitlines()[1:]]
                     for name in ("strict.tsv", "loose.tsv"))
    assert all(int(b[6]) <= int(a[6]) and float(b[3]) <= float(a[3]) for a, b in zip(strict, loose, strict=True))
    assert sum(int(b[6]) for b in loose) < sum(int(a[6]) for a in strict)  # it did stop sooner somewhere
    assert json.loads((tmp_path / "loose.tsv.json").read_text())["futility"] == 0.3


SHARDED_MODES = {
    "sequential": ["certify", "--mode", "sequential", "--radii", "0.25", "0.5", "--n0", "20", "--n", "2000",
                   "--batch-size", "128"],
    "predict": ["predict", "--n", "200", "--batch-size", "128", "--alpha", "0.01"],
    "attack": ["attack", "--eps", "0.25", "--n", "200", "--batch-size", "128", "--num-steps", "2", "--num-noise", "4"],
}


@pytest.mark.parametrize("mode", list(SHARDED_MODES))
def test_every_mode_shards_into_the_single_process_rows(mode: str, digits_run: Path, tmp_path: Path) -> None:
    """Two ranks write one file whose rows (all but time) are those of one process; nothing else is left."""
    name, *flags = SHARDED_MODES[mode]
    single, sharded = tmp_path / "single.tsv", tmp_path / "sharded.tsv"
    assert main([name, str(digits_run), "--out", str(single), "--max", "7", "--quiet", *flags]) == 0
    torchrun(name, str(digits_run), "--out", str(sharded), "--max", "7", "--quiet", *flags, cwd=tmp_path)
    assert _rows(sharded) == _rows(single)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("sharded")) == [
        "sharded.tsv", "sharded.tsv.json"]


@pytest.mark.slow  # a classifier, then three torchrun launches
def test_ddp_trains_a_stability_denoiser_and_resumes_bit_for_bit(tmp_path: Path) -> None:
    """The denoiser is the DDP model; each rank queries its own frozen copy of the classifier."""
    assert main([*TRAIN, "--epochs", "1", "--out", str(tmp_path / "clf")]) == 0
    denoiser = ["train", "--dataset", "synthetic", "--arch", "dncnn", "--method", "denoise_stability", "--sigma",
                "0.25", "--batch-size", "32", "--optimizer", "adam", "--lr", "0.001", "--quiet"]
    options = ["arch_args.depth=3", "arch_args.width=4", f"method_args.classifier={tmp_path / 'clf'}"]
    torchrun(*denoiser, "--epochs", "2", "--out", "straight", *options, cwd=tmp_path)
    torchrun(*denoiser, "--epochs", "1", "--out", "resumed", *options, cwd=tmp_path)
    torchrun(*denoiser, "--epochs", "2", "--out", "resumed", "--resume", *options, cwd=tmp_path)
    straight, resumed = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "resumed")
    assert straight["role"] == "denoiser" and straight["classifier"] == resumed["classifier"]
    for key, value in straight["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, rtol=0, atol=0)
