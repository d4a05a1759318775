"""Report of the ``hashing`` quick recipe: tables, claims (computed from the measured numbers) and plots.

Claims follow issue #9 for Do et al., arXiv 1802.07437 (the paper's own numbers are not confirmed):
the deep hash >= ITQ + 3 mAP at each length on the same descriptors; the quantisation term worth
>= +2 mAP at <= 16 bits.
"""

from __future__ import annotations

import numpy as np

from ..stats import mean_std, paired_interval

__all__ = ["report_quick"]


def _maps(res: dict, name: str, bits: int) -> list[float]:
    return [100 * r["map"] for r in res.get(name, {}).get(bits, [])]


def report_quick(cfg, ctx, res: dict, qerr: dict, curves: dict) -> None:
    import matplotlib.pyplot as plt

    m = ctx.metrics
    bits = list(cfg.bits)
    rows = []
    for name, per in res.items():
        row = {"method": name}
        for b in bits:
            if b not in per:
                row[f"mAP@{b}"] = row[f"P(r≤2)@{b}"] = "n/a"
                continue
            mu, sd = mean_std([100 * r["map"] for r in per[b]])
            pm, _ = mean_std([100 * r["p_r2"] for r in per[b]])
            row[f"mAP@{b}"] = f"{mu:.1f} ± {sd:.1f}"
            row[f"P(r≤2)@{b}"] = f"{pm:.1f}"
            key = name.lower().replace(" ", "_").replace("λ=0", "lam0")
            m[f"map_{key}_{b}"] = round(mu, 3)
            m[f"map_sd_{key}_{b}"] = round(sd, 3)
            m[f"p_r2_{key}_{b}"] = round(pm, 3)
        rows.append(row)
    ctx.table(f"Hamming-ranking mAP (%) and precision within radius 2 (%) on held-out GENERATED landmarks, "
              f"mean ± sd over {cfg.seeds} seeds (baselines hash the same GeM descriptors)", rows)

    for b in bits:
        deep, itq = _maps(res, "BCDH", b), _maps(res, "ITQ", b)
        if not itq:
            continue
        d, lo, hi = paired_interval(deep, itq)
        ctx.claim(f"beats_itq_{b}", f"Deep hash >= ITQ + 3 mAP at {b} bits (same descriptors)",
                  paper="deep hash > ITQ (tables unconfirmed)",
                  ours=f"{np.mean(deep):.1f} vs {np.mean(itq):.1f}: {d:+.1f} [{lo:.1f}, {hi:.1f}]", holds=d >= 3)
    short = [b for b in bits if b <= 16]
    if "BCDH λ=0" in res and short:
        b = min(short)
        with_q, without = _maps(res, "BCDH", b), _maps(res, "BCDH λ=0", b)
        d, lo, hi = paired_interval(with_q, without)
        c = ctx.claim("quantisation_term", f"The quantisation term (λ={cfg.lam}) is worth >= +2 mAP at {b} bits",
                      paper="binary constraint helps (abstract; numbers unconfirmed)",
                      ours=f"{np.mean(with_q):.1f} vs {np.mean(without):.1f}: {d:+.1f} [{lo:.1f}, {hi:.1f}]",
                      holds=d >= 2)
        qe, qe0 = np.mean(qerr["BCDH"]), np.mean(qerr["BCDH λ=0"])
        m["quant_error_bcdh"], m["quant_error_lam0"] = round(qe, 4), round(qe0, 4)
        ctx.claim("quantisation_error", "The quantisation term lowers ||h - sign(h)||^2 / L on test images",
                  paper="binary constraint (abstract)", ours=f"{qe:.3f} vs {qe0:.3f} (λ=0)", holds=qe < qe0)
        if not c.holds:
            ctx.note(f"The quantisation term's mAP effect misses the issue's +2 target: λ={cfg.lam} lowers the test "
                     f"quantisation error ||h - sign h||^2/L only from {qe0:.3f} to {qe:.3f}, so sign() flips few "
                     f"bits differently than with λ = 0 and the mAP gap is within seed noise. A larger λ or longer "
                     f"training (--set lam=..., epochs=...) is the test; not tuned here.")
    fails = [c for c in ctx.claims if c.id.startswith("beats_itq_") and not c.holds]
    if fails:
        ctx.note("Deep hash vs ITQ misses the +3 mAP target at " + ", ".join(c.id.split("_")[-1] for c in fails) +
                 " bits. The baselines hash the trained network's own GeM descriptors, which the pairwise loss has "
                 "already shaped, so ITQ gets most of what the hash layer learns; with a small CNN trained from "
                 "scratch at 32 px for a few epochs the remaining gap is within seed noise.")
    ctx.note("The loss and its optimisation are the DOCUMENTED RECONSTRUCTION (the paper's exact form is not "
             "confirmed): contrastive distance on relaxed codes h + λ/2||h - b||^2 with auxiliary codes b, a B-step "
             "b = sign(h) per epoch alternating with Adam W-steps. Pairs: 3D co-visibility positives, one augmented "
             "copy per query, hard negatives from other 3D models nearest in code space. Tie policy of every "
             "ranking: stable sort by (Hamming distance, database index). Precision within radius 2 counts 0 for "
             "queries that retrieve nothing.")
    ctx.note("Data are GENERATED (S8's procedural 3D landmarks, 32 px, distractors are scikit-image photo crops); "
             "relevance = easy + hard co-visibility labels, junk ignored. One backbone carries the 16/32/64-bit "
             "layers (trained jointly; the paper trains one network per length). Intervals are paired 95% "
             f"t-intervals over {cfg.seeds} seeds.")

    names = list(res)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name in names:
        bs = [b for b in bits if b in res[name]]
        mu = [np.mean(_maps(res, name, b)) for b in bs]
        sd = [np.std(_maps(res, name, b)) for b in bs]
        ax.errorbar(bs, mu, yerr=sd, marker="o", capsize=3, label=name, lw=2.2 if name.startswith("BCDH") else 1.2)
    ax.set_xscale("log", base=2)
    ax.set_xticks(bits, [str(b) for b in bits])
    ax.set_xlabel("code length (bits)")
    ax.set_ylabel("mAP (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ctx.savefig(fig, "map_vs_bits", "Hamming-ranking mAP vs code length (mean ± sd over seeds)")

    fig, axes = plt.subplots(1, len(bits), figsize=(4 * len(bits), 3.6), squeeze=False)
    for ax, b in zip(axes[0], bits):
        for name in names:
            if b not in res[name]:
                continue
            prec = np.mean([r["prec"] for r in res[name][b]], 0)
            rec = np.mean([r["rec"] for r in res[name][b]], 0)
            ax.plot(rec, prec, marker=".", ms=3, label=name, lw=2 if name.startswith("BCDH") else 1)
        ax.set_title(f"{b} bits")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    ctx.savefig(fig, "pr_curves", "Precision-recall over Hamming radii 0..L (mean over seeds)")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, cs in curves.items():
        ax.plot(np.arange(1, len(cs[0]) + 1), np.mean(cs, 0), marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (sum over code lengths)")
    ax.legend()
    ctx.savefig(fig, "training_loss", "Pairwise binary constrained loss per epoch (mean over seeds)")
