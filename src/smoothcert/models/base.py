"""The model registry.

A builder takes ``(num_classes, input_shape)`` (and, for some, keyword-only
options such as DnCNN's ``depth``) and returns the bare network;
:func:`create_model` puts a :class:`NormalizeLayer` in front:
``nn.Sequential(NormalizeLayer, net)``, so state-dict keys are ``0.mean``,
``0.std``, ``1.<net keys>`` (the layout of the original randomized-smoothing code).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
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

    The network is checked on one zero input of ``input_shape`` (in eval mode,
    without gradients; its train/eval flags and buffers are left as built, and
    the check draws no random number): an architecture that cannot take such inputs,
    e.g. LeNet's 5x5 kernels on 8x8 images, is a ``UserError`` naming the
    architectures that can, not a shape error deep inside torch.
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
    net = _built_if_fits(builder, num_classes, shape, name, options)
    if net is None:
        fit = [other for other in list_models() if other != name and _fits(other, num_classes, shape)]
        choice = f"architectures that fit: {', '.join(fit)}" if fit else "no registered architecture fits"
        output = "an output of its own shape" if is_denoiser(name) else f"{num_classes} logits"
        raise UserError(f"architecture {name!r} does not fit inputs of shape {shape}: one such input does not "
                        f"pass through it to {output}; {choice}")
    return nn.Sequential(NormalizeLayer(mean, std, image=len(shape) == 3), net)


def _built_if_fits(builder: Builder, num_classes: int, shape: tuple[int, ...], name: str = "",
                   options: dict[str, Any] | None = None) -> nn.Module | None:
    """The network ``builder`` makes for ``shape``, if one zero input gives ``num_classes`` logits (a denoiser:
    an output of the input's shape); else None.

    A ``UserError`` of the builder (e.g. a missing optional dependency) propagates.
    """
    try:
        net = builder(num_classes, shape, **(options or {}))
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
    expected = shape if is_denoiser(name) else (num_classes,)
    return net if isinstance(out, torch.Tensor) and tuple(out.shape[1:]) == expected else None


def _fits(name: str, num_classes: int, shape: tuple[int, ...]) -> bool:
    try:
        return not is_denoiser(name) and _built_if_fits(_MODELS.get(name), num_classes, shape, name) is not None
    except UserError:
        return False


def list_models() -> list[str]:
    """Names of the registered architectures."""
    return _MODELS.names()
