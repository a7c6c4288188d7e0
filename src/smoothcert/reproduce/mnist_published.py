"""The published numbers of the MNIST table of Jeong & Shin (2020).

Plain data without imports, so that the command line lists the methods without
importing numpy; :mod:`smoothcert.reproduce.paper_mnist` tabulates them.
"""

from __future__ import annotations

# ACR published for the 500 MNIST test images (mean of the authors' runs), sigma 0.25 / 0.5 / 1.0.
PUBLISHED_ACR: dict[str, dict[float, float]] = {
    "gaussian": {0.25: 0.898, 0.5: 1.537, 1.0: 1.606},
    "stability": {0.25: 0.904, 0.5: 1.550, 1.0: 1.624},
    "smoothadv": {0.25: 0.921, 0.5: 1.670, 1.0: 1.771},
    "macer": {0.25: 0.908, 0.5: 1.571, 1.0: 1.592},
    "consistency": {0.25: 0.918, 0.5: 1.633, 1.0: 1.731},
    "consistency_smoothadv": {0.25: 0.921, 0.5: 1.679, 1.0: 1.809},
}
# Certified accuracy (%) at r = 0, 0.25, ..., 2.0 on the same 500 images: the mean over the authors' per-image
# TSVs published in github.com/jh-jeong/smoothing-consistency, data/certify/mnist/ (runs listed in docs/mnist.md),
# computed with smoothcert.analysis; the mean ACR of those files is within 0.01 of PUBLISHED_ACR everywhere.
PUBLISHED_ACCURACY: dict[str, dict[float, tuple[float, ...]]] = {
    "gaussian": {0.25: (98.9, 97.2, 95.6, 91.1, 0.0, 0.0, 0.0, 0.0, 0.0),
                 0.5: (98.5, 96.8, 95.2, 93.4, 88.7, 81.6, 64.9, 43.7, 0.0),
                 1.0: (95.4, 92.8, 90.0, 86.3, 79.8, 70.5, 58.8, 45.5, 31.6)},
    "stability": {0.25: (99.2, 97.7, 95.6, 92.3, 0.0, 0.0, 0.0, 0.0, 0.0),
                  0.5: (98.7, 97.1, 95.7, 93.5, 89.7, 82.9, 66.9, 45.2, 0.0),
                  1.0: (95.6, 94.0, 90.6, 85.8, 80.2, 71.4, 60.2, 46.4, 32.4)},
    "smoothadv": {0.25: (98.8, 97.8, 96.4, 95.4, 0.0, 0.0, 0.0, 0.0, 0.0),
                  0.5: (98.1, 97.4, 96.0, 94.9, 92.6, 87.5, 79.9, 65.8, 0.0),
                  1.0: (94.6, 93.2, 90.0, 85.4, 79.4, 73.2, 63.4, 54.6, 42.6)},
    "macer": {0.25: (98.9, 97.6, 95.5, 93.1, 0.0, 0.0, 0.0, 0.0, 0.0),
              0.5: (98.2, 97.1, 95.7, 93.0, 88.6, 82.1, 71.5, 50.6, 0.0),
              1.0: (90.0, 86.6, 82.1, 77.2, 70.8, 64.0, 54.7, 47.1, 39.0)},
    "consistency": {0.25: (99.3, 98.0, 96.5, 94.9, 0.0, 0.0, 0.0, 0.0, 0.0),
                    0.5: (98.3, 97.2, 96.2, 94.6, 91.8, 87.3, 77.0, 58.6, 0.0),
                    1.0: (93.0, 92.4, 88.0, 84.4, 78.4, 72.8, 64.0, 54.0, 40.8)},
    "consistency_smoothadv": {0.25: (98.7, 97.9, 96.6, 95.6, 0.0, 0.0, 0.0, 0.0, 0.0),
                              0.5: (97.9, 96.9, 96.0, 94.5, 92.1, 87.6, 80.3, 69.2, 0.0),
                              1.0: (93.2, 90.6, 87.8, 82.8, 78.6, 72.6, 63.2, 55.2, 44.6)},
}
PAPER_IMAGES = 500
RADII = [0.25 * i for i in range(9)]  # 0, 0.25, ..., 2.0
