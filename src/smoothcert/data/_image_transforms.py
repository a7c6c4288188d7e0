"""The ImageNet transforms of the papers, on PIL images, with torch's RNG.

Written to match torchvision's PIL code paths (which the original code used):

* test: ``Resize(256)`` (shorter side to 256, the other ``int(256 * long / short)``,
  bilinear) then ``CenterCrop(224)`` (offsets ``int(round((side - 224) / 2))``);
* train: ``RandomResizedCrop(224)`` (scale 0.08..1, aspect ratio 3/4..4/3 on a log
  scale, 10 tries then a centred fallback; bilinear) then ``RandomHorizontalFlip()``;
* ``to_tensor``: uint8 HWC -> float32 CHW in [0, 1].

Random draws come from torch's global RNG (seeded per DataLoader worker).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

RESIZE = 256
CROP = 224


def resize_shorter(image: Image.Image, size: int = RESIZE) -> Image.Image:
    """Scale so that the shorter side is ``size``, keeping the aspect ratio (bilinear)."""
    width, height = image.size
    new = (size, int(size * height / width)) if width <= height else (int(size * width / height), size)
    return image.resize(new, Image.Resampling.BILINEAR)


def center_crop(image: Image.Image, size: int = CROP) -> Image.Image:
    """The central ``size`` x ``size`` window (the image must be at least that large)."""
    width, height = image.size
    top = round((height - size) / 2.0)
    left = round((width - size) / 2.0)
    return image.crop((left, top, left + size, top + size))


def _crop_box(
    width: int, height: int, scale: tuple[float, float], ratio: tuple[float, float]
) -> tuple[int, int, int, int]:
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect = math.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1]).item())
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, size=(1,)).item())
            left = int(torch.randint(0, width - w + 1, size=(1,)).item())
            return top, left, h, w
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        w, h = round(height * max(ratio)), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def random_resized_crop(image: Image.Image, size: int = CROP, scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0)) -> Image.Image:
    """A random window of random area and aspect ratio, resized to ``size`` x ``size``."""
    top, left, h, w = _crop_box(image.size[0], image.size[1], scale, ratio)
    return image.crop((left, top, left + w, top + h)).resize((size, size), Image.Resampling.BILINEAR)


def random_flip(image: Image.Image) -> Image.Image:
    """Mirror left-right with probability 1/2."""
    if torch.rand(1).item() < 0.5:
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image


def to_tensor(image: Image.Image) -> torch.Tensor:
    """An RGB PIL image as float32 (3, H, W) in [0, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def train_transform(image: Image.Image) -> torch.Tensor:
    """``RandomResizedCrop(224)``, ``RandomHorizontalFlip()``, to tensor."""
    return to_tensor(random_flip(random_resized_crop(image)))


def test_transform(image: Image.Image) -> torch.Tensor:
    """``Resize(256)``, ``CenterCrop(224)``, to tensor."""
    return to_tensor(center_crop(resize_shorter(image)))
