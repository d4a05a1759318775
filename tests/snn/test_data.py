"""Dataset specs of paperzoo.snn.data (digits, CIFAR folder, image folder)."""

import pickle

import numpy as np
import pytest

from paperzoo.errors import DataError
from paperzoo.snn.data import batches, calibration_batches, dataset_info, load_dataset


def test_specs(tmp_path):
    assert dataset_info("digits") == {"kind": "digits", "in_chans": 1, "num_classes": 10}
    with pytest.raises(DataError):
        dataset_info(str(tmp_path / "nope"))
    c = tmp_path / "c" / "cifar-10-batches-py"
    c.mkdir(parents=True)
    with open(c / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1, 2]}, f)
    assert dataset_info(str(tmp_path / "c"))["kind"] == "cifar10"
    x, y = next(batches(load_dataset(str(tmp_path / "c"), "test"), 2))
    assert x.shape == (2, 3, 32, 32) and x.dtype.is_floating_point


def test_image_folder_splits_and_calibration(tmp_path):
    from PIL import Image
    for split in ("train", "val"):
        for c in ("a", "b", "c"):
            (tmp_path / split / c).mkdir(parents=True)
            Image.new("RGB", (5, 5), (10, 20, 30)).save(tmp_path / split / c / "0.png")
    assert dataset_info(str(tmp_path))["num_classes"] == 3
    te = load_dataset(str(tmp_path), "test", image_size=6)
    assert len(te) == 3 and te[0][0].shape == (3, 6, 6)
    cal = calibration_batches(load_dataset(str(tmp_path), "train", image_size=6), 2, 2)
    assert sum(len(x) for x in cal) == 3
