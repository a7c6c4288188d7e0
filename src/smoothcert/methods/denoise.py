"""Training objectives for denoisers (Salman et al. 2020, "Denoised Smoothing").

The model being trained is a denoiser D (images in, images of the same shape
out, in [0, 1]-pixel space); delta ~ N(0, sigma^2 I), one fresh draw per image
and step, from the global RNG:

* ``denoise_mse``: ``mean((D(x + delta) - x)^2)``, averaged over every pixel of
  the batch (``MSELoss(reduction="mean")`` in the authors' ``train_denoiser.py``,
  objective ``denoising``). It needs no classifier.
* ``denoise_stability``: ``CE(f(D(x + delta)), argmax f(x))``, the cross-entropy
  of a frozen classifier f on the denoised input against f's own prediction on
  the clean input (objective ``stability`` there; averaged over the batch). The
  labels are not used. f stays in eval mode with ``requires_grad`` off: the
  gradient flows through f into D, and f's parameters and buffers never change.

The authors pre-train with MSE and fine-tune with stability (their
"Stab+MSE" denoisers): train ``denoise_mse``, then ``denoise_stability`` with
``init=`` the MSE run (recipes in configs/).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from smoothcert.errors import UserError
from smoothcert.methods.base import Method, noisy, register_method


def _positive_sigma(name: str, sigma: float) -> None:
    if not sigma > 0:
        raise UserError(f"method {name} trains a denoiser for noise sigma > 0, got {sigma}; give --sigma S")


def freeze(classifier: nn.Module) -> nn.Module:
    """``classifier`` in eval mode with every parameter's ``requires_grad`` off (the same module, returned)."""
    classifier.eval()
    for param in classifier.parameters():
        param.requires_grad_(False)
    return classifier


def pixel_mse(denoised: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error over all pixels: shape (B,)."""
    return (denoised - clean).pow(2).flatten(1).mean(dim=1)


@register_method("denoise_mse")
class DenoiseMSE(Method):
    """Mean squared error of the denoised noisy input against the clean input (per pixel).

    Args:
        sigma: noise level the denoiser learns to remove, [0,1]-pixel units.

    Example:
        >>> method = DenoiseMSE(sigma=0.25)
        >>> out = method(denoiser, images, labels)   # {"loss", "mse"}; labels unused
    """

    trains = "denoiser"

    def __init__(self, *, sigma: float) -> None:
        _positive_sigma("denoise_mse", sigma)
        super().__init__(sigma=sigma)

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = F.mse_loss(model(noisy(inputs, self.sigma)), inputs)
        return {"loss": loss, "mse": loss.detach()}

    def test_sums(self, model: nn.Module, inputs: torch.Tensor, noisy_inputs: torch.Tensor,
                  targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sum over the batch of each image's MSE after denoising (the trainer's per-epoch test metric)."""
        return {"test_mse_noisy": pixel_mse(model(noisy_inputs), inputs).sum()}


@register_method("denoise_stability")
class DenoiseStability(Method):
    """Cross-entropy of a frozen classifier on the denoised noisy input against its clean prediction.

    Args:
        sigma: noise level, [0,1]-pixel units.
        classifier: the frozen classifier f (batch of images in [0, 1] -> logits); frozen here
            (:func:`freeze`) and only queried.

    Example:
        >>> method = DenoiseStability(sigma=0.25, classifier=lenet)
        >>> out = method(denoiser, images, labels)   # {"loss", "ce", "agree", "acc"}
    """

    trains = "denoiser"

    def __init__(self, *, sigma: float, classifier: nn.Module | None = None) -> None:
        _positive_sigma("denoise_stability", sigma)
        if not isinstance(classifier, nn.Module):
            raise UserError("method denoise_stability needs the classifier to attach the denoiser to: "
                            "method_args.classifier=RUN_DIR_OR_CHECKPOINT")
        super().__init__(sigma=sigma)
        self.classifier = freeze(classifier)

    def options(self) -> dict[str, object]:
        return {"sigma": self.sigma, "classifier": type(self.classifier).__name__}

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        self.classifier.eval()
        with torch.no_grad():
            reference = self.classifier(inputs).argmax(dim=1)
        logits = self.classifier(model(noisy(inputs, self.sigma)))
        loss = F.cross_entropy(logits, reference)
        predicted = logits.detach().argmax(dim=1)
        return {"loss": loss, "ce": loss.detach(), "agree": (predicted == reference).float().mean(),
                "acc": (predicted == targets).float().mean()}

    def test_sums(self, model: nn.Module, inputs: torch.Tensor, noisy_inputs: torch.Tensor,
                  targets: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sums over the batch: denoised MSE, and correct predictions of f on the denoised noisy input."""
        denoised = model(noisy_inputs)
        return {"test_mse_noisy": pixel_mse(denoised, inputs).sum(),
                "test_acc_noisy": (self.classifier(denoised).argmax(dim=1) == targets).sum()}
