"""Region-restricted weighted cross-entropy (paperzoo.seg3d.losses)."""

import torch

from paperzoo.seg3d.losses import IGNORE, RegionLoss, class_weights


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
