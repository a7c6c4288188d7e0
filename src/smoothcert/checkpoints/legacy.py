"""Checkpoints of the original randomized-smoothing code, read as smoothcert checkpoints.

Covers the ``checkpoint.pth.tar`` files written by Cohen et al. (2019,
github.com/locuslab/smoothing, ``code/train.py``), Salman et al. (2019,
Hadisalman/smoothing-adversarial, ``code/train_pgd.py``) and Jeong & Shin (2020,
jh-jeong/smoothing-consistency, ``code/train*.py``). All three save
``{"epoch", "arch", "state_dict", "optimizer"}`` where ``state_dict`` is that of
``nn.Sequential(normalize_layer, net)`` (``code/architectures.py``), so:

* ``cifar_resnet20``/``cifar_resnet110``: ``1.<key>`` (e.g. ``1.conv1.weight``,
  ``1.layer2.0.downsample.0.weight``, ``1.fc.bias``) -> our ``1.<key>``
  (identical names, :mod:`smoothcert.models.cifar_resnet`); CIFAR-10, 10 classes.
* ``resnet50``: the net is wrapped in ``DataParallel`` inside the Sequential,
  ``1.module.<key>`` -> ``1.<key>`` (torchvision names); ImageNet, 1000 classes.
* ``lenet`` (Jeong & Shin's ``archs/lenet.py``): ``1.conv1.*`` -> ``1.0.*``,
  ``1.conv2.*`` -> ``1.3.*``, ``1.fc1.*`` -> ``1.7.*``, ``1.fc2.*`` -> ``1.9.*``;
  MNIST, 10 classes.
* A ``module.`` prefix in front of everything (DataParallel around the whole
  model) is dropped too; a state dict without the ``0.``/``1.`` wrapper is taken
  as the bare network.

The normalization layer has no entries: its ``means``/``sds`` are plain
attributes, not buffers. When a fork did save them (``0.means``/``0.sds`` or
``0.mean``/``0.std``) they are used; otherwise the constants of those repos:
CIFAR-10 mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010); ImageNet
mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225); MNIST none (Jeong & Shin
use ``nn.Identity``). ``normalization="center"`` gives Salman et al.'s
``InputCenterLayer`` (mean only, std 1), which their first code release trained
with; their later code and the other two repos standardize (the default).

The result holds our metadata: ``dataset``, ``num_classes`` (from the last
layer), ``input_shape``, ``mean``/``std``, ``method`` ``"legacy"`` and ``sigma``
None: these files do not record the training noise, so certifying needs
``--sigma`` (or :func:`smoothcert.checkpoints.store.import_legacy` writes a native checkpoint with it).
"""

from __future__ import annotations

import re
from typing import Any

import torch

from smoothcert.errors import UserError

# arch -> (dataset, default classes, input shape)
ARCHS: dict[str, tuple[str, int, tuple[int, ...]]] = {
    "cifar_resnet20": ("cifar10", 10, (3, 32, 32)),
    "cifar_resnet56": ("cifar10", 10, (3, 32, 32)),
    "cifar_resnet110": ("cifar10", 10, (3, 32, 32)),
    "resnet50": ("imagenet", 1000, (3, 224, 224)),
    "lenet": ("mnist", 10, (1, 28, 28)),
}
STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
}
NORMALIZATIONS = ("standardize", "center", "none")
LENET_KEYS = {"conv1": "0", "conv2": "3", "fc1": "7", "fc2": "9"}
_PREFIX = re.compile(r"^(module\.)?([01]\.)?(module\.)?")
_SIGMA_IN_PATH = re.compile(r"noise_(\d+(?:\.\d+)?)")


def is_legacy(data: dict[str, Any]) -> bool:
    """True for a dict in the original code's layout (``arch`` + ``state_dict``, no ``format``)."""
    return "format" not in data and isinstance(data.get("arch"), str) and isinstance(data.get("state_dict"), dict)


