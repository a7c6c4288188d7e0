"""Choosing the device a command runs on."""

from __future__ import annotations

import torch

from smoothcert.errors import UserError


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; otherwise ``torch.device(name)``, checked to exist here.

    Raises:
        UserError: ``name`` is not a device, or names a CUDA device this machine
            does not have (no CUDA build, no visible GPU, or an index past the
            last GPU), or MPS where it is not available.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:K") from None
    missing = _why_missing(device)
    if missing:
        raise UserError(f"device {name!r} is not available ({missing}); use --device auto or cpu, "
                        "or cuda:K for a GPU this machine has")
    return device


def _why_missing(device: torch.device) -> str:
    """Why ``device`` cannot be used on this machine; empty when it can."""
    if device.type == "cuda":
        if torch.version.cuda is None and torch.version.hip is None:
            return f"this torch {torch.__version__} is built without CUDA"
        count = torch.cuda.device_count()
        if count == 0:
            return "no GPU is visible: check the driver and CUDA_VISIBLE_DEVICES"
        if device.index is not None and device.index >= count:
            gpus = "1 GPU, cuda:0" if count == 1 else f"{count} GPUs, cuda:0 to cuda:{count - 1}"
            return f"this machine has {gpus}"
    if device.type == "mps" and not torch.backends.mps.is_available():
        return "MPS needs Apple silicon and a torch built with MPS"
    return ""
