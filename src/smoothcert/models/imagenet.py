"""ImageNet architectures, from torchvision (the optional extra ``smoothcert[imagenet]``).

``resnet50`` is torchvision's ResNet-50 with random weights: the base classifier
of Cohen et al. (2019), Salman et al. (2019) and Jeong & Shin (2020) on ImageNet,
with the same state-dict keys (``conv1.weight``, ``layer1.0.conv1.weight``, ...,
``fc.weight``). Without torchvision, building it is a ``UserError`` that says
how to install it; the rest of smoothcert does not need torchvision.
"""

from __future__ import annotations

import torch
from torch import nn

from smoothcert.errors import UserError
from smoothcert.models.base import register_model

INSTALL_HINT = "pip install 'smoothcert[imagenet]'"


@register_model("resnet50")
def resnet50(num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """torchvision's ResNet-50 (random weights) for 3-channel images, e.g. (3, 224, 224)."""
    try:
        from torchvision.models import resnet50 as tv_resnet50
    except ImportError:
        raise UserError(f"architecture 'resnet50' needs torchvision, which is not installed: {INSTALL_HINT}") from None
    except (RuntimeError, OSError) as exc:  # e.g. a torchvision built for another torch
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"torchvision is installed but does not load with torch {torch.__version__} ({first}); "
                        f"install the matching build: {INSTALL_HINT}") from None
    if input_shape[0] != 3:
        raise UserError(f"resnet50 needs 3-channel images, got input shape {tuple(input_shape)}")
    return tv_resnet50(weights=None, num_classes=num_classes)
