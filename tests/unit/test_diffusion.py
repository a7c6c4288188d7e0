"""Diffusion denoised smoothing: the timestep rule, the scaling in and out of [-1, 1], and real loading.

A tiny ``UNet2DModel`` is written with ``save_pretrained`` into ``tmp_path`` and read back through the
path users take (``build_base_model(..., diffusion=DIR)``). The arithmetic is checked with stub networks:
one that records what it is given, and an oracle whose noise prediction is the true noise.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

diffusers = pytest.importorskip("diffusers")

from smoothcert import Smooth  # noqa: E402  (after importorskip: diffusers is an optional extra)
from smoothcert.checkpoints.composite import build_base_model  # noqa: E402  (after importorskip: diffusers is an optional extra)
from smoothcert.checkpoints.diffusion_dir import directory_sha256  # noqa: E402  (after importorskip: diffusers is an optional extra)
from smoothcert.errors import UserError  # noqa: E402  (after importorskip: diffusers is an optional extra)
from smoothcert.models.composite import Denoised  # noqa: E402  (after importorskip: diffusers is an optional extra)
from smoothcert.models.diffusion import DiffusionDenoiser, ddim_timesteps, timestep_for_sigma  # noqa: E402  (after importorskip: diffusers is an optional extra)
from tests.unit.test_composite import write  # noqa: E402  (after importorskip: diffusers is an optional extra)

CPU = torch.device("cpu")


def scheduler():
    return diffusers.DDPMScheduler(num_train_timesteps=1000)


def tiny_unet(channels: int = 1, size: int = 8):
    torch.manual_seed(0)
    return diffusers.UNet2DModel(sample_size=size, in_channels=channels, out_channels=channels,
                                 block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                                 down_block_types=("DownBlock2D", "DownBlock2D"),
                                 up_block_types=("UpBlock2D", "UpBlock2D"))


def save(path: Path, pipeline: bool = True, channels: int = 1, size: int = 8) -> Path:
    unet = tiny_unet(channels, size)
    if pipeline:
        diffusers.DDPMPipeline(unet=unet, scheduler=scheduler()).save_pretrained(path)
    else:
        unet.save_pretrained(path)
        scheduler().save_pretrained(path)
    return path


class Recorder(nn.Module):
    """Predicts zero noise and keeps what it was called with."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls.append((x_t.clone(), t.clone()))
        return torch.zeros_like(x_t)


class Oracle(nn.Module):
    """Predicts exactly the noise between ``x_t`` and the clean image ``2 x - 1`` at each call's t."""

    def __init__(self, clean: torch.Tensor, abar: torch.Tensor) -> None:
        super().__init__()
        self.target, self.abar = 2.0 * clean - 1.0, abar

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = float(self.abar[int(t[0])])
        return (x_t - math.sqrt(a) * self.target) / math.sqrt(1.0 - a)


@pytest.mark.parametrize("sigma", [0.01, 0.12, 0.25, 0.5, 1.0])
def test_timestep_matches_sigma_on_the_schedulers_alphas(sigma: float) -> None:
    abar = scheduler().alphas_cumprod
    ratios = [(1.0 - float(a)) / float(a) for a in abar.double()]
    gaps = [abs(r - (2 * sigma) ** 2) for r in ratios]
    assert timestep_for_sigma(abar, sigma) == gaps.index(min(gaps))
    t = 1  # the authors' certify.py: step t up from 1 until sqrt(1 - abar) / sqrt(abar) reaches 2 sigma
    while math.sqrt(1 - float(abar[t].double())) / math.sqrt(float(abar[t].double())) < 2 * sigma:
        t += 1
    assert timestep_for_sigma(abar, sigma, rule="first_at_least") == t
    assert abs(timestep_for_sigma(abar, sigma) - t) <= 1


def test_sigma_beyond_the_schedule_and_bad_rules_are_user_errors() -> None:
    abar = scheduler().alphas_cumprod
    last = math.sqrt((1 - float(abar[-1].double())) / float(abar[-1].double())) / 2
    with pytest.raises(UserError, match="beyond this diffusion model's noise schedule"):
        timestep_for_sigma(abar, last * 1.01)
    with pytest.raises(UserError, match="rule"):
        timestep_for_sigma(abar, 0.25, rule="nearest")


def test_ddim_timesteps() -> None:
    assert ddim_timesteps(144, 1) == [144]
    assert ddim_timesteps(144, 4) == [144, 96, 48, 0]
    assert ddim_timesteps(3, 4) == [3, 2, 1, 0]
    with pytest.raises(UserError, match="do not fit"):
        ddim_timesteps(2, 4)


def test_scaling_into_and_out_of_minus_one_one() -> None:
    abar = scheduler().alphas_cumprod
    stub = Recorder()
    denoiser = DiffusionDenoiser(stub, abar, sigma=0.25)
    t = denoiser.timestep
    y = torch.tensor([[[[-0.3, 0.0], [0.5, 1.4]]]])  # noisy inputs leave [0, 1]
    out = denoiser(y)
    (x_t, ts), = stub.calls
    assert ts.tolist() == [t] and denoiser.alpha_bar(t) == float(abar[t])
    torch.testing.assert_close(x_t, math.sqrt(float(abar[t])) * (2 * y - 1), rtol=0, atol=0)
    # zero predicted noise: x0 = x_t / sqrt(abar) = 2y - 1, clamped to [-1, 1], mapped back: y clamped to [0, 1]
    torch.testing.assert_close(out, y.clamp(0, 1))


