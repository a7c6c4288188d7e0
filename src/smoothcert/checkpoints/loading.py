"""A ready smoothed classifier from a checkpoint: the Python API's way in (``Smooth.from_checkpoint``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from smoothcert.checkpoints.store import load_checkpoint, model_from_checkpoint

if TYPE_CHECKING:
    from smoothcert.smooth import Smooth


def load_smooth(cls: type[Smooth], path: str | Path, *, device: str | torch.device = "cpu",
                sigma: float | None = None) -> Smooth:
    """``cls(model, num_classes, sigma, input_shape)`` for the checkpoint at ``path``.

    The model is rebuilt (normalization first), given the exact rewrites the
    command line applies (:func:`smoothcert.certify.rewrites.prepare_model`: the
    same logits bit for bit, faster on CPU), in eval mode on ``device``. ``sigma``
    defaults to the training sigma; a legacy checkpoint without one needs it.
    Raises :class:`smoothcert.errors.UserError` (a ``ValueError``-like message)
    for a missing or corrupt file.
    """
    from smoothcert.certify.rewrites import prepare_model

    ckpt = load_checkpoint(path)
    if sigma is None:
        if ckpt["sigma"] is None:
            raise ValueError(f"{path} does not record its training sigma; pass sigma=...")
        sigma = float(ckpt["sigma"])
    model, _ = prepare_model(model_from_checkpoint(ckpt), torch.device(device))
    return cls(model, int(ckpt["num_classes"]), sigma, input_shape=tuple(int(s) for s in ckpt["input_shape"]))
