"""CUDA checks of the engine (skipped without a CUDA device); ``benchmarks/gpu_check.py`` runs these and more."""

from __future__ import annotations

import pytest
import torch

from smoothcert.certify.rewrites import prepare_model
from smoothcert.models import create_model

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_packed_equals_plain_on_cuda_fp32_without_tf32() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.check_packed_equals_plain(torch.device("cuda"))


@cuda
def test_tf32_is_off_unless_asked_and_the_gpu_is_recorded() -> None:
    model = create_model("mlp", 10, (1, 4, 4))
    _, fields = prepare_model(model, torch.device("cuda"))
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    assert fields["gpu"] == torch.cuda.get_device_name(0) and "tf32" not in fields
    _, fields = prepare_model(model, torch.device("cuda"), tf32=True)
    assert fields["tf32"] is True and torch.backends.cudnn.allow_tf32
    prepare_model(model, torch.device("cuda"))


def test_tf32_on_a_cpu_run_is_refused() -> None:
    from smoothcert.errors import UserError

    with pytest.raises(UserError, match="--tf32 applies to CUDA"):
        prepare_model(create_model("mlp", 10, (1, 4, 4)), torch.device("cpu"), tf32=True)
