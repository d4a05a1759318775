"""Size accounting: non-zeros x bits, tied weights once, scales counted."""

import torch
import torch.nn as nn

from paperzoo.compress import csr_bits, model_size, param_count, prune_, quantize_weights_
from paperzoo.compress.model import compress_lm


def test_dense_size_is_fp32_params_and_tied_counted_once():
    m = compress_lm(vocab=30, depth=1, width=32, seq_len=16)
    n = param_count(m)
    assert n == sum(p.numel() for p in m.parameters())  # parameters() already dedups ties
    rep = model_size(m)
    assert rep.params == n and rep.bits == 32 * n and rep.ratio == 1.0


def test_size_is_nonzeros_times_bits_plus_scales():
    net = nn.Sequential(nn.Linear(10, 20), nn.Linear(20, 5, bias=False))
    prune_(net, 0.5)
    quantize_weights_(net, 4)
    rep = model_size(net)
    w = 10 * 20 + 20 * 5
    nnz = w - (w - round(0.5 * w))
    assert rep.nonzeros == nnz and rep.compressible == w
    assert rep.bits == nnz * 4 + (20 + 5) * 32 + 20 * 32  # values + per-channel scales + fp32 bias
    assert model_size(net, bits=8).bits == nnz * 8 + (20 + 5) * 32 + 20 * 32


def test_csr_bits():
    w = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    assert csr_bits(w, 8, 16) == 2 * (8 + 16) + 4 * 16
