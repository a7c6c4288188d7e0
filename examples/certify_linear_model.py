"""Certify a hand-made linear classifier, whose exact smoothed radius is known.

For a linear two-class model f(x) = [w.x + b > 0], the noise moves the score
w.x + b by a normal variable of standard deviation sigma * ||w||, so
p_A = Phi(d / sigma) for a point at distance d from the decision boundary, and
the smoothed classifier's true certified radius is exactly d. CERTIFY returns a
radius just below d (it uses a lower confidence bound on p_A), never above it
except with probability alpha.

    python examples/certify_linear_model.py          # a few seconds on a CPU
"""

from __future__ import annotations

import torch
from torch import nn

from smoothcert import Smooth


class Hyperplane(nn.Module):
    """Logits (-(w.x + b), w.x + b) for inputs of any shape (flattened)."""

    def __init__(self, weight: torch.Tensor, bias: float) -> None:
        super().__init__()
        self.register_buffer("weight", weight.flatten())
        self.bias = bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = x.flatten(1) @ self.weight + self.bias
        return torch.stack([-score, score], dim=1)

    def distance(self, x: torch.Tensor) -> float:
        """Signed distance of one input from the decision boundary."""
        return float((x.flatten() @ self.weight + self.bias) / self.weight.norm())


def main() -> None:
    weight = torch.tensor([3.0, -4.0, 0.0, 0.0])  # ||w|| = 5
    model = Hyperplane(weight, bias=0.0)
    sigma = 0.5
    smooth = Smooth(model, num_classes=2, sigma=sigma)
    generator = torch.Generator().manual_seed(0)
    print(f"sigma {sigma}, n = 10,000, alpha = 0.001")
    print("exact radius | certified radius | prediction")
    for distance in (0.1, 0.25, 0.5, 1.0):
        x = weight / weight.norm() * distance  # a point at exactly that distance, on the class-1 side
        cert = smooth.certify(x, n0=100, n=10_000, alpha=0.001, batch_size=5_000, generator=generator)
        assert cert.prediction == 1 and cert.radius < model.distance(x)
        print(f"{model.distance(x):12.3f} | {cert.radius:16.3f} | {cert.prediction}")
    boundary = torch.zeros(4)  # on the boundary p_A = 1/2: CERTIFY must abstain
    cert = smooth.certify(boundary, n0=100, n=10_000, alpha=0.001, generator=generator)
    print(f"on the boundary: prediction {cert.prediction} (Smooth.ABSTAIN = {Smooth.ABSTAIN}), radius {cert.radius}")


if __name__ == "__main__":
    main()
