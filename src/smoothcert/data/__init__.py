"""Datasets, registered by name. Images are float32 in [0, 1]; normalization lives in the model."""

from smoothcert.data import cifar10, digits, imagefolder, mnist, synthetic  # noqa: F401  (registers the datasets)
from smoothcert.data.base import (
    DatasetInfo,
    TensorData,
    create_dataset,
    dataset_info,
    list_datasets,
    register_dataset,
)
from smoothcert.data.idx import read_idx

__all__ = [
    "DatasetInfo",
    "TensorData",
    "create_dataset",
    "dataset_info",
    "list_datasets",
    "read_idx",
    "register_dataset",
]
