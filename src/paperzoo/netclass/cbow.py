"""gensim's Word2Vec CBOW with negative sampling, compiled with numba (the default CNC embedder).

CNC (Xin, Zhang, Shao, "Complex network classification with convolutional neural network",
arXiv 1802.00539, 2018, Sec. 3; https://github.com/AXinx/cnc_2017) embeds the random walks with
gensim's ``Word2Vec(walks, min_count=1, size=20)``: CBOW, window 5, 5 negatives, 5 epochs. That
training is ~95 % of the pipeline's time (~1 microsecond of CPU per word and epoch at dim 20, most
of it BLAS call overhead on 20-float vectors). This module runs the same algorithm as gensim 4.x
(https://github.com/piskvorky/gensim, ``gensim/models/word2vec.py`` and ``word2vec_inner.pyx``)
with plain loops compiled by numba, step by step:

  * vocabulary (``Word2Vec.prepare_vocab``, ``KeyedVectors.sort_by_descending_frequency``): every
    node that occurs (``min_count=1``), sorted by count descending, ties by the later node first
    (gensim's ``np.lexsort((-indices, -counts))``);
  * frequent-word down-sampling (``prepare_vocab``): ``threshold = sample * total``,
    ``p = (sqrt(c / threshold) + 1) * threshold / c`` capped at 1, kept as
    ``sample_int = uint32(p * (2**32 - 1))``; a word is dropped when ``sample_int < next_random >> 16``
    (``train_batch_cbow``);
  * the negative-sampling table (``make_cum_table``): ``round(cumsum(c**0.75) / sum * (2**31 - 1))``
    as uint32, drawn by ``bisect_left(table, (next_random >> 16) % table[-1])``;
  * weights (``init_weights``, ``keyedvectors.prep_vectors``): input vectors
    ``(default_rng(seed).random(float32) * 2 - 1) / dim``, output vectors zeros;
  * jobs (``Word2Vec._job_producer``): sentences grouped into batches of at most 10,000 words
    (``batch_words``); each job's learning rate ``alpha - (alpha - min_alpha) * (epoch + examples
    pushed / total examples) / epochs`` (``_get_next_alpha``, decay by examples as our
    ``train(total_examples=...)``), floored at ``min_alpha``;
  * per job (``train_batch_cbow``, ``init_w2v_config``): ``next_random = 2**24 * r.randint(0, 2**24)
    + r.randint(0, 2**24)`` from the model's ``RandomState(seed)``; down-sampling; the random window
    shrink ``b = r.randint(0, window, words)``, context ``[i - window + b, i + window + 1 - b)``
    clipped to the sentence; the 48-bit LCG ``next = (next * 25214903917 + 11) mod 2**48``;
  * per word (``w2v_fast_sentence_cbow_neg``): ``h`` = mean (``cbow_mean=1``) of the context's input
    vectors; for the word (label 1) and ``negative`` draws (label 0, the word itself skipped):
    ``f = sigmoid(h . v)`` from gensim's 1,000-entry table over (-6, 6) (index
    ``int((x + 6) * 83)``, dot products skipped outside), ``g = (label - f) * alpha``,
    ``e += g v``, ``v += g h``; then every context word's input vector ``+= e``.

The random streams are gensim's (the same numpy ``RandomState`` calls in the same order, the same
LCG), float32 arithmetic with double-accumulated dot products (gensim's ``dsdot``), so for one
worker thread the result equals gensim's up to float rounding (tests/netclass/test_cbow.py compares
them). Deviation: only CBOW with negative sampling (no skip-gram, no hierarchical softmax), one
thread; the first call compiles the kernels (~seconds; cached on disk by ``cache=True``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ConfigError, DataError

__all__ = ["cbow_embed", "cbow_vocab", "warm_up", "EXP_TABLE"]

MAX_WORDS_IN_BATCH = 10000  # gensim's MAX_SENTENCE_LEN = batch_words
_MAX_EXP = 6
_EXP_TABLE_SIZE = 1000
_EXP_SCALE = (_EXP_TABLE_SIZE // _MAX_EXP) // 2  # C integer division in gensim's generated code: 83
_LCG_MUL = np.uint64(25214903917)
_LCG_ADD = np.uint64(11)
_LCG_MASK = np.uint64(281474976710655)


def _exp_table() -> np.ndarray:
    """gensim's sigmoid table (``word2vec_inner.init``): float32 ``e / (e + 1)``, ``e = exp(x)``."""
    i = np.arange(_EXP_TABLE_SIZE, dtype=np.float32)
    x = (i / np.float32(_EXP_TABLE_SIZE) * np.float32(2) - np.float32(1)) * np.float32(_MAX_EXP)
    e = np.exp(x.astype(np.float64)).astype(np.float32)
    return (e / (e + np.float32(1))).astype(np.float32)


