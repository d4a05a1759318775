"""int8 decoding (paperzoo.transformer.quantize): the block-by-block encoder is the model's own arithmetic, and
quantisation touches only the copy."""

import pytest
import torch

from paperzoo.transformer.decode import _encode_blocks, greedy_decode
from paperzoo.transformer.model import Seq2SeqTransformer, TransformerConfig
from paperzoo.transformer.quantize import is_int8, quantize_int8

PAD, BOS, EOS = 0, 1, 2


def _model(norm, seed=0):
    torch.manual_seed(seed)
    m = Seq2SeqTransformer(TransformerConfig(src_vocab=12, tgt_vocab=9, d_model=32, n_heads=4, d_ff=64, n_layers=2,
                                             n_dec_layers=2, dropout=0.0, max_len=32, norm=norm))
    return m.eval()


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_block_encoder_matches_model_encode(norm):
    m = _model(norm)
    src = torch.randint(3, 12, (5, 7))
    src[1, 4:] = PAD
    src[3, 2:] = PAD
    pad = src == PAD
    with torch.inference_mode():
        ref, ours = m.encode(src, pad), _encode_blocks(m, src, pad)
    keep = ~pad  # padded positions are never attended to, so only real positions must agree
    assert torch.allclose(ref[keep], ours[keep], atol=1e-5)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_quantize_copies_and_stays_close(norm):
    m = _model(norm, seed=1)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    q = quantize_int8(m)
    assert is_int8(q) and not is_int8(m)
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())  # the float model is untouched
    src = torch.randint(3, 12, (16, 6))
    src[2, 3:] = PAD
    with torch.inference_mode():
        a, b = m.encode(src, src == PAD), _encode_blocks(q, src, src == PAD)
    rel = (a - b).norm() / a.norm()
    assert 0 < rel < 0.05  # int8 arithmetic really ran, and it is close
    hyps = greedy_decode(q, src, bos=BOS, eos=EOS, max_len=8)
    assert len(hyps) == 16 and all(all(0 <= t < 9 for t in h.tokens) for h in hyps)
