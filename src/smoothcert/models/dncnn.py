"""DnCNN (Zhang et al. 2017), the denoiser of denoised smoothing (Salman et al. 2020).

A plain stack of 3x3 convolutions that predicts the *noise* in its input and
subtracts it: ``D(y) = y - net(y)``. With the defaults (17 layers, 64 channels)
it is the ``cifar_dncnn`` of the denoised-smoothing code:

* layer 1: conv ``C -> width`` with bias, ReLU;
* layers 2 .. depth-1: conv ``width -> width`` without bias, BatchNorm, ReLU;
* layer ``depth``: conv ``width -> C`` without bias.

Initialisation as there: orthogonal convolution weights, zero biases,
BatchNorm weight 1 and bias 0, and the *last* convolution zero, so that an
untrained DnCNN is exactly the identity. Their BatchNorm uses ``eps=1e-4`` and
``momentum=0.95`` (PyTorch's convention: the running statistics move 95% of the
way to each batch's); both are options here with those defaults.

A denoiser maps images in [0, 1]-pixel space to images of the same shape; it is
built with an identity :class:`~smoothcert.models.NormalizeLayer` in front (the
noise it removes lives in pixel space).
"""

from __future__ import annotations

import torch
from torch import nn

from smoothcert.errors import UserError
from smoothcert.models.base import register_model


class DnCNN(nn.Module):
    """Residual denoiser: ``forward(y) = y - net(y)``, ``net`` a stack of 3x3 convolutions.

    Args:
        channels: image channels (input and output).
        depth: number of convolutions, >= 2 (17 in the paper).
        width: channels of the hidden convolutions (64 in the paper).
        bn_eps: BatchNorm epsilon; bn_momentum: BatchNorm momentum (PyTorch's convention).

    Example:
        >>> denoiser = DnCNN(channels=1)
        >>> torch.equal(denoiser(torch.ones(2, 1, 8, 8)), torch.ones(2, 1, 8, 8))   # untrained: the identity
        True
    """

    def __init__(self, channels: int, depth: int = 17, width: int = 64, bn_eps: float = 1e-4,
                 bn_momentum: float = 0.95) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width, eps=bn_eps, momentum=bn_momentum), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, channels, 3, padding=1, bias=False))
        self.net = nn.Sequential(*layers)
        self._initialise()

    def _initialise(self) -> None:
        convs = [m for m in self.net if isinstance(m, nn.Conv2d)]
        for conv in convs:
            nn.init.orthogonal_(conv.weight)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        nn.init.zeros_(convs[-1].weight)  # the untrained network predicts no noise: D is the identity

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        return noisy - self.net(noisy)


@register_model("dncnn", denoiser=True)
def dncnn(num_classes: int, input_shape: tuple[int, ...], *, depth: int = 17, width: int = 64,
          bn_eps: float = 1e-4, bn_momentum: float = 0.95) -> nn.Module:
    """The DnCNN denoiser for images of ``input_shape`` (C, H, W); ``num_classes`` is not used.

    Options (``arch_args`` in a recipe): ``depth`` (17), ``width`` (64), ``bn_eps`` (1e-4), ``bn_momentum`` (0.95).
    """
    if len(input_shape) != 3:
        raise UserError(f"dncnn denoises images (C, H, W); this dataset's inputs have shape {tuple(input_shape)}")
    if not (isinstance(depth, int) and depth >= 2 and isinstance(width, int) and width >= 1):
        raise UserError(f"dncnn needs an integer depth >= 2 and width >= 1, got depth={depth!r}, width={width!r}")
    if not (0 < bn_momentum <= 1 and bn_eps > 0):
        raise UserError(f"dncnn needs 0 < bn_momentum <= 1 and bn_eps > 0, got {bn_momentum!r}, {bn_eps!r}")
    return DnCNN(input_shape[0], depth=depth, width=width, bn_eps=bn_eps, bn_momentum=bn_momentum)
