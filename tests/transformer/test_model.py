"""The shared block matches PyTorch's reference layers given the same weights (to 1e-6)."""

import pytest
import torch
import torch.nn as nn

from paperzoo.errors import ConfigError
from paperzoo.transformer import (
    Seq2SeqTransformer,
    TransformerBlock,
    TransformerConfig,
    TransformerLM,
    TransformerStack,
    causal_mask,
)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_matches_torch(norm_first):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    ours = TransformerBlock(32, 4, 64, dropout=0.0, norm="pre" if norm_first else "post").eval()
    ours.load_state_dict(ref.state_dict())  # same names as PyTorch, key for key
    x = torch.randn(3, 11, 32)
    pad = torch.zeros(3, 11, dtype=torch.bool)
    pad[1, 7:] = True
    mask = causal_mask(11)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, key_padding_mask=pad), ref(x, src_key_padding_mask=pad), atol=1e-6, rtol=0)
        torch.testing.assert_close(ours(x, attn_mask=mask), ref(x, src_mask=mask), atol=1e-6, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_matches_torch(norm_first):
    torch.manual_seed(1)
    ref = nn.TransformerDecoderLayer(32, 4, 64, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    ours = TransformerBlock(32, 4, 64, dropout=0.0, norm="pre" if norm_first else "post", cross_attention=True).eval()
    ours.load_state_dict(ref.state_dict())
    x, mem = torch.randn(2, 6, 32), torch.randn(2, 9, 32)
    mpad = torch.zeros(2, 9, dtype=torch.bool)
    mpad[0, 5:] = True
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, attn_mask=causal_mask(6), memory=mem, memory_key_padding_mask=mpad),
            ref(x, mem, tgt_mask=causal_mask(6), memory_key_padding_mask=mpad), atol=1e-6, rtol=0)


def test_preln_stack_has_final_norm_postln_does_not():
    assert isinstance(TransformerStack(2, 16, 2, 32, norm="pre").final_norm, nn.LayerNorm)
    assert isinstance(TransformerStack(2, 16, 2, 32, norm="post").final_norm, nn.Identity)


@pytest.mark.parametrize("kw, src, tgt", [
    (dict(n_layers=1, n_dec_layers=2), (2, 5), (2, 3)),
    (dict(n_layers=3, n_dec_layers=1, norm="pre", positions="learned"), (4, 9), (4, 1)),
])
def test_seq2seq_shapes(kw, src, tgt):
    cfg = TransformerConfig(src_vocab=13, tgt_vocab=11, d_model=16, n_heads=2, d_ff=32, max_len=32,
                            tie_embeddings=False, **kw)
    m = Seq2SeqTransformer(cfg)
    s = torch.randint(1, 13, src)
    t = torch.randint(1, 11, tgt)
    logits, loss = m(s, t, t, label_smoothing=0.1)
    assert logits.shape == (*tgt, 11) and torch.isfinite(loss)


def test_causal_lm_does_not_see_future():
    m = TransformerLM(TransformerConfig(src_vocab=20, tgt_vocab=20, d_model=16, n_heads=2, d_ff=32, n_layers=2,
                                        dropout=0.0, max_len=16)).eval()
    x = torch.randint(0, 20, (1, 8))
    y = x.clone()
    y[0, 5:] = (y[0, 5:] + 1) % 20
    with torch.no_grad():
        torch.testing.assert_close(m(x)[0][:, :5], m(y)[0][:, :5])


def test_padding_is_ignored_by_encoder():
    m = Seq2SeqTransformer(TransformerConfig(src_vocab=10, tgt_vocab=10, d_model=16, n_heads=2, d_ff=32,
                                             n_layers=2, n_dec_layers=1, dropout=0.0, max_len=16)).eval()
    src = torch.tensor([[3, 4, 5, 0, 0]])
    tgt = torch.tensor([[1, 2]])
    with torch.no_grad():
        a = m(src, tgt)[0]
        b = m(src[:, :3], tgt)[0]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ConfigError, match="norm"):
        TransformerBlock(16, 2, 32, norm="sandwich")
    with pytest.raises(ConfigError, match="divisible"):
        TransformerBlock(18, 4, 32)
