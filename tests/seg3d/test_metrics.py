"""Per-organ Dice and surface distance (paperzoo.seg3d.metrics)."""

import numpy as np

from paperzoo.seg3d.metrics import organ_metrics


def test_dice_and_asd_per_organ():
    lab = np.zeros((12, 12, 12), np.uint8)
    lab[2:6, 2:6, 2:6] = 1
    lab[8:10, 8:10, 8:10] = 2
    pred = lab.copy()
    pred[2, 2:6, 2:6] = 0  # remove one face of organ 1 (16 of 64 voxels)
    pred[pred == 2] = 0  # miss organ 2
    m = organ_metrics(pred, lab, 4, spacing=(2.0, 1.0, 1.0))
    assert abs(m["dice_1"] - 2 * 48 / (48 + 64)) < 1e-6
    assert m["dice_2"] == 0.0 and np.isnan(m["asd_2"])
    assert np.isnan(m["dice_3"])  # absent from the ground truth
    assert 0 < m["asd_1"] <= 2.0
    same = organ_metrics(lab, lab, 3)
    assert same["dice_1"] == same["dice_2"] == 1.0 and same["asd_1"] == 0.0
