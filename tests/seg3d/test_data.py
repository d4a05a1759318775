"""NIfTI round trip, Decathlon discovery, shape checks (paperzoo.seg3d.data)."""

import json

import nibabel as nib
import numpy as np
import pytest

from paperzoo.errors import DataError
from paperzoo.seg3d.data import (
    downsample,
    find_pairs,
    load_nifti,
    load_pair,
    save_like,
    upsample_labels,
    window,
    write_decathlon,
)


def _write(path, arr, affine):
    nib.save(nib.Nifti1Image(arr, affine), str(path))


def test_nifti_round_trip_keeps_affine_and_header(tmp_path):
    affine = np.array([[-0.8, 0, 0, 120.0], [0, 0.8, 0, -90.0], [0, 0, 2.5, 30.0], [0, 0, 0, 1]])
    img = nib.Nifti1Image(np.random.default_rng(0).integers(-1000, 1000, (8, 9, 5)).astype(np.int16), affine)
    img.header["descrip"] = b"test scan"
    img.header.set_xyzt_units("mm", "sec")
    src = tmp_path / "ct.nii.gz"
    nib.save(img, str(src))
    arr, loaded = load_nifti(src)
    assert arr.shape == (8, 9, 5) and arr.dtype == np.float32
    out = save_like((arr > 0).astype(np.uint8), loaded, tmp_path / "mask.nii.gz")
    back = nib.load(str(out))
    np.testing.assert_allclose(back.affine, affine)
    assert back.header.get_zooms() == loaded.header.get_zooms()
    assert back.header["descrip"] == loaded.header["descrip"]
    assert back.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asarray(back.dataobj), (arr > 0).astype(np.uint8))


def test_mismatched_image_label_shapes_one_line_error(tmp_path):
    _write(tmp_path / "img.nii.gz", np.zeros((8, 8, 8), np.int16), np.eye(4))
    _write(tmp_path / "lab.nii.gz", np.zeros((8, 8, 6), np.uint8), np.eye(4))
    with pytest.raises(DataError) as e:
        load_pair(tmp_path / "img.nii.gz", tmp_path / "lab.nii.gz")
    msg = str(e.value)
    assert "\n" not in msg and "(8, 8, 8)" in msg and "(8, 8, 6)" in msg and "resample" in msg


def test_decathlon_layout_with_dataset_json(tmp_path):
    cases = [(np.full((6, 6, 4), i, np.float32), np.zeros((6, 6, 4), np.uint8)) for i in range(3)]
    write_decathlon(tmp_path, cases, ("background", "liver"))
    pairs, names = find_pairs(tmp_path)
    assert len(pairs) == 3 and names == ["background", "liver"]
    assert all(p.name == q.name for p, q in pairs)


def test_paired_files_without_dataset_json_and_nnunet_suffix(tmp_path):
    (tmp_path / "imagesTr").mkdir()
    (tmp_path / "labelsTr").mkdir()
    _write(tmp_path / "imagesTr" / "case1_0000.nii.gz", np.zeros((4, 4, 4), np.int16), np.eye(4))
    _write(tmp_path / "labelsTr" / "case1.nii.gz", np.zeros((4, 4, 4), np.uint8), np.eye(4))
    _write(tmp_path / "imagesTr" / "orphan.nii.gz", np.zeros((4, 4, 4), np.int16), np.eye(4))
    pairs, names = find_pairs(tmp_path)
    assert [p[1].name for p in pairs] == ["case1.nii.gz"] and names is None


def test_bad_data_dirs(tmp_path):
    with pytest.raises(DataError, match="imagesTr"):
        find_pairs(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"training": [{"image": "./imagesTr/x.nii.gz",
                                                                      "label": "./labelsTr/x.nii.gz"}]}))
    with pytest.raises(DataError, match="do not exist"):
        find_pairs(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_nifti(tmp_path / "nope.nii.gz")
    (tmp_path / "junk.nii.gz").write_bytes(b"not nifti")
    with pytest.raises(DataError, match="not a readable NIfTI"):
        load_nifti(tmp_path / "junk.nii.gz")


def test_window_and_resampling():
    hu = np.array([-1000.0, -500.0, 0.0, 500.0, 2000.0])
    np.testing.assert_allclose(window(hu, -500, 500), [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(window(hu, -2000, 3000, out=(-1, 1)), [-0.6, -0.4, -0.2, 0.0, 0.6])
    lab = np.arange(7 * 5 * 3).reshape(7, 5, 3)
    small = downsample(lab, 2)
    assert small.shape == (4, 3, 2)
    up = upsample_labels(small, 2, lab.shape)
    assert up.shape == lab.shape
    np.testing.assert_array_equal(up[::2, ::2, ::2], small)
