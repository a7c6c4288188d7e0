"""The model registry.

A builder takes ``(num_classes, input_shape)`` (and, for some, keyword-only
options such as DnCNN's ``depth``) and returns the bare network;
:func:`create_model` puts a :class:`NormalizeLayer` in front:
``nn.Sequential(NormalizeLayer, net)``, so state-dict keys are ``0.mean``,
``0.std``, ``1.<net keys>`` (the layout of the original randomized-smoothing code).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Callable

from torch import nn

from smoothcert._registry import Registry
from smoothcert.errors import UserError
from smoothcert.models.normalize import NormalizeLayer

Builder = Callable[..., nn.Module]
_MODELS: Registry[Builder] = Registry("model")


_DENOISERS: set[str] = set()


def register_model(name: str, *, denoiser: bool = False) -> Callable[[Builder], Builder]:
    """Decorator registering a builder ``(num_classes, input_shape, **options) -> nn.Module``.

    ``denoiser=True`` marks an image-to-image network (output of the input's shape, no logits).
    """
    if denoiser:
        _DENOISERS.add(name)
    return _MODELS.register(name)


def is_denoiser(name: str) -> bool:
    """Whether architecture ``name`` was registered as a denoiser (its output has the input's shape)."""
    return name in _DENOISERS


def create_model(
    name: str,
    num_classes: int,
    input_shape: Sequence[int],
    mean: Sequence[float] = (0.0,),
    std: Sequence[float] = (1.0,),
    **options: Any,
) -> nn.Sequential:
    """Build ``name`` for inputs of ``input_shape``, normalization first.

    ``options`` go to the builder (e.g. ``depth=8`` for ``dncnn``); an option it
    does not take is a ``UserError`` naming the ones it does.

    Example:
        >>> model = create_model("lenet", 10, (1, 28, 28), mean=(0.1307,), std=(0.3081,))
        >>> denoiser = create_model("dncnn", 10, (1, 28, 28), depth=8, width=32)
    """
    shape = tuple(int(s) for s in input_shape)
    builder = _MODELS.get(name)
    if options:
        known = [p.name for p in inspect.signature(builder).parameters.values() if p.kind is p.KEYWORD_ONLY]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise UserError(f"architecture {name!r} has no option {', '.join(unknown)}; "
                            f"its options: {', '.join(known) or 'none'}")
    net = builder(num_classes, shape, **options)
    return nn.Sequential(NormalizeLayer(mean, std, image=len(shape) == 3), net)


def list_models() -> list[str]:
    """Names of the registered architectures."""
    return _MODELS.names()
