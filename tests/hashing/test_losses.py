import itertools
import math

import pytest
import torch

from paperzoo.errors import ConfigError
from paperzoo.hashing.losses import PairwiseBinaryConstrainedLoss, b_step, margin_for


def test_loss_matches_hand_computed_values():
    # L = 2, margin_frac = 0.5 -> m^2 = 4 * 0.5 * 2 = 4, m = 2
    crit = PairwiseBinaryConstrainedLoss(bits=2, lam=0.5, margin_frac=0.5)
    assert crit.margin == pytest.approx(2.0)
    hi = torch.tensor([[0.5, -0.5], [0.5, 0.5]])
    hj = torch.tensor([[0.5, 0.5], [-0.5, 0.5]])
    s = torch.tensor([1.0, 0.0])
    bi = torch.tensor([[1.0, -1.0], [1.0, 1.0]])
    bj = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    # pair 1 (similar): ||hi-hj||^2 = 1 -> 0.5; quant: 0.25*(0.5) + 0.25*(0.5) = 0.25 -> 0.75
    # pair 2 (dissimilar): ||hi-hj|| = 1 -> 0.5*(2-1)^2 = 0.5; quant: 0.25*0.5 + 0.25*(0.25+2.25) = 0.75 -> 1.25
    # mean over pairs = 1.0, divided by L = 2 -> 0.5
    assert float(crit(hi, hj, s, bi, bj)) == pytest.approx(0.5)
    # lambda = 0 drops the quantisation term: (0.5 + 0.5) / 2 / 2
    assert float(PairwiseBinaryConstrainedLoss(2, 0.0)(hi, hj, s, bi, bj)) == pytest.approx(0.25)


def test_inner_distance_hand_value():
    crit = PairwiseBinaryConstrainedLoss(bits=2, lam=0.0, distance="inner")
    hi, hj = torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0, -1.0]])
    # h.h/L = 0; similar target +1 -> (0 - 1)^2 * L = 2, / L -> 1
    assert float(crit(hi, hj, torch.tensor([1.0]))) == pytest.approx(1.0)


def test_margin_is_hamming_radius():
    assert margin_for(64, 0.5) ** 2 == pytest.approx(4 * 32)  # ||b_i - b_j||^2 = 4 d_H


def test_b_step_is_optimal_by_exhaustive_search():
    torch.manual_seed(0)
    crit = PairwiseBinaryConstrainedLoss(bits=4, lam=0.7)
    hi, hj = torch.rand(1, 4) * 2 - 1, torch.rand(1, 4) * 2 - 1
    s = torch.tensor([0.0])
    best = min((float(crit(hi, hj, s, torch.tensor([bi], dtype=torch.float32), torch.tensor([bj], dtype=torch.float32))), bi, bj)
               for bi in itertools.product([-1, 1], repeat=4) for bj in itertools.product([-1, 1], repeat=4))
    got = float(crit(hi, hj, s, b_step(hi), b_step(hj)))
    assert got == pytest.approx(best[0])
    assert list(best[1]) == b_step(hi)[0].tolist() and list(best[2]) == b_step(hj)[0].tolist()


def test_b_step_tie_is_plus_one():
    assert b_step(torch.tensor([0.0, -0.0, -1e-9, 2.0])).tolist() == [1, 1, -1, 1]


def test_per_batch_quantisation_equals_sign_of_h():
    crit = PairwiseBinaryConstrainedLoss(bits=3, lam=1.0)
    hi, hj = torch.tensor([[0.2, -0.9, 0.4]]), torch.tensor([[-0.3, 0.1, 0.8]])
    s = torch.tensor([1.0])
    assert float(crit(hi, hj, s)) == pytest.approx(float(crit(hi, hj, s, b_step(hi), b_step(hj))))


@pytest.mark.parametrize("kw", [dict(distance="cosine"), dict(lam=-1.0)])
def test_bad_arguments(kw):
    with pytest.raises(ConfigError):
        PairwiseBinaryConstrainedLoss(8, **kw)


def test_gradient_flows():
    h = torch.zeros(2, 8, requires_grad=True)
    PairwiseBinaryConstrainedLoss(8, 0.1)(h[:1] + 0.1, h[1:], torch.tensor([0.0])).backward()
    assert torch.isfinite(h.grad).all() and h.grad.abs().sum() > 0 and not math.isnan(float(h.grad.sum()))
