"""Recipe ``preln`` (S5): Xiong et al., "On Layer Normalization in the Transformer Architecture",
ICML 2020, arXiv 2002.04745.

Two studies, both in the paper's setting:
  1. The gradient probe (Fig. 3): per-layer FFN gradient norms at initialisation for Post-LN and
     Pre-LN encoder-decoder models (6+6 layers, 4 heads, FFN 2d, Xavier, no dropout), averaged
     over >= 10 seeds; the last decoder layer's W2 gradient norm as depth grows 6..14.
     Theory (Theorem 1): Post-LN's last-layer norm is independent of depth L, Pre-LN's shrinks
     as 1/sqrt(L); Post-LN's norms grow with the layer index, Pre-LN's are about flat.
  2. The warm-up study (Sec. 3.1, Figs. 2 and 4): Adam (0.9, 0.98) on a character LM over
     CPython's ``pydoc_data`` text: Post-LN with warm-up + inverse-sqrt decay, Post-LN without
     warm-up at the same lr_max, and Pre-LN without warm-up, several seeds.

Deviation: the paper measures BLEU on IWSLT14/WMT14 and BERT validation loss; on 2 CPU cores we
use a character LM (validation loss in nats), so BLEU numbers are not reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..registry import register_recipe
from ..stats import spearman
from .probe import ProbeConfig, ffn_grad_norms


@dataclass
class PrelnConfig:
    """Defaults = the paper's setting (Sec. 3 and Fig. 3)."""

    parts: str = "probe,warmup"  # which studies to run
    # gradient probe (Fig. 3)
    probe_d_model: int = 512
    probe_vocab: int = 1000
    probe_len: int = 32
    probe_batch: int = 16
    probe_batches: int = 16
    probe_seeds: int = 10
    probe_depths: tuple[int, ...] = (6, 8, 10, 12, 14)
    probe_layers: int = 6
    # warm-up study (char LM); defaults follow the paper's IWSLT14 setting (Sec. 3 / Sec. 4.1):
    # d 512, FFN 1024 (= 2d), 4 heads, Adam (0.9, 0.98), lr_max 5e-4, 4,000 warm-up steps
    lm_d_model: int = 512
    lm_layers: int = 6
    lm_heads: int = 4
    lm_seq_len: int = 128
    lm_batch: int = 32
    lm_steps: int = 20000
    lm_lr: float = 5e-4
    lm_warmup: int = 4000
    lm_seeds: int = 3
    lm_eval_every: int = 500
    lm_eval_batches: int = 16
    lm_clip: float = 0.0
    lm_arms: str = "postln_warmup,postln_nowarmup,preln_nowarmup"
    checkpoint_every: int = 0  # 0: only at the end of each run


