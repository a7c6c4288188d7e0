"""Shared fixtures: linear ground-truth classifiers and a small trained checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import settings
from torch import nn

from smoothcert.cli.main import main

# Property tests draw the same examples on every run (CI included): a failure is reproducible, never a fluke
# of one machine's draw. `pytest --hypothesis-profile=explore` draws fresh ones, to look for new failures.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("ci")


class LinearTwoClass(nn.Module):
    """f(x) = 1 if w.x + b > 0 else 0, as logits (-(w.x+b), w.x+b).

    With delta ~ N(0, sigma^2 I), w.delta ~ N(0, sigma^2 ||w||^2), so for x at signed
    distance d = (w.x + b)/||w|| from the boundary, p_A = P(class 1) = Phi(d / sigma)
    exactly, and the smoothed classifier's true L2 radius is d (Cohen et al., Thm 1
    is tight for linear classifiers).
    """

    def __init__(self, weight: torch.Tensor, bias: float) -> None:
        super().__init__()
        self.weight = weight.flatten().double()
        self.bias = bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = x.flatten(1).double() @ self.weight + self.bias
        return torch.stack([-score, score], dim=1).float()

    def distance(self, x: torch.Tensor) -> float:
        return float((x.flatten().double() @ self.weight + self.bias) / self.weight.norm())


@pytest.fixture
def linear_at_distance():
    """Build (model, x, d): a linear classifier in 5 dims and a point at distance d."""

    def build(d: float) -> tuple[LinearTwoClass, torch.Tensor, float]:
        weight = torch.tensor([3.0, -4.0, 0.0, 0.0, 0.0])  # ||w|| = 5
        model = LinearTwoClass(weight, bias=0.0)
        x = weight / 5.0 * d
        assert math.isclose(model.distance(x), d, abs_tol=1e-6)
        return model, x, d

    return build


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A digits_cnn trained briefly under Gaussian noise (sigma 0.25); its run directory."""
    out = tmp_path_factory.mktemp("runs") / "digits"
    status = main(["train", "--dataset", "digits", "--arch", "digits_cnn", "--sigma", "0.25", "--out", str(out),
                   "--epochs", "8", "--batch-size", "64", "--lr", "0.05", "--quiet"])
    assert status == 0
    return out
