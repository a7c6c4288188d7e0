"""Training objectives for base classifiers and denoisers of smoothed models, registered by name."""

# Importing the modules registers the methods.
from smoothcert.methods import (  # noqa: F401
    catrs,
    consistency,
    consistency_smoothadv,
    denoise,
    gaussian,
    macer,
    smoothadv,
    smoothmix,
    stability,
    standard,
)
from smoothcert.methods.base import (
    Method,
    SmoothedPredictionSpec,
    TrainingMethod,
    create_method,
    list_methods,
    method_class,
    register_method,
)

__all__ = ["Method", "SmoothedPredictionSpec", "TrainingMethod", "create_method", "list_methods", "method_class",
           "register_method"]