def _split(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(normalization entries, network entries) with wrapper prefixes removed."""
    keys = {key: _PREFIX.sub(lambda m: m.group(2) or "", key) for key in state}
    wrapped = any(new.startswith(("0.", "1.")) for new in keys.values())
    norm: dict[str, torch.Tensor] = {}
    net: dict[str, torch.Tensor] = {}
    for old, new in keys.items():
        if not wrapped:
            net[new] = state[old]
        elif new.startswith("0."):
            norm[new[2:]] = state[old]
        elif new.startswith("1."):
            net[new[2:]] = state[old]
        else:
            raise UserError(f"unexpected entry {old!r} in a legacy state_dict (expected 0.<norm> and 1.<net> keys)")
    return norm, net


def _stats(dataset: str, normalization: str, saved: dict[str, torch.Tensor]) -> tuple[list[float], list[float]]:
    mean_t = saved.get("means", saved.get("mean"))
    std_t = saved.get("sds", saved.get("std"))
    default_mean, default_std = STATS.get(dataset, ((0.0,), (1.0,)))
    mean = [float(v) for v in mean_t.flatten()] if mean_t is not None else list(default_mean)
    std = [float(v) for v in std_t.flatten()] if std_t is not None else list(default_std)
    if normalization == "center":
        std = [1.0] * len(mean)
    elif normalization == "none":
        mean, std = [0.0], [1.0]
    return mean, std



def convert_legacy(data: dict[str, Any], *, normalization: str | None = None, origin: str = "") -> dict[str, Any]:
    """Turn an original-code checkpoint dict into a smoothcert checkpoint dict (``sigma`` None).

    Args:
        data: the loaded legacy dict (``arch``, ``state_dict``, ...).
        normalization: ``"standardize"`` (Cohen et al.'s NormalizeLayer; default, and
            ``"none"`` for MNIST), ``"center"`` (Salman et al.'s InputCenterLayer), ``"none"``.
        origin: the file's path, for messages and the σ hint (``.../noise_0.25/...``).

    Raises:
        UserError: an architecture we do not have, or weights of another layout.
    """
    arch = data["arch"]
    if arch not in ARCHS:
        raise UserError(f"legacy checkpoint {origin} has arch {arch!r}; supported: {', '.join(ARCHS)}")
    dataset, _classes, shape = ARCHS[arch]
    mode = normalization or ("none" if dataset == "mnist" else "standardize")
    if mode not in NORMALIZATIONS:
        raise UserError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {mode!r}")
    saved_norm, net = _split(data["state_dict"])
    if arch == "lenet":
        net = {_rename_lenet(key): value for key, value in net.items()}
    last = net.get("9.weight" if arch == "lenet" else "fc.weight")
    if not isinstance(last, torch.Tensor) or last.dim() != 2:
        raise UserError(f"legacy checkpoint {origin}: its weights do not fit architecture {arch!r} (no final layer)")
    mean, std = _stats(dataset, mode, saved_norm)
    view = (-1, 1, 1)
    state = {"0.mean": torch.tensor(mean).view(view), "0.std": torch.tensor(std).view(view)}
    state.update({f"1.{key}": value for key, value in net.items()})
    hint = _SIGMA_IN_PATH.search(str(origin))
    return {
        "arch": arch, "dataset": dataset, "num_classes": int(last.shape[0]), "input_shape": list(shape),
        "mean": mean, "std": std, "sigma": None, "method": "legacy", "state_dict": state,
        "epoch": data.get("epoch"),
        "legacy": {"origin": str(origin), "normalization": mode, "sigma_hint": float(hint.group(1)) if hint else None},
    }


def _rename_lenet(key: str) -> str:
    head, _, rest = key.partition(".")
    return f"{LENET_KEYS.get(head, head)}.{rest}"


def describe_load_error(exc: BaseException) -> str:
    """A one-line reason for a failed ``torch.load(weights_only=True)``."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = (re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
             or re.search(r"unsupported GLOBAL ([\w.]+) whose module", text))
    if found:
        return (f"it holds a pickled Python object ({found.group(1)}) besides tensors and plain values, and "
                "smoothcert never unpickles objects (that can run code); in a trusted environment, re-save only "
                "plain entries, e.g. torch.save({'arch': c['arch'], 'state_dict': c['state_dict']}, 'clean.pth.tar')")
    detail = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
    # never pass on torch's advice to retry with weights_only=False: for a file of unknown origin it runs its code
    lines = [line for line in text.strip().splitlines()
             if line.strip() and not line.startswith(("Weights only load failed", "Check the documentation"))]
    return detail.group(1).strip() if detail else (lines[0] if lines else type(exc).__name__)


def sigma_or_error(ckpt: dict[str, Any], given: float | None) -> float:
    """The σ to certify with: ``given``, else the checkpoint's; a ``UserError`` if neither exists."""
    if given is not None:
        return float(given)
    if ckpt.get("sigma") is not None:
        return float(ckpt["sigma"])
    if ckpt.get("method") != "legacy":  # a native checkpoint without sigma: trained without noise (standard)
        raise UserError(f"checkpoint was trained without noise (method {ckpt.get('method')}), so it has no sigma "
                        "to default to; pass --sigma S")
    legacy = ckpt.get("legacy") or {}
    hint = legacy.get("sigma_hint")
    suggestion = f" (its path suggests --sigma {hint:g})" if hint is not None else ""
    raise UserError(f"checkpoint {legacy.get('origin', '')} does not record its training sigma (a legacy "
                    f"checkpoint); pass --sigma S{suggestion}")