def _probe(cfg: PrelnConfig, ctx) -> None:
    import matplotlib.pyplot as plt

    p = ProbeConfig(d_model=cfg.probe_d_model, vocab=cfg.probe_vocab, src_len=cfg.probe_len, tgt_len=cfg.probe_len,
                    batch_size=cfg.probe_batch, n_batches=cfg.probe_batches)
    seeds = range(ctx.seed, ctx.seed + cfg.probe_seeds)
    per_layer: dict[str, dict[str, np.ndarray]] = {}
    for norm in ("post", "pre"):
        runs = [ffn_grad_norms(norm, cfg.probe_layers, s, p)
                for s in ctx.progress(seeds, desc=f"probe {norm}-LN per layer", total=cfg.probe_seeds)]
        per_layer[norm] = {k: torch.stack([r[k] for r in runs]).numpy() for k in runs[0]}
    depth: dict[str, np.ndarray] = {}
    for norm in ("post", "pre"):
        rows = []
        for L in ctx.progress(cfg.probe_depths, desc=f"probe {norm}-LN vs depth"):
            rows.append([float(ffn_grad_norms(norm, L, s, p)["dec_w2"][-1]) for s in seeds])
        depth[norm] = np.array(rows)  # (depths, seeds)

    layers = np.arange(1, cfg.probe_layers + 1)
    for norm, tag in (("post", "postln"), ("pre", "preln")):
        dec = per_layer[norm]["dec_w2"].mean(0)
        ctx.metrics[f"{tag}_gradnorm_layer_spearman"] = spearman(layers, dec)
        ctx.metrics[f"{tag}_gradnorm_maxmin_ratio"] = float(dec.max() / dec.min())
        ctx.metrics[f"{tag}_lastlayer_gradnorm_depth_ratio"] = float(depth[norm][-1].mean() / depth[norm][0].mean())
        for i, v in enumerate(dec, 1):
            ctx.metrics[f"{tag}_dec_ffn_w2_gradnorm_layer{i}"] = float(v)
        for L, v in zip(cfg.probe_depths, depth[norm].mean(1)):
            ctx.metrics[f"{tag}_lastlayer_gradnorm_L{L}"] = float(v)
    m = ctx.metrics
    ctx.claim("postln_grad_grows", "Post-LN decoder FFN gradient norm rises with layer index (Spearman >= 0.9)",
              paper="grows (Fig. 3)", ours=round(m["postln_gradnorm_layer_spearman"], 3),
              holds=m["postln_gradnorm_layer_spearman"] >= 0.9)
    ctx.claim("preln_grad_flat", "Pre-LN spread across layers (max/min) <= 0.6 x Post-LN's",
              paper="about flat (Fig. 3)",
              ours=f"{m['preln_gradnorm_maxmin_ratio']:.2f} vs {m['postln_gradnorm_maxmin_ratio']:.2f}",
              holds=m["preln_gradnorm_maxmin_ratio"] <= 0.6 * m["postln_gradnorm_maxmin_ratio"])
    ctx.claim("postln_depth_const", "Post-LN last-layer gradient norm independent of depth (14/6 ratio in 0.8-1.25)",
              paper="O(d sqrt(ln d)), no L (Thm. 1)", ours=round(m["postln_lastlayer_gradnorm_depth_ratio"], 3),
              holds=0.8 <= m["postln_lastlayer_gradnorm_depth_ratio"] <= 1.25)
    ctx.claim("preln_depth_falls", "Pre-LN last-layer gradient norm falls with depth (14/6 ratio <= 0.8)",
              paper=f"1/sqrt(L): {np.sqrt(6 / 14):.2f} (Thm. 1)", ours=round(m["preln_lastlayer_gradnorm_depth_ratio"], 3),
              holds=m["preln_lastlayer_gradnorm_depth_ratio"] <= 0.8)

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, side, title in ((axes[0], "enc", "encoder"), (axes[1], "dec", "decoder")):
        for norm, col in (("post", "tab:red"), ("pre", "tab:blue")):
            a = per_layer[norm][f"{side}_w2"]
            ax.errorbar(layers, a.mean(0), yerr=a.std(0), marker="o", color=col, capsize=3, label=f"{norm}-LN")
        ax.set(title=f"{title}: FFN W2 grad norm at init", xlabel="layer", ylabel="‖E[∇W2]‖_F")
        ax.legend()
    for norm, col in (("post", "tab:red"), ("pre", "tab:blue")):
        a = depth[norm]
        axes[2].errorbar(cfg.probe_depths, a.mean(1), yerr=a.std(1), marker="o", color=col, capsize=3, label=f"{norm}-LN")
    axes[2].set(title="last decoder layer W2 vs depth", xlabel="layers (each side)", ylabel="‖E[∇W2]‖_F")
    axes[2].legend()
    ctx.savefig(fig, "gradnorm_probe", f"Fig. 3 analogue: mean ± sd over {cfg.probe_seeds} seeds, d_model={cfg.probe_d_model}")


@register_recipe("preln", config=PrelnConfig, presets={
    "quick": dict(probe_d_model=64, probe_vocab=200, probe_len=16, probe_batch=8, probe_batches=4, probe_seeds=10,
                  lm_d_model=64, lm_layers=6, lm_steps=200, lm_batch=16, lm_warmup=60, lm_lr=5e-3, lm_seeds=3,
                  lm_eval_every=50, lm_eval_batches=8),
    "full": dict(),
}, needs_data_dir=())
def run(cfg: PrelnConfig, ctx) -> None:
    parts = {p.strip() for p in cfg.parts.split(",") if p.strip()}
    if "probe" in parts:
        _probe(cfg, ctx)
    if "warmup" in parts:
        from .warmup import warmup_study
        warmup_study(cfg, ctx)
