"""CIFAR-10 from its python batches: exact values, directory lookup, errors, a pickle that cannot run code."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from smoothcert.data import create_dataset, dataset_info
from smoothcert.data._safe_pickle import load_numpy_pickle
from smoothcert.data.augment import random_crop_flip
from smoothcert.data.batches import BatchLoader
from smoothcert.errors import UserError
from tests.unit.fake_data import cifar_batch_bytes, write_cifar


def test_reads_train_and_test_exactly(tmp_path: Path) -> None:
    arrays = write_cifar(tmp_path, per_batch=3, test=4)
    train, test = create_dataset("cifar10", "train", tmp_path), create_dataset("cifar10", "test", tmp_path)
    assert (len(train), len(test)) == (15, 4)
    for data, (images, labels) in ((train, arrays["train"]), (test, arrays["test"])):
        torch.testing.assert_close(data.images, torch.from_numpy(images).float() / 255.0, rtol=0, atol=0)
        assert data.labels.tolist() == labels.tolist()
        assert data.images.dtype == torch.float32 and data.images.shape[1:] == (3, 32, 32)
    assert train.augment is random_crop_flip and test.augment is None


def test_rows_are_red_then_green_then_blue_planes(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    row = np.zeros(3072, dtype=np.uint8)
    row[:1024] = 255  # red plane
    row[1024 + 32 * 2 + 5] = 51  # green, row 2, column 5
    (tmp_path / "test_batch").write_bytes(cifar_batch_bytes(row.reshape(1, 3, 32, 32), [7]))
    image = create_dataset("cifar10", "test", tmp_path).images[0]
    assert float(image[0].min()) == 1.0 and float(image[1:].sum()) == pytest.approx(0.2)
    assert float(image[1, 2, 5]) == pytest.approx(0.2)


def test_info_is_the_original_codes_normalization() -> None:
    info = dataset_info("cifar10")
    assert (info.num_classes, info.input_shape) == (10, (3, 32, 32))
    assert info.mean == (0.4914, 0.4822, 0.4465) and info.std == (0.2023, 0.1994, 0.2010)


def test_finds_the_batches_subdirectory(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar-10-batches-py")
    assert len(create_dataset("cifar10", "test", tmp_path)) == 4


def test_missing_directory_and_file_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="nowhere: no such directory"):
        create_dataset("cifar10", "test", tmp_path / "nowhere")
    write_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(UserError, match=r"not found: looked in --data-dir \(.*: no data_batch_3\)"):
        create_dataset("cifar10", "train", tmp_path)


def test_truncated_and_malformed_batches_are_user_errors(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    raw = (tmp_path / "test_batch").read_bytes()
    (tmp_path / "test_batch").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(UserError, match="truncated or corrupt"):
        create_dataset("cifar10", "test", tmp_path)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({"labels": [1]}, protocol=2))
    with pytest.raises(UserError, match="expected a dict with 'data' and 'labels'"):
        create_dataset("cifar10", "test", tmp_path)
    images = np.zeros((2, 3, 32, 32), dtype=np.uint8)
    (tmp_path / "test_batch").write_bytes(cifar_batch_bytes(images, [1, 10]))
    with pytest.raises(UserError, match=r"ints in 0\.\.9"):
        create_dataset("cifar10", "test", tmp_path)
    (tmp_path / "test_batch").write_bytes(cifar_batch_bytes(images, [1]))
    with pytest.raises(UserError, match="2 images but 1 labels"):
        create_dataset("cifar10", "test", tmp_path)


class _Touch:
    """Unpickling this calls ``open(path, "w")``: it creates a file."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_a_malicious_pickle_runs_no_code(tmp_path: Path) -> None:
    control = tmp_path / "control"
    with pickle.loads(pickle.dumps(_Touch(control), protocol=2)):  # the payload works with plain pickle
        pass
    assert control.exists()
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"data": _Touch(marker), "labels": [0]}, protocol=2)
    (tmp_path / "test_batch").write_bytes(payload)
    with pytest.raises(UserError, match=r"not a CIFAR-10 batch and was not loaded \(refusing to load global"):
        create_dataset("cifar10", "test", tmp_path)
    assert not marker.exists()


def test_only_the_three_numpy_globals_resolve() -> None:
    ok = load_numpy_pickle(cifar_batch_bytes(np.zeros((1, 3, 32, 32), dtype=np.uint8), [4]))
    assert ok["labels"] == [4] and ok["data"].shape == (1, 3072)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load global numpy\.load"):
        load_numpy_pickle(b"\x80\x02cnumpy\nload\n.")
    with pytest.raises(pickle.UnpicklingError, match="holds Python objects"):
        load_numpy_pickle(b"\x80\x02cnumpy\ndtype\nU\x02O8K\x00K\x01\x87R.")
    with pytest.raises(pickle.UnpicklingError, match="persistent id"):
        load_numpy_pickle(b"\x80\x02U\x01xQ.")


def test_training_batches_are_augmented_test_batches_are_not(tmp_path: Path) -> None:
    write_cifar(tmp_path, per_batch=2)
    train = create_dataset("cifar10", "train", tmp_path)
    order = torch.arange(len(train))
    torch.manual_seed(0)
    (x, y), = list(BatchLoader(train, torch.device("cpu")).epoch(order, batch_size=10))
    torch.manual_seed(0)
    torch.testing.assert_close(x, random_crop_flip(train.images), rtol=0, atol=0)
    assert not torch.equal(x, train.images)
    assert torch.equal(y, train.labels)
    test = create_dataset("cifar10", "test", tmp_path)
    (x, _), = list(BatchLoader(test, torch.device("cpu")).epoch(torch.arange(4), batch_size=4))
    assert torch.equal(x, test.images)
