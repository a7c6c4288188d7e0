"""CIFAR-10 from its python batches (``cifar-10-batches-py``), read without running code.

The directory is ``--data-dir`` or its ``cifar-10-batches-py`` subdirectory,
else the first that holds the files among ``$SMOOTHCERT_DATA_DIR/cifar10`` and
the user cache (:mod:`smoothcert.data.locations`; ``smoothcert download
cifar10`` fetches and unpacks ``cifar-10-python.tar.gz`` there). It holds
``data_batch_1`` .. ``data_batch_5`` (train, 50,000 images) and ``test_batch``
(10,000), each a pickled dict with ``data`` (uint8 array N x 3072, channel-major
32x32 RGB) and ``labels`` (N ints in 0..9). The pickles are read with a
restricted unpickler (:mod:`smoothcert.data._safe_pickle`) that resolves only
the numpy names these files use, so a tampered file cannot run code.

Images are scaled to [0, 1], shape (3, 32, 32). The training split carries the
papers' augmentation (random 4-pixel translation and horizontal flip), which
the training loop applies to each batch. Normalization statistics are those of
the original randomized-smoothing code (Cohen et al. 2019): mean (0.4914,
0.4822, 0.4465), std (0.2023, 0.1994, 0.2010).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from smoothcert.data._safe_pickle import UnsafePickleError, load_numpy_pickle
from smoothcert.data.augment import random_crop_flip
from smoothcert.data.base import DatasetInfo, TensorData, register_dataset
from smoothcert.data.layouts import FileLayout
from smoothcert.data.locations import resolve_data_dir
from smoothcert.errors import UserError

INFO = DatasetInfo("cifar10", 10, (3, 32, 32), mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010))
SUBDIR = "cifar-10-batches-py"
FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_DOWNLOAD = "run `smoothcert download cifar10 --data-dir DIR`"


def _directory(data_dir: Path) -> Path:
    if not (data_dir / FILES["test"][0]).is_file() and (data_dir / SUBDIR).is_dir():
        return data_dir / SUBDIR
    return data_dir


def _missing(data_dir: Path, split: str | None) -> list[str]:
    names = FILES[split] if split is not None else FILES["train"] + FILES["test"]
    folder = _directory(data_dir)
    return [name for name in names if not (folder / name).is_file()]


LAYOUT = FileLayout(_missing, f"{SUBDIR}/ (data_batch_1..5, test_batch)")


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (uint8 images (N, 3, 32, 32), int64 labels (N,)); ``UserError`` if bad."""
    if not path.is_file():
        raise UserError(f"CIFAR-10 file {path} not found; pass --data-dir DIR holding {SUBDIR} ({_DOWNLOAD})")
    try:
        batch = load_numpy_pickle(path.read_bytes())
    except UnsafePickleError as exc:
        raise UserError(f"{path} is not a CIFAR-10 batch and was not loaded ({exc}); download it again") from None
    except Exception as exc:  # noqa: BLE001  corrupt bytes: also MemoryError (a huge length), KeyError, ...
        raise UserError(f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}); download it again") from None
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise UserError(f"{path} is not a CIFAR-10 batch (expected a dict with 'data' and 'labels')")
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise UserError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {type(data).__name__} {shape}")
    if not isinstance(labels, list) or not all(isinstance(v, int) and 0 <= v <= 9 for v in labels):
        raise UserError(f"{path}: 'labels' must be a list of ints in 0..9")
    if len(labels) != data.shape[0]:
        raise UserError(f"{path} has {data.shape[0]} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


@register_dataset(INFO, LAYOUT)
def load(split: str, data_dir: Path | None = None) -> TensorData:
    """The CIFAR-10 ``split``; the train split augments each batch (crop + flip) in training."""
    found = resolve_data_dir(INFO.name, data_dir, split=split)
    assert found is not None
    directory = _directory(found)
    if not directory.is_dir():
        raise UserError(f"CIFAR-10 directory {directory} does not exist; pass --data-dir DIR ({_DOWNLOAD})")
    parts = [read_batch(directory / name) for name in FILES[split]]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    tensor = torch.from_numpy(images).float().div_(255.0)
    augment = random_crop_flip if split == "train" else None
    return TensorData(tensor, torch.from_numpy(labels), INFO, augment=augment)
