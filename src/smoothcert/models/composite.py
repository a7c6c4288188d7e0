"""Composite base models: a denoiser in front of a classifier (denoised smoothing).

``Denoised(denoiser, classifier)`` is an ordinary base model, batch in, logits
out: ``classifier(denoiser(x))``. Smoothing it (Salman et al. 2020) certifies
the *composite*: the guarantee of randomized smoothing holds for any base model,
so it holds whatever the denoiser does, and needs no retraining of the classifier.
"""

from __future__ import annotations

import torch
from torch import nn


class Denoised(nn.Module):
    """``classifier(denoiser(x))``: noisy images in [0, 1], denoised, then classified.

    Both parts are submodules (``.denoiser``, ``.classifier``), so ``.to()``,
    ``.eval()`` and ``state_dict()`` reach them; ``Denoised(d, c)(x)`` equals
    ``nn.Sequential(d, c)(x)`` exactly.

    Example:
        >>> base = Denoised(denoiser, classifier).eval()
        >>> smooth = Smooth(base, num_classes=10, sigma=0.25)
    """

    def __init__(self, denoiser: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.denoiser(x))
