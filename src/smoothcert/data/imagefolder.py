"""Image-folder datasets (ImageNet and any ``train/<class>/*.jpg`` tree), decoded lazily.

Layout: ``DIR/train/<class>/...`` and ``DIR/val/<class>/...`` (``test/`` is
accepted when there is no ``val/``); classes are the sorted subdirectory names
of ``train/`` (of the split's own folder when ``train/`` is absent), labels their
indices, as in torchvision's ``ImageFolder``. Files are found recursively by
extension. Images are converted to RGB and transformed as in the papers (see
:mod:`smoothcert.data._image_transforms`): the train split with a random
resized crop and flip, the test split with resize 256 and centre crop 224.

``imagenet`` reads ``--data-dir``, else the first that holds the split among
``$SMOOTHCERT_DATA_DIR/imagenet``, ``$IMAGENET_DIR`` (the original code's
variable) and the user cache (:mod:`smoothcert.data.locations`), and insists on
1,000 classes. ``imagefolder`` needs ``--data-dir`` and takes the
number of classes from the folder.

The dataset holds only file names: ``data[i]`` decodes one image, and
``data.images`` is a lazy view (``data.images[i]``, ``[a:b]``, ``[index_tensor]``)
so code written for in-memory datasets works unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from smoothcert.data import _image_transforms as T
from smoothcert.data.base import DatasetInfo, register_dataset
from smoothcert.data.layouts import FileLayout
from smoothcert.data.locations import resolve_data_dir
from smoothcert.errors import UserError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGENET = DatasetInfo("imagenet", 1000, (3, T.CROP, T.CROP), IMAGENET_MEAN, IMAGENET_STD)
# num_classes 0: taken from the folder when the dataset is loaded.
IMAGEFOLDER = DatasetInfo("imagefolder", 0, (3, T.CROP, T.CROP), IMAGENET_MEAN, IMAGENET_STD)


class _LazyImages:
    """``images[...]`` for a lazy dataset: decodes on access, stacks several into a batch."""

    def __init__(self, data: ImageFolderData) -> None:
        self._data = data

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, index: int | slice | Sequence[int] | torch.Tensor) -> torch.Tensor:
        if isinstance(index, slice):
            return torch.stack([self._data.load(i) for i in range(len(self._data))[index]])
        if isinstance(index, torch.Tensor) and index.dim() == 0:
            index = int(index)
        if isinstance(index, int):
            return self._data.load(index)
        return torch.stack([self._data.load(int(i)) for i in index])


class ImageFolderData(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Images listed from folders, decoded on access; ``labels`` is an int64 tensor.

    Example:
        >>> data = create_dataset("imagefolder", "test", "path/to/folder")
        >>> x, y = data[0]            # (3, 224, 224) float32 in [0, 1], label
        >>> batch = data.images[0:8]  # (8, 3, 224, 224)
    """

    def __init__(self, files: list[Path], labels: list[int], info: DatasetInfo,
                 transform: Callable[[Image.Image], torch.Tensor]) -> None:
        self.files = files
        self.labels = torch.tensor(labels, dtype=torch.int64)
        self.info = info
        self.transform = transform
        self.images = _LazyImages(self)
        self.augment = None

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> torch.Tensor:
        """Decode and transform image ``index``; ``UserError`` naming the file if unreadable."""
        path = self.files[index]
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise UserError(f"cannot read image {path} ({exc}); remove or replace the file") from None
        return self.transform(rgb)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.load(index), self.labels[index]


def _split_dir(root: Path, split: str) -> Path:
    names = ("train",) if split == "train" else ("val", "test")
    for name in names:
        if (root / name).is_dir():
            return root / name
    wanted = " or ".join(f"{root / name}/<class>/" for name in names)
    raise UserError(f"image folder {wanted} not found; pass --data-dir DIR holding train/ and val/ class folders")


def _classes(directory: Path) -> list[str]:
    return sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())


def scan(root: Path, split: str) -> tuple[list[Path], list[int], list[str]]:
    """Files, labels and class names of ``split`` under ``root``; ``UserError`` if empty or missing."""
    if not root.is_dir():
        raise UserError(f"image folder {root} does not exist; pass --data-dir DIR holding train/ and val/")
    directory = _split_dir(root, split)
    classes = _classes(root / "train") if (root / "train").is_dir() else _classes(directory)
    if not classes:
        raise UserError(f"{directory} has no class folders; expected {directory}/<class>/<image files>")
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        for dirpath, dirnames, filenames in os.walk(directory / name, followlinks=True):
            dirnames.sort()
            for filename in sorted(filenames):
                if filename.lower().endswith(EXTENSIONS):
                    files.append(Path(dirpath) / filename)
                    labels.append(label)
    if not files:
        raise UserError(f"no image files ({', '.join(EXTENSIONS)}) under {directory}")
    return files, labels, classes


def _transform(split: str) -> Callable[[Image.Image], torch.Tensor]:
    return T.train_transform if split == "train" else T.test_transform


def _missing(root: Path, split: str | None) -> list[str]:
    splits = (split,) if split is not None else ("train", "test")
    names = {"train": ("train",), "test": ("val", "test")}
    return [" or ".join(f"{n}/" for n in names[s]) for s in splits if not any((root / n).is_dir() for n in names[s])]


_FOLDERS = "train/<class>/ and val/<class>/ image folders"
IMAGENET_LAYOUT = FileLayout(_missing, _FOLDERS, env=("IMAGENET_DIR",),
                             obtain="get ILSVRC-2012 from image-net.org and pass its folder as --data-dir")
IMAGEFOLDER_LAYOUT = FileLayout(_missing, _FOLDERS, search=False, obtain="pass the folder holding them as --data-dir")


@register_dataset(IMAGENET, IMAGENET_LAYOUT)  # type: ignore[arg-type]  # ImageFolderData has TensorData's interface, decoded on access
def load_imagenet(split: str, data_dir: Path | None = None) -> ImageFolderData:
    """ImageNet (ILSVRC-2012) train or val folders; exactly 1,000 classes."""
    root = resolve_data_dir(IMAGENET.name, data_dir, split=split)
    assert root is not None
    files, labels, classes = scan(root, split)
    if len(classes) != IMAGENET.num_classes:
        raise UserError(f"{root} has {len(classes)} class folders, ImageNet has 1000; "
                        "for another image collection use --dataset imagefolder")
    return ImageFolderData(files, labels, IMAGENET, _transform(split))


@register_dataset(IMAGEFOLDER, IMAGEFOLDER_LAYOUT)  # type: ignore[arg-type]  # ImageFolderData has TensorData's interface, decoded on access
def load_imagefolder(split: str, data_dir: Path | None = None) -> ImageFolderData:
    """Any ``train/<class>/`` + ``val/<class>/`` image collection under ``--data-dir``."""
    root = resolve_data_dir(IMAGEFOLDER.name, data_dir, split=split)
    assert root is not None
    files, labels, classes = scan(root, split)
    return ImageFolderData(files, labels, replace(IMAGEFOLDER, num_classes=len(classes)), _transform(split))
