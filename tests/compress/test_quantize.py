"""Quantization: error bounds per bit width, STE gradients, int8 dynamic Linear."""

import pytest
import torch
import torch.nn as nn

from paperzoo.compress import (
    BITS,
    DynamicInt8Linear,
    DynamicInt8MultiheadAttention,
    dequantize,
    dynamic_int8,
    fake_quantize,
    fold_,
    prune_,
    quant_bits_of,
    quantize_symmetric,
    quantize_weights_,
)
from paperzoo.compress.model import compress_lm
from paperzoo.engine import load_weights, save_weights
from paperzoo.errors import ConfigError


@pytest.mark.parametrize("bits", BITS)
def test_quantize_dequantize_error_bound(bits):
    torch.manual_seed(bits)
    w = torch.randn(16, 33) * torch.rand(16, 1) * 3
    q, scale = quantize_symmetric(w, bits)
    qmax = 2 ** (bits - 1) - 1
    assert q.abs().max() <= qmax and q.dtype == torch.int8
    assert len(torch.unique(q)) <= 2 * qmax + 1
    err = (w - dequantize(q, scale)).abs()
    assert (err <= scale / 2 + 1e-6).all()  # half a step, per channel
    assert torch.allclose(scale.squeeze(1), w.abs().amax(1) / qmax)
    # the channel maximum is represented exactly
    idx = w.abs().argmax(1)
    assert torch.allclose(dequantize(q, scale)[torch.arange(16), idx], w[torch.arange(16), idx])


def test_error_shrinks_with_bits_and_zeros_stay_zero():
    torch.manual_seed(0)
    w = torch.randn(32, 64)
    w[w.abs() < 0.5] = 0
    errs = [(w - fake_quantize(w, b)).pow(2).mean().item() for b in sorted(BITS)]
    assert errs == sorted(errs, reverse=True)
    for b in BITS:
        assert (fake_quantize(w, b)[w == 0] == 0).all()


def test_qat_gradients_flow_straight_through():
    torch.manual_seed(0)
    w = torch.randn(4, 5, requires_grad=True)
    g = torch.randn(4, 5)
    (fake_quantize(w, 3) * g).sum().backward()
    assert torch.equal(w.grad, g)  # identity gradient


def test_qat_trains_latent_weights_of_a_transformer():
    torch.manual_seed(0)
    m = compress_lm(vocab=30, depth=1, width=32, seq_len=16)
    quantize_weights_(m, 4)
    assert set(quant_bits_of(m).values()) == {4}
    x = torch.randint(0, 30, (4, 16))
    latent = m.blocks.layers[0].linear1.parametrizations.weight.original
    before = latent.detach().clone()
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    loss = m(x, x)[1]
    loss.backward()
    assert latent.grad is not None and latent.grad.abs().sum() > 0
    assert m.embed.parametrizations.weight.original.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(before, latent.detach())
    w = m.blocks.layers[0].linear1.weight  # what the forward uses: on the 4-bit grid per row
    q, scale = quantize_symmetric(w.detach(), 4)
    assert torch.allclose(dequantize(q, scale), w.detach(), atol=1e-6)


def test_prune_then_quantize_and_bits_survive_save(tmp_path):
    torch.manual_seed(0)
    m = compress_lm(vocab=30, depth=1, width=32, seq_len=16)
    prune_(m, 0.5)
    quantize_weights_(m, 3)
    save_weights(m, tmp_path / "pq.safetensors")
    fresh = compress_lm(vocab=30, depth=1, width=32, seq_len=16)
    prune_(fresh, 0.0)
    quantize_weights_(fresh, 8)
    load_weights(fresh, tmp_path / "pq.safetensors")
    assert set(quant_bits_of(fresh).values()) == {3}
    x = torch.randint(0, 30, (2, 16))
    assert torch.allclose(m(x)[0], fresh(x)[0], atol=1e-6)


def test_dynamic_int8_linear_close_to_fp32(tmp_path):
    torch.manual_seed(0)
    lin = nn.Linear(64, 48)
    q = DynamicInt8Linear.from_linear(lin)
    x = torch.randn(5, 7, 64)
    ref = lin(x)
    out = q(x)
    assert out.shape == ref.shape
    assert (out - ref).abs().max() < 0.05 * ref.abs().max()
    save_weights(q, tmp_path / "q.safetensors")
    q2 = load_weights(DynamicInt8Linear(64, 48), tmp_path / "q.safetensors")
    assert torch.allclose(q2(x), out)


@pytest.mark.parametrize("attention", [True, False])
def test_dynamic_int8_on_transformer(attention):
    torch.manual_seed(0)
    m = compress_lm(vocab=30, depth=2, width=32, seq_len=16).eval()
    x = torch.randint(0, 30, (2, 16))
    with torch.no_grad():
        ref = m(x, x)[1]
        dynamic_int8(m, attention=attention)
        out = m(x, x)[1]
    assert isinstance(m.blocks.layers[0].linear1, DynamicInt8Linear)
    assert isinstance(m.blocks.layers[0].self_attn, DynamicInt8MultiheadAttention) == attention
    assert abs(out.item() - ref.item()) < 0.05


@pytest.mark.parametrize("batch_first", [True, False])
def test_int8_attention_matches_fp32_with_masks(batch_first):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(32, 4, batch_first=batch_first).eval()
    q8 = DynamicInt8MultiheadAttention.from_mha(mha)
    B, T, S = 3, 6, 5
    x = torch.randn(B, T, 32) if batch_first else torch.randn(T, B, 32)
    mem = torch.randn(B, S, 32) if batch_first else torch.randn(S, B, 32)
    causal = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    pad = torch.zeros(B, T, dtype=torch.bool)
    pad[0, -2:] = True
    cases = [((x, x, x), dict(attn_mask=causal)), ((x, x, x), dict(attn_mask=causal, key_padding_mask=pad)),
             ((x, mem, mem), dict()), ((x, x, x), dict(attn_mask=torch.zeros(T, T).masked_fill(causal, -1e9)))]
    with torch.no_grad():
        for args, kw in cases:
            ref = mha(*args, need_weights=False, **kw)[0]
            out = q8(*args, **kw)[0]
            assert out.shape == ref.shape
            assert (out - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3
    with pytest.raises(ConfigError):
        q8(x, x, x, need_weights=True)


def test_dynamic_int8_requires_folding_and_valid_bits():
    m = nn.Sequential(nn.Linear(4, 4))
    quantize_weights_(m, 4)
    with pytest.raises(ConfigError):
        dynamic_int8(m)
    fold_(m)
    dynamic_int8(m)
    with pytest.raises(ConfigError):
        quantize_symmetric(torch.randn(2, 2), 1)
    with pytest.raises(ConfigError):
        dynamic_int8(nn.Sequential(nn.Linear(2, 2)), backend="tensorrt")
