"""The fast decoding path (incremental, finished rows dropped) gives the shipped model's old hypotheses.

Reference: ``use_cache=False`` re-runs the decoder on the whole prefix with the causal mask and, with
``drop_finished > 1``, decodes every row to the batch's longest output — the plain arithmetic the
faster path must reproduce. Real g014b2b test words, the shipped weights.
"""

import pytest

from paperzoo.g2p import G2P
from paperzoo.g2p.data import BOS, EOS, PAD, load_split
from paperzoo.g2p.train import encode_words
from paperzoo.transformer.decode import beam_search, greedy_decode


@pytest.fixture(scope="module")
def shipped():
    return G2P.load(use_lexicon=False)


def _batches(g2p, words, size):
    words = sorted(words, key=len)
    for i in range(0, len(words), size):
        yield encode_words(words[i: i + size], g2p.src_v)


def test_dropping_finished_rows_changes_no_greedy_hypothesis(shipped):
    words = sorted(load_split()[1])[::40]  # 300 test words
    n = 0
    for src in _batches(shipped, words, 150):
        kw = dict(bos=BOS, eos=EOS, pad=PAD, max_len=src.size(1) + 10)
        fast = greedy_decode(shipped.model, src, **kw)
        every_row = greedy_decode(shipped.model, src, drop_finished=2.0, **kw)
        assert [h.tokens for h in fast] == [h.tokens for h in every_row]
        assert [h.logprob for h in fast] == pytest.approx([h.logprob for h in every_row], abs=1e-4)
        n += len(fast)
    assert n == 300


def test_fast_greedy_equals_plain_greedy_on_real_words(shipped):
    words = sorted(load_split()[1])[3::120]  # 100 test words
    for src in _batches(shipped, words, 50):
        kw = dict(bos=BOS, eos=EOS, pad=PAD, max_len=src.size(1) + 10)
        fast = greedy_decode(shipped.model, src, **kw)
        plain = greedy_decode(shipped.model, src, use_cache=False, drop_finished=2.0, **kw)
        assert [h.tokens for h in fast] == [h.tokens for h in plain]
        assert [h.logprob for h in fast] == pytest.approx([h.logprob for h in plain], abs=1e-4)


def test_fast_beam_equals_plain_beam_on_real_words(shipped):
    words = sorted(load_split()[1])[7::300]  # 40 test words
    for src in _batches(shipped, words, 40):
        kw = dict(bos=BOS, eos=EOS, pad=PAD, max_len=src.size(1) + 10, beam=4, nbest=2)
        fast = beam_search(shipped.model, src, **kw)
        plain = beam_search(shipped.model, src, use_cache=False, **kw)
        assert [[h.tokens for h in hs] for hs in fast] == [[h.tokens for h in hs] for hs in plain]
