"""The model registry.

A builder takes ``(num_classes, input_shape)`` and returns the bare network;
:func:`create_model` puts a :class:`NormalizeLayer` in front:
``nn.Sequential(NormalizeLayer, net)``, so state-dict keys are ``0.mean``,
``0.std``, ``1.<net keys>`` (the layout of the original randomized-smoothing code).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from smoothcert._registry import Registry
from smoothcert.errors import UserError
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

    The network is checked on one zero input of ``input_shape`` (in eval mode,
    without gradients; its train/eval flags and buffers are left as built, and
    the check draws no random number): an architecture that cannot take such inputs,
    e.g. LeNet's 5x5 kernels on 8x8 images, is a ``UserError`` naming the
    architectures that can, not a shape error deep inside torch.

    Example:
        >>> model = create_model("lenet", 10, (1, 28, 28), mean=(0.1307,), std=(0.3081,))
    """
    shape = tuple(int(s) for s in input_shape)
    net = _built_if_fits(_MODELS.get(name), num_classes, shape)
    if net is None:
        fit = [other for other in list_models() if other != name and _fits(other, num_classes, shape)]
        choice = f"architectures that fit: {', '.join(fit)}" if fit else "no registered architecture fits"
        raise UserError(f"architecture {name!r} does not fit inputs of shape {shape}: one such input does not "
                        f"pass through it to {num_classes} logits; {choice}")
    return nn.Sequential(NormalizeLayer(mean, std, image=len(shape) == 3), net)


def _built_if_fits(builder: Builder, num_classes: int, shape: tuple[int, ...]) -> nn.Module | None:
    """The network ``builder`` makes for ``shape``, if one zero input gives ``num_classes`` logits; else None.

    A ``UserError`` of the builder (e.g. a missing optional dependency) propagates.
    """
    try:
        net = builder(num_classes, shape)
        modes = [module.training for module in net.modules()]
        net.eval()
        with torch.no_grad():
            out = net(torch.zeros(1, *shape))
        for module, mode in zip(net.modules(), modes, strict=True):
            module.training = mode
    except UserError:
        raise
    except Exception:  # noqa: BLE001  torch reports a misfit as RuntimeError, a builder as ValueError, ...
        return None
    # Columns only: a model that returns the wrong number of rows is the certification engine's to refuse.
    return net if isinstance(out, torch.Tensor) and tuple(out.shape[1:]) == (num_classes,) else None


def _fits(name: str, num_classes: int, shape: tuple[int, ...]) -> bool:
    try:
        return _built_if_fits(_MODELS.get(name), num_classes, shape) is not None
    except UserError:
        return False


def list_models() -> list[str]:
    """Names of the registered architectures."""
    return _MODELS.names()
