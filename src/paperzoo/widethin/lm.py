"""The ``wide-thin`` recipe's second task: a thin character Transformer LM warmed up by WIN.

Zhou et al., "Go Wide, Then Narrow", ICML 2020, arXiv 2007.00811: the paper's language-model
experiment trains BERT_BASE (12 x 768) by imitating a wider BERT. At CPU scale we train a thin
causal character LM (``paperzoo.transformer.TransformerLM``, Post-LN like BERT) on CPython's
``pydoc_data`` text and its wide twin (`widen`: d_model and d_ff x ``lm_widen``, same depth).

Deviation: a causal character LM instead of BERT's masked-LM pre-training + SQuAD (no data on
this machine); bits per character on held-out text instead of SQuAD F1.
Deviation: Transformer blocks are residual, so the linear pairs are tied orthogonal maps
(``C_k A_k = I``, see `paperzoo.widethin.imitation`); the merge is the identity.
"""

# ruff: noqa: B023  (stage closures are called only inside their own loop iteration)
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from ..data.text import CharCorpus, load_text
from ..transformer import TransformerConfig
from .imitation import WinStudent, block_outputs, view_of
from .losses import LogitDistillation
from .model import build, widen, widths_of

__all__ = ["lm_study"]


def lm_study(cfg, ctx) -> dict:
    from .recipe import _gather, train_loop

    corpus = CharCorpus.build(load_text("pydoc"))
    V, T, B, L = corpus.vocab_size, cfg.lm_seq_len, cfg.lm_batch, cfg.lm_layers
    thin_spec = TransformerConfig(src_vocab=V, tgt_vocab=V, d_model=cfg.lm_d_model, n_heads=cfg.lm_heads,
                                  d_ff=2 * cfg.lm_d_model, n_layers=L, dropout=0.0, norm=cfg.lm_norm, max_len=T)
    wide_spec = widen(thin_spec, cfg.lm_widen)
    acc = ctx.accelerator
    seeds = list(range(ctx.seed, ctx.seed + cfg.lm_seeds))[acc.process_index::acc.num_processes]
    kd = LogitDistillation(cfg.kd_temperature, cfg.kd_alpha)
    steps_ft = cfg.lm_student_steps - L * cfg.lm_imitation_steps

    def batch(split: str, t: int, salt: int):
        return corpus.batch(split, B, T, generator=torch.Generator().manual_seed(salt * 1_000_003 + t))

    def bpc(model_logits, split: str = "val") -> float:
        with torch.no_grad():
            tot = 0.0
            for j in range(cfg.lm_eval_batches):
                x, y = batch(split, j, 999)
                tot += float(F.cross_entropy(model_logits(x).flatten(0, 1), y.flatten()))
        return tot / cfg.lm_eval_batches / math.log(2)

    out: dict = {"bpc_win": [], "bpc_scratch": [], "bpc_teacher": [], "merge_error": [],
                 "curves": {"scratch": [], "win": []}, "wide_d_model": wide_spec.d_model}
    for s in seeds:
        tag = f"lm-s{s}"
        # -- stage 1: the wide LM -------------------------------------------------------------------
        torch.manual_seed(s * 7919 + 1)
        wide = build(wide_spec)
        train_loop(ctx, f"{tag}-teacher", wide, list(wide.parameters()), cfg.lm_teacher_steps,
                   lambda t: wide(*batch("train", t, s * 10 + 1))[1], cfg.lm_lr, checkpoint_every=cfg.checkpoint_every)
        wide.requires_grad_(False)
        out["bpc_teacher"].append(bpc(lambda x: wide(x)[0], "test"))
        torch.manual_seed(s * 7919 + 2)
        thin_init = build(thin_spec)

        # -- baseline: thin from scratch ------------------------------------------------------------
        thin = copy.deepcopy(thin_init)
        curve, _ = train_loop(ctx, f"{tag}-scratch", thin, list(thin.parameters()), cfg.lm_student_steps,
                              lambda t: thin(*batch("train", t, s * 10 + 2))[1], cfg.lm_lr,
                              evaluate=lambda: bpc(lambda x: thin(x)[0]), eval_every=max(1, cfg.lm_student_steps // 6),
                              checkpoint_every=cfg.checkpoint_every)
        out["curves"]["scratch"].append(curve)
        out["bpc_scratch"].append(bpc(lambda x: thin(x)[0], "test"))

        # -- stage 2: layerwise imitation -------------------------------------------------------------
        win = WinStudent(copy.deepcopy(thin_init), list(widths_of(wide_spec)))
        wv = view_of(wide)
        wcurve = []
        for k in range(L):
            params = win.set_stage(k, cfg.freeze_lower, cfg.schedule == "teacher")

            def loss_at(t, k=k):
                x, _ = batch("train", t, s * 10 + 100 + k)
                ys = block_outputs(wv, x, upto=k)
                tin = ys[k - 1] if cfg.schedule == "teacher" and k > 0 else None
                sk = ys[k].std(dim=(0, 1), keepdim=True).clamp_min(1e-2) if cfg.imitation_norm else 1.0
                return F.mse_loss(win(x, tin, stage=k) / sk, ys[k] / sk)

            train_loop(ctx, f"{tag}-imitate{k:02d}", win, params, cfg.lm_imitation_steps, loss_at, cfg.lm_imitation_lr,
                       checkpoint_every=cfg.checkpoint_every)

            def hybrid(x, k=k):  # thin layers 0..k, then the wide teacher's upper layers
                h = win(x, stage=k)
                for j in range(k + 1, L):
                    h = wv.block(j, h)
                return wv.head(h)

            wcurve.append([(k + 1) * cfg.lm_imitation_steps, bpc(hybrid)])
        win.requires_grad_(True)
        thin = win.merge()
        with torch.no_grad():
            x, _ = batch("val", 0, 999)
            out["merge_error"].append(float((thin(x)[0] - win(x)).abs().max()))

        # -- stage 3: fine-tuning (logit KD, then labels) ---------------------------------------------------
        n_kd = int(round(cfg.kd_frac * steps_ft))

        def ft_loss(t):
            x, y = batch("train", t, s * 10 + 3)
            logits, ce = thin(x, y)
            if t < n_kd:
                with torch.no_grad():
                    tl = wide(x)[0]
                return kd(logits, tl, y)
            return ce

        curve, _ = train_loop(ctx, f"{tag}-finetune", thin, list(thin.parameters()), steps_ft, ft_loss, cfg.lm_lr,
                              evaluate=lambda: bpc(lambda x: thin(x)[0]), eval_every=max(1, cfg.lm_student_steps // 6),
                              checkpoint_every=cfg.checkpoint_every)
        off = L * cfg.lm_imitation_steps
        out["curves"]["win"].append(wcurve + [[a + off, b] for a, b in curve])
        out["bpc_win"].append(bpc(lambda x: thin(x)[0], "test"))
    # curves: per seed lists of [step, bpc] -> [step, [bpc per seed]]
    for key in ("scratch", "win"):
        cs = out["curves"][key]
        out["curves"][key] = [[cs[0][j][0], [c[j][1] for c in cs]] for j in range(len(cs[0]))] if cs else []
    return _gather(ctx, out)
