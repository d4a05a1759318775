"""The gradient probe of Xiong et al. (2020), Fig. 3, in the paper's setting.

An encoder-decoder Transformer at initialisation (Xavier-Gaussian, zero biases, no dropout,
FFN = 2 x d_model, 4 heads), random source/target tokens, cross-entropy loss. The *expected
gradient* of each FFN matrix is the gradient averaged over ``n_batches`` mini-batches (the
paper's "Frobenius norm of the expected gradient", Sec. 4.2 / Fig. 3), and we report its
Frobenius norm per layer, averaged over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .model import Seq2SeqTransformer, TransformerConfig

__all__ = ["ProbeConfig", "ffn_grad_norms"]


@dataclass
class ProbeConfig:
    d_model: int = 512
    n_heads: int = 4
    vocab: int = 1000
    src_len: int = 32
    tgt_len: int = 32
    batch_size: int = 16
    n_batches: int = 16


def ffn_grad_norms(norm: str, n_layers: int, seed: int, p: ProbeConfig) -> dict[str, torch.Tensor]:
    """Frobenius norms of the expected gradient of each layer's FFN W1 and W2.

    Returns ``{"enc_w1", "enc_w2", "dec_w1", "dec_w2"}`` each of shape (n_layers,).
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cfg = TransformerConfig(src_vocab=p.vocab, tgt_vocab=p.vocab, d_model=p.d_model, n_heads=p.n_heads,
                            d_ff=2 * p.d_model, n_layers=n_layers, n_dec_layers=n_layers, dropout=0.0, norm=norm,
                            init="xavier_normal", max_len=max(p.src_len, p.tgt_len) + 1)
    model = Seq2SeqTransformer(cfg)
    for _ in range(p.n_batches):  # gradients accumulate: their mean is the expected gradient
        src = torch.randint(1, p.vocab, (p.batch_size, p.src_len), generator=g)
        tgt = torch.randint(1, p.vocab, (p.batch_size, p.tgt_len + 1), generator=g)
        _, loss = model(src, tgt[:, :-1], tgt[:, 1:])
        (loss / p.n_batches).backward()
    out = {}
    for side, stack in (("enc", model.encoder), ("dec", model.decoder)):
        out[f"{side}_w1"] = torch.stack([layer.linear1.weight.grad.norm() for layer in stack.layers])
        out[f"{side}_w2"] = torch.stack([layer.linear2.weight.grad.norm() for layer in stack.layers])
    return out
