"""Tiny datasets written in the real on-disk formats, for tests.

``write_cifar`` emits the pickle opcodes of the original ``cifar-10-batches-py``
files (Python 2 cPickle, protocol 2, numpy 1.x arrays): a dict of byte-string
keys holding ``batch_label``, ``labels`` (list of ints), ``data`` (a uint8
ndarray via ``numpy.core.multiarray._reconstruct``) and ``filenames``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image


def _str(raw: bytes) -> bytes:
    """Python 2 ``str``: SHORT_BINSTRING or BINSTRING."""
    return b"U" + bytes([len(raw)]) + raw if len(raw) < 256 else b"T" + struct.pack("<i", len(raw)) + raw


def _int(value: int) -> bytes:
    if 0 <= value < 256:
        return b"K" + bytes([value])
    if 0 <= value < 65536:
        return b"M" + struct.pack("<H", value)
    return b"J" + struct.pack("<i", value)


def _uint8_array(array: np.ndarray) -> bytes:
    """A numpy 1.x pickle of a C-contiguous uint8 array."""
    shape = b"".join(_int(s) for s in array.shape) + {1: b"\x85", 2: b"\x86", 3: b"\x87"}[array.ndim]
    dtype = (b"cnumpy\ndtype\n" + _str(b"u1") + b"K\x00K\x01\x87R"
             + b"(K\x03" + _str(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _str(b"b") + b"\x87R"
            + b"(K\x01" + shape + dtype + b"\x89" + _str(array.tobytes()) + b"tb")


def cifar_batch_bytes(images: np.ndarray, labels: list[int], name: bytes = b"training batch 1 of 5") -> bytes:
    """The bytes of one ``data_batch_k``/``test_batch`` file for uint8 ``images`` (N, 3, 32, 32)."""
    flat = np.ascontiguousarray(images.reshape(len(images), 3072), dtype=np.uint8)
    items = (_str(b"batch_label") + _str(name)
             + _str(b"labels") + b"](" + b"".join(_int(v) for v in labels) + b"e"
             + _str(b"data") + _uint8_array(flat)
             + _str(b"filenames") + b"](" + b"".join(_str(f"img_{i}.png".encode()) for i in range(len(labels))) + b"e")
    return b"\x80\x02}(" + items + b"u."


def write_cifar(
    directory: Path, per_batch: int = 3, test: int = 4, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A fake ``cifar-10-batches-py`` (5 train batches + test batch); returns the arrays per split."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {"train": ([], []), "test": ([], [])}
    names = [(f"data_batch_{i}", "train", per_batch) for i in range(1, 6)] + [("test_batch", "test", test)]
    for filename, split, n in names:
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n)
        (directory / filename).write_bytes(cifar_batch_bytes(images, [int(v) for v in labels]))
        out[split][0].append(images)
        out[split][1].append(labels)
    return {split: (np.concatenate(x), np.concatenate(y)) for split, (x, y) in out.items()}


def write_mnist(directory: Path, n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw (uncompressed) MNIST IDX files, the same images for train and test."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + b"".join(struct.pack(">I", s) for s in array.shape)
            (directory / f"{prefix}-{kind}-ubyte").write_bytes(header + array.tobytes())
    return images, labels


def write_image_folder(root: Path, classes: dict[str, list[tuple[int, int, tuple[int, int, int]]]],
                       splits: tuple[str, ...] = ("train", "val")) -> None:
    """PNG files ``root/<split>/<class>/img_k.png`` of uniform colour; ``classes[name]`` lists (w, h, rgb)."""
    for split in splits:
        for name, specs in classes.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for k, (width, height, rgb) in enumerate(specs):
                Image.new("RGB", (width, height), rgb).save(folder / f"img_{k}.png")
