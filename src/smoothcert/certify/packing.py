"""The packed engine: the sample requests of many inputs share full forward passes.

Every procedure (CERTIFY, PREDICT, sequential certification) is written once,
as *steps* (:data:`smoothcert.smooth.Steps`): it asks for a number of noise
samples and is sent their votes. :class:`PackedSmooth` runs the steps of many
inputs at once and gives, for each input, exactly the answer
:meth:`Smooth.run <smoothcert.smooth.Smooth.run>` gives with the same generator;
it only changes *which forward pass* evaluates each noisy input:

* Each input's noise comes from its own generator, in the chunks
  ``Smooth.sample_counts`` draws (``batch_size`` at a time, the remainder last),
  by the same expression, so every noisy input is bit for bit the plain path's.
* Every forward pass has exactly ``batch_size`` rows: rows of several inputs'
  chunks, the last pass padded with zero rows whose votes go to a slot nobody
  reads. One shape, so ``--compile`` and CUDA graphs compile once.
* Votes are counted on the device (``index_add_`` into input-by-class slots).
  The host synchronises only when no input can draw more samples without an
  answer: one read-back for a whole group of requests (a round), never one
  per forward pass or per input.

**Scheduling.** At most ``max_pending`` inputs are in flight. The oldest input
with samples left to draw draws first; when none has, a new input is admitted;
when none can be, the pending pass runs (padded) and the round's counts are
read back, each input's steps are sent their votes, and finished inputs are
yielded in input order. CERTIFY (``n0`` then ``n`` samples) thus runs in rounds
of about ``batch_size / n0`` inputs; sequential certification's small looks of
``max_pending`` inputs share passes, so its saving in samples is a saving in time.

**Why the answers are identical.** In eval mode a row's logits depend on that
row alone, for models without batch-dependent layers; the batch *size* is the
same in both paths (``batch_size``), so the kernels are the same. The engine
checks the first property once per model (a probe: the same random rows as a
full batch and rolled by a third of it must give bit-identical logits); if it
fails, inputs do not share passes (``max_pending`` 1), which is the plain
path's schedule exactly. Non-deterministic kernels (cuDNN benchmark mode,
atomics) void the identity on GPUs; ``Smooth`` itself is then not reproducible
either. Soundness never depends on it: each input's votes are counted from its
own rows only.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from smoothcert.sequential import Schedule, SequentialCertificate, sequential_steps
from smoothcert.smooth import (
    Certificate,
    ModelOutputError,
    Smooth,
    Steps,
    certify_steps,
    check_logits,
    chunk_sizes,
    predict_steps,
    raise_if_not_finite,
)

T = TypeVar("T")
Item = tuple[torch.Tensor, torch.Generator | None]
_PROBE_SEED = 20190208
_PENDING = object()


@dataclass(frozen=True)
class _Failed:
    error: Exception


@dataclass(eq=False)
class _Job:
    x: torch.Tensor
    generator: torch.Generator | None
    steps: Steps[Any]
    slot: int
    requested: int = 0
    chunks: deque[int] = field(default_factory=deque)  # chunk sizes of the current request not yet drawn
    unforwarded: int = 0  # drawn rows still in the pack
    result: Any = _PENDING

    def ask(self, request: int) -> None:
        if not isinstance(request, int) or request < 1:
            raise ValueError(f"a procedure asked for {request!r} samples; it must ask for an int >= 1")
        self.requested = request


class PackedSmooth:
    """Certificates, predictions and sequential certificates of many inputs, with full forward passes.

    Example:
        >>> packed = PackedSmooth(model, num_classes=10, sigma=0.5, batch_size=1000)
        >>> items = ((x, example_generator(seed, i, x.device)) for i, x in enumerate(xs))
        >>> for cert in packed.certify(items, n0=100, n=100_000, alpha=0.001): ...
    """

    def __init__(self, base_model: nn.Module, num_classes: int, sigma: float, batch_size: int = 1000,
                 *, pack: bool = True, max_pending: int | None = None) -> None:
        """``max_pending``: inputs in flight (default: chosen per procedure); ``pack=False``: one at a time."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        Smooth(base_model, num_classes, sigma)  # validates sigma and num_classes as the plain path does
        self.base_model, self.num_classes, self.sigma = base_model, int(num_classes), float(sigma)
        self.batch_size = batch_size
        self.pack = pack
        self.max_pending = max_pending
        self._position_free: bool | None = None
        self.forward_passes = 0
        self.synchronisations = 0

    # -- the procedures ---------------------------------------------------------------------------------

    def certify(self, items: Iterable[Item], n0: int, n: int, alpha: float) -> Iterator[Certificate]:
        """CERTIFY each ``(x, generator)``: the certificates :meth:`Smooth.certify` gives, in order."""
        pending = math.ceil(self.batch_size / n0)
        return self.run(((x, g, certify_steps(n0, n, alpha, self.sigma)) for x, g in items), pending)

    def predict(self, items: Iterable[Item], n: int, alpha: float) -> Iterator[int]:
        """PREDICT each ``(x, generator)``: the answers of :meth:`Smooth.predict`, in order."""
        return self.run(((x, g, predict_steps(n, alpha)) for x, g in items), math.ceil(self.batch_size / n))

    def sequential(self, items: Iterable[Item], radii: Sequence[float], n0: int, schedule: Schedule,
                   futility: float = 0.001) -> Iterator[SequentialCertificate]:
        """Sequential certification of each ``(x, generator)``: :func:`certify_sequential`'s answers, in order."""
        smallest = min(n0, schedule.looks[0])
        steps = ((x, g, sequential_steps(self.sigma, radii, n0, schedule, futility)) for x, g in items)
        return self.run(steps, 4 * math.ceil(self.batch_size / smallest))

    def sample_counts(self, items: Iterable[Item], phases: Sequence[int]) -> Iterator[torch.Tensor]:
        """For each ``(x, generator)``: LongTensor[len(phases), num_classes], successive draws of each phase."""
        for num in phases:
            if num < 1:
                raise ValueError(f"sample counts must be >= 1, got {num}")
        return self.run(((x, g, _phases(phases)) for x, g in items), math.ceil(self.batch_size / min(phases)))

    # -- the one loop -----------------------------------------------------------------------------------

    def run(self, jobs: Iterable[tuple[torch.Tensor, torch.Generator | None, Steps[T]]],
            max_pending: int | None = None) -> Iterator[T]:
        """Run each ``(x, generator, steps)`` to its answer; answers in input order."""
        limit = max(1, self.max_pending or max_pending or 1)
        source = iter(jobs)
        active: deque[_Job] = deque()
        pack: deque[tuple[torch.Tensor, int, _Job]] = deque()
        state: dict[str, Any] = {"rows": 0, "exhausted": False}
        counts = bad = None
        free: list[int] = []
        was_training = self.base_model.training
        self.base_model.eval()
        try:
            while True:
                while state["rows"] < self.batch_size:  # fill the next pass
                    job = next((j for j in active if j.chunks), None)
                    if job is not None:
                        pack.append(self._draw(job))
                        state["rows"] += pack[-1][0].shape[0]
                        continue
                    if state["exhausted"] or len(active) >= limit:
                        break
                    try:
                        x, generator, steps = next(source)
                    except StopIteration:
                        state["exhausted"] = True
                        break
                    if counts is None:
                        limit = limit if self._packable(x) else 1
                        counts = torch.zeros(limit + 1, self.num_classes, dtype=torch.long, device=x.device)
                        bad = torch.zeros(limit + 1, dtype=torch.long, device=x.device)
                        free = list(range(limit))[::-1]
                    job = _Job(x, generator, steps, free.pop())
                    active.append(job)
                    self._advance(job, None)
                if state["rows"]:
                    self._forward(pack, state, counts, bad, limit)
                    continue
                if not active:
                    return
                self._sync(active, counts, bad)
                while active and active[0].result is not _PENDING:
                    finished = active.popleft()
                    free.append(finished.slot)
                    if isinstance(finished.result, _Failed):
                        raise finished.result.error
                    yield finished.result
                if not active and state["exhausted"]:
                    return
        finally:
            self.base_model.train(was_training)

    # -- internals --------------------------------------------------------------------------------------

    def _advance(self, job: _Job, votes: torch.Tensor | None) -> None:
        """Send ``votes`` (None to start) to the job's steps; queue its next request or keep its answer."""
        try:
            request = next(job.steps) if votes is None else job.steps.send(votes)
        except StopIteration as done:
            job.result = done.value
            return
        job.ask(request)
        job.chunks.extend(chunk_sizes(request, self.batch_size))

    def _draw(self, job: _Job) -> tuple[torch.Tensor, int, _Job]:
        size = job.chunks.popleft()
        x = job.x
        with torch.inference_mode():
            noise = torch.randn((size, *x.shape), generator=job.generator, device=x.device, dtype=x.dtype)
            noisy = x.unsqueeze(0) + noise * self.sigma  # the plain path's expression
        job.unforwarded += size
        return noisy, job.slot, job

    def _forward(self, pack: deque[tuple[torch.Tensor, int, _Job]], state: dict[str, Any],
                 counts: torch.Tensor | None, bad: torch.Tensor | None, sink: int) -> None:
        """One pass of exactly ``batch_size`` rows from the head of the pack (padded); votes into slots."""
        assert counts is not None and bad is not None
        take, pieces, slots = self.batch_size, [], []
        device = pack[0][0].device
        while take > 0 and pack:
            rows, slot, job = pack[0]
            used = min(rows.shape[0], take)
            pieces.append(rows[:used])
            slots.append(torch.full((used,), slot, device=device, dtype=torch.long))
            job.unforwarded -= used
            take -= used
            state["rows"] -= used
            if used == rows.shape[0]:
                pack.popleft()
            else:
                pack[0] = (rows[used:], slot, job)
        if take > 0:  # pad to the one shape; padding rows vote into the sink slot, never read
            pieces.append(pieces[0].new_zeros((take, *pieces[0].shape[1:])))
            slots.append(torch.full((take,), sink, device=device, dtype=torch.long))
        slot_ids = torch.cat(slots)
        with torch.inference_mode():
            logits = self.base_model(torch.cat(pieces))
            not_finite = check_logits(logits, self.batch_size, self.num_classes)
            votes = logits.argmax(dim=1)
            counts.view(-1).index_add_(0, slot_ids * self.num_classes + votes, torch.ones_like(votes))
            bad.index_add_(0, slot_ids, not_finite.long())
        self.forward_passes += 1

    def _sync(self, active: deque[_Job], counts: torch.Tensor | None, bad: torch.Tensor | None) -> None:
        """Read back the votes of every job whose request is fully forwarded (one synchronisation)."""
        assert counts is not None and bad is not None
        ready = [job for job in active if job.result is _PENDING and not job.chunks and job.unforwarded == 0]
        slots = torch.tensor([job.slot for job in ready], device=counts.device)
        both = torch.cat([counts[slots], bad[slots].view(-1, 1)], dim=1).cpu()  # the synchronisation
        counts[slots] = 0
        bad[slots] = 0
        self.synchronisations += 1
        for job, row in zip(ready, both, strict=False):
            try:
                raise_if_not_finite(int(row[-1]), job.requested)
            except ModelOutputError as exc:  # raised when this input's turn to be answered comes
                job.result = _Failed(exc)
                continue
            self._advance(job, row[:-1])

    def _packable(self, x: torch.Tensor) -> bool:
        """Whether a row's logits are independent of its neighbours in a full pass (probed once per engine)."""
        if not self.pack:
            return False
        if self._position_free is None:
            gen = torch.Generator(device=x.device).manual_seed(_PROBE_SEED)
            with torch.inference_mode():
                noise = torch.randn((self.batch_size, *x.shape), generator=gen, device=x.device, dtype=x.dtype)
                probe = x.unsqueeze(0) + noise * self.sigma
                shift = max(1, self.batch_size // 3)
                full = self.base_model(probe)
                rolled = self.base_model(probe.roll(shift, dims=0))
                self._position_free = (isinstance(full, torch.Tensor) and isinstance(rolled, torch.Tensor)
                                       and _same(rolled, full.roll(shift, dims=0)))
        return self._position_free


def _phases(phases: Sequence[int]) -> Steps[torch.Tensor]:
    votes = []
    for num in phases:
        votes.append((yield num))
    return torch.stack(votes)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality of two logit tensors (so NaN in the same place counts as equal)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.is_floating_point and a.element_size() in (2, 4, 8):
        view = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
        return bool(torch.equal(a.contiguous().view(view), b.contiguous().view(view)))
    return bool(torch.equal(a, b))
