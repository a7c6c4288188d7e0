"""--device names a device this machine has, or the command stops with one error line."""

from __future__ import annotations

import pytest
import torch

from smoothcert.errors import UserError
from smoothcert.runtime.devices import resolve_device

SUFFIX = "; use --device auto or cpu, or cuda:K for a GPU this machine has"


def test_cpu_and_auto() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="unknown device 'tpu9'"):
        resolve_device("tpu9")


@pytest.mark.skipif(torch.version.cuda is not None or torch.version.hip is not None, reason="torch built with CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_on_a_torch_without_cuda(name: str) -> None:
    with pytest.raises(UserError) as info:
        resolve_device(name)
    reason = f"this torch {torch.__version__} is built without CUDA"
    assert str(info.value) == f"device {name!r} is not available ({reason})" + SUFFIX


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_index_past_the_last_gpu() -> None:
    count = torch.cuda.device_count()
    assert resolve_device("cuda") == torch.device("cuda") and resolve_device(f"cuda:{count - 1}").index == count - 1
    torch.zeros(1, device=resolve_device(f"cuda:{count - 1}"))
    with pytest.raises(UserError) as info:
        resolve_device(f"cuda:{count}")
    gpus = "1 GPU, cuda:0" if count == 1 else f"{count} GPUs, cuda:0 to cuda:{count - 1}"
    assert str(info.value) == f"device 'cuda:{count}' is not available (this machine has {gpus})" + SUFFIX


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="MPS is available here")
def test_mps_where_there_is_none() -> None:
    with pytest.raises(UserError, match="'mps' is not available"):
        resolve_device("mps")
