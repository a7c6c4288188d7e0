"""Training batches in a given order, from in-memory or lazily decoded datasets.

For a :class:`TensorData` the whole split is moved to the device once and each
batch is an index into it (then ``data.augment``, if any, is applied to the
batch). Any other dataset (``len(data)``, ``data[i] -> (image, label)``) is read
through a ``DataLoader`` whose batches follow the same order, with worker
processes decoding in parallel: ``$SMOOTHCERT_WORKERS``, default
``min(8, cpu_count)``; 0 decodes in the main process. Random transforms draw
from torch's RNG, which DataLoader seeds per worker from the global RNG, so a
seeded run is reproducible for a fixed number of workers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

from smoothcert.data.base import TensorData
from smoothcert.errors import UserError


def default_workers() -> int:
    """Decoding processes for lazy datasets: ``$SMOOTHCERT_WORKERS`` or ``min(8, cpu_count)``."""
    value = os.environ.get("SMOOTHCERT_WORKERS")
    if value is None:
        return min(8, os.cpu_count() or 1)
    if not value.isdigit():
        raise UserError(f"SMOOTHCERT_WORKERS must be a non-negative integer, got {value!r}")
    return int(value)


class BatchLoader:
    """Yields ``(inputs, targets)`` on ``device`` for an epoch's order of indices.

    Example:
        >>> loader = BatchLoader(train_data, torch.device("cpu"))
        >>> for x, y in loader.epoch(torch.randperm(len(train_data)), batch_size=256): ...
    """

    def __init__(self, data: Any, device: torch.device, workers: int | None = None) -> None:
        self.data = data
        self.device = device
        self.workers = default_workers() if workers is None else workers
        self._in_memory = isinstance(data, TensorData)
        if self._in_memory:
            self._images = data.images.to(device)
            self._labels = data.labels.to(device)

    def num_batches(self, batch_size: int) -> int:
        """Batches per epoch (the last one may be smaller)."""
        return math.ceil(len(self.data) / batch_size)

    def epoch(self, order: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches ``order[0:b], order[b:2b], ...`` as device tensors."""
        if self._in_memory:
            augment = self.data.augment
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size].to(self.device)
                images = self._images[idx]
                yield (augment(images) if augment is not None else images), self._labels[idx]
            return
        batches = [order[start : start + batch_size].tolist() for start in range(0, len(order), batch_size)]
        loader = DataLoader(self.data, batch_sampler=batches, num_workers=self.workers,
                            pin_memory=self.device.type == "cuda")
        try:
            for images, labels in loader:
                yield images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)
        except UserError as exc:  # re-raised from a worker with its traceback in the message
            last = str(exc).strip().splitlines()[-1]
            raise UserError(last.split("UserError: ", 1)[-1]) from None