EXP_TABLE = _exp_table()


@njit(cache=True)
def _subsample(tokens, sent_start, sent_end, sample_int, next_random, use_sample, out_idx, out_bounds):
    """Down-sample one job's sentences (``train_batch_cbow``): fills ``out_idx`` with the kept vocabulary
    indices and ``out_bounds`` with sentence boundaries; returns (kept words, sentences, next_random)."""
    n = 0
    ns = 0
    out_bounds[0] = 0
    for s in range(sent_start.shape[0]):
        for t in range(sent_start[s], sent_end[s]):
            w = tokens[t]
            if use_sample:
                r = next_random >> np.uint64(16)
                next_random = (next_random * _LCG_MUL + _LCG_ADD) & _LCG_MASK
                if np.uint64(sample_int[w]) < r:
                    continue
            out_idx[n] = w
            n += 1
        ns += 1
        out_bounds[ns] = n
    return n, ns, next_random


@njit(cache=True)
def _train_job(idx, bounds, n_sent, reduced, syn0, syn1neg, cum_table, exp_table, alpha, window, negative,
               cbow_mean, next_random, neu1, work):
    """CBOW + negative sampling over one job (``train_batch_cbow`` -> ``w2v_fast_sentence_cbow_neg``).
    Returns next_random."""
    size = syn0.shape[1]
    cum_last = np.uint64(cum_table[cum_table.shape[0] - 1])
    n_cum = cum_table.shape[0]
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for s in range(n_sent):
        lo = bounds[s]
        hi = bounds[s + 1]
        for i in range(lo, hi):
            j = i - window + reduced[i]
            if j < lo:
                j = lo
            k = i + window + 1 - reduced[i]
            if k > hi:
                k = hi
            word = idx[i]
            for a in range(size):
                neu1[a] = zero
            count = zero
            for m in range(j, k):
                if m != i:
                    count += one
                    c = idx[m]
                    for a in range(size):
                        neu1[a] += syn0[c, a]
            inv_count = one
            if count > np.float32(0.5):
                inv_count = one / count
            if cbow_mean:
                for a in range(size):
                    neu1[a] *= inv_count
            for a in range(size):
                work[a] = zero
            for d in range(negative + 1):
                if d == 0:
                    target = word
                    label = one
                else:
                    x = (next_random >> np.uint64(16)) % cum_last
                    a_lo = 0
                    a_hi = n_cum
                    while a_hi > a_lo:  # bisect_left
                        mid = (a_lo + a_hi) >> 1
                        if np.uint64(cum_table[mid]) >= x:
                            a_hi = mid
                        else:
                            a_lo = mid + 1
                    target = a_lo
                    next_random = (next_random * _LCG_MUL + _LCG_ADD) & _LCG_MASK
                    if target == word:
                        continue
                    label = zero
                acc = 0.0  # dsdot: float32 inputs, double accumulation
                for a in range(size):
                    acc += np.float64(neu1[a]) * np.float64(syn1neg[target, a])
                f_dot = np.float32(acc)
                if f_dot <= np.float32(-_MAX_EXP) or f_dot >= np.float32(_MAX_EXP):
                    continue
                f = exp_table[int((np.float64(f_dot) + 6.0) * _EXP_SCALE)]
                g = (label - f) * alpha
                for a in range(size):
                    work[a] += g * syn1neg[target, a]
                for a in range(size):
                    syn1neg[target, a] += g * neu1[a]
            if not cbow_mean:
                for a in range(size):
                    work[a] *= inv_count
            for m in range(j, k):
                if m != i:
                    c = idx[m]
                    for a in range(size):
                        syn0[c, a] += work[a]
    return next_random


