"""The one training loop, shared by every method.

Per-epoch atomic checkpoints, ``resume`` that continues bit for bit (the global
RNG state and the epoch's shuffling seed are restored), a CSV log, progress.
"""

from __future__ import annotations

import csv
import io
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from smoothcert import __version__
from smoothcert._io import atomic_write_text, remove_leftover_temporaries
from smoothcert.checkpoints.store import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from smoothcert.data import TensorData, create_dataset
from smoothcert.data.batches import BatchLoader
from smoothcert.errors import UserError
from smoothcert.methods import TrainingMethod
from smoothcert.runtime import distributed
from smoothcert.runtime.devices import resolve_device
from smoothcert.runtime.progress import progress
from smoothcert.train.builders import build_method, build_model, build_optimizer, load_init, normalization, trains
from smoothcert.train.config import DEFAULTS
from smoothcert.train.prepass import describe, smoothed_prediction

__all__ = ["build_method", "build_model", "build_optimizer", "changed_settings", "train"]

LOG_NAME = "log.csv"
CONFIG_NAME = "config.yaml"


RESUME_FREE = ("device", "data_dir", "epochs", "eval_noise")  # may differ on --resume (epochs: train longer)


def changed_settings(trained: dict[str, Any], config: dict[str, Any]) -> str:
    """``key: old -> new`` for each training setting ``config`` changes; empty when none.

    A run resumes only under the settings it was trained with, so that its
    checkpoint and ``config.yaml`` describe one training. Keys missing from an
    older checkpoint's config count as their defaults.
    """
    before = {**DEFAULTS, **trained}
    return ", ".join(f"{key}: {before.get(key)!r} -> {config[key]!r}" for key in sorted(config)
                     if key not in RESUME_FREE and before.get(key) != config[key])


def _epoch_order(n: int, seed: int, epoch: int, device: torch.device) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=gen).to(device)


def _test_metrics(model: nn.Module, method: TrainingMethod, data: TensorData, sigma: float | None,
                  device: torch.device, seed: int) -> dict[str, float]:
    """The method's test metrics (default: accuracy) on test images under one seeded noise draw each.

    The method's ``test_sums(model, clean, noisy, labels)`` gives sums over a batch; they are
    divided by the number of images. Without noise (a noise-free method) the inputs are clean.
    """
    model.eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    sums: dict[str, float] = {}
    test_sums = getattr(method, "test_sums", None) or _accuracy_sums
    with torch.inference_mode():
        for start in range(0, len(data), 1000):
            x = data.images[start : start + 1000].to(device)
            y = data.labels[start : start + 1000].to(device)
            noisy = x + torch.randn(x.shape, generator=gen, device=device) * sigma if sigma else x
            for key, value in test_sums(model, x, noisy, y).items():
                sums[key] = sums.get(key, 0.0) + float(value)
    return {key: value / max(len(data), 1) for key, value in sums.items()}


def _trim_log(path: Path, epochs_done: int) -> None:
    """Keep the header and one row for each epoch 1..``epochs_done``; drop the rest.

    Each epoch's row is logged (and fsynced) just before its checkpoint, so after a
    crash the log may hold a row whose checkpoint was never written, or a row torn
    by the kill (an unterminated last line); both go. With ``epochs_done == 0``
    the file is emptied. Rewritten atomically, and only when something changes.
    """
    if not path.is_file():
        return
    raw = path.read_bytes()
    rows = list(csv.reader(io.StringIO(raw[: raw.rfind(b"\n") + 1].decode("utf-8", errors="replace"))))
    kept: list[list[str]] = []
    if rows and epochs_done > 0:
        kept.append(rows[0])
        seen: set[int] = set()
        for row in rows[1:]:
            if len(row) == len(rows[0]) and row[0].isdigit() and int(row[0]) <= epochs_done and int(row[0]) not in seen:
                seen.add(int(row[0]))
                kept.append(row)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(kept)
    if out.getvalue().encode("utf-8") != raw:
        atomic_write_text(path, out.getvalue())


