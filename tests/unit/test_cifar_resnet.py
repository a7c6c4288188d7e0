"""CIFAR ResNets: the original layout (state-dict keys, shapes, sizes, init) and the ImageNet ResNet-50 hook."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch

from smoothcert.errors import UserError
from smoothcert.models import create_model, list_models
from smoothcert.models.cifar_resnet import CifarResNet

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _original_keys(depth: int) -> dict[str, tuple[int, ...]]:
    """State-dict keys and shapes of locuslab/smoothing's archs/cifar_resnet.py ResNet, written out by hand."""
    n = (depth - 2) // 6
    keys: dict[str, tuple[int, ...]] = {"conv1.weight": (16, 3, 3, 3)}
    keys.update({f"bn1.{b}": (16,) if b != "num_batches_tracked" else () for b in BN})
    inplanes = 16
    for stage, planes in ((1, 16), (2, 32), (3, 64)):
        for i in range(n):
            p = f"layer{stage}.{i}."
            keys[p + "conv1.weight"] = (planes, inplanes if i == 0 else planes, 3, 3)
            keys[p + "conv2.weight"] = (planes, planes, 3, 3)
            for bn in ("bn1", "bn2"):
                keys.update({f"{p}{bn}.{b}": (planes,) if b != "num_batches_tracked" else () for b in BN})
            if i == 0 and stage > 1:
                keys[p + "downsample.0.weight"] = (planes, inplanes, 1, 1)
                keys.update({f"{p}downsample.1.{b}": (planes,) if b != "num_batches_tracked" else () for b in BN})
        inplanes = planes
    keys["fc.weight"], keys["fc.bias"] = (10, 64), (10,)
    return keys


@pytest.mark.parametrize("depth", [20, 56, 110])
def test_state_dict_matches_the_original_layout(depth: int) -> None:
    net = CifarResNet(depth)
    got = {key: tuple(value.shape) for key, value in net.state_dict().items()}
    assert got == _original_keys(depth)


def test_sizes_match_he_et_al() -> None:
    # He et al. (2016), Table 6: 0.27M, 0.85M, 1.7M parameters
    counts = {d: sum(p.numel() for p in CifarResNet(d).parameters()) for d in (20, 56, 110)}
    assert counts == {20: 272_474, 56: 855_770, 110: 1_730_714}


def test_registered_models_run_with_normalization_first() -> None:
    assert {"cifar_resnet20", "cifar_resnet56", "cifar_resnet110", "resnet50"} <= set(list_models())
    model = create_model("cifar_resnet20", 10, (3, 32, 32), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)).eval()
    assert list(model.state_dict())[:3] == ["0.mean", "0.std", "1.conv1.weight"]
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert model[1].avgpool.kernel_size == 8  # AvgPool2d(8), as in the original, for 32x32 inputs
    gray = create_model("cifar_resnet20", 7, (1, 28, 28)).eval()
    assert gray(torch.rand(2, 1, 28, 28)).shape == (2, 7) and gray[1].avgpool.kernel_size == 7


def test_original_initialisation() -> None:
    torch.manual_seed(0)
    net = CifarResNet(110)
    # conv weights ~ N(0, 2 / (k * k * out_channels)); stage 1: 18 blocks x 2 convs x 16 x 16 x 9 = 82,944 weights
    stage1 = torch.cat([m.weight.detach().flatten() for name, m in net.layer1.named_modules() if name.endswith("conv1")
                        or name.endswith("conv2")])
    expected = math.sqrt(2.0 / (9 * 16))
    assert stage1.numel() == 82_944
    assert abs(float(stage1.std()) / expected - 1) < 0.02  # relative sd of an sd estimate: 1/sqrt(2n) = 0.0025; 8 sd
    bn = net.layer3[0].bn2
    assert torch.equal(bn.weight.detach(), torch.ones(64)) and torch.equal(bn.bias.detach(), torch.zeros(64))


def test_bad_depth_is_rejected() -> None:
    with pytest.raises(ValueError, match="6n \\+ 2"):
        CifarResNet(21)


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed")
def test_resnet50_without_torchvision_says_how_to_install_it() -> None:
    hint = r"needs torchvision, which is not installed: pip install 'smoothcert\[imagenet\]'"
    with pytest.raises(UserError, match=hint):
        create_model("resnet50", 1000, (3, 224, 224))


def _torchvision_loads() -> bool:
    try:
        import torchvision.models  # noqa: F401
    except Exception:  # noqa: BLE001  missing, or built for another torch (any error of its import)
        return False
    return True


@pytest.mark.skipif(not _torchvision_loads(), reason="no usable torchvision")
def test_resnet50_with_torchvision_has_torchvision_keys() -> None:
    model = create_model("resnet50", 1000, (3, 224, 224))
    keys = list(model.state_dict())
    assert keys[2] == "1.conv1.weight" and "1.layer4.2.conv3.weight" in keys and keys[-1] == "1.fc.bias"
    assert model[1].fc.weight.shape == (1000, 2048)
