"""Recipe ``large-compress`` (S3): Li, Wallace, Shen, Lin, Keutzer, Klein, Gonzalez, "Train Large,
Then Compress: Rethinking Model Size for Efficient Training and Inference of Transformers",
ICML 2020, arXiv 2002.11794.

The study (Secs. 3-5): a grid of Transformer LMs (depth x width) trained under the same budget
(here: the same number of steps and tokens, with wall-clock and FLOPs ~ 6 N D recorded); validation
loss vs steps and vs wall-clock (Figs. 2a, 3); then each trained model pruned (0-90 %, one-shot
and iterative with fine-tuning, Sec. 5.1) and quantized (8..2 bits, Sec. 5.2), giving loss vs
compressed size (Fig. 2b / "best of both worlds").

Deviations: a causal character LM on embedded text (CPython's ``pydoc_data`` topics) instead of
RoBERTa MLM + MNLI fine-tuning; a CPU, where the per-step cost grows ~linearly with parameters
(no idle GPU parallelism), so the paper's wall-clock result is measured, not assumed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..engine import make_scheduler, save_weights
from ..errors import ConfigError
from ..registry import register_recipe
from ..stats import mean_std, spearman
from .data import fixed_batches, load_corpus
from .metrics import param_count
from .model import compress_lm, parse_size
from .study import (
    best_per_budget,
    compression_sweep,
    evaluate,
    geometric_budgets,
    plot_robustness,
    plot_size,
    plot_training,
)


@dataclass
class LargeCompressConfig:
    """Defaults: a RoBERTa-like grid (Sec. 3: depth {3..24} x width {256..1536}) on user text."""

    corpus: str = "dir"  # pydoc | stdlib | dir (--data-dir *.txt) | a file path
    max_chars: int = 0  # 0: the whole corpus
    sizes: tuple[str, ...] = ("L3-H256", "L6-H512", "L12-H768", "L24-H1024")
    seq_len: int = 128
    batch_size: int = 64
    steps: int = 20000
    lr: float = 5e-4
    lrs: tuple[float, ...] = ()  # one learning rate per size (empty: ``lr`` for every size, the paper's recipe)
    warmup: int = 1000
    weight_decay: float = 0.01
    clip: float = 1.0
    seeds: int = 1
    eval_every: int = 1000
    eval_windows: int = 512
    # compression
    sparsities: tuple[float, ...] = (0.15, 0.3, 0.45, 0.6, 0.75, 0.9)
    bits: tuple[int, ...] = (8, 6, 4, 3, 2)
    iter_steps: int = 6  # iterative pruning: equal increments up to iter_final
    iter_final: float = 0.9
    prune_ft_steps: int = 500  # fine-tune steps after each pruning step
    ft_lr_frac: float = 0.2  # fine-tune (pruning / QAT) learning rate as a fraction of the size's peak lr
    combo_bits: tuple[int, ...] = (8, 4)  # quantize each iteratively pruned model too
    qat_bits: tuple[int, ...] = (4, 3, 2)
    qat_steps: int = 500  # 0: no quantization-aware fine-tune
    prune_embeddings: bool = False  # prune the (tied) embedding/softmax matrix too
    quant_embeddings: bool = True  # quantize it ("most layers including embeddings")
    budgets: int = 10  # memory budgets for the best-model table
    save_models: bool = True


def _train(model, corpus, cfg, seed: int, steps: int, lr: float, warmup: int, val, eval_every: int, log=None):
    """The training loop (AdamW, linear warm-up then cosine, Sec. 3); returns the loss curve.

    ``time`` is training wall-clock, ``cpu`` the process CPU time of training (evaluation excluded
    from both); CPU time is what the equal-time comparison uses, as wall-clock on a shared machine
    measures the other processes too.
    """
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr,
                            betas=(0.9, 0.98), weight_decay=cfg.weight_decay)
    sched = make_scheduler(opt, "cosine", warmup=warmup, total=steps)
    curve = {"steps": [], "loss": [], "time": [], "cpu": []}
    t_train = c_train = 0.0
    model.train()
    for step in range(1, steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        x, y = corpus.batch("train", cfg.batch_size, cfg.seq_len, generator=g)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        opt.step()
        sched.step()
        t_train += time.perf_counter() - t0  # wall-clock of training only (evaluation excluded)
        c_train += time.process_time() - c0
        if val is not None and (step % eval_every == 0 or step == steps):
            v = evaluate(model, val)
            curve["steps"].append(step)
            curve["loss"].append(v)
            curve["time"].append(t_train)
            curve["cpu"].append(c_train)
            if log is not None:
                log(step, train_loss=loss.item(), val_loss=v)
    return curve


@register_recipe("large-compress", config=LargeCompressConfig, presets={
    # quick: 4 sizes spanning ~107x parameters; per-size peak learning rates from a dev sweep over
    # {0.75, 1.5, 3, 6, 12, 24} x 1e-3 (seed 0, 300 steps; docs/compress.md) -- close to lr = 0.2 / width
    "quick": dict(corpus="pydoc", sizes=("L1-H16", "L2-H48", "L2-H80", "L3-H128"), seq_len=48, batch_size=16,
                  steps=300, lr=3e-3, lrs=(1.2e-2, 3e-3, 3e-3, 1.5e-3), warmup=20, seeds=3, eval_every=30,
                  eval_windows=64, sparsities=(0.3, 0.6, 0.75, 0.9), bits=(8, 4, 3, 2), iter_steps=6,
                  prune_ft_steps=5, combo_bits=(4,), qat_bits=(), qat_steps=0, budgets=8, save_models=True),
    "full": dict(),
})
def run(cfg: LargeCompressConfig, ctx) -> None:
    data_dir = ctx.require_data_dir("UTF-8 .txt pre-training text") if cfg.corpus == "dir" else ctx.data_dir
    corpus = load_corpus(cfg.corpus, data_dir, cfg.max_chars or None)
    val = fixed_batches(corpus, "val", cfg.eval_windows, cfg.seq_len)
    sizes = list(cfg.sizes)
    if cfg.lrs and len(cfg.lrs) != len(sizes):
        raise ConfigError(f"lrs has {len(cfg.lrs)} values for {len(sizes)} sizes; give one per size or none")
    lrs = dict(zip(sizes, cfg.lrs or [cfg.lr] * len(sizes)))
    ctx.note(f"Corpus {cfg.corpus!r}: {len(corpus.train):,} training characters, vocabulary {corpus.vocab_size}; "
             f"validation = {cfg.eval_windows} fixed windows of {cfg.seq_len}. Every size sees the same "
             f"{cfg.steps} steps x {cfg.batch_size * cfg.seq_len} tokens with the same schedule (AdamW, "
             f"{cfg.warmup} warm-up steps, cosine) and learning rate "
             + (f"{cfg.lr:g} for every size (the paper's one recipe for all sizes)." if not cfg.lrs else
                "per size: " + ", ".join(f"{n} {v:g}" for n, v in lrs.items()) + ".")
             + f" Pruning targets {'all weight matrices incl. the tied embedding/softmax' if cfg.prune_embeddings else 'every Linear and attention projection (the tied embedding/softmax matrix, biases and LayerNorms stay dense)'}; "
             f"quantization {'includes' if cfg.quant_embeddings else 'excludes'} the embedding; weights are "
             "quantized symmetrically per output channel (per row of the embedding).")

    if cfg.lrs:
        ctx.note("Deviation: the paper trains every size with one recipe; here each size gets its own peak learning "
                 "rate (chosen by a 300-step dev sweep on seed 0, scored on these validation windows; table in "
                 "docs/compress.md), because at this scale the best rate varies ~8x with width (about 0.2 / width, "
                 "the 1/fan-in scaling of Adam learning rates) and one shared rate would leave the small or the "
                 "large models far from their best -- which would bias every comparison below.")
    curves: dict[str, dict] = {}
    sweeps: dict[str, list[list[dict]]] = {}
    for name in sizes:
        depth, width = parse_size(name)
        curves[name] = {"steps": None, "loss": [], "time": [], "cpu": [], "lr": lrs[name]}
        sweeps[name] = []
        for i in ctx.progress(range(cfg.seeds), desc=f"train+compress {name}", total=cfg.seeds):
            seed = ctx.seed + i
            torch.manual_seed(seed)
            model = compress_lm(vocab=corpus.vocab_size, depth=depth, width=width, seq_len=cfg.seq_len)
            curves[name]["params"] = param_count(model)
            c = _train(model, corpus, cfg, seed, cfg.steps, lrs[name], cfg.warmup, val, cfg.eval_every,
                       log=lambda s, _p=f"{name}/seed{seed}", **kw: ctx.log(s, _p, **kw))
            curves[name]["steps"] = c["steps"]
            curves[name]["loss"].append(c["loss"])
            curves[name]["time"].append(c["time"])
            curves[name]["cpu"].append(c["cpu"])
            if cfg.save_models and ctx.is_main:
                save_weights(model, ctx.checkpoint_dir(f"{name}-seed{seed}") / "model.safetensors",
                             metadata={"size": name, "vocab": str(corpus.vocab_size), "seq_len": str(cfg.seq_len)})

            ft_lr = cfg.ft_lr_frac * lrs[name]

            def finetune(m, steps, level=0, _seed=seed, _lr=ft_lr):  # fresh batches per level, same for the control
                _train(m, corpus, cfg, _seed + 10_000 + 100 * level, steps, _lr, 0, None, steps)

            def qat(m, bits, _seed=seed, _lr=ft_lr):
                _train(m, corpus, cfg, _seed + 20_000 + bits, cfg.qat_steps, _lr, 0, None, cfg.qat_steps)

            sweeps[name].append(compression_sweep(
                model, val, sparsities=tuple(sorted({0.0, *cfg.sparsities})), bits=cfg.bits,
                iter_steps=cfg.iter_steps, iter_final=cfg.iter_final, finetune=finetune, ft_steps=cfg.prune_ft_steps,
                combo_bits=cfg.combo_bits, qat=qat if cfg.qat_steps > 0 else None, qat_bits=cfg.qat_bits,
                prune_embeddings=cfg.prune_embeddings, quant_embeddings=cfg.quant_embeddings))
    _report(cfg, ctx, sizes, curves, sweeps)


def _mean_points(per_seed: list[list[dict]]) -> list[dict]:
    """Average the same compression setting over seeds (points are in the same order per seed)."""
    out = []
    for group in zip(*per_seed):
        out.append({**group[0], "loss": float(np.mean([p["loss"] for p in group])),
                    "loss_sd": float(np.std([p["loss"] for p in group])),
                    "size_bits": float(np.mean([p["size_bits"] for p in group]))})
    return out


def _delta(per_seed: list[list[dict]], method: str, key: str, value: float, ref: str = "dense") -> list[float]:
    """Per-seed loss increase of one compression setting over its reference: the dense model, or
    (``ref="dense-ft"``) the dense model fine-tuned for the same steps as the pruned one."""
    out = []
    for pts in per_seed:
        hit = min((p for p in pts if p["method"] == method), key=lambda p: abs(p[key] - value))
        refs = [p for p in pts if p["method"] == ref and p[key] == hit[key]] if ref != "dense" else []
        base = refs[0]["loss"] if refs else next(p["loss"] for p in pts if p["method"] == "dense")
        out.append(hit["loss"] - base)
    return out


def _report(cfg, ctx, sizes, curves, sweeps) -> None:
    m = ctx.metrics
    small, large = sizes[0], sizes[-1]
    tokens = cfg.steps * cfg.batch_size * cfg.seq_len
    for name in sizes:
        c = curves[name]
        loss = np.asarray(c["loss"])
        m[f"params_{name}"] = c["params"]
        m[f"final_val_loss_{name}"] = float(loss[:, -1].mean())
        m[f"final_val_loss_sd_{name}"] = float(loss[:, -1].std())
        m[f"train_time_s_{name}"] = float(np.mean([t[-1] for t in c["time"]]))
        m[f"train_cpu_s_{name}"] = float(np.mean([t[-1] for t in c["cpu"]]))
        m[f"train_pflops_{name}"] = 6 * c["params"] * tokens / 1e15
        for method, key, val, tag in (("prune-iterative", "sparsity", 0.6, "sparsity60_iterative"),
                                      ("prune-oneshot", "sparsity", 0.6, "sparsity60_oneshot"),
                                      ("prune-oneshot-all", "sparsity", 0.6, "sparsity60_oneshot_all"),
                                      ("ptq", "bits", 4, "bits4_ptq"), ("ptq", "bits", 3, "bits3_ptq"),
                                      ("ptq", "bits", 2, "bits2_ptq")):
            if not any(p["method"] == method and (method == "prune-iterative" or abs(p[key] - val) < 1e-6)
                       for p in sweeps[name][0]):
                continue  # that setting was not in the grid
            d = _delta(sweeps[name], method, key, val, "dense-ft" if method == "prune-iterative" else "dense")
            m[f"loss_increase_{tag}_{name}"] = float(np.mean(d))
            m[f"loss_increase_{tag}_sd_{name}"] = float(np.std(d))
    m["param_span"] = curves[large]["params"] / curves[small]["params"]

    # (1) equal steps: the largest model is lowest at every evaluation after the first 10 %
    steps = curves[large]["steps"]
    mean = {n: np.asarray(curves[n]["loss"]).mean(0) for n in sizes}
    late = [i for i, s in enumerate(steps) if s > 0.1 * cfg.steps]
    wins = sum(all(mean[large][i] < mean[n][i] for n in sizes if n != large) for i in late)
    m["largest_lowest_evals"] = wins
    m["largest_lowest_evals_of"] = len(late)
    ctx.claim("large_fewer_steps", f"at equal steps the largest model ({large}) has the lowest validation loss at "
              f"every evaluation after 10 % of training (mean of {cfg.seeds} seeds)",
              paper="larger models converge in fewer steps (Figs. 2-4)", ours=f"{wins}/{len(late)} evaluations",
              holds=len(late) > 0 and wins == len(late))

    # (2) equal compute time: at the training time the smallest model needs, who is lowest?
    t_small = m[f"train_cpu_s_{small}"]
    at_t = {}
    for n in sizes:
        t = np.asarray(curves[n]["cpu"]).mean(0)
        at_t[n] = float(np.interp(t_small, t, mean[n])) if t_small >= t[0] else float("nan")
        m[f"val_loss_at_{small}_time_{n}"] = at_t[n]
    known = {n: v for n, v in at_t.items() if math.isfinite(v)}
    best_t = min(known, key=known.get) if known else small
    m["time_ratio_largest_vs_smallest"] = m[f"train_cpu_s_{large}"] / max(t_small, 1e-9)
    first = float(np.asarray(curves[large]["cpu"]).mean(0)[0])
    ctx.claim("large_wallclock", f"at equal training time ({t_small:.1f} CPU s, the smallest model's whole run) the "
              "largest model has the lowest loss", paper="larger models train faster in wall-clock (Fig. 2a, GPUs)",
              ours=f"lowest: {best_t}; {large} " + (f"{at_t[large]:.3f}" if math.isfinite(at_t[large]) else
                                                    f"not yet evaluated (its first evaluation is at {first:.1f} s)")
              + f" vs {small} {at_t[small]:.3f}", holds=best_t == large)
    ctx.note(f"Training time on a CPU: a step of {large} costs {m['time_ratio_largest_vs_smallest']:.1f}x one of {small} "
             f"in process CPU time ({m['param_span']:.0f}x the parameters, ~6 N D FLOPs: "
             f"{m[f'train_pflops_{large}'] * 1e3:.3f} vs {m[f'train_pflops_{small}'] * 1e3:.4f} TFLOP). The paper's "
             "wall-clock win relies on GPUs that small models under-use; a CPU has no idle parallelism, so at equal "
             "time the small models get many more steps. CPU time is used rather than wall-clock because other "
             "processes share this machine (wall-clock per size is in metrics.json as train_time_s_*).")

    # (3) robustness: loss increase at 60 % sparsity and at 4 bits, largest <= 0.5 x smallest
    logp = [math.log(curves[n]["params"]) for n in sizes]
    for tag, text, paper in (
            ("sparsity60_oneshot", "60 % sparsity (one-shot global magnitude pruning of the trained model)",
             "large models lose less under pruning (Figs. 2b, 6)"),
            ("sparsity60_iterative", "60 % sparsity (iterative pruning + fine-tune, vs the dense model fine-tuned "
             "the same steps)", "large models lose less under pruning (Figs. 2b, 6)"),
            ("bits4_ptq", "4-bit weights (PTQ)", "large models lose less under quantization (Fig. 6)")):
        if f"loss_increase_{tag}_{large}" not in m:
            continue  # that setting is not in the grid (--set sparsities/bits)
        a, b = m[f"loss_increase_{tag}_{large}"], m[f"loss_increase_{tag}_{small}"]
        sa, sb = m[f"loss_increase_{tag}_sd_{large}"], m[f"loss_increase_{tag}_sd_{small}"]
        d = [m[f"loss_increase_{tag}_{n}"] for n in sizes]
        extra = ""
        if tag == "sparsity60_oneshot" and f"loss_increase_sparsity60_oneshot_all_{large}" in m:
            extra = (f"; pruning every matrix incl. the tied embedding: {m[f'loss_increase_sparsity60_oneshot_all_{large}']:+.4f}"
                     f" vs {m[f'loss_increase_sparsity60_oneshot_all_{small}']:+.4f}")
        rho = spearman(logp, d) if len(sizes) > 2 else float("nan")
        m[f"robust_{tag}_ratio_largest_vs_smallest"] = a / b if b > 0 else float("nan")
        m[f"robust_{tag}_spearman_size"] = rho
        ctx.claim(f"robust_{tag}", f"loss increase at {text}: {large} <= 0.5 x {small}", paper=paper,
                  ours=f"{a:+.4f} ± {sa:.4f} vs {b:+.4f} ± {sb:.4f} nats (ratio {a / b if b > 0 else float('nan'):.2f}; "
                  f"Spearman(size, increase) over {len(sizes)} sizes {rho:+.2f}{extra})",
                  holds=a <= 0.5 * b if b > 0 else a <= b)

    # (4) best of both worlds: a memory budget where a heavily compressed large model wins
    points = {n: _mean_points(sweeps[n]) for n in sizes}
    allpts = [{**p, "model": n, "params": curves[n]["params"]} for n in sizes for p in points[n]
              if p["method"] != "dense-ft"]  # the fine-tuned control is not a compressed model
    for p in allpts:
        p["ratio"] = p["params"] * 32 / p["size_bits"]
    rows, found = [], []
    for r in best_per_budget(allpts, geometric_budgets(allpts, cfg.budgets)):
        b = r["best"]
        if b is None:
            continue
        small_fit = [p for p in allpts if p["model"] == small and p["size_bits"] <= r["budget_bits"]]
        sb = min(small_fit, key=lambda p: p["loss"]) if small_fit else None
        rows.append({"budget_KiB": r["budget_bits"] / 8192, "best_model": b["model"], "method": b["method"],
                     "sparsity": b["sparsity"], "bits": b["bits"], "compression": f"{b['ratio']:.1f}x",
                     "loss": b["loss"], f"best_{small}": sb["loss"] if sb else float("nan"),
                     f"{small}_compression": f"{sb['ratio']:.1f}x" if sb else "-"})
        if sb is not None and b["model"] != small and b["ratio"] > sb["ratio"] and b["loss"] < sb["loss"]:
            found.append((r["budget_bits"], b, sb))
    for i, row in enumerate(rows):
        m[f"budget{i}_KiB"] = row["budget_KiB"]
        m[f"budget{i}_best_model"] = row["best_model"]
        m[f"budget{i}_best_loss"] = row["loss"]
    m["budgets_large_compressed_wins"] = len(found)
    ours = (f"{len(found)}/{len(rows)} budgets; e.g. {found[0][0] / 8192:.1f} KiB: {found[0][1]['model']} "
            f"{found[0][1]['method']} ({found[0][1]['ratio']:.0f}x) {found[0][1]['loss']:.3f} vs {small} "
            f"{found[0][2]['method']} ({found[0][2]['ratio']:.0f}x) {found[0][2]['loss']:.3f}") if found \
        else f"0/{len(rows)} budgets"
    ctx.claim("best_of_both", "at some memory budget a heavily compressed larger model beats a lightly compressed "
              f"{small}", paper="heavily compressed large > lightly compressed small (Fig. 2b)", ours=ours,
              holds=bool(found))

    def inc(tag: str, n: str) -> str:
        k = f"loss_increase_{tag}_{n}"
        return f"{m[k]:+.4f} ± {m[k.replace(tag, tag + '_sd')]:.4f}" if k in m else "-"

    ctx.table("Training at equal steps, then compression (mean ± sd over seeds; Δ = loss increase in nats)", [
        {"model": n, "params": curves[n]["params"], "lr": curves[n]["lr"], "final val loss": f"{m[f'final_val_loss_{n}']:.4f} ± "
         f"{m[f'final_val_loss_sd_{n}']:.4f}", "train CPU s": f"{m[f'train_cpu_s_{n}']:.1f}",
         "Δ60% one-shot": inc("sparsity60_oneshot", n), "Δ60% one-shot incl. emb.": inc("sparsity60_oneshot_all", n),
         "Δ60% iter (vs dense-FT)": inc("sparsity60_iterative", n), "Δ4-bit": inc("bits4_ptq", n),
         "Δ3-bit": inc("bits3_ptq", n), "Δ2-bit": inc("bits2_ptq", n)}
        for n in sizes])
    ctx.table("Best model per memory budget (lowest validation loss with size <= budget)", rows)
    ctx.savefig(plot_training(curves), "loss_vs_steps_and_time",
                "Validation loss vs gradient steps (left) and vs training CPU time (right); mean ± sd over seeds.")
    ctx.savefig(plot_robustness(sweeps), "loss_vs_sparsity_and_bits",
                "Loss vs global magnitude sparsity (solid: iterative + fine-tune, dotted: one-shot) and vs weight bits.")
    ctx.savefig(plot_size(points), "loss_vs_compressed_size",
                "Every compressed variant of every size: loss vs non-zeros x bits (the paper's Fig. 2b view).")
    sd = [m[f"final_val_loss_sd_{n}"] for n in sizes]
    ctx.note(f"Seeds: {cfg.seeds}; largest seed-to-seed sd of a final loss {max(sd):.4f} nats "
             f"(mean sd {mean_std(sd)[0]:.4f}). Sizes are non-zeros x bits (+ fp32 biases/LayerNorms and "
             "per-channel scales); no sparse index overhead, as in the paper.")
