"""Candidate-region dilation, tile enumeration and tile skipping on hand cases (paperzoo.seg3d.region)."""

import numpy as np
import torch

from paperzoo.seg3d.region import (
    body_mask,
    candidate_region,
    dense_sliding_window,
    region_sliding_window,
    region_stats,
    tile_slices,
    tiles_touching,
)


def test_dilation_radius_is_a_cube_per_iteration():
    fg = np.zeros((11, 11, 11), bool)
    fg[5, 5, 5] = True
    for r in range(4):
        c = candidate_region(fg, r)
        assert c.sum() == (2 * r + 1) ** 3
        assert c[5 - r: 6 + r, 5 - r: 6 + r, 5 - r: 6 + r].all()
    body = np.zeros_like(fg)
    body[:, :6] = True
    assert candidate_region(fg, 2, body).sum() == 5 * 3 * 5  # ANDed with the body mask
    assert not candidate_region(np.zeros_like(fg), 3).any()


def test_region_stats_fraction_and_recall():
    lab = np.zeros((4, 4, 4), np.uint8)
    lab[0, 0, :2] = 1
    lab[3, 3, 3] = 2
    reg = np.zeros_like(lab, bool)
    reg[0, 0, 0] = reg[3, 3, 3] = True
    st = region_stats(reg, lab, 4)
    assert st["fraction"] == 2 / 64 and st["recall_1"] == 0.5 and st["recall_2"] == 1.0 and np.isnan(st["recall_3"])


def test_body_mask_keeps_largest_component_and_fills_holes():
    hu = np.full((30, 30, 10), -1000.0)
    hu[5:25, 5:25, :] = 40.0
    hu[12:18, 12:18, :] = -900.0  # air pocket inside the body (bowel gas)
    hu[1:3, 1:3, :] = 40.0  # a small blob (table) to drop
    m = body_mask(hu)
    assert m[15, 15, 5] and m[6, 6, 5] and not m[1, 1, 5] and not m[27, 27, 5]


def test_tiles_match_monai_and_skip_hand_case():
    tiles = tile_slices((40, 16, 16), (16, 16, 16), overlap=0.0)
    assert [t[0].start for t in tiles] == [0, 16, 24]  # MONAI clamps the last tile to the border
    reg = np.zeros((40, 16, 16), bool)
    reg[20, 3, 3] = True  # only in tile 2 (16..32)
    assert [t[0].start for t in tiles_touching(reg, tiles)] == [16]
    reg[30, 3, 3] = True  # in tiles 2 and 3 (24..40)
    assert [t[0].start for t in tiles_touching(reg, tiles)] == [16, 24]
    assert tiles_touching(np.zeros_like(reg), tiles) == []


def _net():
    from monai.networks.nets import UNet
    torch.manual_seed(0)
    return UNet(3, 1, 3, channels=(4, 8), strides=(2,), num_res_units=0).eval()


def test_region_sliding_window_equals_monai_when_dense():
    net = _net()
    x = torch.randn(1, 20, 12, 18)
    for mode in ("gaussian", "constant"):
        p, info = region_sliding_window(x, None, (8, 8, 8), net, 3, overlap=0.25, mode=mode)
        q = dense_sliding_window(x, (8, 8, 8), net, overlap=0.25, mode=mode)
        assert info["tiles_run"] == info["tiles_total"]
        torch.testing.assert_close(p, q)


def test_skipped_tiles_never_run_and_give_background():
    calls = []
    net = _net()

    def predictor(b):
        calls.append(b.shape[0])
        return net(b)

    x = torch.randn(1, 16, 16, 16)
    reg = np.zeros((16, 16, 16), bool)
    reg[2, 2, 2] = True
    p, info = region_sliding_window(x, reg, (8, 8, 8), predictor, 3, overlap=0.0, batch_size=8)
    assert info == {"tiles_run": 1, "tiles_total": 8} and sum(calls) == 1
    assert torch.all(p[0, 8:, 8:, 8:] == 1) and torch.all(p[1:, 8:, 8:, 8:] == 0)
    torch.testing.assert_close(p[:, :8, :8, :8], torch.softmax(net(x[None, :, :8, :8, :8])[0], 0))


def test_stage1_foreground_threshold_hand_case():
    from paperzoo.seg3d.region import stage1_foreground

    lab = np.zeros((5, 5, 5), np.uint8)
    lab[2, 2, 2] = 1  # argmax foreground: one voxel
    p = np.zeros((5, 5, 5), np.float32)  # stage-1 foreground probability 1 - p_background
    p[2, 2, 2] = 0.9
    p[2, 2, 3] = 0.3  # an uncertain neighbour argmax calls background
    p[0, 0, 0] = 0.05
    assert (stage1_foreground(lab, p, 0.0) == (lab > 0)).all()  # 0 = the paper, probabilities ignored
    assert (stage1_foreground(lab, None, 0.0) == (lab > 0)).all()
    low = stage1_foreground(lab, p, 0.2)
    assert low.sum() == 2 and low[2, 2, 3] and low[2, 2, 2]
    assert stage1_foreground(lab, p, 0.01).sum() == 3  # lower tau: larger seed
    assert candidate_region(low, 1).sum() > candidate_region(lab > 0, 1).sum()  # ... and a larger C2
