"""Loading a checkpoint and the dataset it is certified on, with the fit checked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from smoothcert.checkpoints.store import load_checkpoint, model_from_checkpoint
from smoothcert.data import TensorData, create_dataset
from smoothcert.errors import UserError
from smoothcert.runtime.devices import resolve_device


def load_model_and_data(
    ckpt_path: str | Path, dataset: str | None, split: str, data_dir: str | None, device_name: str
) -> tuple[dict[str, Any], nn.Module, TensorData, torch.device]:
    """Checkpoint, its model in eval mode on the device, and the dataset split.

    The dataset defaults to the checkpoint's. A dataset whose input shape or
    class count differs from the checkpoint's is a ``UserError``.
    """
    ckpt = load_checkpoint(ckpt_path)
    name = dataset or str(ckpt["dataset"])
    data = create_dataset(name, split, data_dir)
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
