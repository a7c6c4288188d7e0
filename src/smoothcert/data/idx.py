"""Reader for the IDX format of MNIST (gzip-compressed or raw), with strict checks."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from smoothcert.errors import UserError

_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path, expected_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file; gzip is detected from the content, not the name.

    Checks the magic number (two zero bytes, a known type code, the number of
    dimensions) and that the payload holds exactly the product of the dimensions.
    Raises ``UserError`` on a missing, truncated or malformed file.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"data file {path} does not exist")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UserError(f"{path} is a truncated or corrupt gzip file ({exc}); download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise UserError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise UserError(f"{path} has {ndim} dimensions, expected {expected_ndim} (wrong file?)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path} is truncated inside its header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "longer than its header says"
        raise UserError(f"{path} is {what}: {got} data bytes, header says {expected}; download it again")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
