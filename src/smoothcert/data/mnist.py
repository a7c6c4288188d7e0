"""MNIST from its four IDX files (``.gz`` or decompressed) in ``--data-dir``.

Images are 28x28 uint8 scaled to [0, 1], shape (1, 28, 28). The directory is
``data_dir``, else the first that holds the files among
``$SMOOTHCERT_DATA_DIR/mnist`` and the user cache
(:mod:`smoothcert.data.locations`); ``smoothcert download mnist`` fetches them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from smoothcert.data.base import DatasetInfo, TensorData, register_dataset
from smoothcert.data.idx import read_idx
from smoothcert.data.layouts import FileLayout
from smoothcert.data.locations import resolve_data_dir
from smoothcert.errors import UserError

INFO = DatasetInfo("mnist", 10, (1, 28, 28), mean=(0.1307,), std=(0.3081,))
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _missing(directory: Path, split: str | None) -> list[str]:
    stems = _FILES[split] if split is not None else _FILES["train"] + _FILES["test"]
    return [f"{stem}[.gz]" for stem in stems
            if not ((directory / stem).is_file() or (directory / f"{stem}.gz").is_file())]


LAYOUT = FileLayout(_missing, "the IDX files (train|t10k)-(images-idx3|labels-idx1)-ubyte[.gz]")


def _find(directory: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (directory / name).is_file():
            return directory / name
    raise UserError(f"MNIST file {stem}[.gz] not found in {directory}; pass --data-dir DIR holding the IDX files")


@register_dataset(INFO, LAYOUT)
def load(split: str, data_dir: Path | None = None) -> TensorData:
    """Load the MNIST ``split``; checks magic numbers, sizes, and label range."""
    directory = resolve_data_dir(INFO.name, data_dir, split=split)
    assert directory is not None
    image_file, label_file = (_find(directory, stem) for stem in _FILES[split])
    images = read_idx(image_file, expected_ndim=3)
    labels = read_idx(label_file, expected_ndim=1)
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise UserError(f"{image_file} holds {images.shape[1:]} {images.dtype} images, expected 28x28 uint8")
    if images.shape[0] != labels.shape[0]:
        raise UserError(f"{image_file} has {images.shape[0]} images but {label_file} has {labels.shape[0]} labels")
    if labels.size and int(labels.max()) > 9:
        raise UserError(f"{label_file} has label {int(labels.max())}; MNIST labels are 0..9")
    tensor = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return TensorData(tensor, torch.from_numpy(labels.astype(np.int64)), INFO)
