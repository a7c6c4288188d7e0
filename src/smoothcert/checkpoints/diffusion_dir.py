"""Loading a DDPM from a local directory (diffusers layout) as a denoiser, and naming it in a manifest.

Two layouts are read, both as ``diffusers`` writes them with ``save_pretrained``:

* a model directory: ``config.json`` + weights of a ``UNet2DModel`` and ``scheduler_config.json``
  of a ``DDPMScheduler`` side by side (e.g. a download of ``google/ddpm-cifar10-32``);
* a pipeline directory: ``unet/`` and ``scheduler/`` subdirectories (``DDPMPipeline.save_pretrained``).

Nothing is downloaded: ``local_files_only=True``. ``diffusers`` is an optional dependency
(``pip install 'smoothcert[diffusion]'``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from smoothcert.checkpoints.store import file_sha256
from smoothcert.errors import UserError
from smoothcert.models.diffusion import DiffusionDenoiser

INSTALL_HINT = "pip install 'smoothcert[diffusion]'"


def directory_sha256(root: str | Path) -> str:
    """SHA-256 over every regular file under ``root``: sorted relative paths with each file's own SHA-256."""
    root = Path(root)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(f"{file.relative_to(root).as_posix()}\0{file_sha256(file)}\n".encode())
    return digest.hexdigest()


def load_ddpm(path: str | Path) -> tuple[Any, Any]:
    """The ``UNet2DModel`` (CPU, eval mode) and ``DDPMScheduler`` in ``path``; a ``UserError`` if unreadable."""
    try:
        from diffusers import DDPMScheduler, UNet2DModel
    except ImportError:
        raise UserError(f"--diffusion needs the diffusers package, which is not installed: {INSTALL_HINT}") from None
    root = Path(path)
    if not root.is_dir():
        raise UserError(f"diffusion model directory {root} does not exist; pass a directory holding a UNet2DModel "
                        "and a DDPMScheduler (saved with save_pretrained)")
    nested = (root / "unet").is_dir()
    unet_dir, scheduler_dir = (root / "unet", root / "scheduler") if nested else (root, root)
    for needed in (unet_dir / "config.json", scheduler_dir / "scheduler_config.json"):
        if not needed.is_file():
            raise UserError(f"diffusion model directory {root} has no {needed.relative_to(root)}: it must hold a "
                            "UNet2DModel and a DDPMScheduler saved with save_pretrained (either side by side or in "
                            "unet/ and scheduler/)")
    try:
        # low_cpu_mem_usage=False: the model is small next to its users' GPUs, and without `accelerate`
        # diffusers would print a warning of several lines at every certification.
        unet = UNet2DModel.from_pretrained(unet_dir, local_files_only=True, low_cpu_mem_usage=False)
        scheduler = DDPMScheduler.from_pretrained(scheduler_dir, local_files_only=True)
    except Exception as exc:  # noqa: BLE001  diffusers raises OSError, ValueError, EnvironmentError, JSON errors ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot load the diffusion model in {root}: {first}") from None
    prediction = scheduler.config.get("prediction_type", "epsilon")
    if prediction != "epsilon":
        raise UserError(f"the diffusion model in {root} predicts {prediction!r}; only noise-predicting "
                        "(prediction_type 'epsilon') DDPMs are supported")
    return unet.eval(), scheduler


def load_diffusion_denoiser(path: str | Path, *, sigma: float, input_shape: tuple[int, ...], steps: int = 1,
                            dtype: torch.dtype | None = None) -> tuple[DiffusionDenoiser, dict[str, Any]]:
    """A :class:`DiffusionDenoiser` for inputs of ``input_shape`` (C, H, W) at ``sigma``, and its manifest fields.

    The fields: resolved path, directory SHA-256, network and scheduler classes, resolution,
    the timestep t and its ``alpha_bar``, the timesteps run, the dtype and the timestep rule.
    """
    unet, scheduler = load_ddpm(path)
    if len(input_shape) != 3:
        raise UserError(f"diffusion denoising needs image inputs (C, H, W), got shape {tuple(input_shape)}")
    channels = int(unet.config.in_channels)
    if channels != input_shape[0] or int(unet.config.out_channels) != input_shape[0]:
        raise UserError(f"the diffusion model in {path} works on {channels}-channel images but the classifier takes "
                        f"{input_shape[0]}: use a diffusion model trained on images like the classifier's")
    size = unet.config.sample_size
    resolution = (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))
    denoiser = DiffusionDenoiser(unet, scheduler.alphas_cumprod, sigma, steps=steps, resolution=resolution,
                                 dtype=dtype, input_size=(int(input_shape[1]), int(input_shape[2])))
    fields = {
        "path": str(Path(path).resolve()), "sha256": directory_sha256(path),
        "network": type(unet).__name__, "scheduler": type(scheduler).__name__,
        "num_train_timesteps": int(scheduler.config.num_train_timesteps), "resolution": list(resolution),
        "downsample": denoiser.factor, "timestep": denoiser.timestep,
        "alpha_bar": denoiser.alpha_bar(denoiser.timestep), "timesteps": list(denoiser.timesteps),
        "steps": len(denoiser.timesteps), "dtype": "float32" if dtype is None else str(dtype).removeprefix("torch."),
        "timestep_rule": denoiser.rule, "clamp": [-1.0, 1.0],
    }
    return denoiser, fields
