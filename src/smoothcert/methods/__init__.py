"""Training objectives for base classifiers of smoothed models, registered by name."""

# Importing the modules registers the methods.
from smoothcert.methods import (  # noqa: F401
    catrs,
    consistency,
    consistency_smoothadv,
    gaussian,
    macer,
    smoothadv,
    smoothmix,
    stability,
)
from smoothcert.methods.base import (
    Method,
    SmoothedPredictionSpec,
    TrainingMethod,
    create_method,
    list_methods,
    register_method,
)

__all__ = ["Method", "SmoothedPredictionSpec", "TrainingMethod", "create_method", "list_methods", "register_method"]
