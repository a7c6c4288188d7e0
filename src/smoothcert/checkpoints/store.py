"""Checkpoints: plain values and tensors only, loadable with ``weights_only=True``.

A checkpoint records everything needed to certify the model correctly without
the user remembering how it was trained: ``arch``, ``dataset``, ``num_classes``,
``input_shape``, ``mean``/``std`` (the NormalizeLayer), training ``sigma`` (None for a
noise-free classifier), ``method``, the resolved ``config``, plus ``state_dict`` and, for resuming,
``epoch``, ``optimizer``, ``scheduler`` and ``rng_state``. Newer checkpoints also hold
``arch_args`` (the architecture's options, e.g. a DnCNN's depth), ``role`` (``"classifier"`` or
``"denoiser"``) and, for a denoiser fine-tuned against a classifier or a run started from another's
weights, ``classifier`` / ``init``: the path, SHA-256 and architecture of that file.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from smoothcert._io import atomic_write
from smoothcert.checkpoints.legacy import convert_legacy, describe_load_error, is_legacy
from smoothcert.errors import UserError
from smoothcert.models import create_model

FORMAT = "smoothcert-checkpoint-1"
REQUIRED = ("arch", "dataset", "num_classes", "input_shape", "mean", "std", "sigma", "method", "state_dict")
CHECKPOINT_NAME = "checkpoint.pt"


def checkpoint_path(path: str | Path) -> Path:
    """``path`` itself, or ``path/checkpoint.pt`` when ``path`` is a run directory."""
    path = Path(path)
    return path / CHECKPOINT_NAME if path.is_dir() else path


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (plus the format tag) atomically: a crash never leaves half a file."""
    data = {"format": FORMAT, **payload}
    buffer = io.BytesIO()
    torch.save(data, buffer)
    atomic_write(path, lambda fh: fh.write(buffer.getvalue()))


def load_checkpoint(path: str | Path, *, legacy_normalization: str | None = None) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (no code can run) and check its keys.

    A checkpoint of the original randomized-smoothing code is converted on the fly
    (:mod:`smoothcert.checkpoints.legacy`; ``legacy_normalization`` picks its input
    normalization, its ``sigma`` is None). Raises ``UserError`` for a missing,
    truncated, corrupt or foreign file.
    """
    file = checkpoint_path(path)
    if not file.is_file():
        raise UserError(f"checkpoint {file} does not exist; pass a checkpoint file or a run directory")
    try:
        data = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  untrusted bytes: torch raises IndexError, struct.error, MemoryError, ...
        reason = describe_load_error(exc)
        raise UserError(f"{file} is not a loadable checkpoint (corrupt, truncated or unsafe): {reason}") from None
    if not isinstance(data, dict):
        raise UserError(f"{file} is not a smoothcert checkpoint (it holds a {type(data).__name__})")
    if is_legacy(data):
        data = convert_legacy(data, normalization=legacy_normalization, origin=str(file))
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise UserError(f"{file} is not a smoothcert checkpoint: missing {', '.join(missing)}")
    return data


def model_from_checkpoint(ckpt: dict[str, Any]) -> nn.Module:
    """Rebuild the model (normalization first, with the checkpoint's ``arch_args``) and load its weights."""
    model = create_model(ckpt["arch"], int(ckpt["num_classes"]), tuple(ckpt["input_shape"]), ckpt["mean"], ckpt["std"],
                         **dict(ckpt.get("arch_args") or {}))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise UserError(f"checkpoint weights do not fit architecture {ckpt['arch']!r}: {first}") from None
    _check_finite(ckpt["state_dict"])
    return model


def _check_finite(state: dict[str, Any]) -> None:
    """A ``UserError`` naming the first weight with NaN or infinite entries (it could only vote NaN)."""
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise UserError(
                f"checkpoint weight {key!r} holds NaN or infinite values (training diverged?); "
                "retrain with a smaller --lr, or use an earlier checkpoint"
            )


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (the checkpoint's identity in a certification manifest)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_legacy(src: str | Path, dst: str | Path, *, sigma: float | None = None,
                  normalization: str | None = None) -> Path:
    """Write the legacy checkpoint ``src`` as a native smoothcert checkpoint ``dst`` (atomically).

    ``sigma`` records the training noise so that ``certify`` needs no ``--sigma``.
    Refuses to overwrite ``dst``.
    """
    dst = Path(dst)
    if dst.exists():
        raise UserError(f"{dst} exists; choose another output path")
    converted = load_checkpoint(src, legacy_normalization=normalization)
    if converted.get("method") != "legacy":
        raise UserError(f"{src} is already a smoothcert checkpoint")
    converted["sigma"] = None if sigma is None else float(sigma)
    save_checkpoint(dst, converted)
    return dst
