"""Gaussian data augmentation (Cohen, Rosenfeld & Kolter 2019).

Minimises the cross-entropy of the base classifier on ``x + delta``,
``delta ~ N(0, sigma^2 I)``, one fresh noise draw per image and step.
"""

from __future__ import annotations

import torch
from torch import nn

from smoothcert.methods.base import Method, classification_terms, noisy, register_method


@register_method("gaussian")
class Gaussian(Method):
    """Cross-entropy under Gaussian noise.

    Example:
        >>> method = Gaussian(sigma=0.5)
        >>> out = method(model, images, labels)   # {"loss", "ce", "acc"}
    """

    def __init__(self, *, sigma: float) -> None:
        super().__init__(sigma=sigma)

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        return classification_terms(model(noisy(inputs, self.sigma)), targets)
