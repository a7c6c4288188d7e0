"""The smoothed-prediction pass some methods need before training (CAT-RS), resumable.

A pretrained model (a checkpoint file or run directory) predicts every training
image i under ``num_samples`` noise draws N(0, sigma^2 I), in calls of
``batch_size`` draws (the draws of CERTIFY: ``Smooth.sample_counts``); the class
counts of image i, divided by ``num_samples``, are the row p_i the method reads.

Written into the run directory: ``smoothed_prediction.parts/`` holds one file per
chunk of ``CHUNK`` images as it completes (each written atomically), and when all
are there ``smoothed_prediction.pt`` (counts as int32, plus the pass's record:
the pretrained checkpoint's path and SHA-256, its arch, method and sigma, the
dataset, sigma, N, batch size, seed, and the seconds its parts took) is written
atomically and the parts are removed. An interrupted pass resumes at its first missing chunk: image i draws
its noise from a generator seeded by (seed, i) alone, so the result does not
depend on interruptions, chunking or processes (under torchrun the ranks share
the chunks). A finished file is reused when its record matches; one from another
pretrained model or other settings is refused, never overwritten.

Differences from the authors' ``smooth_prediction.py``: their noise came from one
unseeded stream across images (not reproducible); they saved probabilities as
float64 (read back as float32), here counts, and rows = float32(counts / N in
float64), the same values. Their CIFAR-10 pass read the training split through
its random crop and flip (one random view of each image); an in-memory dataset
here is predicted as stored (its augmentation applies to training batches only).
A lazily decoded dataset (ImageNet) applies its training transform, as theirs,
with the image's own seed.
"""

from __future__ import annotations

import io
import math
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from smoothcert import __version__
from smoothcert._io import atomic_write, remove_leftover_temporaries
from smoothcert.certify.seeds import example_generator, example_seed
from smoothcert.checkpoints.store import checkpoint_path, file_sha256, load_checkpoint, model_from_checkpoint
from smoothcert.errors import UserError
from smoothcert.methods.base import SmoothedPredictionSpec
from smoothcert.runtime import distributed
from smoothcert.runtime.progress import progress
from smoothcert.smooth import Smooth

RESULT_NAME = "smoothed_prediction.pt"
PARTS_NAME = "smoothed_prediction.parts"
FORMAT = "smoothcert-smoothed-prediction-1"
CHUNK = 200  # images per part file
UNCOMPARED = ("checkpoint", "version", "seconds")  # may differ when a finished pass is reused (a moved run directory)


def describe(spec: SmoothedPredictionSpec, data: Any) -> dict[str, Any]:
    """The pass's record, after checking that the pretrained model exists, loads and fits the dataset (else UserError).

    Cheap next to the pass (it reads and hashes the checkpoint): the trainer calls it
    before writing anything, so that a wrong ``pretrained`` leaves no trace.
    """
    file = checkpoint_path(spec.checkpoint)
    if not file.is_file():
        raise UserError(f"the pretrained model {file} does not exist; set method_args.pretrained to its checkpoint "
                        "file or run directory")
    ckpt = load_checkpoint(file)
    info = data.info
    fits = (ckpt["dataset"], int(ckpt["num_classes"]), tuple(ckpt["input_shape"])) == (
        info.name, info.num_classes, tuple(info.input_shape))
    if not fits:
        raise UserError(f"the pretrained model {file} was trained on {ckpt['dataset']} ({ckpt['num_classes']} classes, "
                        f"input {tuple(ckpt['input_shape'])}), not on {info.name}; pass a model of this dataset")
    return {
        "checkpoint": str(file.resolve()), "checkpoint_sha256": file_sha256(file), "checkpoint_arch": ckpt["arch"],
        "checkpoint_method": ckpt["method"], "checkpoint_sigma": ckpt["sigma"], "dataset": info.name,
        "split": "train", "images": len(data), "num_classes": info.num_classes, "sigma": spec.sigma,
        "num_samples": spec.num_samples, "batch_size": spec.batch_size, "seed": spec.seed, "version": __version__,
    }


def _differences(found: dict[str, Any], record: dict[str, Any]) -> str:
    return ", ".join(f"{key}: {found.get(key)!r} -> {record[key]!r}" for key in sorted(record)
                     if key not in UNCOMPARED and found.get(key) != record[key])