@pytest.mark.parametrize("steps", [1, 4])
def test_the_true_noise_gives_back_the_clean_image(steps: int) -> None:
    abar = scheduler().alphas_cumprod
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 8, 8, generator=gen)
    y = x + 0.5 * torch.randn(x.shape, generator=gen)
    denoiser = DiffusionDenoiser(Oracle(x, abar), abar, sigma=0.5, steps=steps)
    assert len(denoiser.timesteps) == steps
    torch.testing.assert_close(denoiser(y), x, rtol=0, atol=2e-6)


def test_small_inputs_are_padded_and_cropped_back() -> None:
    abar = scheduler().alphas_cumprod
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 6, 6, generator=gen)
    y = x + 0.25 * torch.randn(x.shape, generator=gen)
    padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
    denoiser = DiffusionDenoiser(Oracle(padded, abar), abar, sigma=0.25, resolution=(8, 8), input_size=(6, 6))
    torch.testing.assert_close(denoiser(y), x, rtol=0, atol=2e-6)


def test_large_inputs_are_area_downsampled_with_the_timestep_of_the_reduced_noise() -> None:
    abar = scheduler().alphas_cumprod
    stub = Recorder()
    denoiser = DiffusionDenoiser(stub, abar, sigma=0.5, resolution=(8, 8), input_size=(16, 16))
    assert denoiser.factor == 2 and denoiser.timestep == timestep_for_sigma(abar, 0.25)
    y = torch.rand(1, 1, 16, 16)
    assert denoiser(y).shape == y.shape
    torch.testing.assert_close(stub.calls[0][0], math.sqrt(float(abar[denoiser.timestep])) * (
        2 * F.avg_pool2d(y, 2) - 1), rtol=0, atol=0)
    with pytest.raises(UserError, match="do not fit the diffusion model's 8x8"):
        DiffusionDenoiser(stub, abar, sigma=0.5, resolution=(8, 8), input_size=(12, 12))


@pytest.mark.parametrize("pipeline", [True, False])
def test_a_saved_unet_loads_and_certifies_behind_a_classifier(tmp_path: Path, pipeline: bool) -> None:
    model_dir = save(tmp_path / "ddpm", pipeline=pipeline)
    classifier = write(tmp_path / "clf.pt", "digits_cnn")
    model, fields = build_base_model(classifier, diffusion=model_dir, sigma=0.25, device=CPU)
    assert isinstance(model, Denoised) and isinstance(model.denoiser, DiffusionDenoiser)
    t = timestep_for_sigma(scheduler().alphas_cumprod, 0.25)
    diff = fields["diffusion"]
    assert (diff["timestep"], diff["alpha_bar"], diff["steps"], diff["dtype"]) == (
        t, float(scheduler().alphas_cumprod[t]), 1, "float32")
    assert diff["sha256"] == directory_sha256(model_dir) and diff["resolution"] == [8, 8]
    counts = Smooth(model, 10, 0.25).sample_counts(torch.rand(1, 8, 8), 20, 8, torch.Generator().manual_seed(0))
    assert int(counts.sum()) == 20


def test_bfloat16_is_opt_in_and_recorded(tmp_path: Path) -> None:
    model_dir = save(tmp_path / "ddpm")
    classifier = write(tmp_path / "clf.pt", "digits_cnn")
    half, fields = build_base_model(classifier, diffusion=model_dir, sigma=0.25, device=CPU,
                                    diffusion_dtype="bfloat16", diffusion_steps=2)
    assert (fields["diffusion"]["dtype"], fields["diffusion"]["steps"]) == ("bfloat16", 2)
    y = torch.rand(4, 1, 8, 8)
    with torch.inference_mode():
        out = half.denoiser(y)
    assert out.dtype == torch.float32 and out.shape == y.shape and bool(((out >= 0) & (out <= 1)).all())
    with pytest.raises(UserError, match="dtype must be"):
        build_base_model(classifier, diffusion=model_dir, sigma=0.25, device=CPU, diffusion_dtype="int8")


def test_missing_or_malformed_directories_are_one_user_error(tmp_path: Path) -> None:
    classifier = write(tmp_path / "clf.pt", "digits_cnn")
    with pytest.raises(UserError, match="does not exist"):  # a hub name is not fetched: nothing is downloaded
        build_base_model(classifier, diffusion="google/ddpm-cifar10-32", sigma=0.25, device=CPU)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=r"has no config\.json"):
        build_base_model(classifier, diffusion=empty, sigma=0.25, device=CPU)
    broken = save(tmp_path / "broken")
    (broken / "unet" / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot load the diffusion model"):
        build_base_model(classifier, diffusion=broken, sigma=0.25, device=CPU)
    truncated = save(tmp_path / "truncated")
    weights = truncated / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(UserError, match="cannot load the diffusion model"):
        build_base_model(classifier, diffusion=truncated, sigma=0.25, device=CPU)
    sample = save(tmp_path / "sample")
    config = json.loads((sample / "scheduler" / "scheduler_config.json").read_text())
    (sample / "scheduler" / "scheduler_config.json").write_text(json.dumps({**config, "prediction_type": "sample"}))
    with pytest.raises(UserError, match="only noise-predicting"):
        build_base_model(classifier, diffusion=sample, sigma=0.25, device=CPU)


def test_a_diffusion_model_of_other_images_is_one_user_error(tmp_path: Path) -> None:
    classifier = write(tmp_path / "clf.pt", "digits_cnn")
    with pytest.raises(UserError, match="works on 3-channel images but the classifier takes 1"):
        build_base_model(classifier, diffusion=save(tmp_path / "rgb", channels=3), sigma=0.25, device=CPU)
    big = write(tmp_path / "big.pt", "digits_cnn", shape=(1, 12, 12))
    with pytest.raises(UserError, match="inputs of 12x12 do not fit"):
        build_base_model(big, diffusion=save(tmp_path / "gray"), sigma=0.25, device=CPU)
