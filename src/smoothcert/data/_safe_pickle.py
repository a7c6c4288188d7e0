"""A restricted unpickler for the numpy pickles of CIFAR-10's python batches.

Unpickling can run arbitrary code: a pickle names a callable (``GLOBAL``) and
calls it (``REDUCE``). This unpickler resolves exactly three names, the ones the
original CIFAR-10 files reference (Python 2 cPickle, protocol 2, numpy 1.x):

* ``numpy.core.multiarray._reconstruct`` (creates an empty ndarray),
* ``numpy.ndarray`` (its argument),
* ``numpy.dtype`` (refused when it describes Python objects).

Every other name, and persistent ids, raise :class:`UnsafePickleError`, so no
other callable can be reached. Plain containers, numbers and strings need no
names. Strings are read with ``encoding="latin1"`` (Python 2 ``str`` becomes
``str``; numpy turns latin-1 array payloads back into bytes).
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

try:  # numpy >= 2 moved the implementation to numpy._core; numpy.core warns on access
    from numpy._core.multiarray import _reconstruct  # type: ignore[attr-defined, unused-ignore]
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[attr-defined, no-redef, unused-ignore]


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle references a global that is not on the allow-list."""


def _plain_dtype(*args: Any) -> np.dtype:
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise UnsafePickleError(f"dtype {dtype} holds Python objects")
    return dtype


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _plain_dtype,
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"refusing to load global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refusing to load a persistent id")


def load_numpy_pickle(raw: bytes) -> Any:
    """Unpickle ``raw`` allowing only plain containers and numpy arrays of plain dtypes.

    Raises:
        UnsafePickleError: the pickle names any other global (nothing was run).
        pickle.UnpicklingError, EOFError, ValueError, TypeError: malformed data.
    """
    return _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
