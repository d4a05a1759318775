"""Region-restricted weighted cross-entropy (paperzoo.seg3d.losses)."""

import numpy as np
import torch
import torch.nn.functional as F

from paperzoo.seg3d.losses import IGNORE, RegionLoss, class_weights, region_class_weights


def test_class_weights_eq1_sum_to_one_and_ignore_outside():
    t = torch.tensor([[0, 0, 0, 1, 2, 2, IGNORE, IGNORE]])
    w = class_weights(t, 3)
    torch.testing.assert_close(w, torch.tensor([(1 - 3 / 6) / 2, (1 - 1 / 6) / 2, (1 - 2 / 6) / 2]))
    assert abs(float(w.sum()) - 1.0) < 1e-6


def test_loss_ignores_voxels_outside_region():
    torch.manual_seed(0)
    logits = torch.randn(1, 3, 4, 4, 4, requires_grad=True)
    t = torch.randint(0, 3, (1, 4, 4, 4))
    t[:, :2] = IGNORE
    for kind in ("wce", "wce+dice"):
        loss = RegionLoss(3, kind)(logits, t)
        loss.backward()
        assert torch.isfinite(loss)
        assert logits.grad[:, :, :2].abs().sum() == 0 and logits.grad[:, :, 2:].abs().sum() > 0
        logits.grad = None


def test_empty_region_gives_zero_loss():
    logits = torch.randn(1, 3, 2, 2, 2, requires_grad=True)
    loss = RegionLoss(3)(logits, torch.full((1, 2, 2, 2), IGNORE))
    loss.backward()
    assert float(loss.detach()) == 0.0


def test_region_class_weights_count_over_all_volumes():
    a = np.array([0, 0, 1, IGNORE], np.uint8)
    b = np.array([0, 2, IGNORE, IGNORE], np.uint8)
    w = region_class_weights([a, b], 3)  # N = (3, 1, 1), N_C = 5
    torch.testing.assert_close(w, torch.tensor([(1 - 3 / 5) / 2, (1 - 1 / 5) / 2, (1 - 1 / 5) / 2]))


def test_weighted_ce_matches_torch_and_all_background_patch_is_finite():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4, 4, requires_grad=True)
    t = torch.randint(0, 3, (2, 4, 4, 4))
    t[0, 0] = IGNORE
    w = torch.tensor([0.1, 0.5, 0.4])
    ref = F.cross_entropy(logits, t, weight=w, ignore_index=IGNORE)
    torch.testing.assert_close(RegionLoss(3)(logits, t, w), ref)
    # a patch with only background: per-batch Eq. 1 gives lambda_0 = 0 -> 0/0 in a weighted mean (the NaN
    # that made the benchmark's dense baseline predict nothing); here it is finite, and with training-set
    # weights it still trains the background
    bg = torch.zeros(2, 4, 4, 4, dtype=torch.long)
    bg[1, :2] = IGNORE
    for kind in ("wce", "wce+dice"):
        for weight in (None, w):
            loss = RegionLoss(3, kind)(logits, bg, weight)
            loss.backward()
            assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
            logits.grad = None
    assert float(RegionLoss(3)(logits, bg, w).detach()) > 0
