"""The base model as certification runs it: exact speed-ups always, inexact ones opt-in.

:func:`prepare_model` returns a copy of the model (the original is untouched)
and a description of what changed, for the certification manifest.

* **Exact** (always, on CPU): an ``nn.MaxPool2d`` without padding or dilation
  becomes element-wise maxima of strided views. A maximum is exact, so the values
  are those of the original layer, while PyTorch's CPU max-pool kernel is
  13-20x slower (on this project's CPU it takes about 80% of ``digits_cnn``'s
  and 40% of LeNet's forward time at batch 1000). A ``ReLU``
  that follows a convolution, linear or batch-norm layer inside an
  ``nn.Sequential`` runs in place (same values, one allocation fewer). The
  convolutions keep their layout: a channels-last convolution computes other
  floating-point roundings.
* **Opt-in**, each recorded in the manifest because they change the function
  that runs (by roundings): ``channels_last`` converts the whole model (another
  2x on LeNet on CPU); ``compile`` wraps it in ``torch.compile``; ``autocast``
  (``"bfloat16"`` or ``"float16"``) runs it under ``torch.autocast`` and returns
  float32 logits. A certificate is about the classifier that actually ran, so
  these are sound, just not bit-identical to the plain fp32 model.
"""

from __future__ import annotations

import copy
import ctypes
import sys
from typing import Any

import torch
from torch import nn

from smoothcert.errors import UserError

AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


class _WindowMaxPool(nn.Module):
    """``nn.MaxPool2d`` without padding or dilation, as element-wise maxima of strided views.

    A window's maximum does not depend on the order it is taken in, so the values
    are those of ``pool`` (NaN propagates in both); PyTorch's CPU max-pool kernel
    is 13-20x slower than these ``kh + kw - 2`` element-wise ``torch.maximum``
    calls. (Where a window's maximum is a zero of both signs, which sign comes
    out may in principle differ; no later sum or vote can tell them apart.)
    """

    def __init__(self, pool: nn.MaxPool2d) -> None:
        super().__init__()
        self.pool = pool
        self.kernel = _pair(pool.kernel_size)
        self.stride = _pair(pool.stride if pool.stride is not None else pool.kernel_size)

    @staticmethod
    def applies(pool: nn.MaxPool2d) -> bool:
        return (_pair(pool.padding) == (0, 0) and _pair(pool.dilation) == (1, 1) and not pool.ceil_mode
                and not pool.return_indices)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[2] < self.kernel[0] or x.shape[3] < self.kernel[1]:
            return self.pool(x)
        for dim, k, s in ((2, self.kernel[0], self.stride[0]), (3, self.kernel[1], self.stride[1])):
            span = s * ((x.shape[dim] - k) // s)  # start of the last window
            out = x.narrow(dim, 0, span + 1)[(slice(None),) * dim + (slice(None, None, s),)]
            for offset in range(1, k):
                view = x.narrow(dim, offset, span + 1)[(slice(None),) * dim + (slice(None, None, s),)]
                out = torch.maximum(out, view)
            x = out
        return x.contiguous()


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


class _Autocast(nn.Module):
    """Runs ``model`` under ``torch.autocast(device_type, dtype)``; returns float32 logits."""

    def __init__(self, model: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.model = model
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, dtype=self.dtype):
            return self.model(x).float()


_FRESH_OUTPUT = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def exact_rewrites(model: nn.Module) -> nn.Module:
    """In place: max-pooling by element-wise maxima, and in-place ReLUs where neither can change a value."""
    for parent in list(model.modules()):
        previous: nn.Module | None = None
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.MaxPool2d) and _WindowMaxPool.applies(child):
                setattr(parent, name, _WindowMaxPool(child))
            elif (isinstance(parent, nn.Sequential) and type(child) is nn.ReLU
                  and isinstance(previous, _FRESH_OUTPUT)):
                # the input is the fresh output of the layer before it, used by nothing else
                setattr(parent, name, nn.ReLU(inplace=True))
            previous = child
    return model


_allocator_tuned = False


def tune_allocator() -> bool:
    """Let glibc keep large freed blocks in the heap; True when it did (Linux/glibc only).

    glibc returns every block above its mmap threshold (at most 32 MiB) to the
    system when freed, so each forward pass of a 1000-image batch page-faults
    its activations in afresh (LeNet's first convolution writes 46 MB): about
    a third of LeNet's CPU time at batch 1000. Raising the mmap and trim
    thresholds keeps those pages for reuse; the cost is a resident set that
    stays at its peak. Process-wide, so only the command line calls it (for
    ``certify`` and ``predict`` on CPU), never the library by itself.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 1 << 30) == 1 and libc.mallopt(m_trim_threshold, (1 << 31) - 1) == 1
    except (OSError, AttributeError):
        return False
    _allocator_tuned = bool(ok)
    return _allocator_tuned


def set_tf32(enabled: bool) -> None:
    """TF32 for CUDA matmuls and cuDNN convolutions, on or off (process-wide)."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def prepare_model(
    model: nn.Module,
    device: torch.device,
    *,
    channels_last: bool = False,
    compile: bool = False,
    autocast: str | None = None,
    tf32: bool = False,
) -> tuple[nn.Module, dict[str, Any]]:
    """A copy of ``model`` in eval mode on ``device``, made fast; and its manifest fields.

    With no options the copy computes bit for bit the logits of ``model``
    (see the module docstring). The returned fields are ``{"dtype": ...}``
    plus ``"channels_last": True`` / ``"compile": True`` / ``"tf32": True`` when
    chosen, and on CUDA ``"gpu"``: the device's name. On CUDA, TF32 matmuls and
    convolutions are switched off process-wide unless ``tf32`` (PyTorch leaves
    cuDNN's on by default, which would make "float32" in the manifest untrue).

    Example:
        >>> fast, fields = prepare_model(model, torch.device("cpu"))
        >>> fields
        {'dtype': 'float32'}
    """
    fast = copy.deepcopy(model).to(device).eval()
    fields: dict[str, Any] = {"dtype": "float32"}
    if device.type == "cuda":
        set_tf32(tf32)
        fields["gpu"] = torch.cuda.get_device_name(device)
        if tf32:
            fields["tf32"] = True
    elif tf32:
        raise UserError("--tf32 applies to CUDA devices only; drop it, or run with --device cuda")
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        fields["channels_last"] = True
    elif device.type == "cpu":
        exact_rewrites(fast)
    if autocast is not None:
        if autocast not in AUTOCAST_DTYPES:
            raise UserError(f"--autocast {autocast!r} is not supported; choose one of: {', '.join(AUTOCAST_DTYPES)}")
        fast = _Autocast(fast, AUTOCAST_DTYPES[autocast])
        fields["dtype"] = autocast
    if compile:
        fast = torch.compile(fast, dynamic=False)  # type: ignore[assignment]
        fields["compile"] = True
    return fast, fields
