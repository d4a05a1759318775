"""Benchmark (issue #7): one WIN imitation epoch vs one plain training epoch of the thin network.

Zhou et al., "Go Wide, Then Narrow", ICML 2020, arXiv 2007.00811, claim per-layer imitation is
"quite light". Goal: an imitation epoch costs <= 1.5x a plain epoch of the thin network.

* plain epoch: thin 16 x 12 MLP, cross-entropy, Adam, over digits' training set (batch 64).
* imitation epoch: the same batches; for each batch the frozen wide teacher (16 x 96) runs up to
  block k under no_grad (its output is the target), S-bar runs blocks 0..k and the pairs, MSE on
  ``A_k h_k``, Adam on stage k's parameters. Averaged over the 16 stages (k = 0..15), progressive
  schedule, lower blocks trainable (the default) and frozen.
Also the same comparison for the thin character Transformer LM (8 x d32 vs teacher d128).
Run: ``.venv/bin/python benchmarks/bench_widethin.py``. Single thread; CPU process time and wall.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from paperzoo.data import load_digits
from paperzoo.data.text import CharCorpus, load_text
from paperzoo.transformer import TransformerConfig
from paperzoo.widethin import MLPConfig, WinStudent, block_outputs, build, view_of, widen, widths_of


def timed(fn, repeat: int = 3) -> tuple[float, float]:
    best_cpu, best_wall = float("inf"), float("inf")
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        fn()
        best_cpu, best_wall = min(best_cpu, time.process_time() - c), min(best_wall, time.perf_counter() - w)
    return best_cpu, best_wall


def mlp() -> None:
    tr = load_digits("train")
    X, Y = tr.images.flatten(1), tr.labels
    spec = MLPConfig(width=12, depth=16)
    wspec = widen(spec, 8)
    torch.manual_seed(0)
    thin, wide = build(spec), build(wspec).requires_grad_(False)
    batches = list(torch.randperm(len(Y)).split(64))

    def plain():
        opt = torch.optim.Adam(thin.parameters(), 1e-3)
        for i in batches:
            loss = F.cross_entropy(thin(X[i]), Y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()

    st = WinStudent(build(spec), list(widths_of(wspec)), wide_head=wide.head)
    wv = view_of(wide)

    def imitation(freeze: bool):
        def epochs():
            for k in range(16):
                opt = torch.optim.Adam(st.set_stage(k, freeze_lower=freeze), 1e-2)
                for i in batches:
                    y = block_outputs(wv, X[i], upto=k)[k]
                    loss = F.mse_loss(st(X[i], stage=k), y)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        return epochs

    p = timed(plain)
    for freeze in (False, True):
        t = timed(imitation(freeze), repeat=1)
        t = (t[0] / 16, t[1] / 16)
        print(f"MLP 16x12 (teacher 16x96), digits, {len(batches)} batches/epoch, freeze_lower={freeze}: "
              f"plain epoch {p[0] * 1e3:.0f} ms cpu ({p[1] * 1e3:.0f} ms wall); imitation epoch (mean over 16 stages) "
              f"{t[0] * 1e3:.0f} ms cpu ({t[1] * 1e3:.0f} ms wall); ratio {t[0] / p[0]:.2f}x cpu, {t[1] / p[1]:.2f}x wall "
              f"(goal <= 1.5x)")


def lm() -> None:
    corpus = CharCorpus.build(load_text("pydoc", max_chars=200_000))
    V, L = corpus.vocab_size, 8
    spec = TransformerConfig(src_vocab=V, tgt_vocab=V, d_model=32, n_heads=2, d_ff=64, n_layers=L, dropout=0.0,
                             norm="post", max_len=64)
    wspec = widen(spec, 4)
    torch.manual_seed(0)
    thin, wide = build(spec), build(wspec).requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    batches = [corpus.batch("train", 32, 64, generator=g) for _ in range(20)]

    def plain():
        opt = torch.optim.Adam(thin.parameters(), 1e-3)
        for x, y in batches:
            loss = thin(x, y)[1]
            opt.zero_grad()
            loss.backward()
            opt.step()

    st = WinStudent(build(spec), list(widths_of(wspec)))
    wv = view_of(wide)

    def imitation():
        for k in range(L):
            opt = torch.optim.Adam(st.set_stage(k), 3e-3)
            for x, _ in batches:
                loss = F.mse_loss(st(x, stage=k), block_outputs(wv, x, upto=k)[k])
                opt.zero_grad()
                loss.backward()
                opt.step()

    p = timed(plain, repeat=2)
    t = timed(imitation, repeat=1)
    t = (t[0] / L, t[1] / L)
    print(f"char LM {L}x d32 (teacher d{wspec.d_model}), 20 batches of 32x64: plain epoch {p[0] * 1e3:.0f} ms cpu; "
          f"imitation epoch (mean over {L} stages) {t[0] * 1e3:.0f} ms cpu; ratio {t[0] / p[0]:.2f}x cpu, "
          f"{t[1] / p[1]:.2f}x wall (goal <= 1.5x)")


if __name__ == "__main__":
    torch.set_num_threads(1)
    mlp()
    lm()
