"""scripts/train_ddpm.py: resumes bit for bit, and what it saves is a diffusion model build_base_model loads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

pytest.importorskip("diffusers")

from smoothcert.checkpoints.composite import build_base_model

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_ddpm.py"
ARGS = ["--dataset", "digits", "--batch-size", "512", "--channels", "8", "16", "--save-every", "2"]


def _script():
    spec = importlib.util.spec_from_file_location("train_ddpm", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_resumes_bit_for_bit_and_loads_as_a_denoiser(tmp_path: Path, digits_run: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    script = _script()
    assert script.main([*ARGS, "--out", str(tmp_path / "straight"), "--epochs", "2"]) == 0
    assert script.main([*ARGS, "--out", str(tmp_path / "resumed"), "--epochs", "1"]) == 0
    assert script.main([*ARGS, "--out", str(tmp_path / "resumed"), "--epochs", "2"]) == 0
    straight = torch.load(tmp_path / "straight" / "train_state.pt", weights_only=True)
    resumed = torch.load(tmp_path / "resumed" / "train_state.pt", weights_only=True)
    assert straight["step"] == resumed["step"] == 6  # 1,437 images in batches of 512: 3 steps per epoch
    for key, value in straight["ema"].items():
        assert torch.equal(resumed["ema"][key], value), key
    model_dir = tmp_path / "resumed" / "model"
    assert sorted(p.name for p in model_dir.iterdir()) == ["model_index.json", "scheduler", "unet"]
    model, parts = build_base_model(digits_run, diffusion=model_dir, sigma=0.25, device="cpu")
    assert parts["diffusion"]["resolution"] == [8, 8] and parts["diffusion"]["timestep"] < 300
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    with pytest.raises(SystemExit) as exit_info:
        script.main([*ARGS, "--out", str(tmp_path / "resumed"), "--epochs", "3", "--lr", "0.01"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"error: {tmp_path / 'resumed'}")
