"""smoothcert: certified robustness by randomized smoothing.

Train base classifiers for smoothing, certify them with exact statistics, and
analyze the results. The core API::

    from smoothcert import Smooth
    smooth = Smooth(model, num_classes=10, sigma=0.5)
    cert = smooth.certify(x, n0=100, n=100_000, alpha=0.001)
"""

from smoothcert import stats
from smoothcert.smooth import Certificate, Smooth

__version__ = "0.1.0"

__all__ = ["Smooth", "Certificate", "stats", "__version__"]
