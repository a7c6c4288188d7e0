"""Checkpoints: save, load (safely, ``weights_only``), rebuild the model; the original code's format converted."""

from smoothcert.checkpoints.store import (
    CHECKPOINT_NAME,
    checkpoint_path,
    file_sha256,
    load_checkpoint,
    model_from_checkpoint,
    save_checkpoint,
)

__all__ = ["CHECKPOINT_NAME", "checkpoint_path", "file_sha256", "load_checkpoint", "model_from_checkpoint",
           "save_checkpoint"]
