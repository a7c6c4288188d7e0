"""Packed sampling: the noisy copies of several inputs share forward passes.

:class:`PackedSmooth` gives, for a stream of inputs each with its own
generator, exactly the votes :meth:`Smooth.sample_counts` would give, and from
them exactly the certificates of :meth:`Smooth.certify` and the predictions of
:meth:`Smooth.predict`; it only changes *which forward pass* evaluates each
noisy input:

* Each input's noise comes from its own generator, drawn in the chunks
  ``Smooth.sample_counts`` draws (``batch_size`` at a time, the remainder
  last; selection before estimation), by the same expression, so every noisy
  input is bit for bit the one the plain path builds.
* A full chunk (``batch_size`` rows) is a forward pass of its own, as in the
  plain path. Remainder chunks (e.g. the ``n0 = 100`` selection samples when
  ``batch_size = 1000``) of several inputs are packed into forward passes of
  exactly ``batch_size`` rows (the last one padded), instead of each running
  as a small batch.
* Votes are counted on the device (``index_add_`` into input-and-class slots);
  one synchronisation per forward pass that completes inputs, so at most one
  per input. Results come out in input order.

**Why the votes are identical, and the limits.** A row's logits do not depend
on the *other* rows of its batch for models without batch-dependent layers
(eval mode), but floating-point kernels may choose another algorithm for
another *batch size*: on this project's CPU (MKL, oneDNN) a ``Linear`` layer
gives other last bits for batches of 5 rows or fewer (``digits_cnn``) or 100
rows or fewer (``lenet``). So before packing chunks of a size r, the engine runs a
probe: random inputs through the model as a batch of ``batch_size`` and as a
batch of r (and rolled, to check that a row's position does not matter); only
if every row is bit-identical are chunks of size r packed, otherwise they run
alone, in the plain path's shape. Kernel choice depends on shapes, dtype and
thread count, not on values, so the probe speaks for all inputs; this is a
property of the libraries, checked by the tests on ``digits_cnn``, ``lenet``
and ``mlp``, not a theorem. Non-deterministic kernels (cuDNN benchmark mode,
atomics) void it on GPUs; ``Smooth`` itself is then not reproducible either.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from smoothcert import stats
from smoothcert.smooth import Certificate, Smooth, check_logits, raise_if_not_finite

_PROBE_SEED = 20190208


@dataclass
class _Job:
    slots: list[int]
    unforwarded: int = 0  # rows waiting in the pack
    drawn: bool = False


@dataclass
class _Pack:
    pieces: list[torch.Tensor] = field(default_factory=list)
    slots: list[tuple[int, int, _Job]] = field(default_factory=list)  # (slot, rows, job) per piece
    rows: int = 0


class PackedSmooth:
    """Votes, certificates and predictions for many inputs, with packed forward passes.

    Example:
        >>> packed = PackedSmooth(model, num_classes=10, sigma=0.5, batch_size=1000)
        >>> items = ((x, example_generator(seed, i, x.device)) for i, x in enumerate(xs))
        >>> for cert in packed.certify(items, n0=100, n=100_000, alpha=0.001): ...
    """

    def __init__(self, base_model: nn.Module, num_classes: int, sigma: float, batch_size: int = 1000,
                 *, pack: bool = True, max_pending: int = 256) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        Smooth(base_model, num_classes, sigma)  # validates sigma and num_classes as the plain path does
        self.base_model, self.num_classes, self.sigma = base_model, num_classes, float(sigma)
        self.batch_size = batch_size
        self.pack = pack
        self.max_pending = max(1, max_pending)
        self._safe: dict[int, bool] = {}
        self._position_free: bool | None = None
        self.forward_passes = 0

    def certify(self, items: Iterable[tuple[torch.Tensor, torch.Generator | None]], n0: int, n: int,
                alpha: float) -> Iterator[Certificate]:
        """CERTIFY each ``(x, generator)``: the certificates :meth:`Smooth.certify` gives, in order."""
        for votes in self.sample_counts(items, (n0, n)):
            selection, estimation = votes[0], votes[1]
            c_hat = int(selection.argmax())  # as Smooth.certify: the selection samples choose the class
            count = int(estimation[c_hat])
            p_lower = stats.clopper_pearson_lower(count, n, alpha)
            if p_lower < 0.5:
                yield Certificate(Smooth.ABSTAIN, 0.0, p_lower, count, n)
            else:
                yield Certificate(c_hat, stats.certified_radius(p_lower, self.sigma), p_lower, count, n)

    def predict(self, items: Iterable[tuple[torch.Tensor, torch.Generator | None]], n: int,
                alpha: float) -> Iterator[int]:
        """PREDICT each ``(x, generator)``: the answers of :meth:`Smooth.predict`, in order."""
        for votes in self.sample_counts(items, (n,)):
            top2 = torch.topk(votes[0], 2)
            c1, c2 = int(top2.values[0]), int(top2.values[1])
            yield Smooth.ABSTAIN if stats.binomial_pvalue(c1, c2) > alpha else int(top2.indices[0])

    def sample_counts(self, items: Iterable[tuple[torch.Tensor, torch.Generator | None]],
                      phases: Sequence[int]) -> Iterator[torch.Tensor]:
        """For each ``(x, generator)``: LongTensor[len(phases), num_classes] on CPU, in order.

        Row ``i`` holds the votes of ``phases[i]`` noisy copies drawn after those of
        the earlier phases, equal to successive ``Smooth.sample_counts`` calls with
        this engine's ``batch_size`` and the same generator.
        """
        for num in phases:
            if num < 1:
                raise ValueError(f"sample counts must be >= 1, got {num}")
        self.base_model.eval()
        width = len(phases)
        capacity = (self.max_pending + 2) * width  # slots; the one past the end takes padding rows
        counts: torch.Tensor | None = None
        nans: torch.Tensor | None = None
        free: list[int] = list(range(capacity))[::-1]
        jobs: deque[_Job] = deque()
        pack = _Pack()
        for x, generator in items:
            if counts is None:
                counts = torch.zeros(capacity + 1, self.num_classes, dtype=torch.long, device=x.device)
                nans = torch.zeros(capacity + 1, dtype=torch.long, device=x.device)
            job = _Job([free.pop() for _ in range(width)])
            jobs.append(job)
            for slot, num in zip(job.slots, phases):
                for size in _chunks(num, self.batch_size):
                    batch = x.unsqueeze(0).expand(size, *x.shape)
                    with torch.inference_mode():
                        noise = torch.randn(batch.shape, generator=generator, device=x.device, dtype=x.dtype)
                        noisy = batch + noise * self.sigma  # the plain path's expression
                    if size < self.batch_size and self._packable(x, size):
                        pack.pieces.append(noisy)
                        pack.slots.append((slot, size, job))
                        pack.rows += size
                        job.unforwarded += size
                        while pack.rows >= self.batch_size:
                            self._forward_pack(pack, counts, nans, capacity)
                    else:
                        self._forward(noisy, slot, counts, nans)
            job.drawn = True
            if len(jobs) > self.max_pending and pack.rows:
                self._forward_pack(pack, counts, nans, capacity)
            yield from self._finished(jobs, counts, nans, free)
        if pack.rows:
            self._forward_pack(pack, counts, nans, capacity)
        yield from self._finished(jobs, counts, nans, free)

    # -- internals -------------------------------------------------------------------------------------

    def _forward(self, inputs: torch.Tensor, slots: int | torch.Tensor, counts: torch.Tensor,
                 nans: torch.Tensor) -> None:
        """One forward pass; its votes go to ``slots`` (one slot for all rows, or one per row)."""
        with torch.inference_mode():
            logits = self.base_model(inputs)
            check_logits(logits, inputs.shape[0], self.num_classes)
            votes = logits.argmax(dim=1)
            nan_rows = (~torch.isfinite(logits)).any(dim=1).long()
            # index_add_, not bincount: on CUDA bincount reads the maximum back (a synchronisation)
            if isinstance(slots, int):
                counts[slots].index_add_(0, votes, torch.ones_like(votes))
                nans[slots : slots + 1].add_(nan_rows.sum())
            else:
                counts.view(-1).index_add_(0, slots * self.num_classes + votes, torch.ones_like(votes))
                nans.index_add_(0, slots, nan_rows)
        self.forward_passes += 1

    def _forward_pack(self, pack: _Pack, counts: torch.Tensor, nans: torch.Tensor, capacity: int) -> None:
        """Forward the first ``batch_size`` packed rows (padding a short pack), splitting a piece if needed."""
        take, pieces, slot_ids = self.batch_size, [], []
        device = pack.pieces[0].device
        while take > 0 and pack.pieces:
            piece, (slot, rows, job) = pack.pieces[0], pack.slots[0]
            used = min(rows, take)
            pieces.append(piece[:used])
            slot_ids.append(torch.full((used,), slot, device=device))
            job.unforwarded -= used
            take -= used
            pack.rows -= used
            if used == rows:
                pack.pieces.pop(0)
                pack.slots.pop(0)
            else:
                pack.pieces[0] = piece[used:]
                pack.slots[0] = (slot, rows - used, job)
        if take > 0:  # pad to the probed shape; padding rows vote into a slot nobody reads
            pieces.append(torch.zeros((take, *pieces[0].shape[1:]), dtype=pieces[0].dtype, device=device))
            slot_ids.append(torch.full((take,), capacity, device=device))
        self._forward(torch.cat(pieces), torch.cat(slot_ids), counts, nans)

    def _finished(self, jobs: deque[_Job], counts: torch.Tensor | None, nans: torch.Tensor | None,
                  free: list[int]) -> Iterator[torch.Tensor]:
        """Votes of the leading jobs whose rows are all forwarded: one synchronisation for all of them."""
        ready = []
        for job in jobs:
            if not (job.drawn and job.unforwarded == 0):
                break
            ready.append(job)
        if not ready or counts is None or nans is None:
            return
        slots = torch.tensor([s for job in ready for s in job.slots], device=counts.device)
        width = len(ready[0].slots)
        both = torch.cat([counts[slots], nans[slots].view(-1, 1)], dim=1).cpu()  # the synchronisation
        counts[slots] = 0
        nans[slots] = 0
        for number, job in enumerate(ready):
            jobs.popleft()
            free.extend(job.slots)
            block = both[number * width:(number + 1) * width]
            for phase in block:  # as the plain path: the first phase with non-finite logits raises
                raise_if_not_finite(int(phase[-1]), int(phase[:-1].sum()))
            yield block[:, :-1]

    def _packable(self, x: torch.Tensor, size: int) -> bool:
        """Whether rows of a ``size``-row chunk get bit-identical logits inside a full batch (probed once)."""
        if not self.pack:
            return False
        if size not in self._safe:
            self._safe[size] = self._probe(x, size)
        return self._safe[size]

    def _probe(self, x: torch.Tensor, size: int) -> bool:
        gen = torch.Generator(device=x.device).manual_seed(_PROBE_SEED)
        with torch.inference_mode():
            noise = torch.randn((self.batch_size, *x.shape), generator=gen, device=x.device, dtype=x.dtype)
            probe = x.unsqueeze(0) + noise * self.sigma
            full = self.base_model(probe)
            if self._position_free is None:
                shift = max(1, self.batch_size // 3)
                rolled = self.base_model(probe.roll(shift, dims=0))
                self._position_free = _same(rolled, full.roll(shift, dims=0))
            if not self._position_free:
                return False
            start = self.batch_size - size  # the chunk as the tail of a full batch
            return _same(self.base_model(probe[start:]), full[start:]) and _same(
                self.base_model(probe[:size]), full[:size])


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality of two logit tensors (so NaN in the same place counts as equal)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.is_floating_point and a.element_size() in (2, 4, 8):
        view = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
        return bool(torch.equal(a.contiguous().view(view), b.contiguous().view(view)))
    return bool(torch.equal(a, b))


def _chunks(num: int, batch_size: int) -> list[int]:
    """The batch sizes ``Smooth.sample_counts`` draws ``num`` samples in."""
    return [batch_size] * (num // batch_size) + ([num % batch_size] if num % batch_size else [])
