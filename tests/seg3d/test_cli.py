"""``paperzoo seg3d`` commands end to end on tiny generated data (paperzoo.seg3d.cli)."""

import json

import nibabel as nib
import numpy as np
import pytest

from paperzoo.cli import main


def _run(argv, capsys):
    try:
        main(argv)
        code = 0
    except SystemExit as e:
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_phantom_train_predict_overlay(tmp_path, capsys):
    data = tmp_path / "data"
    code, out, _ = _run(["seg3d", "phantom", str(data), "--n", "2", "--size", "32"], capsys)
    assert code == 0 and "GENERATED" in json.loads((data / "dataset.json").read_text())["description"]
    model = tmp_path / "model"
    code, out, err = _run(["seg3d", "train", "--data-dir", str(data), "--out", str(model), "--stage1-steps", "2",
                           "--stage2-steps", "2", "--channels", "4,8", "--roi", "8,8,8", "--batch", "1"], capsys)
    assert code == 0, err
    assert {p.name for p in model.iterdir()} >= {"model.json", "stage1.safetensors", "stage2.safetensors"}
    src = data / "imagesTr" / "phantomA_000.nii.gz"
    affine = np.diag([0.7, 0.7, 2.0, 1.0])
    affine[:3, 3] = [10, -20, 5]
    img = nib.load(str(src))
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj), affine, header=img.header), str(tmp_path / "in.nii.gz"))
    mask, png = tmp_path / "mask.nii.gz", tmp_path / "look.png"
    code, out, err = _run(["seg3d", "predict", str(model), str(tmp_path / "in.nii.gz"), "--out", str(mask),
                           "--overlay", str(png)], capsys)
    assert code == 0, err
    back = nib.load(str(mask))
    np.testing.assert_allclose(back.affine, affine)
    assert back.shape == (32, 32, 32) and back.get_data_dtype() == np.uint8
    assert png.stat().st_size > 1000 and "time_stage1_s" in out
    code, out2, err = _run(["seg3d", "predict", str(model), str(tmp_path / "in.nii.gz"), "--out", str(mask),
                            "--region-threshold", "0.05"], capsys)  # tau <= 0.5: C2 grows
    assert code == 0, err
    assert json.loads(out2.splitlines()[-1])["region_fraction"] >= json.loads(out.splitlines()[-1])["region_fraction"]
    code, _, err = _run(["seg3d", "predict", str(model), str(tmp_path / "in.nii.gz"), "--out", str(mask),
                         "--region-threshold", "1.5"], capsys)
    assert code == 2 and "--region-threshold" in err
    code, out, _ = _run(["seg3d", "overlay", str(tmp_path / "in.nii.gz"), str(mask), "--out", str(tmp_path / "o.png")],
                        capsys)
    assert code == 0 and (tmp_path / "o.png").is_file()


@pytest.mark.parametrize("argv,needle", [
    (["seg3d", "predict", "NOMODEL", "x.nii.gz", "--out", "m.nii.gz"], "model.json"),
    (["seg3d", "train", "--data-dir", "NODIR"], "not a directory"),
    (["seg3d", "phantom", "OUT", "--setting", "C"], "--setting"),
])
def test_user_mistakes_are_one_line_errors(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(argv, capsys)
    assert code == 2 and needle in err and err.count("\n") == 1 and err.startswith("error:")
