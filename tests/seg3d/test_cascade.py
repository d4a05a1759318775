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


def test_region_threshold_zero_is_argmax_and_low_tau_grows_region():
    model = _tiny(radius=0)
    lab1 = np.zeros((4, 4, 4), np.uint8)
    lab1[1, 1, 1] = 2
    fg = np.zeros((4, 4, 4), np.float32)
    fg[1, 1, 1], fg[2, 1, 1] = 0.8, 0.25
    body = np.ones((4, 4, 4), bool)  # both stages at 1/2: one grid
    paper = model.stage2_region(lab1, body)
    assert (model.stage2_region(lab1, body, fg) == paper).all() and paper.sum() == 1  # tau 0 ignores probabilities
    model.cfg.region_threshold = 0.2
    grown = model.stage2_region(lab1, body, fg)
    assert grown.sum() == 2 and (grown >= paper).all()


def test_predict_threshold_zero_unchanged_and_returns_stage1_prob():
    model = _tiny()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyRegionWarning)
        labels, info = model.predict(_ct())
        labels2, info2, lab1, p1 = model.predict(_ct(), return_stage1=True, return_stage1_prob=True)
        model.cfg.region_threshold = 0.01
        labels3, info3 = model.predict(_ct())
    np.testing.assert_array_equal(labels, labels2)
    assert info["region_fraction"] == info2["region_fraction"] <= info3["region_fraction"]
    assert lab1.shape == (24, 24, 16) and p1.shape == (12, 12, 8) and 0 <= p1.min() and p1.max() <= 1


def test_region_threshold_saved_and_old_model_json_loads(tmp_path):
    import json

    model = _tiny(region_threshold=0.2)
    model.save(tmp_path / "m")
    back = Cascade.load(tmp_path / "m")
    assert back.cfg.region_threshold == 0.2 and back.cfg == model.cfg
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    del meta["config"]["region_threshold"]  # a model.json written before the field existed
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    assert Cascade.load(tmp_path / "m").cfg.region_threshold == 0.0
    with pytest.raises(ConfigError, match="region_threshold"):
        CascadeConfig(region_threshold=1.5)
