"""Normalization as the first layer of the model, so noise is added in [0, 1] pixel space."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class NormalizeLayer(nn.Module):
    """``(x - mean) / std`` per channel; mean and std are buffers saved with the model.

    For image inputs (N, C, H, W) the statistics are per channel; for flat feature
    vectors (N, F) per feature (or one value for all).
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float], image: bool = True) -> None:
        super().__init__()
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ValueError(f"need matching mean/std with positive std, got {mean}, {std}")
        shape = (-1, 1, 1) if image else (-1,)
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(shape))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