def _load(path: Path, record: dict[str, Any], what: str) -> dict[str, Any]:
    """A part or the result, checked against ``record``; ``UserError`` when corrupt or from other settings."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001  a foreign or damaged file: torch raises many kinds
        data = None
    if not (isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("counts"), torch.Tensor)):
        raise UserError(f"{path} is not a smoothed-prediction file (corrupt?); remove it to compute {what} again")
    changed = _differences(data.get("meta", {}), record)
    if changed:
        raise UserError(f"{path} was computed with other settings ({changed}); remove it (and "
                        f"{PARTS_NAME}/) to compute it again with these, or train into another --out")
    return data


def _save(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)

    def write(fh: Any) -> None:
        fh.write(buffer.getvalue())

    atomic_write(path, write)


def _image(data: Any, index: int, seed: int) -> torch.Tensor:
    """Training image ``index`` as the dataset gives it; random transforms drawn from the image's own seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(example_seed(seed, index))
        return data[index][0]


def _compute_part(smooth: Smooth, data: Any, start: int, stop: int, spec: SmoothedPredictionSpec,
                  device: torch.device) -> torch.Tensor:
    counts = torch.zeros((stop - start, smooth.num_classes), dtype=torch.int32)
    for index in range(start, stop):
        x = _image(data, index, spec.seed).to(device)
        gen = example_generator(spec.seed, index, device)
        counts[index - start] = smooth.sample_counts(x, spec.num_samples, spec.batch_size, generator=gen)
    return counts


def smoothed_prediction(
    spec: SmoothedPredictionSpec, data: Any, out_dir: str | Path, device: torch.device,
    ctx: distributed.Context | None = None, quiet: bool = False, record: dict[str, Any] | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Compute (or reload) the pass into ``out_dir``; returns the rows (images, classes) float32 and its record.

    Every rank of a torchrun job calls this: the missing parts are dealt out by
    chunk index, rank 0 assembles the result, every rank reads it. ``record`` is
    :func:`describe`'s answer when the caller has it already.
    """
    ctx = ctx or distributed.from_env()
    out = Path(out_dir)
    result, parts = out / RESULT_NAME, out / PARTS_NAME
    record = record or describe(spec, data)
    if not result.exists():
        if ctx.is_main:
            remove_leftover_temporaries(result)
            parts.mkdir(parents=True, exist_ok=True)
        distributed.barrier(ctx)
        chunks = math.ceil(len(data) / CHUNK)
        names = [parts / f"part_{c:06d}.pt" for c in range(chunks)]
        for name in names:  # every rank checks what is there before any computes
            if ctx.is_main:
                remove_leftover_temporaries(name)
            if name.exists():
                _load(name, record, "this part")
        todo = [c for c in range(chunks) if c % ctx.world_size == ctx.rank and not names[c].exists()]
        model = model_from_checkpoint(load_checkpoint(record["checkpoint"])).to(device).eval()
        smooth = Smooth(model, record["num_classes"], spec.sigma)
        for c in progress(todo, desc="smoothed prediction", disable=quiet or not ctx.is_main, unit="part"):
            start, stop = c * CHUNK, min((c + 1) * CHUNK, len(data))
            began = time.perf_counter()
            counts = _compute_part(smooth, data, start, stop, spec, device)
            _save(names[c], {"meta": record, "start": start, "counts": counts, "seconds": time.perf_counter() - began})
        distributed.barrier(ctx)
        if ctx.is_main:
            parts_found = [_load(name, record, "this part") for name in names]
            seconds = sum(float(part.get("seconds", 0.0)) for part in parts_found)  # compute time, all ranks
            counts = torch.cat([part["counts"] for part in parts_found])
            _save(result, {"meta": {**record, "seconds": round(seconds, 3)}, "counts": counts})
            shutil.rmtree(parts, ignore_errors=True)
        distributed.barrier(ctx)
    found = _load(result, record, "the smoothed predictions")
    counts = found["counts"]
    if tuple(counts.shape) != (record["images"], record["num_classes"]):
        raise UserError(f"{result} holds counts of shape {tuple(counts.shape)}, expected "
                        f"({record['images']}, {record['num_classes']}); remove it to compute it again")
    return (counts.double() / spec.num_samples).float(), {**found["meta"], "checkpoint": record["checkpoint"]}
