"""A tiny generated dataset for tests: 4 classes of noisy 4x4 prototypes in [0, 1].

Deterministic (seeded); 256 training and 64 test images. Learnable in a few
epochs, so tests can train and certify in seconds.
"""

from __future__ import annotations

from pathlib import Path

import torch

from smoothcert.data.base import DatasetInfo, TensorData, register_dataset

INFO = DatasetInfo("synthetic", 4, (1, 4, 4), mean=(0.5,), std=(0.25,))
_SIZES = {"train": 256, "test": 64}


@register_dataset(INFO)
def load(split: str, data_dir: Path | None = None) -> TensorData:
    """Class c is prototype c (a fixed random 0/1 pattern) plus noise of std 0.1, clipped."""
    prototypes = torch.rand((4, 1, 4, 4), generator=torch.Generator().manual_seed(1234)).round()
    gen = torch.Generator().manual_seed(0 if split == "train" else 1)
    size = _SIZES[split]
    labels = torch.arange(size) % 4
    images = prototypes[labels] + 0.1 * torch.randn((size, 1, 4, 4), generator=gen)
    return TensorData(images.clamp(0.0, 1.0), labels, INFO)