def train(config: dict[str, Any], out_dir: str | Path, resume: bool = False, quiet: bool = False) -> Path:
    """Train per ``config`` into ``out_dir``; returns the checkpoint path.

    Writes ``config.yaml`` (resolved), ``checkpoint.pt`` after every epoch
    (atomically) and ``log.csv``. With ``resume`` the run continues from the last
    complete checkpoint; an existing checkpoint without ``resume`` is refused.
    """
    out = Path(out_dir)
    ckpt_file = out / CHECKPOINT_NAME
    state = None
    if ckpt_file.exists():
        if not resume:
            raise UserError(f"{ckpt_file} exists; pass --resume to continue it or choose another --out")
        state = load_checkpoint(ckpt_file)
        trained = (state.get("config", {}).get("method"), state["arch"], state["dataset"])
        if trained != (config["method"], config["arch"], config["dataset"]):
            raise UserError(f"{ckpt_file} was trained with method, arch, dataset = {', '.join(map(str, trained))}; "
                            "resume with those, or choose another --out")
        changed = changed_settings(state.get("config", {}), config)
        if changed:
            raise UserError(f"{ckpt_file} was trained with other settings ({changed}); resume with the same "
                            "settings, or choose another --out")
    if (out / LOG_NAME).exists() and not resume:
        raise UserError(f"{out / LOG_NAME} exists but {ckpt_file.name} does not (a run stopped in its first epoch?); "
                        "pass --resume to start it again, or choose another --out")
    device = resolve_device(distributed.device_name(config["device"], distributed.from_env()))
    ctx = distributed.init(device)  # under torchrun: this rank's place; else a single process
    train_data = create_dataset(config["dataset"], "train", config["data_dir"])
    test_data = create_dataset(config["dataset"], "test", config["data_dir"]) if config["eval_noise"] else None
    torch.manual_seed(config["seed"])
    model = build_model(config, train_data)
    method, record = build_method(config, train_data, device)
    spec_of = getattr(method, "smoothed_prediction_spec", None)
    spec = spec_of() if spec_of is not None else None
    pretrained = describe(spec, train_data) if spec is not None else None  # UserErrors before anything is written
    record.update(load_init(config, model, train_data) if state is None else _recorded(state, "init"))
    if state is not None:
        _check_same_parts(ckpt_file, state, record)
    model = model.to(device)
    if ctx.distributed:  # same initial weights on every rank (seeded above), then per-rank noise
        torch.manual_seed(distributed.rank_seed(config["seed"], ctx))
    optimizer, scheduler = build_optimizer(config, model)
    start_epoch = 0
    if state is not None:
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch = int(state["epoch"])
        distributed.restore_rng_state(state, ctx, config["seed"], start_epoch)
        distributed.restore_cuda_rng_state(state, ctx, device)
    if ctx.is_main:  # rank 0 alone writes
        for written in (ckpt_file, out / CONFIG_NAME):  # a kill inside their atomic write left a temporary
            remove_leftover_temporaries(written)
        _trim_log(out / LOG_NAME, start_epoch)
        try:
            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / CONFIG_NAME, yaml.safe_dump(config, sort_keys=False))
        except OSError as exc:
            raise UserError(f"cannot write the run directory {out}: {exc.strerror}; choose another --out") from None
    prepass = None
    if spec is not None:  # the method's pass before training (CAT-RS): computed once, resumable, then reloaded
        rows, prepass = smoothed_prediction(spec, train_data, out, device, ctx, quiet, record=pretrained)
        method.set_smoothed_prediction(rows)  # type: ignore[attr-defined]
    train_model = distributed.wrap(model, device, ctx)
    batches = BatchLoader(train_data, device)
    info = train_data.info
    mean, std = normalization(config, train_data)
    meta = {
        "arch": config["arch"], "arch_args": dict(config["arch_args"]), "dataset": info.name,
        "num_classes": info.num_classes,
        "input_shape": list(info.input_shape), "sigma": None if config["sigma"] is None else float(config["sigma"]),
        "method": config["method"], "role": trains(config), "mean": mean, "std": std,
        "config": config, "version": __version__, **record, **({"smoothed_prediction": prepass} if prepass else {}),
    }
    bs = distributed.local_batch_size(config["batch_size"], ctx)
    quiet = quiet or not ctx.is_main
    for epoch in range(start_epoch, config["epochs"]):
        began = time.perf_counter()
        method.set_epoch(epoch)
        model.train()
        order = distributed.shard_order(_epoch_order(len(train_data), config["seed"], epoch, device), ctx)
        sums: dict[str, float] = {}
        steps = 0
        bar = progress(batches.epoch(order, bs), desc=f"epoch {epoch + 1}/{config['epochs']}", disable=quiet,
                       total=-(-len(order) // bs))
        for step, (inputs, targets) in enumerate(bar):
            if prepass:  # the method looks its per-image rows up by dataset index
                indices = order[step * bs : (step + 1) * bs]
                terms = method(train_model, inputs, targets, indices=indices)  # type: ignore[call-arg]
            else:
                terms = method(train_model, inputs, targets)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            for key, value in terms.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach())
            steps += 1
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr}
        row.update(distributed.mean_over_ranks({k: v / max(steps, 1) for k, v in sums.items()}, ctx, device))
        rng_states = distributed.gather_rng_states(ctx)
        cuda_states = distributed.gather_cuda_rng_states(ctx, device)
        if not ctx.is_main:
            continue
        if test_data is not None:
            row.update(_test_metrics(model, method, test_data, config["sigma"], device, seed=epoch))
        row["time"] = time.perf_counter() - began
        _append_log(out / LOG_NAME, row)  # first: a crash before the checkpoint lands leaves a row _trim_log drops
        save_checkpoint(ckpt_file, {
            **meta, "epoch": epoch + 1, "state_dict": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng_state": rng_states[0],
            **({"rng_states": rng_states} if ctx.distributed else {}),
            **({"cuda_rng_states": cuda_states} if cuda_states is not None else {}),
        })
        every = max(config["epochs"] // 10, 1)  # about ten epoch lines per run
        if not quiet and ((epoch + 1) % every == 0 or epoch + 1 == config["epochs"]):
            shown = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
            print(shown, file=sys.stderr, flush=True)
    return ckpt_file


def _append_log(path: Path, row: dict[str, Any]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row), lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)
        fh.flush()
        os.fsync(fh.fileno())


def _accuracy_sums(model: nn.Module, x: torch.Tensor, noisy: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Correct predictions on the noisy inputs, for a method object without ``test_sums``."""
    return {"test_acc_noisy": (model(noisy).argmax(dim=1) == y).sum()}


def _recorded(state: dict[str, Any], key: str) -> dict[str, Any]:
    return {key: state[key]} if state.get(key) is not None else {}


def _check_same_parts(ckpt_file: Path, state: dict[str, Any], record: dict[str, Any]) -> None:
    """Refuse to resume when a file the run reads (the frozen classifier) is not the one it was trained with."""
    for key, fields in record.items():
        before = (state.get(key) or {}).get("sha256")
        if before is not None and before != fields["sha256"]:
            raise UserError(f"{ckpt_file} was trained with the {key} of sha256 {before[:12]}..., but "
                            f"{fields['path']} now has sha256 {fields['sha256'][:12]}...; resume with the same "
                            "file, or choose another --out")
