"""The segmentation panel: NIfTI uploads (.nii and .nii.gz) through a tiny untrained cascade built here."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from paperzoo.serve import ServeConfig, create_app


def _volume() -> bytes:
    import nibabel as nib

    hu = np.full((24, 24, 16), -1000.0, np.float32)  # air around a soft-tissue block
    hu[6:18, 6:18, 4:12] = np.random.default_rng(0).normal(40, 30, (12, 12, 8))
    return nib.Nifti1Image(hu, np.eye(4)).to_bytes()


@pytest.fixture(scope="module")
def seg_client(tmp_path_factory):
    from paperzoo.seg3d.cascade import Cascade, CascadeConfig

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("seg3d") / "model"
    Cascade(CascadeConfig(n_classes=2, class_names=("background", "organ"), channels=(4, 8), num_res_units=0,
                          roi=(16, 16, 16))).save(d)
    app = create_app(ServeConfig(g2p=False, chat=False, seg3d_model=d, max_nifti_bytes=100_000))
    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_segments_nii_and_nii_gz(seg_client):
    assert seg_client.get("/api/systems").json()["panels"]["seg3d"]["available"]
    for body in (_volume(), gzip.compress(_volume())):
        r = seg_client.post("/api/seg3d", content=body)
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["shape"] == [24, 24, 16] and set(d["voxels"]) == {"organ"}
        assert 0 <= d["voxels"]["organ"] <= 24 * 24 * 16 and d["image"].startswith("data:image/png;base64,")


def test_seg3d_bad_uploads(seg_client):
    url = "/api/seg3d"
    assert seg_client.post(url, content=b"").status_code == 422
    assert "not a NIfTI" in seg_client.post(url, content=b"hello, not a volume").json()["error"]
    for bad in (gzip.compress(b"garbage" * 10), _volume()[:400], b"\x1f\x8b" + b"x" * 50):
        r = seg_client.post(url, content=bad)
        assert r.status_code == 422 and r.json()["error"], r.text
    assert seg_client.post(url, content=b"\x1f\x8b" + b"0" * 150_000).status_code == 413
    assert seg_client.get(url).status_code == 405


def test_seg3d_rejects_a_gzip_bomb_from_its_header(seg_client):
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_shape((1024, 1024, 1024))
    hdr.set_data_dtype(np.uint8)
    body = gzip.compress(hdr.binaryblock + b"\0" * 4 + b"\0" * 2_000_000)  # ~2 KB compressed, 1 G voxels declared
    r = seg_client.post("/api/seg3d", content=body)
    assert r.status_code == 422 and "larger than" in r.json()["error"]
