"""The training-method protocol and its registry.

A method is a callable ``method(model, inputs, targets) -> dict`` whose ``"loss"``
entry is the scalar to minimise; further entries (``"ce"``, ``"kl"``, ...) are
detached terms for logging. Hyperparameters are keyword-only constructor
arguments; the training loop calls ``set_epoch`` at the start of each epoch
(for warm-ups and deferred starts). Noise comes from torch's global RNG, which
the training loop seeds (per rank under torchrun). A method that needs a pass
over the training set before training (CAT-RS) says so with
``smoothed_prediction_spec()`` (:class:`SmoothedPredictionSpec`) and is then
called with the batch's dataset indices, ``method(model, inputs, targets, indices=...)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from smoothcert._registry import Registry
from smoothcert.errors import UserError


@runtime_checkable
class TrainingMethod(Protocol):
    """What the training loop needs of a method."""

    sigma: float

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def set_epoch(self, epoch: int) -> None: ...


@dataclass(frozen=True)
class SmoothedPredictionSpec:
    """A pass a method needs before training: a pretrained model's smoothed prediction of each training image.

    A method that has one exposes ``smoothed_prediction_spec() -> SmoothedPredictionSpec``
    and ``set_smoothed_prediction(rows)``; the training loop computes (or reloads)
    ``rows``, shape (training images, classes), row i = class counts / ``num_samples``
    of the model at ``checkpoint`` on image i under N(0, sigma^2 I) noise, and then
    calls the method as ``method(model, inputs, targets, indices=...)`` with the
    dataset indices of the batch.

    Attributes:
        checkpoint: checkpoint file or run directory of the pretrained model.
        sigma: noise level of the pass.
        num_samples: noise draws per image (N).
        batch_size: draws per forward pass (the draws come in calls of this size, as CERTIFY's).
        seed: noise seed; image i draws from a generator seeded by (seed, i).
    """

    checkpoint: str
    sigma: float
    num_samples: int
    batch_size: int
    seed: int


class Method:
    """Base class: stores ``sigma``, ignores ``set_epoch``, prints its options in ``repr``.

    Class attributes the training loop reads: ``trains`` is ``"classifier"`` (the
    model maps a batch to logits) or ``"denoiser"`` (the model maps a batch of
    images to images of the same shape); ``noise_free`` is True for a method
    that takes no sigma (its checkpoint records none).
    """

    trains: str = "classifier"
    noise_free: bool = False

    def __init__(self, *, sigma: float) -> None:
        if sigma < 0:
            raise UserError(f"sigma must be >= 0, got {sigma}")
        self.sigma = float(sigma)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the training loop at the start of each epoch (0-based)."""
        self.epoch = epoch

    def test_sums(self, model: nn.Module, inputs: torch.Tensor, noisy_inputs: torch.Tensor,
                  targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sums over a test batch of the metrics the training loop logs each epoch (it divides by the count).

        The default, for classifiers: correct predictions on the noisy inputs
        (``test_acc_noisy``; ``test_acc`` for a noise-free method, whose inputs are clean).
        """
        key = "test_acc" if self.noise_free else "test_acc_noisy"
        return {key: (model(noisy_inputs).argmax(dim=1) == targets).sum()}

    def options(self) -> dict[str, object]:
        """The constructor arguments, as given (for repr and the run's config)."""
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self" and hasattr(self, name)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({args})"


MethodClass = Callable[..., TrainingMethod]
_METHODS: Registry[MethodClass] = Registry("method")


def register_method(name: str) -> Callable[[MethodClass], MethodClass]:
    """Class decorator registering a training method under ``name``."""
    return _METHODS.register(name)


def create_method(name: str, **kwargs: object) -> TrainingMethod:
    """Build method ``name`` from keyword arguments; a ``UserError`` for unknown options.

    Example:
        >>> method = create_method("gaussian", sigma=0.25)
    """
    cls = _METHODS.get(name)
    params = inspect.signature(cls).parameters
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        known = ", ".join(p for p in params) or "none"
        raise UserError(f"method {name!r} has no option {', '.join(unknown)}; its options: {known}")
    return cls(**kwargs)


def list_methods() -> list[str]:
    """Names of the registered training methods."""
    return _METHODS.names()


def check_int(method: str, key: str, value: object, low: int) -> None:
    """``UserError`` unless ``value`` is an integer (not a bool) >= ``low``."""
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= low):
        raise UserError(f"{method}: {key} must be an integer >= {low}, got {value!r}")


def check_number(method: str, key: str, value: object, unit: str = "") -> None:
    """``UserError`` unless ``value`` is a finite number (not a bool) >= 0; ``unit`` is added to the message."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")):
        raise UserError(f"{method}: {key} must be a number >= 0{unit}, got {value!r}")
def method_class(name: str) -> MethodClass:
    """The class registered as ``name`` (its ``trains`` and ``noise_free`` attributes); a ``UserError`` if unknown."""
    return _METHODS.get(name)


def classification_terms(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{"loss", "ce", "acc"}``: mean cross-entropy (with gradients), and its detached value and accuracy."""
    loss = F.cross_entropy(logits, targets)
    acc = (logits.argmax(dim=1) == targets).float().mean()
    return {"loss": loss, "ce": loss.detach(), "acc": acc.detach()}


def noisy(inputs: torch.Tensor, sigma: float) -> torch.Tensor:
    """``inputs + N(0, sigma^2 I)`` from the global RNG."""
    return inputs + torch.randn_like(inputs) * sigma
