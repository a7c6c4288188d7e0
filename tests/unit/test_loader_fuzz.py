"""Property-based tests (hypothesis) of the file loaders on random and malformed bytes.

Whatever the bytes, a loader returns well-formed data or raises ``UserError``
(one clear line for the command line), never another exception. The inputs
are random bytes, valid files with bytes flipped, cut short or extended, and
random bytes behind a valid header, so that the fuzzing reaches past the magic
number checks.
"""

from __future__ import annotations

import gzip
import io
import struct
import tempfile
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smoothcert.checkpoints.store import load_checkpoint
from smoothcert.data.cifar10 import read_batch
from smoothcert.data.idx import read_idx
from smoothcert.errors import UserError
from smoothcert.models import create_model
from tests.unit.fake_data import cifar_batch_bytes

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _idx(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", s) for s in array.shape) + (
        array.astype(np.uint8).tobytes())


VALID_IDX = _idx(np.arange(2 * 3 * 4).reshape(2, 3, 4))
VALID_BATCH = cifar_batch_bytes(np.arange(2 * 3072, dtype=np.int64).reshape(2, 3, 32, 32).astype(np.uint8), [3, 9])


def _checkpoint_bytes() -> bytes:
    model = create_model("mlp", 2, (1, 2, 2))
    buffer = io.BytesIO()
    torch.save({"format": "smoothcert-checkpoint-1", "arch": "mlp", "dataset": "synthetic", "num_classes": 2,
                "input_shape": [1, 2, 2], "mean": [0.0], "std": [1.0], "sigma": 0.5, "method": "gaussian",
                "state_dict": model.state_dict()}, buffer)
    return buffer.getvalue()


VALID_CKPT = _checkpoint_bytes()


@st.composite
def mangled(draw: st.DrawFn, valid: bytes) -> bytes:
    """``valid`` with random flips, a random cut, or random bytes appended (or pure noise)."""
    kind = draw(st.sampled_from(["flip", "cut", "append", "noise"]))
    if kind == "noise":
        return draw(st.binary(max_size=2048))
    data = bytearray(valid)
    if kind == "flip":
        for _ in range(draw(st.integers(min_value=1, max_value=8))):
            at = draw(st.integers(min_value=0, max_value=len(data) - 1))
            data[at] = draw(st.integers(min_value=0, max_value=255))
        return bytes(data)
    if kind == "cut":
        return bytes(data[: draw(st.integers(min_value=0, max_value=len(data)))])
    return bytes(data) + draw(st.binary(min_size=1, max_size=64))


def _write(raw: bytes, name: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix="smoothcert-fuzz-"))
    (directory / name).write_bytes(raw)
    return directory / name


@FUZZ
@given(st.one_of(st.binary(max_size=512), mangled(VALID_IDX),
                 st.builds(lambda head, body: head + body,
                           st.sampled_from([b"\0\0\x08\x01", b"\0\0\x08\x03", b"\0\0\x0d\x02", b"\0\0\x0c\x00"]),
                           st.binary(max_size=256))))
def test_read_idx_returns_an_array_or_raises_user_error(raw: bytes) -> None:
    for data in (raw, gzip.compress(raw), gzip.compress(raw)[: max(len(raw) // 2, 1)]):
        path = _write(data, "file-idx-ubyte")
        try:
            array = read_idx(path)
        except UserError as exc:
            assert "\n" not in str(exc)
        else:
            assert isinstance(array, np.ndarray)


def test_read_idx_reads_the_valid_file() -> None:
    assert read_idx(_write(VALID_IDX, "ok")).tolist() == np.arange(24).reshape(2, 3, 4).tolist()


@FUZZ
@given(mangled(VALID_BATCH))
def test_cifar_batch_returns_images_or_raises_user_error(raw: bytes) -> None:
    path = _write(raw, "test_batch")
    try:
        images, labels = read_batch(path)
    except UserError as exc:
        assert "\n" not in str(exc)
    else:
        assert images.dtype == np.uint8 and images.shape[1:] == (3, 32, 32) and len(labels) == len(images)
        assert labels.dtype == np.int64 and ((labels >= 0) & (labels <= 9)).all()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled(VALID_CKPT))
def test_checkpoint_loads_or_raises_user_error(raw: bytes) -> None:
    path = _write(raw, "checkpoint.pt")
    try:
        ckpt = load_checkpoint(path)
    except UserError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(ckpt, dict) and "state_dict" in ckpt  # a flip inside a value may still load