def cbow_vocab(counts: np.ndarray, sample: float = 1e-3, ns_exponent: float = 0.75
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """gensim's vocabulary for word counts ``counts`` (index = node id, ``min_count=1``).

    Returns (node ids in vocabulary order, ``sample_int`` uint32, negative-sampling ``cum_table``
    uint32), as ``Word2Vec.prepare_vocab`` / ``make_cum_table`` compute them."""
    keys = np.flatnonzero(counts)
    c = np.asarray(counts, dtype=np.int64)[keys]
    order = np.lexsort((-np.arange(keys.size), -c))
    keys, c = keys[order], c[order]
    total = int(c.sum())
    if not sample:
        threshold = float(total)
    elif sample < 1.0:
        threshold = sample * total
    else:
        threshold = float(int(sample * (3 + np.sqrt(5)) / 2))
    p = (np.sqrt(c / threshold) + 1) * (threshold / c)
    sample_int = (np.minimum(p, 1.0) * (2**32 - 1)).astype(np.uint32)
    pw = [float(v) ** float(ns_exponent) for v in c.tolist()]
    z = 0.0
    for v in pw:
        z += v
    cum_table = np.zeros(keys.size, dtype=np.uint32)
    cum = 0.0
    domain = 2**31 - 1
    for i, v in enumerate(pw):
        cum += v
        cum_table[i] = round(cum / z * domain)
    return keys, sample_int, cum_table


def cbow_embed(walks: np.ndarray, n_nodes: int, dim: int = 20, window: int = 5, negative: int = 5,
               epochs: int = 5, alpha: float = 0.025, min_alpha: float = 1e-4, sample: float = 1e-3,
               cbow_mean: bool = True, seed: int = 0, ns_exponent: float = 0.75,
               batch_words: int = MAX_WORDS_IN_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """gensim-equivalent CBOW Word2Vec of the walks (``(n_walks, length)`` node ids, ``-1`` padding;
    each walk's valid prefix is a sentence). Defaults = gensim's ``Word2Vec`` defaults.

    Returns (node ids in gensim's ``index_to_key`` order, their ``(k, dim)`` float64 vectors), as
    `image.embed_walks`. Deterministic for a seed (gensim's ``seed``, taken modulo 2**31)."""
    if dim < 1 or window < 1 or negative < 1 or epochs < 1 or not alpha > 0:
        raise ConfigError(f"cbow needs dim, window, negative, epochs >= 1 and alpha > 0, got {dim}, {window}, "
                          f"{negative}, {epochs}, {alpha}")
    if not 1 <= batch_words <= MAX_WORDS_IN_BATCH:
        raise ConfigError(f"batch_words must be in 1..{MAX_WORDS_IN_BATCH} (gensim's limit), got {batch_words}")
    W = np.asarray(walks, dtype=np.int64)
    if W.ndim != 2:
        raise DataError(f"walks must be a 2-D (n_walks, length) array, got shape {W.shape}")
    valid = W >= 0
    counts = np.bincount(W[valid], minlength=n_nodes)
    keys, sample_int, cum_table = cbow_vocab(counts, sample, ns_exponent)
    if keys.size == 0:
        raise DataError("no walks to embed; a CNC image needs a graph with at least one edge")
    remap = np.full(counts.size, -1, dtype=np.int32)
    remap[keys] = np.arange(keys.size, dtype=np.int32)
    lengths = valid.sum(1)
    lengths = lengths[lengths > 0]  # gensim's corpus: walks_to_sentences drops empty walks
    tokens = remap[W[valid]].astype(np.int32)  # row-major: the sentences one after another
    ends = np.cumsum(lengths)
    starts = ends - lengths
    # jobs (Word2Vec._job_producer): add sentences while the batch stays <= batch_words words
    jobs: list[tuple[int, int]] = []
    first, size = 0, 0
    for s, n in enumerate(lengths.tolist()):
        if size + n <= batch_words:
            size += n
        else:
            jobs.append((first, s))
            first, size = s, n
    jobs.append((first, lengths.size))

    seed = int(seed) % (2**31)
    rs = np.random.RandomState(seed)  # Word2Vec.random
    syn0 = np.random.default_rng(seed=seed).random((keys.size, dim), dtype=np.float32)  # prep_vectors
    syn0 *= 2.0
    syn0 -= 1.0
    syn0 /= dim
    syn1neg = np.zeros((keys.size, dim), dtype=np.float32)
    neu1 = np.zeros(dim, dtype=np.float32)
    work = np.zeros(dim, dtype=np.float32)
    idx = np.zeros(batch_words, dtype=np.int32)
    bounds = np.zeros(batch_words + 1, dtype=np.int64)
    total = int(lengths.size)
    use_sample = bool(sample)
    for epoch in range(epochs):
        pushed = 0
        for a, b in jobs:
            progress = (epoch + pushed / total) / epochs  # _get_next_alpha
            job_alpha = np.float32(max(min_alpha, alpha - (alpha - min_alpha) * progress))
            pushed += b - a
            next_random = np.uint64((2**24) * rs.randint(0, 2**24) + rs.randint(0, 2**24))
            n, ns, next_random = _subsample(tokens, starts[a:b], ends[a:b], sample_int, next_random, use_sample,
                                            idx, bounds)
            reduced = rs.randint(0, window, n).astype(np.int64)  # model.shrink_windows
            _train_job(idx, bounds, ns, reduced, syn0, syn1neg, cum_table, EXP_TABLE, job_alpha, window,
                       negative, bool(cbow_mean), np.uint64(next_random), neu1, work)
    return keys.astype(np.int64), syn0.astype(np.float64)


def warm_up() -> None:
    """Compile the kernels (or load them from numba's on-disk cache) on a tiny corpus; call once before
    forking worker processes so that they inherit the compiled code."""
    cbow_embed(np.array([[0, 1, 0, 1], [1, 0, 1, 0]]), 2, dim=2, window=2, negative=1, epochs=1)
