"""Base models made of parts: a classifier checkpoint, optionally behind a denoiser or a diffusion model.

:func:`build_base_model` is what ``certify``/``predict``/``attack`` load when given
``--denoiser`` or ``--diffusion``: one ``nn.Module`` (batch in, logits out) and the
manifest fields that identify every part (file hashes, architectures, the
diffusion timestep, sigma, dtype), so a certificate names the model that ran.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from smoothcert.checkpoints.store import checkpoint_path, file_sha256, load_checkpoint, model_from_checkpoint
from smoothcert.errors import UserError
from smoothcert.models.composite import Denoised

DTYPES = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}


def role(ckpt: dict[str, Any]) -> str:
    """``"denoiser"`` or ``"classifier"`` (checkpoints from before denoisers existed are classifiers)."""
    return str(ckpt.get("role", "classifier"))


def load_part(path: str | Path, expected: str, *, flag: str) -> tuple[dict[str, Any], nn.Module, dict[str, Any]]:
    """Load a checkpoint that must be a ``expected`` (classifier or denoiser): the checkpoint, its model
    (CPU, eval mode), and the fields that identify it (resolved path, SHA-256, arch, method, training sigma).

    ``flag`` names where the path came from, for the error message when it is the other kind.
    """
    ckpt = load_checkpoint(path)
    found = role(ckpt)
    if found != expected:
        if flag == "checkpoint":
            hint = "pass it as --denoiser and a classifier checkpoint as CKPT"
        elif expected == "classifier":
            hint = "give a classifier checkpoint"
        else:
            hint = "give a denoiser checkpoint (trained by denoise_mse or denoise_stability)"
        raise UserError(f"{flag} {path} is a {found} (method {ckpt['method']}), not a {expected}: {hint}")
    model = model_from_checkpoint(ckpt).eval()
    file = checkpoint_path(path)
    fields = {
        "path": str(Path(file).resolve()), "sha256": file_sha256(file), "arch": ckpt["arch"],
        "arch_args": dict(ckpt.get("arch_args") or {}), "method": ckpt["method"],
        "train_sigma": None if ckpt["sigma"] is None else float(ckpt["sigma"]), "dataset": ckpt["dataset"],
        "input_shape": [int(s) for s in ckpt["input_shape"]], "num_classes": int(ckpt["num_classes"]),
    }
    return ckpt, model, fields


def build_base_model(
    checkpoint: str | Path,
    *,
    denoiser: str | Path | None = None,
    diffusion: str | Path | None = None,
    diffusion_steps: int = 1,
    diffusion_dtype: str | None = None,
    sigma: float,
    device: torch.device | str,
) -> tuple[nn.Module, dict[str, Any]]:
    """The base model to smooth: the classifier of ``checkpoint``, behind a denoiser or a diffusion model.

    Args:
        checkpoint: classifier run directory or checkpoint file.
        denoiser: a denoiser run directory or checkpoint (``denoise_mse`` / ``denoise_stability``).
        diffusion: a directory holding a DDPM ``UNet2DModel`` and ``DDPMScheduler`` (diffusers layout);
            read from local files only.
        diffusion_steps: 1 for one-shot denoising (Carlini et al. 2023), more for deterministic multi-step.
        diffusion_dtype: None (float32), ``"bfloat16"`` or ``"float16"`` for the diffusion network.
        sigma: the smoothing noise the parts are used at.
        device: where the model runs.

    Returns:
        ``(model, fields)``: the module in eval mode on ``device`` (``Denoised`` when there is a
        denoiser, else the classifier), and ``{"classifier": {...}, "denoiser": {...} or None,
        "diffusion": {...} or None, "sigma": sigma}``. A denoiser trained at another sigma, or
        fine-tuned for another classifier, prints one ``warning: ...`` line on stderr.

    Raises:
        UserError: a missing or malformed part, parts that do not fit (input shape, channels,
            classes), both ``denoiser`` and ``diffusion``, or a denoiser given as the classifier.

    Example:
        >>> model, fields = build_base_model("runs/lenet", denoiser="runs/dncnn", sigma=0.25, device="cpu")
        >>> smooth = Smooth(model, num_classes=10, sigma=0.25)
    """
    if denoiser is not None and diffusion is not None:
        raise UserError("give either --denoiser or --diffusion, not both")
    if diffusion is None and (diffusion_steps != 1 or diffusion_dtype is not None):
        raise UserError("--diffusion-steps and the diffusion dtype apply only with --diffusion DIR")
    _, classifier, classifier_fields = load_part(checkpoint, "classifier", flag="checkpoint")
    fields: dict[str, Any] = {"classifier": classifier_fields, "denoiser": None, "diffusion": None,
                              "sigma": float(sigma)}
    shape = tuple(classifier_fields["input_shape"])
    front: nn.Module | None = None
    if denoiser is not None:
        front, fields["denoiser"] = _trained_denoiser(denoiser, classifier_fields, sigma)
    elif diffusion is not None:
        from smoothcert.checkpoints.diffusion_dir import load_diffusion_denoiser

        dtype = _dtype(diffusion_dtype)
        front, fields["diffusion"] = load_diffusion_denoiser(diffusion, sigma=sigma, input_shape=shape,
                                                             steps=diffusion_steps, dtype=dtype)
    model = (classifier if front is None else Denoised(front, classifier)).to(device).eval()
    if front is not None:
        _check_output(model, shape, classifier_fields["num_classes"], device)
    return model, fields


def _check_output(model: nn.Module, shape: tuple[int, ...], classes: int, device: torch.device | str) -> None:
    """One forward pass of a zero image: the composite must give one row of ``classes`` logits."""
    with torch.inference_mode():
        out = model(torch.zeros(1, *shape, device=device))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, classes):
        found = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserError(f"denoiser and classifier do not fit: one input of shape {shape} gives {found}, "
                        f"not (1, {classes}) logits")


def _trained_denoiser(path: str | Path, classifier: dict[str, Any], sigma: float) -> tuple[nn.Module, dict[str, Any]]:
    ckpt, model, fields = load_part(path, "denoiser", flag="--denoiser")
    if fields["input_shape"] != classifier["input_shape"]:
        raise UserError(f"denoiser {path} takes inputs {tuple(fields['input_shape'])} but the classifier "
                        f"{classifier['path']} takes {tuple(classifier['input_shape'])}: train the denoiser on "
                        f"the classifier's dataset ({classifier['dataset']})")
    fields["classifier_sha256"] = (ckpt.get("classifier") or {}).get("sha256")
    trained = fields["train_sigma"]
    if trained is not None and abs(trained - sigma) > 1e-12:
        print(f"warning: denoiser {path} was trained at sigma {trained:g} and is used at sigma {sigma:g}; "
              "it removes the noise it was trained on, so certified accuracy may suffer", file=sys.stderr)
    if fields["classifier_sha256"] not in (None, classifier["sha256"]):
        print(f"warning: denoiser {path} was fine-tuned for another classifier (sha256 "
              f"{fields['classifier_sha256'][:12]}...), not {classifier['path']}", file=sys.stderr)
    return model, fields


def _dtype(name: str | None) -> torch.dtype | None:
    if name is None or name in ("float32", "fp32"):
        return None
    if name not in DTYPES:
        raise UserError(f"diffusion dtype must be float32, bfloat16 or float16, got {name!r}")
    return DTYPES[name]
