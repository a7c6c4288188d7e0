"""Certified-accuracy questions with far fewer samples: sequential certification.

A certified-accuracy table asks, for fixed radii, "is this input certified at
r?". ``certify_sequential`` answers that with the same 1 - alpha guarantee as
CERTIFY, drawing samples in looks and stopping as soon as every target radius is
decided. This script compares the samples both spend on points at several
distances from a linear classifier's boundary (exact radius = distance).

    python examples/sequential_certification.py      # a few seconds on a CPU
"""

from __future__ import annotations

import torch
from torch import nn

from smoothcert import Smooth
from smoothcert.sequential import Schedule, certify_sequential


class FirstCoordinate(nn.Module):
    """Class 1 where the first coordinate is positive: the distance to the boundary is x[0]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([-x[:, 0], x[:, 0]], dim=1)


def main() -> None:
    sigma, alpha, n_max = 0.5, 0.001, 100_000
    smooth = Smooth(FirstCoordinate(), num_classes=2, sigma=sigma)
    radii = [0.25, 0.5, 0.75]
    schedule = Schedule.geometric(n_max=n_max, alpha=alpha)
    generator = torch.Generator().manual_seed(0)
    print(f"targets {radii}, sigma {sigma}, alpha {alpha}; CERTIFY would spend {100 + n_max:,} samples on each point")
    print("distance | class | certified at       | samples used")
    for distance in (-0.3, 0.1, 0.4, 1.5):
        x = torch.tensor([distance, 0.0])
        cert = certify_sequential(smooth, x, radii, n0=100, schedule=schedule, batch_size=10_000,
                                  generator=generator)
        certified = [r for r, ok in zip(radii, cert.certified, strict=False) if ok]
        assert all(r < abs(distance) for r in certified)  # a certified radius is a true one (for either class)
        print(f"{distance:8.2f} | {cert.prediction:5} | {certified!s:18} | {cert.samples:,}")


if __name__ == "__main__":
    main()
