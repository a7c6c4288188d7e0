"""Run configuration: defaults < recipe file < command-line flags < ``key=value`` overrides.

The result is a plain dict (YAML-serialisable), written to the run directory as
``config.yaml``. Builders turn it into constructor arguments; classes never see it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from smoothcert.errors import UserError
from smoothcert.recipes import read_config

DEFAULTS: dict[str, Any] = {
    "dataset": None,
    "arch": None,
    "arch_args": {},  # options of the architecture, e.g. {depth: 8, width: 32} for dncnn
    "method": "gaussian",
    "sigma": None,
    "method_args": {},
    "epochs": 30,
    "batch_size": 256,
    "optimizer": "sgd",  # sgd | adam
    "lr": 0.1,
    "momentum": 0.9,
    "weight_decay": 1e-4,
    "lr_step": 30,  # multiply the lr by lr_gamma every lr_step epochs
    "lr_gamma": 0.1,
    "lr_delay": 0,  # every decay this many epochs late (1: the original scripts' scheduler.step(epoch) after an epoch)
    "normalize": True,  # False: NormalizeLayer with mean 0, std 1 (inputs used as they are)
    "seed": 0,
    "data_dir": None,
    "device": "auto",
    "eval_noise": True,  # log test accuracy under one noise draw each epoch
    "init": None,  # run directory or checkpoint whose weights the model starts from (same arch), e.g. an MSE denoiser
}
REQUIRED = ("dataset", "arch")
NESTED = ("method_args", "arch_args")  # mappings merged key by key; overrides may name method_args.<key>


def load_yaml(source: str | Path) -> dict[str, Any]:
    """Read a YAML recipe: a file, or the name of a shipped recipe (``mnist/gaussian_0.25``).

    Raises ``UserError`` when it is neither, is malformed, or is not a mapping.
    """
    text, what = read_config(source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"{what} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{what} must hold a mapping of keys to values")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=3"`` -> ``(["a", "b"], 3)``; values are parsed as YAML scalars."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UserError(f"override {text!r} must look like key=value (e.g. method_args.num_noise=4)")
    try:
        parsed = yaml.safe_load(value) if value else None
    except yaml.YAMLError:
        parsed = value
    return key.split("."), parsed


def _merge(base: dict[str, Any], update: Mapping[str, Any], where: str) -> None:
    for key, value in update.items():
        if key not in base:
            raise UserError(f"unknown config key {key!r} in {where}; known: {', '.join(sorted(base))}")
        if key in NESTED:
            if not isinstance(value, Mapping):
                raise UserError(f"{key} in {where} must be a mapping")
            base[key] = {**base[key], **value}
        else:
            base[key] = value


def resolve_config(
    file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Merge defaults, a recipe (file or shipped name), explicit flags (None means not given) and overrides."""
    config = copy.deepcopy(DEFAULTS)
    if file is not None:
        _merge(config, load_yaml(file), str(file))
    _merge(config, {k: v for k, v in (flags or {}).items() if v is not None}, "the command line")
    for text in overrides:
        keys, value = parse_override(text)
        if keys[0] in NESTED and len(keys) == 2:
            _merge(config, {keys[0]: {keys[1]: value}}, f"override {text!r}")
        elif len(keys) == 1:
            _merge(config, {keys[0]: value}, f"override {text!r}")
        else:
            raise UserError(f"override {text!r}: only method_args.<name> and arch_args.<name> may be nested")
    validate(config)
    return config


def validate(config: dict[str, Any]) -> None:
    """Check types and ranges; a ``UserError`` naming the bad key otherwise.

    ``sigma`` must be > 0, except for a noise-free method (``standard``), which
    takes none: there it may be left out or 0, and is stored as None.
    """
    missing = [key for key in REQUIRED if config.get(key) is None]
    if missing:
        raise UserError(f"missing {', '.join(missing)}: give --{missing[0].replace('_', '-')} or set it in --config")
    _validate_sigma(config)
    checks = {
        "epochs": lambda v: isinstance(v, int) and v >= 1,
        "batch_size": lambda v: isinstance(v, int) and v >= 1,
        "lr": lambda v: isinstance(v, (int, float)) and v > 0,
        "momentum": lambda v: isinstance(v, (int, float)) and 0 <= v < 1,
        "weight_decay": lambda v: isinstance(v, (int, float)) and v >= 0,
        "lr_step": lambda v: isinstance(v, int) and v >= 1,
        "lr_gamma": lambda v: isinstance(v, (int, float)) and 0 < v <= 1,
        "lr_delay": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "seed": lambda v: isinstance(v, int) and v >= 0,
        "optimizer": lambda v: v in ("sgd", "adam"),
        "normalize": lambda v: isinstance(v, bool),
        "init": lambda v: v is None or (isinstance(v, str) and v != ""),
    }
    for key, ok in checks.items():
        if not ok(config[key]):
            raise UserError(f"bad value for {key}: {config[key]!r}")


def _validate_sigma(config: dict[str, Any]) -> None:
    from smoothcert.methods import method_class  # the method says whether it takes noise

    sigma, method = config["sigma"], config["method"]
    if sigma is not None and (isinstance(sigma, bool) or not isinstance(sigma, (int, float))):
        raise UserError(f"bad value for sigma: {sigma!r}")
    if getattr(method_class(method), "noise_free", False):
        if sigma not in (None, 0):
            raise UserError(f"method {method} trains on clean inputs and takes no sigma (got {sigma}); drop --sigma "
                            "(certify takes --sigma)")
        config["sigma"] = None
    elif sigma is None:
        raise UserError(f"missing sigma: method {method} trains under noise; give --sigma S or set it in --config")
    elif not sigma > 0:
        raise UserError(f"bad value for sigma: {sigma!r}; method {method} needs --sigma > 0 (only method standard "
                        "trains without noise)")
