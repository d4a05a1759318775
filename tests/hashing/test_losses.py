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


def _brute_force_b(H, pi, pj, lam):
    from paperzoo.hashing.losses import b_objective

    n, L = H.shape
    best = None
    for flat in itertools.product([-1.0, 1.0], repeat=n * L):
        B = torch.tensor(flat).view(n, L)
        J = b_objective(B, H, pi, pj, lam)
        if best is None or J < best[0] - 1e-12:
            best = (J, B)
    return best


def test_pairwise_b_step_hand_traced_case():
    from paperzoo.hashing.losses import b_objective, b_step_pairwise

    # 3 images in a chain 0-1-2, L = 2, lambda = 0.5; start sign(H) = [[+,-],[-,-],[+,+]].
    # bit 0: image 0: sign(b_1 + 0.5*0.9) = sign(-0.55) = -1; image 1: sign(-1 + 1 - 0.15) = -1;
    #        image 2: sign(-1 + 0.35) = -1.   bit 1: image 0: sign(-1 - 0.4) = -1; image 1: sign(-1 + 1 - 0.3) = -1;
    #        image 2: sign(-1 + 0.2) = -1.   A second sweep changes nothing: B = all -1.
    H = torch.tensor([[0.9, -0.8], [-0.3, -0.6], [0.7, 0.4]])
    pi, pj = [0, 1], [1, 2]
    B = b_step_pairwise(H, pi, pj, lam=0.5, sweeps=5)
    assert torch.equal(B, -torch.ones(3, 2))
    # J = 0 (pairs agree) + 0.25 * (1.9^2 + 0.7^2 + 1.7^2) + 0.25 * (0.2^2 + 0.4^2 + 1.4^2) = 1.7475 + 0.54
    assert b_objective(B, H, pi, pj, 0.5) == pytest.approx(2.2875)
    J0 = b_objective(b_step(H), H, pi, pj, 0.5)  # 2 disagreeing bits on each pair: 4 * 2 = 8, + 0.25 * 2.06 ... > J
    assert b_objective(B, H, pi, pj, 0.5) < J0
    # coordinate descent reaches a coordinate-wise optimum, not always the global one (as UH-BDNN's DCC):
    # here B = all +1 on bit 0 would cost 0.4475 instead of 1.7475
    J_best, _ = _brute_force_b(H, pi, pj, 0.5)
    assert J_best == pytest.approx(0.4475 + 0.54)


def test_pairwise_b_step_is_coordinatewise_optimal_and_monotone():
    from paperzoo.hashing.losses import b_objective, b_step_pairwise

    g = torch.Generator().manual_seed(0)
    H = torch.rand(12, 6, generator=g) * 2 - 1
    pi = torch.randint(0, 12, (20,), generator=g)
    pj = torch.randint(0, 12, (20,), generator=g)
    lam = 0.3
    B = b_step_pairwise(H, pi, pj, lam, sweeps=50)
    J = b_objective(B, H, pi, pj, lam)
    assert J <= b_objective(b_step(H), H, pi, pj, lam) + 1e-9  # never worse than the sign start
    for i in range(12):  # no single image's code (any of 2^6) lowers J: a fixed point of the exact updates
        for flat in itertools.product([-1.0, 1.0], repeat=6):
            B2 = B.clone()
            B2[i] = torch.tensor(flat)
            assert b_objective(B2, H, pi, pj, lam) >= J - 1e-9


def test_pairwise_b_step_without_pairs_is_sign():
    from paperzoo.hashing.losses import b_step_pairwise

    H = torch.tensor([[0.2, -0.1, 0.0], [-0.5, 0.3, 0.9]])
    assert torch.equal(b_step_pairwise(H, [], [], 0.1), b_step(H))
    assert torch.equal(b_step_pairwise(H, [0], [0], 0.1), b_step(H))  # a self-pair carries no constraint


def test_code_statistics_terms_hand_values():
    """UH-BDNN's independence ||H^T H/m - I||^2 and balance ||H^T 1/m||^2, halved, weighted, divided by L."""
    crit = PairwiseBinaryConstrainedLoss(2)
    orthogonal = torch.tensor([[1.0, 1.0], [1.0, -1.0]])   # H^T H / m = I; bit means (1, 0)
    assert float(crit.code_statistics_term(orthogonal, 3.0, 0.0)) == pytest.approx(0.0)
    assert float(crit.code_statistics_term(orthogonal, 0.0, 2.0)) == pytest.approx(0.5 * 2.0 * 1.0 / 2)
    copied = torch.tensor([[1.0, 1.0], [1.0, 1.0]])        # H^T H / m - I = [[0, 1], [1, 0]]; means (1, 1)
    assert float(crit.code_statistics_term(copied, 3.0, 2.0)) == pytest.approx((0.5 * 3.0 * 2 + 0.5 * 2.0 * 2) / 2)
    assert float(crit.code_statistics_term(copied, 0.0, 0.0)) == 0.0
