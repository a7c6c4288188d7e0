"""The model registry.

A builder takes ``(num_classes, input_shape)`` and returns the bare network;
:func:`create_model` puts a :class:`NormalizeLayer` in front:
``nn.Sequential(NormalizeLayer, net)``, so state-dict keys are ``0.mean``,
``0.std``, ``1.<net keys>`` (the layout of the original randomized-smoothing code).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

from torch import nn

from smoothcert._registry import Registry
from smoothcert.models.normalize import NormalizeLayer

Builder = Callable[[int, tuple[int, ...]], nn.Module]
_MODELS: Registry[Builder] = Registry("model")


def register_model(name: str) -> Callable[[Builder], Builder]:
    """Decorator registering a builder ``(num_classes, input_shape) -> nn.Module``."""
    return _MODELS.register(name)


def create_model(
    name: str,
    num_classes: int,
    input_shape: Sequence[int],
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
) -> nn.Sequential:
    """Build ``name`` for inputs of ``input_shape``, normalization first.

    Example:
        >>> model = create_model("lenet", 10, (1, 28, 28), mean=(0.1307,), std=(0.3081,))
    """
    shape = tuple(int(s) for s in input_shape)
    net = _MODELS.get(name)(num_classes, shape)
    return nn.Sequential(NormalizeLayer(mean, std, image=len(shape) == 3), net)


def list_models() -> list[str]:
    """Names of the registered architectures."""
    return _MODELS.names()
