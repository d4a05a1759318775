"""Shared decoding (paperzoo.transformer.decode): beam 1 = greedy; beam beats greedy where it should."""

import math

import pytest
import torch

from paperzoo.transformer.decode import beam_search, greedy_decode
from paperzoo.transformer.model import Seq2SeqTransformer, TransformerConfig

PAD, BOS, EOS = 0, 1, 2


def _model(seed):
    torch.manual_seed(seed)
    m = Seq2SeqTransformer(TransformerConfig(src_vocab=12, tgt_vocab=9, d_model=16, n_heads=2, d_ff=32, n_layers=1,
                                             n_dec_layers=1, dropout=0.0, max_len=32))
    return m.eval()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_one_is_greedy(seed):
    m = _model(seed)
    src = torch.randint(3, 12, (6, 5))
    src[1, 3:] = PAD
    g = greedy_decode(m, src, bos=BOS, eos=EOS, max_len=8)
    b = beam_search(m, src, bos=BOS, eos=EOS, max_len=8, beam=1)
    assert [h.tokens for h in g] == [hs[0].tokens for hs in b]
    for h, hs in zip(g, b):
        assert h.logprob == pytest.approx(hs[0].logprob, abs=1e-4)


class _Table:
    """A fake encoder-decoder whose next-token distribution depends only on the prefix (any object works)."""

    def __init__(self, table):
        self.table = table  # prefix tuple (after BOS) -> probs over vocab [pad, bos, eos, a, b]

    def encode(self, src, src_pad=None):
        return torch.zeros(src.size(0), src.size(1), 1)

    def decode(self, ys, memory, src_pad=None):
        rows = []
        for row in ys.tolist():
            p = self.table.get(tuple(row[1:]), [0, 0, 1.0, 0, 0])
            rows.append([[math.log(max(x, 1e-12)) for x in p]] * len(row))
        return torch.tensor(rows)


def test_beam_finds_the_better_sequence_greedy_misses():
    # greedy: 'a' (0.6) then eos 0.3 / a 0.35 / b 0.35 ... ; beam: 'b' (0.4) then eos 0.95 -> 0.38 > best 'a' path
    table = {(): [0, 0, 0.0, 0.6, 0.4], (3,): [0, 0, 0.3, 0.35, 0.35], (4,): [0, 0, 0.95, 0.05, 0.0],
             (3, 3): [0, 0, 0.5, 0.5, 0], (3, 4): [0, 0, 0.5, 0.5, 0]}
    m = _Table(table)
    src = torch.ones(1, 2, dtype=torch.long)
    assert greedy_decode(m, src, bos=BOS, eos=EOS, max_len=4)[0].tokens[0] == 3
    best = beam_search(m, src, bos=BOS, eos=EOS, max_len=4, beam=3, alpha=0.0, nbest=3)[0]
    assert best[0].tokens == [4]
    assert best[0].logprob == pytest.approx(math.log(0.4 * 0.95), abs=1e-5)
    assert [h.score for h in best] == sorted((h.score for h in best), reverse=True)


def test_length_normalisation_prefers_longer_when_per_token_better():
    # short: eos right away p=0.5 (mean logp log .5); long: 'a' 0.5 then eos 0.99 -> per-token better
    table = {(): [0, 0, 0.5, 0.5, 0.0], (3,): [0, 0, 0.99, 0.01, 0.0]}
    m = _Table(table)
    src = torch.ones(1, 2, dtype=torch.long)
    raw = beam_search(m, src, bos=BOS, eos=EOS, max_len=4, beam=2, alpha=0.0)[0][0]
    norm = beam_search(m, src, bos=BOS, eos=EOS, max_len=4, beam=2, alpha=1.0)[0][0]
    assert raw.tokens == [] and norm.tokens == [3]


