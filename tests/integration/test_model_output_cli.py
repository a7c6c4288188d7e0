"""Every command that counts votes refuses a checkpoint whose model breaks "batch in, logits out".

The architectures below are registered for this test only: a digits-shaped
network that returns its rows twice, half its rows, or an infinite logit. A
checkpoint of each goes through ``certify`` (packed and plain engines, and
``--mode sequential``), ``predict`` and ``attack``: each must end with one
``error:`` line, status 2, and leave no TSV behind (nothing was certified).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from smoothcert.checkpoints.store import load_checkpoint, save_checkpoint
from smoothcert.cli.main import main
from smoothcert.models import create_model, list_models, register_model


class _Broken(nn.Module):
    def __init__(self, num_classes: int, how: str) -> None:
        super().__init__()
        self.linear = nn.Linear(64, num_classes)
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.linear(x.flatten(1))
        if self.how == "twice":
            return torch.cat([logits, logits])
        if self.how == "fewer":
            return logits[: max(1, logits.shape[0] - 1)]
        return logits.masked_fill(torch.arange(logits.shape[0]).view(-1, 1) == 0, float("inf"))


HOWS = ("twice", "fewer", "inf")
for _how in HOWS:
    if f"test_broken_{_how}" not in list_models():
        register_model(f"test_broken_{_how}")(lambda k, shape, how=_how: _Broken(k, how))

COMMANDS = {
    "certify-packed": ["certify", "--n0", "10", "--n", "100", "--batch-size", "32"],
    "certify-plain": ["certify", "--n0", "10", "--n", "100", "--batch-size", "32", "--engine", "plain"],
    "sequential": ["certify", "--mode", "sequential", "--radii", "0.25", "--n0", "10", "--n", "400",
                   "--batch-size", "32"],
    "predict": ["predict", "--n", "100", "--batch-size", "32"],
    "attack": ["attack", "--eps", "0.25", "--n", "100", "--batch-size", "32", "--num-steps", "1"],
}


@pytest.fixture(scope="module")
def broken_checkpoints(digits_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = load_checkpoint(digits_run)
    paths = {}
    for how in HOWS:
        arch = f"test_broken_{how}"
        model = create_model(arch, 10, (1, 8, 8))
        path = tmp_path_factory.mktemp("broken") / f"{how}.pt"
        payload = {k: v for k, v in base.items() if k not in ("optimizer", "scheduler", "rng_state")}
        save_checkpoint(path, {**payload, "arch": arch, "state_dict": model.state_dict()})
        paths[how] = path
    return paths


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_misbehaving_model_gets_one_error_line_and_no_rows(command: str, how: str, tmp_path: Path,
                                                            broken_checkpoints: dict[str, Path], capsys) -> None:
    name, *flags = COMMANDS[command]
    out = tmp_path / "out.tsv"
    status = main([name, str(broken_checkpoints[how]), "--out", str(out), "--max", "2", "--quiet", *flags])
    err = capsys.readouterr().err
    assert status == 2
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert ("non-finite" if how == "inf" else "shape") in lines[0]
    assert not out.exists()
