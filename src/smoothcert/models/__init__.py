"""Architectures and denoisers, registered by name; every model built here starts with a NormalizeLayer."""

from smoothcert.models import cifar_resnet, dncnn, imagenet, small  # noqa: F401  (registers the models)
from smoothcert.models.base import create_model, is_denoiser, list_models, register_model
from smoothcert.models.normalize import NormalizeLayer

__all__ = ["NormalizeLayer", "create_model", "is_denoiser", "list_models", "register_model"]
