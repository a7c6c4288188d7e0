"""sklearn's bundled 8x8 handwritten digits: the default dataset that needs no files.

1,797 images, pixel values 0..16 scaled to [0, 1], shape (1, 8, 8), 10 classes.
The split is fixed: a permutation drawn with ``numpy.random.default_rng(0)``;
its first 360 indices are the test set, the other 1,437 the training set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from smoothcert.data.base import DatasetInfo, TensorData, register_dataset

TEST_SIZE = 360
# Per-channel mean and std of the training split, for the model's NormalizeLayer.
INFO = DatasetInfo("digits", 10, (1, 8, 8), mean=(0.3049,), std=(0.3759,))


@register_dataset(INFO)
def load(split: str, data_dir: Path | None = None) -> TensorData:
    """The fixed train or test split of sklearn's digits (``data_dir`` is ignored)."""
    bunch = load_digits()
    images = np.asarray(bunch.data, dtype=np.float32).reshape(-1, 1, 8, 8) / 16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    chosen = order[:TEST_SIZE] if split == "test" else order[TEST_SIZE:]
    return TensorData(torch.from_numpy(images[chosen]), torch.from_numpy(labels[chosen]), INFO)
