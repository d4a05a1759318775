import torch
import torch.nn.functional as F

from paperzoo.retrieval.losses import ContrastiveLoss, TripletLoss, tuple_labels


def test_contrastive_sum_by_hand():
    q = torch.tensor([[1.0, 0.0]])
    p = F.normalize(torch.tensor([[1.0, 1.0]]), dim=1)
    n1 = torch.tensor([[0.0, 1.0]])  # distance sqrt 2 > margin: no loss
    n2 = F.normalize(torch.tensor([[1.0, 0.2]]), dim=1)
    x = torch.cat([q, p, n1, n2])
    loss = ContrastiveLoss(margin=0.7)(x, tuple_labels(2))
    dp, dn2 = (q - p + 1e-6).norm(), (q - n2 + 1e-6).norm()
    expected = 0.5 * dp ** 2 + 0.5 * (0.7 - dn2).clamp(min=0) ** 2
    assert torch.allclose(loss, expected, atol=1e-6)


def test_contrastive_two_tuples_is_sum_of_each():
    x = F.normalize(torch.randn(8, 5), dim=1)
    crit = ContrastiveLoss(0.85)
    both = crit(x, tuple_labels(2).repeat(2))
    assert torch.allclose(both, crit(x[:4], tuple_labels(2)) + crit(x[4:], tuple_labels(2)), atol=1e-6)


def test_triplet_zero_when_negatives_far():
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    assert float(TripletLoss(0.1)(x, tuple_labels(1))) == 0.0
