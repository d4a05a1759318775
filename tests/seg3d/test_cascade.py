"""The cascade: empty stage-1 foreground, save/load, region on the stage-2 grid (paperzoo.seg3d.cascade)."""

import warnings

import numpy as np
import pytest
import torch

from paperzoo.errors import CheckpointError, ConfigError
from paperzoo.seg3d.cascade import Cascade, CascadeConfig, EmptyRegionWarning


def _tiny(**kw) -> Cascade:
    torch.manual_seed(0)
    cfg = CascadeConfig(n_classes=3, channels=(4, 8), num_res_units=0, roi=(8, 8, 8), **kw)
    return Cascade(cfg).eval()


def _ct() -> np.ndarray:
    hu = np.full((24, 24, 16), -1000.0, np.float32)
    hu[4:20, 4:20, :] = 40.0
    return hu


def test_empty_stage1_foreground_gives_empty_mask_and_warning():
    model = _tiny()
    for p in model.stage1.parameters():  # force stage 1 to predict background everywhere
        p.data.zero_()
    last_bias = [m for m in model.stage1.modules() if isinstance(m, torch.nn.ConvTranspose3d)][-1].bias
    last_bias.data = torch.tensor([10.0, -10.0, -10.0])
    with pytest.warns(EmptyRegionWarning, match="no foreground"):
        labels, info = model.predict(_ct())
    assert labels.shape == (24, 24, 16) and labels.dtype == np.uint8 and not labels.any()
    assert info["stage2_tiles_run"] == 0 and info["warnings"]


def test_predict_shapes_tile_counts_and_full_res_option():
    for f2 in (2, 1):
        model = _tiny(stage2_factor=f2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EmptyRegionWarning)
            labels, info = model.predict(_ct())
        assert labels.shape == (24, 24, 16)
        assert info["stage1_tiles_run"] <= info["stage1_tiles_total"]
        assert not labels[0, 0].any()  # air outside the body is background


def test_stage2_region_upsampled_to_full_res_grid():
    model = _tiny(stage2_factor=1, radius=1)
    lab1 = np.zeros((4, 4, 4), np.uint8)
    lab1[1, 1, 1] = 2
    body = np.ones((8, 8, 8), bool)
    c2 = model.stage2_region(lab1, body)
    assert c2.sum() == 4**3 and c2[1:5, 1:5, 1:5].all()  # 2x2x2 block dilated by one voxel


def test_save_load_round_trip(tmp_path):
    model = _tiny(class_names=("background", "a", "b"))
    model.save(tmp_path / "m")
    back = Cascade.load(tmp_path / "m")
    assert back.cfg == model.cfg
    for a, b in zip(model.state_dict().values(), back.state_dict().values()):
        torch.testing.assert_close(a, b)
    with pytest.raises(CheckpointError, match="model.json"):
        Cascade.load(tmp_path)


def test_bad_config():
    with pytest.raises(ConfigError, match="multiple"):
        CascadeConfig(stage1_factor=2, stage2_factor=3)
