"""Training: one loop for every method, and its configuration (recipes, overrides, defaults)."""

from smoothcert.train.config import resolve_config
from smoothcert.train.trainer import train

__all__ = ["resolve_config", "train"]
