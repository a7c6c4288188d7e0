"""Training: one loop for every method, checkpoints, configuration."""

from smoothcert.engine.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from smoothcert.engine.config import resolve_config
from smoothcert.engine.trainer import train

__all__ = ["load_checkpoint", "model_from_checkpoint", "save_checkpoint", "resolve_config", "train"]
