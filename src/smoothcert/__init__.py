"""smoothcert: certified robustness by randomized smoothing.

Train base classifiers for smoothing, certify them with exact statistics, and
analyze the results. The core API::

    from smoothcert import Smooth
    smooth = Smooth(model, num_classes=10, sigma=0.5)
    cert = smooth.certify(x, n0=100, n=100_000, alpha=0.001)

Importing the package is cheap: each name below is imported from its module on
first use (PEP 562), so ``smoothcert --help`` does not wait for torch or scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.2.0"

if TYPE_CHECKING:
    from smoothcert import stats
    from smoothcert.data import create_dataset, list_datasets
    from smoothcert.methods import create_method, list_methods
    from smoothcert.models import NormalizeLayer, create_model, list_models
    from smoothcert.smooth import Certificate, Smooth

_SOURCES = {
    "Certificate": "smoothcert.smooth",
    "NormalizeLayer": "smoothcert.models",
    "Smooth": "smoothcert.smooth",
    "create_dataset": "smoothcert.data",
    "create_method": "smoothcert.methods",
    "create_model": "smoothcert.models",
    "list_datasets": "smoothcert.data",
    "list_methods": "smoothcert.methods",
    "list_models": "smoothcert.models",
    "stats": "smoothcert.stats",
}

__all__ = [
    "Certificate",
    "NormalizeLayer",
    "Smooth",
    "__version__",
    "create_dataset",
    "create_method",
    "create_model",
    "list_datasets",
    "list_methods",
    "list_models",
    "stats",
]


def __getattr__(name: str) -> object:
    """Import ``name`` from its module on first access and keep it here (later accesses are plain lookups)."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(source)
    value = module if source == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})
