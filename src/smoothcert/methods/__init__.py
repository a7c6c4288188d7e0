"""Training objectives for base classifiers of smoothed models, registered by name."""

from smoothcert.methods import consistency, consistency_smoothadv, gaussian, macer, smoothadv, stability  # noqa: F401  (registers the methods)
from smoothcert.methods.base import Method, TrainingMethod, create_method, list_methods, register_method

__all__ = ["Method", "TrainingMethod", "create_method", "list_methods", "register_method"]
