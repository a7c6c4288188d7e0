"""The CIFAR ResNets of the randomized-smoothing papers: ResNet-20, -56 and -110.

This is the network that Cohen et al. (2019), Salman et al. (2019) and Jeong &
Shin (2020) call ``cifar_resnet110`` (He et al. 2016's CIFAR ResNet, as in
``archs/cifar_resnet.py`` of github.com/locuslab/smoothing): depth ``6n + 2``;
a 3x3 convolution to 16 channels, BatchNorm, ReLU; three stages of ``n``
BasicBlocks with 16, 32 and 64 channels (stride 2 at the start of stages 2
and 3, where a 1x1 convolution + BatchNorm projects the shortcut, "option B");
global average pooling (``AvgPool2d(8)`` on 32x32 inputs) and a linear layer.

Module names match the original, so state-dict keys are identical:
``conv1.weight``, ``bn1.*``, ``layer{1,2,3}.{i}.conv{1,2}.weight``,
``layer{1,2,3}.{i}.bn{1,2}.*``, ``layer{2,3}.0.downsample.{0,1}.*``,
``fc.weight``, ``fc.bias``. Initialisation also matches: convolutions
``N(0, 2 / (k*k*out_channels))``, BatchNorm weight 1 and bias 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from smoothcert.models.base import Builder, register_model


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (projected when the shape changes)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def _halved(size: int) -> int:
    """Output size of a 3x3, stride-2, padding-1 convolution."""
    return (size - 1) // 2 + 1


class CifarResNet(nn.Module):
    """ResNet of depth ``6n + 2`` for small images (He et al. 2016, Section 4.2).

    Example:
        >>> net = CifarResNet(110, num_classes=10)
        >>> net(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, depth: int, num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6 != 0:
            raise ValueError(f"depth must be 6n + 2 (20, 56, 110, ...), got {depth}")
        blocks = (depth - 2) // 6
        self.inplanes = 16
        self.conv1 = nn.Conv2d(in_channels, 16, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, blocks)
        self.layer2 = self._make_layer(32, blocks, stride=2)
        self.layer3 = self._make_layer(64, blocks, stride=2)
        # Global average pooling: AvgPool2d(8) for 32x32 inputs, as in the original.
        self.avgpool = nn.AvgPool2d(_halved(_halved(image_size)))
        self.fc = nn.Linear(64, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _builder(depth: int) -> Builder:
    def build(num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
        channels, height, width = input_shape
        if height != width:
            raise ValueError(f"cifar_resnet{depth} needs square images, got {height}x{width}")
        return CifarResNet(depth, num_classes, in_channels=channels, image_size=height)

    build.__name__ = f"cifar_resnet{depth}"
    build.__doc__ = f"CIFAR ResNet-{depth} (BasicBlock, {(depth - 2) // 6} blocks per stage, 16/32/64 channels)."
    return build


for _depth in (20, 56, 110):
    register_model(f"cifar_resnet{_depth}")(_builder(_depth))
