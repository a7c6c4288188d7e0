"""The one certification loop: inputs in, rows out, for every mode.

A *mode* says which procedures run on an example (each a job: an input, its
noise generator, and the procedure's steps) and how their answers make a row.
:func:`mode_rows` reads the examples, hands all jobs to the packed engine
(:class:`~smoothcert.certify.packing.PackedSmooth`), which schedules the noise
of many inputs into full forward passes and counts votes on the device, and
yields rows in index order; :func:`run_mode` writes them (resumable, sharded
under torchrun). CERTIFY, sequential certification, PREDICT and the attack are
the four modes below; they differ only in their jobs and rows.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from smoothcert.certify import rows as R
from smoothcert.certify.packing import PackedSmooth
from smoothcert.certify.seeds import example_generator
from smoothcert.certify.shards import run_sharded
from smoothcert.runtime import distributed
from smoothcert.sequential import Schedule, sequential_steps
from smoothcert.smooth import Steps, certify_steps, predict_steps

Job = tuple[torch.Tensor, torch.Generator | None, Steps[Any]]


class Mode(Protocol):
    """What a mode is: its TSV columns, the jobs of one example, and the row their answers make."""

    @property
    def columns(self) -> list[str]: ...

    def jobs(self, idx: int, x: torch.Tensor, label: int, generator: Callable[[], torch.Generator]) -> list[Job]: ...

    def row(self, idx: int, label: int, answers: list[Any]) -> dict[str, Any]: ...

    def pending(self, batch_size: int) -> int: ...


@dataclass(frozen=True)
class CertifyMode:
    """CERTIFY (Cohen et al.): ``n0`` selection samples, then ``n`` fresh estimation samples."""

    n0: int
    n: int
    alpha: float
    sigma: float
    columns: list[str] = field(default_factory=lambda: list(R.CERTIFY_COLUMNS))

    def jobs(self, idx: int, x: torch.Tensor, label: int, generator: Callable[[], torch.Generator]) -> list[Job]:
        return [(x, generator(), certify_steps(self.n0, self.n, self.alpha, self.sigma))]

    def row(self, idx: int, label: int, answers: list[Any]) -> dict[str, Any]:
        return R.certify_row(idx, label, answers[0])

    def pending(self, batch_size: int) -> int:
        return math.ceil(batch_size / self.n0)


@dataclass(frozen=True)
class SequentialMode:
    """Sequential certification at target radii (:mod:`smoothcert.sequential`)."""

    radii: Sequence[float]
    n0: int
    schedule: Schedule
    futility: float
    sigma: float
    columns: list[str] = field(default_factory=lambda: list(R.SEQUENTIAL_COLUMNS))

    def jobs(self, idx: int, x: torch.Tensor, label: int, generator: Callable[[], torch.Generator]) -> list[Job]:
        return [(x, generator(), sequential_steps(self.sigma, self.radii, self.n0, self.schedule, self.futility))]

    def row(self, idx: int, label: int, answers: list[Any]) -> dict[str, Any]:
        return R.sequential_row(idx, label, answers[0])

    def pending(self, batch_size: int) -> int:
        return 4 * math.ceil(batch_size / min(self.n0, self.schedule.looks[0]))


@dataclass(frozen=True)
class PredictMode:
    """PREDICT with abstention."""

    n: int
    alpha: float
    columns: list[str] = field(default_factory=lambda: list(R.PREDICT_COLUMNS))

    def jobs(self, idx: int, x: torch.Tensor, label: int, generator: Callable[[], torch.Generator]) -> list[Job]:
        return [(x, generator(), predict_steps(self.n, self.alpha))]

    def row(self, idx: int, label: int, answers: list[Any]) -> dict[str, Any]:
        return R.predict_row(idx, label, answers[0])

    def pending(self, batch_size: int) -> int:
        return math.ceil(batch_size / self.n)


@dataclass(frozen=True)
class AttackMode:
    """PREDICT on the input attacked at each radius: ``attack(x, label, idx, eps) -> x_adv`` runs first."""

    eps: Sequence[float]
    n: int
    alpha: float
    attack: Callable[[torch.Tensor, int, int, float], torch.Tensor]

    @property
    def columns(self) -> list[str]:
        return R.attack_columns(self.eps)

    def jobs(self, idx: int, x: torch.Tensor, label: int, generator: Callable[[], torch.Generator]) -> list[Job]:
        # every radius's PREDICT draws the noise of example idx, so eps = 0 reproduces `predict`
        return [(self.attack(x, label, idx, e), generator(), predict_steps(self.n, self.alpha)) for e in self.eps]

    def row(self, idx: int, label: int, answers: list[Any]) -> dict[str, Any]:
        return R.attack_row(idx, label, dict(zip(self.eps, answers, strict=False)))

    def pending(self, batch_size: int) -> int:
        return math.ceil(batch_size / self.n) * len(self.eps)


@dataclass(frozen=True)
class Examples:
    """The examples a run reads: images (in [0, 1]) and labels, indexed by dataset index."""

    images: torch.Tensor
    labels: torch.Tensor
    device: torch.device
    seed: int


def mode_rows(engine: PackedSmooth, mode: Mode, examples: Examples, todo: list[int]) -> Iterator[dict[str, Any]]:
    """The rows of ``todo`` in order, each procedure run by ``engine``; ``time`` = wall seconds since the last row.

    With packing, examples finish in groups (a round of the engine), so one row
    of a group carries the group's time and the others nearly none: per-row
    times are lumpy, their sum is the run's time.
    """
    pending: deque[tuple[int, int, int]] = deque()  # (idx, label, jobs) of examples handed to the engine

    def jobs() -> Iterator[Job]:
        for idx in todo:
            x = examples.images[idx].to(examples.device)
            label = int(examples.labels[idx])
            made = mode.jobs(idx, x, label, partial(example_generator, examples.seed, idx, examples.device))
            pending.append((idx, label, len(made)))
            yield from made

    answers: list[Any] = []
    began = time.perf_counter()
    for answer in engine.run(jobs(), mode.pending(engine.batch_size)):
        answers.append(answer)
        idx, label, count = pending[0]
        if len(answers) == count:
            pending.popleft()
            row = mode.row(idx, label, answers)
            now = time.perf_counter()
            row["time"] = round(now - began, 6)
            began = now
            answers = []
            yield row


def run_mode(*, out: str | Path, manifest: dict[str, Any], mode: Mode, model: nn.Module, num_classes: int,
             sigma: float, examples: Examples, indices: Sequence[int], batch_size: int, pack: bool = True,
             desc: str = "certify", quiet: bool = False) -> Path:
    """Certify (or predict, or attack) ``indices`` into ``out``: resumable, sharded under torchrun.

    Under torchrun the ranks coordinate through a gloo group with a long
    timeout (only indices and file names cross it, never tensors), so ranks
    whose shards take very different times do not trip a watchdog.
    """
    engine = PackedSmooth(model, num_classes, sigma, batch_size, pack=pack)
    ctx = distributed.init_coordination()
    with distributed.leaving_group_after():
        return run_sharded(ctx, out, manifest, mode.columns, indices,
                           lambda todo: mode_rows(engine, mode, examples, todo), desc=desc, quiet=quiet)
