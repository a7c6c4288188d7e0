"""smoothcert: certified robustness by randomized smoothing.

Train base classifiers for smoothing, certify them with exact statistics, and
analyze the results. The core API::

    from smoothcert import Smooth
    smooth = Smooth(model, num_classes=10, sigma=0.5)
    cert = smooth.certify(x, n0=100, n=100_000, alpha=0.001)
"""

__version__ = "0.2.0"

from smoothcert import stats  # noqa: E402
from smoothcert.data import create_dataset, list_datasets  # noqa: E402
from smoothcert.methods import create_method, list_methods  # noqa: E402
from smoothcert.models import NormalizeLayer, create_model, list_models  # noqa: E402
from smoothcert.smooth import Certificate, Smooth  # noqa: E402

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
