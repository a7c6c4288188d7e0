"""Standard (noise-free) training: cross-entropy on the clean inputs.

The off-the-shelf classifier that denoised smoothing starts from (Salman et al.
2020 call it "noise 0.00"). It is trained without noise, so it has no training
sigma: its checkpoint records ``sigma: None`` and certifying it needs ``--sigma``.
Smoothing it directly is the baseline that a denoiser in front should beat.
"""

from __future__ import annotations

import torch
from torch import nn

from smoothcert.errors import UserError
from smoothcert.methods.base import Method, classification_terms, register_method


@register_method("standard")
class Standard(Method):
    """Cross-entropy of the model on clean inputs.

    Args:
        sigma: must be 0 (or left out): this method adds no noise.

    Example:
        >>> method = Standard()
        >>> out = method(model, images, labels)   # {"loss", "ce", "acc"}
    """

    noise_free = True

    def __init__(self, *, sigma: float = 0.0) -> None:
        if sigma != 0:
            raise UserError(f"method standard trains on clean inputs and takes no sigma (got {sigma}); "
                            "drop --sigma (give it to certify instead)")
        super().__init__(sigma=0.0)

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        return classification_terms(model(inputs), targets)
