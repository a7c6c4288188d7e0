"""Builders: a resolved config in, the objects of one training run out (model, method, optimizer).

Classes never see the config; these functions turn it into constructor
arguments. A denoiser run (method ``denoise_*``) builds its model with an
identity normalization (a denoiser works in pixel space) and loads the frozen
classifier its objective queries; every run may start from the weights of
another (``init``). What they read is recorded, with SHA-256 hashes, for the
checkpoint (:func:`provenance`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from smoothcert.checkpoints.composite import load_part
from smoothcert.data import TensorData
from smoothcert.errors import UserError
from smoothcert.methods import TrainingMethod, create_method, method_class
from smoothcert.models import create_model


def trains(config: dict[str, Any]) -> str:
    """``"denoiser"`` or ``"classifier"``: what the config's method trains."""
    return str(getattr(method_class(config["method"]), "trains", "classifier"))


def build_optimizer(config: dict[str, Any], model: nn.Module) -> tuple[torch.optim.Optimizer, Any]:
    """SGD with momentum or Adam, and a step schedule: epoch e (from 0) trains at
    ``lr * lr_gamma ** (max(e - lr_delay, 0) // lr_step)``.

    ``lr_delay = 0`` is the usual ``StepLR``. ``lr_delay = 1`` is the schedule of the
    scripts that call ``scheduler.step(epoch)`` *after* each epoch (Jeong & Shin's
    ``train_*.py``): every decay comes one epoch late, e.g. 31 epochs at lr, then 30
    at lr/10 and 29 at lr/100 in 90 epochs with lr_step 30.
    """
    params = model.parameters()
    if config["optimizer"] == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=config["lr"], weight_decay=config["weight_decay"])
    else:
        opt = torch.optim.SGD(params, lr=config["lr"], momentum=config["momentum"], weight_decay=config["weight_decay"])
    step, gamma, delay = config["lr_step"], config["lr_gamma"], config["lr_delay"]
    if delay == 0:  # StepLR itself, so that runs and checkpoints from before lr_delay existed resume unchanged
        return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=step, gamma=gamma)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: gamma ** (max(epoch - delay, 0) // step))


def normalization(config: dict[str, Any], data: TensorData) -> tuple[list[float], list[float]]:
    """The NormalizeLayer's mean and std: the dataset's, or the identity (``normalize: false``, or a denoiser)."""
    info = data.info
    if config["normalize"] and trains(config) == "classifier":
        return list(info.mean), list(info.std)
    return [0.0], [1.0]


def build_model(config: dict[str, Any], data: TensorData) -> nn.Module:
    """The architecture with its NormalizeLayer, checked to output what the method trains.

    A classifier must map a batch of inputs to ``(batch, num_classes)`` logits, a denoiser to
    images of the input's shape; a ``UserError`` names the mismatch (say, ``dncnn`` with ``gaussian``).
    """
    info = data.info
    mean, std = normalization(config, data)
    model = create_model(config["arch"], info.num_classes, info.input_shape, mean, std, **config["arch_args"])
    kind = trains(config)
    expected = (1, *info.input_shape) if kind == "denoiser" else (1, info.num_classes)
    was_training = model.training
    model.eval()  # no batch-norm statistics move, no RNG is drawn
    with torch.no_grad():
        shape = tuple(model(torch.zeros(1, *info.input_shape)).shape)
    model.train(was_training)
    if shape != expected:
        other = "a denoiser (e.g. dncnn)" if kind == "denoiser" else "a classifier (e.g. lenet, digits_cnn)"
        raise UserError(f"arch {config['arch']} outputs shape {shape} for one input, but method {config['method']} "
                        f"trains a {kind} (output {expected}): choose {other}, or a method that trains what "
                        f"{config['arch']} is")
    return model


def build_method(config: dict[str, Any], data: TensorData | None = None,
                 device: torch.device | str = "cpu") -> tuple[TrainingMethod, dict[str, Any]]:
    """The method with ``sigma`` and its ``method_args``; and its provenance for the checkpoint.

    A ``method_args.classifier`` path is loaded as a frozen classifier on ``device``
    (it must be a classifier checkpoint whose inputs and classes fit ``data``) and
    recorded as ``{"classifier": {path, sha256, arch, ...}}``.
    """
    args = dict(config["method_args"])
    record: dict[str, Any] = {}
    if isinstance(args.get("classifier"), str):
        _, classifier, fields = load_part(args["classifier"], "classifier", flag="method_args.classifier")
        if data is not None and (tuple(fields["input_shape"]) != data.info.input_shape
                                 or fields["num_classes"] != data.info.num_classes):
            raise UserError(f"classifier {args['classifier']} takes inputs {tuple(fields['input_shape'])} with "
                            f"{fields['num_classes']} classes; dataset {data.info.name} has "
                            f"{data.info.input_shape} and {data.info.num_classes}: give a classifier of this dataset")
        args["classifier"] = classifier.to(device)
        record["classifier"] = fields
    sigma = 0.0 if config["sigma"] is None else config["sigma"]
    return create_method(config["method"], sigma=sigma, **args), record


def load_init(config: dict[str, Any], model: nn.Module, data: TensorData) -> dict[str, Any]:
    """Load the weights of ``config["init"]`` into ``model`` (same arch, options and inputs); its provenance.

    Returns ``{"init": {path, sha256, arch, method, train_sigma, ...}}``, or ``{}`` without ``init``.
    """
    if config["init"] is None:
        return {}
    ckpt, _, fields = load_part(config["init"], trains(config), flag="init")
    same = (fields["arch"], fields["arch_args"], tuple(fields["input_shape"])) == (
        config["arch"], dict(config["arch_args"]), data.info.input_shape)
    if not same:
        raise UserError(f"init {config['init']} is a {fields['arch']} {fields['arch_args']} for inputs "
                        f"{tuple(fields['input_shape'])}, not the {config['arch']} {dict(config['arch_args'])} for "
                        f"{data.info.input_shape} being trained: give the init's --arch, arch_args and dataset")
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise UserError(f"init {config['init']} does not fit this model: {str(exc).splitlines()[0]}") from None
    return {"init": fields}
