"""Loading a checkpoint and the dataset it is certified on, with the fit checked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from smoothcert.checkpoints.store import checkpoint_path, load_checkpoint, model_from_checkpoint
from smoothcert.data import TensorData, create_dataset
from smoothcert.data.locations import resolve_data_dir
from smoothcert.errors import UserError
from smoothcert.runtime.devices import resolve_device


def recorded_data_dir(ckpt: dict[str, Any], ckpt_path: str | Path) -> str | None:
    """The ``data_dir`` the run recorded: the checkpoint's config, else ``config.yaml`` beside it."""
    config = ckpt.get("config")
    if not isinstance(config, dict):
        beside = checkpoint_path(ckpt_path).parent / "config.yaml"
        try:
            config = yaml.safe_load(beside.read_text(encoding="utf-8")) if beside.is_file() else None
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            config = None
    value = config.get("data_dir") if isinstance(config, dict) else None
    return str(value) if value else None


def load_model_and_data(
    ckpt_path: str | Path, dataset: str | None, split: str, data_dir: str | None, device_name: str, *,
    download: bool = False,
) -> tuple[dict[str, Any], nn.Module, TensorData, torch.device]:
    """Checkpoint, its model in eval mode on the device, and the dataset split.

    The dataset defaults to the checkpoint's. Its files are looked for by
    :func:`~smoothcert.data.locations.resolve_data_dir`: ``data_dir`` alone when
    given, else the directory the run recorded (for the checkpoint's own
    dataset), ``$SMOOTHCERT_DATA_DIR/<dataset>``, the user cache; ``download``
    fetches a missing downloadable dataset. A dataset whose input shape or class
    count differs from the checkpoint's is a ``UserError``.
    """
    ckpt = load_checkpoint(ckpt_path)
    name = dataset or str(ckpt["dataset"])
    recorded = recorded_data_dir(ckpt, ckpt_path) if name == ckpt["dataset"] else None
    directory = resolve_data_dir(name, data_dir, recorded, split=split, download=download)
    data = create_dataset(name, split, directory if directory is not None else data_dir)
    info = data.info
    trained_shape = tuple(int(s) for s in ckpt["input_shape"])
    if trained_shape != info.input_shape or int(ckpt["num_classes"]) != info.num_classes:
        raise UserError(
            f"checkpoint {ckpt_path} was trained on {ckpt['dataset']} (inputs {trained_shape}, "
            f"{ckpt['num_classes']} classes); it does not fit dataset {name} (inputs {info.input_shape}, "
            f"{info.num_classes} classes): pass --dataset {ckpt['dataset']}"
        )
    if name != ckpt["dataset"]:
        print(f"warning: checkpoint trained on {ckpt['dataset']}, certifying on {name}", file=sys.stderr)
    device = resolve_device(device_name)
    model = model_from_checkpoint(ckpt).to(device).eval()
    return ckpt, model, data, device
