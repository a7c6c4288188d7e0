"""The dataset registry and the in-memory dataset type.

A dataset is registered with its :class:`DatasetInfo` (classes, input shape,
suggested normalization) and a loader ``(split, data_dir) -> TensorData``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from smoothcert._registry import Registry
from smoothcert.data.layouts import FileLayout, register_layout
from smoothcert.errors import UserError

SPLITS = ("train", "test")


@dataclass(frozen=True)
class DatasetInfo:
    """What a model must know about a dataset: classes, input shape, normalization."""

    name: str
    num_classes: int
    input_shape: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]


class TensorData(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """A dataset held in memory: ``images`` float32 in [0, 1], ``labels`` int64.

    ``augment``, when given, is a random batch transform ``(N, C, H, W) -> same``
    that the training loop applies to each training batch (e.g. CIFAR-10's crop
    and flip); indexing the dataset never applies it.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, info: DatasetInfo,
                 augment: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        if tuple(images.shape[1:]) != info.input_shape:
            raise ValueError(f"images of shape {tuple(images.shape[1:])}, expected {info.input_shape}")
        self.images = images.float().contiguous()
        self.labels = labels.long().contiguous()
        self.info = info
        self.augment = augment

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]


Loader = Callable[[str, "Path | None"], TensorData]
_LOADERS: Registry[Loader] = Registry("dataset")
_INFOS: dict[str, DatasetInfo] = {}


def register_dataset(info: DatasetInfo, layout: FileLayout | None = None) -> Callable[[Loader], Loader]:
    """Decorator registering a loader ``(split, data_dir) -> TensorData`` under ``info.name``.

    ``layout`` says which files make a directory hold the dataset, for
    :func:`smoothcert.data.locations.resolve_data_dir` (None: it reads no files).
    """

    def decorator(fn: Loader) -> Loader:
        _LOADERS.register(info.name)(fn)
        _INFOS[info.name] = info
        if layout is not None:
            register_layout(info.name, layout)
        return fn

    return decorator


def create_dataset(name: str, split: str = "train", data_dir: str | Path | None = None) -> TensorData:
    """Load the ``split`` ("train" or "test") of dataset ``name``.

    ``data_dir`` None looks for the files where
    :func:`smoothcert.data.locations.resolve_data_dir` says.

    Example:
        >>> test = create_dataset("digits", "test")
        >>> test.images.shape[1:], test.info.num_classes
    """
    loader = _LOADERS.get(name)
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    return loader(split, Path(data_dir) if data_dir is not None else None)


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of a registered dataset, without loading it."""
    _LOADERS.get(name)
    return _INFOS[name]


def list_datasets() -> list[str]:
    """Names of the registered datasets."""
    return _LOADERS.names()
