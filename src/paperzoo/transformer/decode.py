"""Batched greedy and beam-search decoding for any encoder-decoder with ``encode`` / ``decode``.

Works on :class:`paperzoo.transformer.model.Seq2SeqTransformer` (and anything with the same two
methods: ``encode(src, src_pad) -> memory`` and ``decode(tgt_in, memory, src_pad) -> logits``).
Shared by S4 (G2P) and S6 (dialogue).

* Greedy: argmax at each step, all sequences of the batch in parallel.
* Beam search (Sutskever et al. 2014; Wu et al. 2016, arXiv 1609.08144, Sec. 7): B x K hypotheses
  are advanced together; a hypothesis ending in EOS is scored with the length-normalised
  log-probability ``log P(y|x) / |y|^alpha`` (``alpha=1``: mean log-probability per token, counting
  EOS; ``alpha=0``: raw sum). As in fairseq (https://github.com/facebookresearch/fairseq,
  ``sequence_generator.py``), the 2K best expansions are taken per item, EOS expansions among the top
  K are finished, the best K non-EOS expansions go on, and an item stops once it has K finished
  hypotheses (or at ``max_len``, when alive beams are finished as they are).

Incremental decoding: for a :class:`Seq2SeqTransformer` (Post-LN or Pre-LN blocks) each step feeds only
the newest token and keeps, per decoder layer, the projected self-attention keys and values of all
earlier positions (so a causal mask is not needed) and the cross-attention keys and values of the
encoder memory, projected once per batch; the FFN, queries and attention run on one position. Any other model with ``encode``/``decode`` is decoded by
re-running ``decode`` on the whole prefix. Both give the same result (``use_cache=False`` forces the
second; ``tests/transformer/test_decode.py`` checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Hypothesis", "greedy_decode", "beam_search"]


@dataclass
class Hypothesis:
    tokens: list[int]  # without BOS and EOS
    score: float  # length-normalised log-probability (what the beam ranks by)
    logprob: float  # raw sum of token log-probabilities (EOS included when finished)


def _src_pad(model, src: torch.Tensor, src_pad: torch.Tensor | None) -> torch.Tensor:
    if src_pad is not None:
        return src_pad
    pad_id = getattr(getattr(model, "cfg", None), "pad_id", 0)
    return src == pad_id


def _can_cache(model) -> bool:
    from .model import TransformerBlock

    layers = getattr(getattr(model, "decoder", None), "layers", None)
    return (hasattr(model, "_embed") and hasattr(model, "tgt_embed") and layers is not None
            and all(isinstance(layer, TransformerBlock) and layer.multihead_attn is not None
                    and all(a._qkv_same_embed_dim and a.in_proj_bias is not None
                            for a in (layer.self_attn, layer.multihead_attn)) for layer in layers)
            and not model.training)


def _heads(x: torch.Tensor, n: int) -> torch.Tensor:
    """(N, T, d) -> (N, heads, T, d / heads)."""
    return x.unflatten(-1, (n, -1)).transpose(1, 2)


class _LayerCache:
    """One decoder layer's state: projected self-attention keys/values of all earlier positions, and the
    cross-attention keys/values of the (fixed) encoder memory, projected once instead of at every step."""

    def __init__(self, layer, memory: torch.Tensor, mem_pad: torch.Tensor):
        attn = layer.multihead_attn
        d = attn.embed_dim
        w, b = attn.in_proj_weight, attn.in_proj_bias
        self.mk = _heads(F.linear(memory, w[d: 2 * d], b[d: 2 * d]), attn.num_heads)
        self.mv = _heads(F.linear(memory, w[2 * d:], b[2 * d:]), attn.num_heads)
        # additive mask (N, 1, 1, S): -inf on padded source positions
        self.mmask = torch.zeros(mem_pad.shape, dtype=memory.dtype, device=memory.device).masked_fill(
            mem_pad, float("-inf"))[:, None, None, :]
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def reorder(self, rows: torch.Tensor) -> None:
        self.mk, self.mv, self.mmask = self.mk[rows], self.mv[rows], self.mmask[rows]
        if self.k is not None:
            self.k, self.v = self.k[rows], self.v[rows]


def _attend(attn, q_in: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    d, n = attn.embed_dim, attn.num_heads
    q = _heads(F.linear(q_in, attn.in_proj_weight[:d], attn.in_proj_bias[:d]), n)
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return attn.out_proj(o.transpose(1, 2).flatten(2))


def _cached_step(model, tok: torch.Tensor, t: int, caches: list[_LayerCache]) -> torch.Tensor:
    """Logits (N, V) for the token ``tok`` (N,) at position ``t``; extends each layer's cache in place.

    Same arithmetic as the layer's forward pass on the whole prefix (``nn.MultiheadAttention``'s packed
    in-projection, scaled dot-product attention, out-projection), one position at a time."""
    x = model._embed(model.tgt_embed, tok[:, None], offset=t)
    for layer, c in zip(model.decoder.layers, caches):
        sa = layer.self_attn
        d = sa.embed_dim
        h = layer.norm1(x) if layer.norm_first else x
        kv = F.linear(h, sa.in_proj_weight[d:], sa.in_proj_bias[d:])
        k, v = _heads(kv[..., :d], sa.num_heads), _heads(kv[..., d:], sa.num_heads)
        c.k = k if c.k is None else torch.cat([c.k, k], 2)
        c.v = v if c.v is None else torch.cat([c.v, v], 2)
        a = _attend(sa, h, c.k, c.v, None)
        if layer.norm_first:
            x = x + a
            x = x + _attend(layer.multihead_attn, layer.norm2(x), c.mk, c.mv, c.mmask)
            x = x + layer._ff(layer.norm3(x))
        else:
            x = layer.norm1(x + a)
            x = layer.norm2(x + _attend(layer.multihead_attn, x, c.mk, c.mv, c.mmask))
            x = layer.norm3(x + layer._ff(x))
    return model.lm_head(model.decoder.final_norm(x))[:, 0]


class _Stepper:
    """Next-token logits for the current prefixes ``ys`` (N, t+1): cached when possible, else full decode."""

    def __init__(self, model, memory, mem_pad, use_cache: bool):
        self.model, self.memory, self.mem_pad = model, memory, mem_pad
        self.cache = ([_LayerCache(layer, memory, mem_pad) for layer in model.decoder.layers]
                      if use_cache and _can_cache(model) else None)

    def __call__(self, ys: torch.Tensor) -> torch.Tensor:
        if self.cache is None:
            return self.model.decode(ys, self.memory, self.mem_pad)[:, -1]
        return _cached_step(self.model, ys[:, -1], ys.size(1) - 1, self.cache)

    def reorder(self, rows: torch.Tensor) -> None:
        if self.cache is not None:
            for c in self.cache:
                c.reorder(rows)


def _normalise(logprob: torch.Tensor | float, length: int, alpha: float):
    return logprob / (max(length, 1) ** alpha)


@torch.no_grad()
def greedy_decode(model, src: torch.Tensor, *, bos: int, eos: int, max_len: int, pad: int = 0,
                  src_pad: torch.Tensor | None = None, alpha: float = 1.0, use_cache: bool = True,
                  ) -> list[Hypothesis]:
    """Greedy decoding of a batch ``src`` (B, S). Returns one :class:`Hypothesis` per row."""
    src_pad = _src_pad(model, src, src_pad)
    memory = model.encode(src, src_pad)
    B = src.size(0)
    ys = torch.full((B, 1), bos, dtype=torch.long, device=src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    lengths = torch.zeros(B, dtype=torch.long, device=src.device)
    logprob = torch.zeros(B, device=src.device)
    step = _Stepper(model, memory, src_pad, use_cache)
    for _ in range(max_len):
        logp = F.log_softmax(step(ys).float(), dim=-1)
        lp, nxt = logp.max(-1)
        logprob += torch.where(done, torch.zeros_like(lp), lp)
        lengths += (~done).long()
        nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
        ys = torch.cat([ys, nxt[:, None]], 1)
        done |= nxt == eos
        if bool(done.all()):
            break
    out = []
    for b, row in enumerate(ys[:, 1:].tolist()):
        toks = row[: row.index(eos)] if eos in row else [t for t in row if t != pad]
        lp = float(logprob[b])
        out.append(Hypothesis(toks, float(_normalise(lp, int(lengths[b]), alpha)), lp))
    return out


@torch.no_grad()
def beam_search(model, src: torch.Tensor, *, bos: int, eos: int, max_len: int, beam: int = 4, pad: int = 0,
                alpha: float = 1.0, src_pad: torch.Tensor | None = None, nbest: int = 1, use_cache: bool = True,
                ) -> list[list[Hypothesis]]:
    """Batched beam search. Returns, per row of ``src``, the ``nbest`` hypotheses best first.

    Scores are length-normalised (``alpha``, see the module docstring). ``beam=1`` gives the greedy
    result.
    """
    K = beam
    src_pad = _src_pad(model, src, src_pad)
    B, dev = src.size(0), src.device
    memory = model.encode(src, src_pad)
    memory = memory.repeat_interleave(K, 0)
    mem_pad = src_pad.repeat_interleave(K, 0)
    ys = torch.full((B * K, 1), bos, dtype=torch.long, device=dev)
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0  # only the first beam is alive at t=0 (all beams are identical)
    finished: list[list[Hypothesis]] = [[] for _ in range(B)]
    item_done = torch.zeros(B, dtype=torch.bool, device=dev)
    step = _Stepper(model, memory, mem_pad, use_cache)
    for t in range(max_len):
        logp = F.log_softmax(step(ys).float(), dim=-1)  # (B*K, V)
        V = logp.size(-1)
        cand = (scores.view(B * K, 1) + logp).view(B, K * V)
        cand[item_done] = float("-inf")
        top_scores, top_idx = cand.topk(min(2 * K, K * V), dim=1)  # (B, 2K)
        top_beam, top_tok = top_idx // V, top_idx % V
        is_eos = (top_tok == eos) & torch.isfinite(top_scores)
        # finish EOS expansions among the top K ranks
        fin = is_eos.clone()
        fin[:, K:] = False
        for b, r in fin.nonzero().tolist():
            if len(finished[b]) >= K:
                continue
            row = ys[b * K + int(top_beam[b, r])].tolist()[1:]
            lp = float(top_scores[b, r])
            finished[b].append(Hypothesis(row, float(_normalise(lp, t + 1, alpha)), lp))
        # continue with the K best non-EOS expansions
        rank = torch.arange(top_scores.size(1), device=dev).expand_as(top_scores)
        key = torch.where(is_eos | ~torch.isfinite(top_scores), rank + 10 * K, rank)
        keep = key.topk(K, dim=1, largest=False).indices  # (B, K)
        new_scores = top_scores.gather(1, keep)
        new_scores = torch.where(key.gather(1, keep) >= 10 * K, torch.full_like(new_scores, float("-inf")),
                                 new_scores)
        src_rows = (torch.arange(B, device=dev)[:, None] * K + top_beam.gather(1, keep)).view(-1)
        ys = torch.cat([ys[src_rows], top_tok.gather(1, keep).view(-1, 1)], 1)
        step.reorder(src_rows)
        scores = new_scores
        item_done |= torch.tensor([len(f) >= K for f in finished], device=dev)
        scores[item_done] = float("-inf")
        if bool(item_done.all()):
            break
    # items that ran out of length: finish their alive beams as they are
    for b in range(B):
        if len(finished[b]) < K:
            for k in range(K):
                s = float(scores[b, k])
                if s != float("-inf"):
                    row = [x for x in ys[b * K + k].tolist()[1:] if x != pad]
                    finished[b].append(Hypothesis(row, float(_normalise(s, len(row), alpha)), s))
        finished[b].sort(key=lambda h: h.score, reverse=True)
        finished[b] = finished[b][:nbest] or [Hypothesis([], float("-inf"), float("-inf"))]
    return finished