def test_unfinished_beams_are_returned_at_max_len():
    m = _Table({(): [0, 0, 0.0, 1.0, 0.0], (3,): [0, 0, 0.0, 1.0, 0.0], (3, 3): [0, 0, 0.0, 1.0, 0.0]})
    out = beam_search(m, torch.ones(2, 1, dtype=torch.long), bos=BOS, eos=EOS, max_len=2, beam=2)
    assert [h[0].tokens for h in out] == [[3, 3], [3, 3]]


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_incremental_decoding_matches_full_decoding(norm):
    torch.manual_seed(4)
    m = Seq2SeqTransformer(TransformerConfig(src_vocab=12, tgt_vocab=9, d_model=16, n_heads=2, d_ff=32, n_layers=2,
                                             n_dec_layers=2, dropout=0.0, max_len=32, norm=norm)).eval()
    src = torch.randint(3, 12, (5, 6))
    src[0, 4:] = PAD
    for fn, kw in ((greedy_decode, {}), (beam_search, {"beam": 3, "nbest": 2})):
        a = fn(m, src, bos=BOS, eos=EOS, max_len=7, use_cache=True, **kw)
        b = fn(m, src, bos=BOS, eos=EOS, max_len=7, use_cache=False, **kw)
        flat = (lambda r: [h.tokens for h in r]) if fn is greedy_decode else (lambda r: [[h.tokens for h in x] for x in r])
        assert flat(a) == flat(b)


@pytest.mark.parametrize("use_cache", [True, False])
def test_dropping_finished_rows_gives_the_same_greedy_hypotheses(use_cache):
    torch.manual_seed(5)
    m = Seq2SeqTransformer(TransformerConfig(src_vocab=12, tgt_vocab=9, d_model=16, n_heads=2, d_ff=32, n_layers=2,
                                             n_dec_layers=2, dropout=0.0, max_len=32)).eval()
    with torch.no_grad():  # make EOS likely so rows finish at different steps
        m.lm_head.weight[EOS] *= 4.0
    src = torch.randint(3, 12, (9, 6))
    src[2, 3:] = PAD
    runs = [greedy_decode(m, src, bos=BOS, eos=EOS, max_len=9, use_cache=use_cache, drop_finished=f)
            for f in (0.0, 0.125, 0.5, 2.0)]
    lengths = {len(h.tokens) for h in runs[-1]}
    assert len(lengths) > 1  # rows really finish at different steps
    for r in runs[:-1]:
        assert [h.tokens for h in r] == [h.tokens for h in runs[-1]]
        assert [h.logprob for h in r] == pytest.approx([h.logprob for h in runs[-1]], abs=1e-5)


@pytest.mark.parametrize("use_cache", [True, False])
def test_dropping_finished_items_gives_the_same_beams(use_cache):
    torch.manual_seed(5)
    m = Seq2SeqTransformer(TransformerConfig(src_vocab=12, tgt_vocab=9, d_model=16, n_heads=2, d_ff=32, n_layers=2,
                                             n_dec_layers=2, dropout=0.0, max_len=32)).eval()
    with torch.no_grad():
        m.lm_head.weight[EOS] *= 4.0
    src = torch.randint(3, 12, (9, 6))
    src[2, 3:] = PAD
    runs = [beam_search(m, src, bos=BOS, eos=EOS, max_len=9, beam=3, nbest=3, use_cache=use_cache, drop_finished=f)
            for f in (0.0, 0.125, 2.0)]
    for r in runs[:-1]:
        assert [[h.tokens for h in hs] for hs in r] == [[h.tokens for h in hs] for hs in runs[-1]]
        assert [h.score for hs in r for h in hs] == pytest.approx([h.score for hs in runs[-1] for h in hs], abs=1e-5)


@pytest.mark.parametrize("masked", [False, True])
def test_one_query_attention_equals_sdpa(masked):
    """_attend_one (heads interleaved along d) gives F.scaled_dot_product_attention's numbers on the head views."""
    from paperzoo.transformer.decode import _attend_one

    torch.manual_seed(0)
    N, T, H, dh = 5, 7, 4, 8
    q, k, v = torch.randn(N, 1, H * dh), torch.randn(N, T, H * dh), torch.randn(N, T, H * dh)
    pad = torch.zeros(N, T, dtype=torch.bool)
    pad[1, 4:] = pad[3, 6:] = masked
    add = torch.zeros(N, T).masked_fill(pad, float("-inf"))
    heads = lambda x: x.unflatten(-1, (H, dh)).transpose(1, 2)  # noqa: E731
    ref = torch.nn.functional.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=add[:, None, None])
    out = _attend_one(q, k, v, H, add[:, :, None] if masked else None)
    torch.testing.assert_close(out, ref.transpose(1, 2).flatten(2), atol=1e-6, rtol=1e-5)

