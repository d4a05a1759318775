"""Report of the ``hashing`` quick recipe: tables, claims (computed from the measured numbers) and plots.

Claims follow issue #9 for Do et al., arXiv 1802.07437 (the paper's own numbers are not confirmed):
the deep hash >= ITQ + 3 mAP at each length on the same descriptors; the quantisation term worth
>= +2 mAP at <= 16 bits.
"""

from __future__ import annotations

import numpy as np

from ..stats import mean_std, paired_interval

__all__ = ["report_quick", "ITQ_UNTRAINED"]

# ITQ on the untrained network's GeM descriptors: the paper compares shallow hashing on the features of the
# network the deep hash starts from; the claims compare with ITQ on the same trained descriptors ("ITQ")
ITQ_UNTRAINED = "ITQ untrained"


def _maps(res: dict, name: str, bits: int) -> list[float]:
    return [100 * r["map"] for r in res.get(name, {}).get(bits, [])]


def report_quick(cfg, ctx, res: dict, qerr: dict, curves: dict, *, data_label: str = "held-out GENERATED landmarks",
                 prefix: str = "", quick_notes: bool = True) -> None:
    """Tables, claims and plots of one evaluation set. ``prefix`` goes before every metric, claim and figure
    name (the full preset reports one set per dataset); ``quick_notes`` adds the notes about the generated data."""
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
            m[f"{prefix}map_{key}_{b}"] = round(mu, 3)
            m[f"{prefix}map_sd_{key}_{b}"] = round(sd, 3)
            m[f"{prefix}p_r2_{key}_{b}"] = round(pm, 3)
        rows.append(row)
    ctx.table(f"Hamming-ranking mAP (%) and precision within radius 2 (%) on {data_label}, "
              f"mean ± sd over {cfg.seeds} seeds (baselines hash the same GeM descriptors)", rows)

    for b in bits:
        deep, itq = _maps(res, "BCDH", b), _maps(res, "ITQ", b)
        if not itq:
            continue
        d, lo, hi = paired_interval(deep, itq)
        ctx.claim(f"{prefix}beats_itq_{b}", f"Deep hash >= ITQ + 3 mAP at {b} bits (same descriptors)",
                  paper="deep hash > ITQ (tables unconfirmed)",
                  ours=f"{np.mean(deep):.1f} vs {np.mean(itq):.1f}: {d:+.1f} [{lo:.1f}, {hi:.1f}]", holds=d >= 3)
    short = [b for b in bits if b <= 16]
    if "BCDH λ=0" in res and short:
        b = min(short)
        with_q, without = _maps(res, "BCDH", b), _maps(res, "BCDH λ=0", b)
        d, lo, hi = paired_interval(with_q, without)
        c = ctx.claim(f"{prefix}quantisation_term", f"The quantisation term (λ={cfg.lam}) is worth >= +2 mAP at {b} bits",
                      paper="binary constraint helps (abstract; numbers unconfirmed)",
                      ours=f"{np.mean(with_q):.1f} vs {np.mean(without):.1f}: {d:+.1f} [{lo:.1f}, {hi:.1f}]",
                      holds=d >= 2)
        qe, qe0 = np.mean(qerr["BCDH"]), np.mean(qerr["BCDH λ=0"])
        m[f"{prefix}quant_error_bcdh"], m[f"{prefix}quant_error_lam0"] = round(qe, 4), round(qe0, 4)
        ctx.claim(f"{prefix}quantisation_error", "The quantisation term lowers ||h - sign(h)||^2 / L on test images",
                  paper="binary constraint (abstract)", ours=f"{qe:.3f} vs {qe0:.3f} (λ=0)", holds=qe < qe0)
        if c.holds and lo <= 0:
            ctx.note(f"The quantisation term's mean gain at {b} bits ({d:+.1f} mAP) meets the +2 target, but its paired "
                     f"95% interval [{lo:.1f}, {hi:.1f}] over {cfg.seeds} seeds includes 0: not significant at this "
                     f"number of seeds.")
        if qe >= qe0 and quick_notes:
            ctx.note(f"λ = {cfg.lam} does not lower the test quantisation error here ({qe:.3f} vs {qe0:.3f} with λ = 0): "
                     "at this weight the term does not pull the relaxed codes towards ±1; the λ term's mAP effect "
                     "comes with a better-trained descriptor (see the sanity-check note), not with fewer sign flips. "
                     "docs/hashing.md has a λ sweep on a validation draw.")
        if not c.holds:
            ctx.note(f"The quantisation term's mAP effect misses the issue's +2 target at {b} bits: measured "
                     f"{np.mean(with_q):.1f} (λ={cfg.lam}) vs {np.mean(without):.1f} (λ=0) over {cfg.seeds} seeds; "
                     f"test quantisation error {qe:.3f} vs {qe0:.3f}. The ablation removes only the λ term "
                     f"(same init, pairs, seeds, optimiser).")
    fails = [c for c in ctx.claims if c.id.startswith(f"{prefix}beats_itq_") and not c.holds]
    if fails and not quick_notes:
        ctx.note(f"{data_label}: deep hash vs ITQ misses the +3 mAP target at " +
                 ", ".join(c.id.split("_")[-1] for c in fails) + " bits (ITQ hashes the same trained descriptors).")
    if fails and quick_notes:
        ctx.note("Deep hash vs ITQ misses the +3 mAP target at " + ", ".join(c.id.split("_")[-1] for c in fails) +
                 f" bits. ITQ hashes the trained network's own GeM descriptors ({m.get('descriptor_dim', '?')}-d here), "
                 "which the pairwise loss has already shaped end to end; the deep hash layer is linear on the same "
                 "descriptor, so at a code length equal to the descriptor's dimension ITQ is a rotation of the full "
                 "descriptor and the two can differ only in the rotation and thresholds. With "
                 f"{m.get('n_queries', '?')} queries x {m.get('n_database', '?')} database images and at most "
                 f"{m.get('max_w_steps_per_run', '?')} W-steps per run the seed spread (see the table) is as large "
                 "as the targets.")
        if "phi_map" in m:  # headroom: the un-hashed descriptor's own ranking bounds what a hash of it reaches
            gaps = {b: m["phi_map"] - np.mean(_maps(res, "ITQ", b)) for b in bits if _maps(res, "ITQ", b)}
            ctx.note(f"Headroom: the same trained GeM descriptors ranked by Euclidean distance (no hashing) reach "
                     f"{m['phi_map']:.1f} mAP, above ITQ's codes by "
                     + "; ".join(f"{g:+.1f} mAP at {b} bits" for b, g in gaps.items())
                     + (": ITQ + 3 asks the deep hash codes to rank about as well as, or better than, the "
                        "real-valued descriptor they are computed from." if gaps and max(gaps.values()) < 4 else "."))
    untrained = [b for b in bits if _maps(res, ITQ_UNTRAINED, b)]
    if untrained:
        gaps = []
        for b in untrained:
            d, lo, hi = paired_interval(_maps(res, "BCDH", b), _maps(res, ITQ_UNTRAINED, b))
            m[f"{prefix}gain_vs_itq_untrained_{b}"] = round(d, 3)
            gaps.append(f"{b} bits {d:+.1f} [{lo:.1f}, {hi:.1f}]")
        ctx.note("Row 'ITQ untrained': ITQ on the GeM descriptors of the network before training, i.e. the paper's "
                 "protocol, where shallow methods hash the features of the network the deep hash starts from "
                 "(here a randomly initialised CNN, as the quick preset trains from scratch). BCDH minus it: "
                 + "; ".join(gaps) + ". It measures what training on the target data buys, so the claims above "
                 "use the stricter baseline, ITQ on the same trained descriptors.")
    if "phi_map" in m and quick_notes:
        ctx.note(f"Sanity check that the network learns: Euclidean mAP of the GeM descriptor phi is "
                 f"{m['phi_map_init']:.1f} untrained and {m['phi_map']:.1f} after BCDH training"
                 + (f" ({m['phi_map_lam0']:.1f} with λ = 0)" if "phi_map_lam0" in m else "") + " (mean over seeds). "
                 "The hash layers start from ITQ on the untrained descriptors (UH-BDNN initialises B by ITQ), scaled "
                 "to unit pre-activation spread: with the former zero-bias random start, tanh mapped every image "
                 "to almost the same code and the network did not learn at all.")
    if not quick_notes:
        _plots(cfg, ctx, res, curves, prefix, data_label)
        return
    ctx.note("The loss and its optimisation are the DOCUMENTED RECONSTRUCTION (the paper's exact form is not "
             "confirmed): contrastive distance on relaxed codes h + λ/2||h - b||^2 with auxiliary codes b, a B-step "
             f"({cfg.b_update}: " + ("b = sign(h)" if cfg.b_update == "sign" else "coordinate descent with the "
             "similar pairs' term on b") + f") over all training images once per epoch ({cfg.epochs} alternations) "
             f"alternating with Adam W-steps (lr {cfg.lr}). Pairs: 3D co-visibility positives, one augmented "
             "copy per query, hard negatives from other 3D models nearest in code space. Tie policy of every "
             "ranking: stable sort by (Hamming distance, database index). Precision within radius 2 counts 0 for "
             "queries that retrieve nothing.")
    ctx.note("Data are GENERATED (S8's procedural 3D landmarks, 32 px, distractors are scikit-image photo crops); "
             "relevance = easy + hard co-visibility labels, junk ignored. One backbone carries the 16/32/64-bit "
             "layers (trained jointly; the paper trains one network per length). Intervals are paired 95% "
             f"t-intervals over {cfg.seeds} seeds.")
    _plots(cfg, ctx, res, curves, prefix, data_label)


def _plots(cfg, ctx, res: dict, curves: dict, prefix: str, data_label: str) -> None:
    import matplotlib.pyplot as plt

    bits = list(cfg.bits)
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
    ctx.savefig(fig, f"{prefix}map_vs_bits", f"Hamming-ranking mAP vs code length on {data_label} (mean ± sd over seeds)")

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
    ctx.savefig(fig, f"{prefix}pr_curves", f"Precision-recall over Hamming radii 0..L on {data_label} (mean over seeds)")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, cs in curves.items():
        ax.plot(np.arange(1, len(cs[0]) + 1), np.mean(cs, 0), marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (sum over code lengths)")
    ax.legend()
    ctx.savefig(fig, f"{prefix}training_loss", "Pairwise binary constrained loss per epoch (mean over seeds)")
