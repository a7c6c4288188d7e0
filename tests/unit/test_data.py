"""Datasets: the fixed digits split, MNIST's IDX files (gz or raw) with strict checks."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from smoothcert.data import create_dataset, dataset_info, list_datasets, read_idx
from smoothcert.errors import UserError


def _idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(directory: Path, n: int = 12, compress: bool = True, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tiny MNIST in the real IDX format; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            data = _idx_bytes(array)
            name = f"{prefix}-{kind}-ubyte"
            if compress:
                (directory / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (directory / name).write_bytes(data)
    return images, labels


def test_registry_lists_datasets() -> None:
    assert {"digits", "mnist", "synthetic"} <= set(list_datasets())
    assert dataset_info("mnist").input_shape == (1, 28, 28)


def test_digits_split_is_fixed_and_disjoint() -> None:
    train, test = create_dataset("digits", "train"), create_dataset("digits", "test")
    assert (len(train), len(test)) == (1437, 360)
    assert train.images.shape[1:] == (1, 8, 8) and train.images.dtype == torch.float32
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0
    again = create_dataset("digits", "test")
    torch.testing.assert_close(test.images, again.images)
    flat_train = {tuple(row) for row in train.images.flatten(1).tolist()}
    overlap = sum(tuple(row) in flat_train for row in test.images.flatten(1).tolist())
    assert overlap <= 3  # sklearn digits holds a few duplicate images; the split itself is disjoint by index
    assert test.images.mean().item() == pytest.approx(0.3049, abs=0.01)


@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_gz_and_raw(tmp_path: Path, compress: bool) -> None:
    images, labels = write_mnist(tmp_path, compress=compress)
    data = create_dataset("mnist", "test", tmp_path)
    assert data.images.shape == (12, 1, 28, 28)
    torch.testing.assert_close(data.images[:, 0], torch.from_numpy(images).float() / 255.0)
    assert data.labels.tolist() == labels.tolist()


def test_mnist_truncated_file(tmp_path: Path) -> None:
    write_mnist(tmp_path, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(UserError, match="truncated"):
        create_dataset("mnist", "test", tmp_path)


def test_mnist_truncated_gzip(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(UserError, match="truncated or corrupt gzip"):
        create_dataset("mnist", "test", tmp_path)


def test_mnist_bad_magic(tmp_path: Path) -> None:
    write_mnist(tmp_path, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(b"\x12\x34" + path.read_bytes()[2:])
    with pytest.raises(UserError, match="magic"):
        create_dataset("mnist", "test", tmp_path)


def test_mnist_swapped_files_are_caught(tmp_path: Path) -> None:
    write_mnist(tmp_path, compress=False)
    images, labels = tmp_path / "t10k-images-idx3-ubyte", tmp_path / "t10k-labels-idx1-ubyte"
    content = images.read_bytes()
    images.write_bytes(labels.read_bytes())
    labels.write_bytes(content)
    with pytest.raises(UserError, match="dimensions"):
        create_dataset("mnist", "test", tmp_path)


def test_mnist_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="--data-dir"):
        create_dataset("mnist", "test", tmp_path / "nowhere")


def test_read_idx_roundtrip(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(_idx_bytes(array))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)


REAL_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="real MNIST not beside the checkout")
def test_real_mnist_test_split() -> None:
    data = create_dataset("mnist", "test", REAL_MNIST)
    assert data.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(data.labels).tolist()[:2] == [980, 1135]


def test_unknown_dataset_and_split() -> None:
    with pytest.raises(UserError, match="unknown dataset"):
        create_dataset("nope")
    with pytest.raises(UserError, match="unknown split"):
        create_dataset("digits", "validation")
