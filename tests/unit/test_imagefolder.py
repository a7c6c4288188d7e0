"""Image-folder datasets: the papers' transforms on exact pixels, lazy access, errors, training through them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from smoothcert.cli.main import main
from smoothcert.data import _image_transforms as T
from smoothcert.data import create_dataset, dataset_info
from smoothcert.data.batches import BatchLoader
from smoothcert.errors import UserError
from tests.unit.fake_data import write_image_folder

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _two_halves(width: int, height: int) -> Image.Image:
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[:, : width // 2] = RED
    array[:, width // 2 :] = BLUE
    return Image.fromarray(array)


def test_test_transform_resizes_the_shorter_side_then_crops_the_centre() -> None:
    # 300x256: already 256 on the short side; the centre crop starts at column round(76 / 2) = 38,
    # so columns 38..149 (red) become 0..111 and 150..261 (blue) become 112..223.
    out = T.test_transform(_two_halves(300, 256))
    assert out.shape == (3, 224, 224) and out.dtype == torch.float32
    assert torch.equal(out[0, :, :112], torch.ones(224, 112)) and float(out[2, :, :112].sum()) == 0.0
    assert torch.equal(out[2, :, 112:], torch.ones(224, 112)) and float(out[0, :, 112:].sum()) == 0.0
    # 512x400 -> 327x256 (int(256 * 512 / 400)); a uniform colour stays exact
    assert T.resize_shorter(Image.new("RGB", (512, 400))).size == (327, 256)
    assert T.resize_shorter(Image.new("RGB", (400, 512))).size == (256, 327)
    uniform = T.test_transform(Image.new("RGB", (512, 400), (10, 200, 77)))
    torch.testing.assert_close(uniform[:, 100, 100], torch.tensor([10, 200, 77]) / 255.0, rtol=0, atol=0)
    assert torch.equal(uniform, uniform[:, :1, :1].expand_as(uniform))


def test_train_transform_is_a_seeded_random_crop_and_flip() -> None:
    image = _two_halves(320, 240)
    torch.manual_seed(1)
    a = T.train_transform(image)
    torch.manual_seed(1)
    b = T.train_transform(image)
    assert a.shape == (3, 224, 224) and torch.equal(a, b)
    flipped_seen = plain_seen = False
    for seed in range(20):
        torch.manual_seed(seed)
        out = T.train_transform(image)
        # red on the left unless mirrored (crops narrower than a half are all one colour: skip those)
        left, right = float(out[0, :, 0].mean()), float(out[0, :, -1].mean())
        flipped_seen |= left < right
        plain_seen |= left > right
    assert flipped_seen and plain_seen


def test_crop_box_falls_back_to_a_centred_crop_of_the_extreme_ratio() -> None:
    torch.manual_seed(0)
    # 1000x10 cannot fit any area/ratio draw: the fallback keeps the full height and width = round(10 * 4/3)
    assert T._crop_box(1000, 10, (0.08, 1.0), (3 / 4, 4 / 3)) == (0, 493, 10, 13)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_image_folder(tmp_path, {"cat": [(40, 30, RED), (30, 40, RED)], "ant": [(32, 32, BLUE)],
                                  "dog": [(50, 20, (0, 255, 0))]})
    (tmp_path / "train" / "cat" / "notes.txt").write_text("not an image")
    return tmp_path


def test_classes_are_sorted_folder_names_and_images_are_lazy(folder: Path) -> None:
    data = create_dataset("imagefolder", "test", folder)
    assert data.info.num_classes == 3 and data.info.input_shape == (3, 224, 224)
    assert [p.parent.name for p in data.files] == ["ant", "cat", "cat", "dog"]
    assert data.labels.tolist() == [0, 1, 1, 2]
    one = data.images[0]
    torch.testing.assert_close(one[:, 0, 0], torch.tensor(BLUE) / 255.0, rtol=0, atol=0)
    assert data.images[1:3].shape == (2, 3, 224, 224)
    assert torch.equal(data.images[torch.tensor([3, 0])][1], one)
    x, y = data[2]
    assert int(y) == 1 and torch.equal(x, data.images[2])
    assert len(create_dataset("imagefolder", "train", folder)) == 4  # notes.txt is skipped


def test_val_falls_back_to_test_and_classes_come_from_train(tmp_path: Path) -> None:
    write_image_folder(tmp_path, {"a": [(8, 8, RED)], "b": [(8, 8, BLUE)]}, splits=("train",))
    write_image_folder(tmp_path, {"b": [(8, 8, BLUE)]}, splits=("test",))
    data = create_dataset("imagefolder", "test", tmp_path)
    assert data.labels.tolist() == [1] and data.info.num_classes == 2


def test_folder_errors_are_user_errors(tmp_path: Path, folder: Path) -> None:
    with pytest.raises(UserError, match="needs --data-dir"):
        create_dataset("imagefolder", "test", None)
    with pytest.raises(UserError, match="missing: no such directory"):
        create_dataset("imagefolder", "test", tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"empty: no val/ or test/\)"):
        create_dataset("imagefolder", "test", tmp_path / "empty")
    (tmp_path / "empty" / "val").mkdir()
    with pytest.raises(UserError, match="has no class folders"):
        create_dataset("imagefolder", "test", tmp_path / "empty")
    (tmp_path / "empty" / "val" / "x").mkdir()
    with pytest.raises(UserError, match="no image files"):
        create_dataset("imagefolder", "test", tmp_path / "empty")
    with pytest.raises(UserError, match="has 3 class folders, ImageNet has 1000"):
        create_dataset("imagenet", "test", folder)
    assert dataset_info("imagenet").num_classes == 1000


def test_an_unreadable_image_is_a_user_error_naming_it(folder: Path) -> None:
    bad = folder / "val" / "ant" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    data = create_dataset("imagefolder", "test", folder)
    with pytest.raises(UserError, match=r"cannot read image .*broken\.jpg"):
        data.images[0]


def test_batches_from_worker_processes_follow_the_order(folder: Path) -> None:
    data = create_dataset("imagefolder", "test", folder)
    order = torch.tensor([3, 1, 0, 2])
    batches = list(BatchLoader(data, torch.device("cpu"), workers=1).epoch(order, batch_size=3))
    assert [len(y) for _, y in batches] == [3, 1]
    assert torch.equal(torch.cat([x for x, _ in batches]), data.images[order])
    assert torch.cat([y for _, y in batches]).tolist() == data.labels[order].tolist()
    (folder / "val" / "dog" / "img_0.png").write_bytes(b"garbage")
    with pytest.raises(UserError, match=r"^cannot read image .*img_0\.png \(") as caught:
        list(BatchLoader(data, torch.device("cpu"), workers=1).epoch(order, batch_size=3))
    assert "\n" not in str(caught.value)  # the worker's traceback is not part of the message


def test_train_and_certify_an_image_folder(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMOOTHCERT_WORKERS", "0")
    run = tmp_path / "run"
    assert main(["train", "--dataset", "imagefolder", "--data-dir", str(folder), "--arch", "mlp", "--sigma", "0.25",
                 "--epochs", "1", "--batch-size", "2", "--out", str(run), "--quiet"]) == 0
    tsv = tmp_path / "cert.tsv"
    assert main(["certify", str(run), "--data-dir", str(folder), "--out", str(tsv), "--n0", "10", "--n", "20",
                 "--batch-size", "20", "--skip", "3", "--quiet"]) == 0
    rows = tsv.read_text().splitlines()
    assert rows[0].split("\t")[:6] == ["idx", "label", "predict", "radius", "correct", "time"]
    assert [r.split("\t")[:2] for r in rows[1:]] == [["0", "0"], ["3", "2"]]
