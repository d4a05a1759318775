"""Evaluation and report of the ``seg3d`` recipe: per-organ Dice/ASD, region coverage vs recall, timing.

Roth et al., arXiv 1704.06382 (2017): Tables 1-2 (Dice per organ, stage 1 -> stage 2), Sec. 2.4
(candidate region: recall > 99 % at about 10 % of the voxels), Sec. 3 (time per volume per stage).
The stage-1 foreground threshold tau (``region_threshold``; 0 = the paper's argmax) is a Deviation
(opt-in recall dial); `select_region_threshold` picks it on held-out *training-setting* volumes only.
"""

from __future__ import annotations

import numpy as np

from ..stats import mean_std
from .data import downsample, upsample_labels
from .metrics import organ_metrics
from .phantom import LARGE_ORGANS, SMALL_ORGANS
from .region import body_mask, candidate_region, region_stats, stage1_foreground
from .viz import overlay_figure

__all__ = ["evaluate_and_report", "region_at", "threshold_sweep", "select_region_threshold"]

METHODS = ("single", "stage1", "stage2")


def region_at(cascade, hu: np.ndarray, stage1_full: np.ndarray, radius: int, threshold: float = 0.0,
              stage1_prob: np.ndarray | None = None) -> np.ndarray:
    """C2 for dilation ``radius`` on stage 2's grid, resampled to ``hu``'s grid (bool).

    ``threshold`` 0 seeds C2 with ``stage1_full > 0`` (the paper); ``threshold`` > 0 with
    ``stage1_prob >= threshold`` (``stage1_prob``: stage-1 foreground probability on stage 1's grid).
    """
    f = cascade.cfg.stage2_factor
    x2 = downsample(hu, f)
    if threshold > 0:
        seed = stage1_foreground(stage1_full, stage1_prob, threshold)  # stage-1 grid
        seed_full = upsample_labels(seed.astype(np.uint8), cascade.cfg.stage1_factor, hu.shape) > 0
    else:
        seed_full = stage1_full > 0
    fg = downsample(seed_full, f)
    c2 = candidate_region(fg, radius, body_mask(x2, cascade.cfg.body_threshold))
    return upsample_labels(c2.astype(np.uint8), f, hu.shape).astype(bool)


def threshold_sweep(cascade, cases: list[tuple[np.ndarray, np.ndarray]], radius: int, thresholds, n_classes: int,
                    progress=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean C2 voxel share ``(T,)`` and per-organ recall ``(T, K)`` (column 0 NaN) over ``cases`` per threshold."""
    thresholds = list(thresholds)
    frac = np.zeros(len(thresholds))
    rec = np.zeros((len(thresholds), n_classes))
    for hu, y in (progress(cases) if progress else cases):
        _, _, lab1, p1 = cascade.predict(hu, return_stage1=True, return_stage1_prob=True)
        for t, tau in enumerate(thresholds):
            st = region_stats(region_at(cascade, hu, lab1, radius, tau, p1), y, n_classes)
            frac[t] += st["fraction"] / len(cases)
            rec[t, 1:] += np.array([st[f"recall_{k}"] for k in range(1, n_classes)]) / len(cases)
    rec[:, 0] = np.nan
    return frac, rec


def select_region_threshold(frac: np.ndarray, rec: np.ndarray, thresholds, target: float = 0.99) -> float:
    """The threshold with the smallest region among those whose lowest organ recall >= ``target``
    (on the volumes the sweep saw); if none reaches it, the one with the highest lowest recall (ties: smaller region)."""
    thresholds = list(thresholds)
    low = np.nanmin(rec[:, 1:], axis=1)
    ok = [t for t in range(len(thresholds)) if low[t] >= target]
    best = min(ok, key=lambda t: frac[t]) if ok else max(range(len(thresholds)), key=lambda t: (low[t], -frac[t]))
    return float(thresholds[best])


def _nanmean(v) -> float:
    v = np.asarray(v, float)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")


def evaluate_and_report(cfg, ctx, runs: list[dict], test: list[tuple[np.ndarray, np.ndarray]],
                        names: tuple[str, ...], spacing: tuple[float, float, float]) -> None:
    K = len(names)
    organs = list(range(1, K))
    # per seed: method -> organ -> mean over test cases
    dice = {m: np.full((len(runs), K), np.nan) for m in METHODS}
    asd = {m: np.full((len(runs), K), np.nan) for m in METHODS}
    radii = list(cfg.radii)
    frac = np.zeros((len(runs), len(radii)))
    recall = np.full((len(runs), len(radii), K), np.nan)
    taus = [float(t) for t in cfg.region_thresholds]
    frac_t = np.zeros((len(runs), len(taus)))
    recall_t = np.full((len(runs), len(taus), K), np.nan)
    frac_c = np.zeros(len(runs))  # at each cascade's configured (radius, region_threshold): the claim
    recall_c = np.full((len(runs), K), np.nan)
    times = {k: [] for k in ("stage1", "stage2", "cascade", "single")}
    tiles = {"stage2_run": [], "stage2_total": []}
    warnings_seen: list[str] = []
    fig_case = None
    for r, run in enumerate(runs):
        cascade, single = run["cascade"], run["single"]
        per = {m: [] for m in METHODS}
        for j, (hu, y) in enumerate(ctx.progress(test, desc=f"evaluating seed {r}")):
            lab2, info, lab1, p1 = cascade.predict(hu, return_stage1=True, return_stage1_prob=True)
            labs, info_s = single.predict(hu)
            warnings_seen += info["warnings"]
            times["stage1"].append(info["time_stage1_s"])
            times["stage2"].append(info["time_stage2_s"])
            times["cascade"].append(info["time_stage1_s"] + info["time_stage2_s"])
            times["single"].append(info_s["time_stage1_s"])
            tiles["stage2_run"].append(info["stage2_tiles_run"])
            tiles["stage2_total"].append(info["stage2_tiles_total"])
            for m, lab in (("single", labs), ("stage1", lab1), ("stage2", lab2)):
                per[m].append(organ_metrics(lab, y, K, spacing))
            for q, rad in enumerate(radii):
                st = region_stats(region_at(cascade, hu, lab1, rad), y, K)
                frac[r, q] += st["fraction"] / len(test)
                recall[r, q] = np.nan_to_num(recall[r, q]) + np.array(
                    [np.nan] + [st[f"recall_{k}"] / len(test) for k in organs])
            for t, tau in enumerate(taus):
                st = region_stats(region_at(cascade, hu, lab1, cascade.cfg.radius, tau, p1), y, K)
                frac_t[r, t] += st["fraction"] / len(test)
                recall_t[r, t] = np.nan_to_num(recall_t[r, t]) + np.array(
                    [np.nan] + [st[f"recall_{k}"] / len(test) for k in organs])
            c2 = region_at(cascade, hu, lab1, cascade.cfg.radius, cascade.cfg.region_threshold, p1)
            st = region_stats(c2, y, K)
            frac_c[r] += st["fraction"] / len(test)
            recall_c[r] = np.nan_to_num(recall_c[r]) + np.array([np.nan] + [st[f"recall_{k}"] / len(test) for k in organs])
            if r == 0 and j == 0:
                fig_case = (hu, y, labs, lab1, lab2, c2)
        for m in METHODS:
            for k in organs:
                dice[m][r, k] = _nanmean([d[f"dice_{k}"] for d in per[m]])
                asd[m][r, k] = _nanmean([d[f"asd_{k}"] for d in per[m]])

    # ---- metrics ----
    M = ctx.metrics
    for m in METHODS:
        for k in organs:
            M[f"dice_{m}_{names[k]}"] = float(np.mean(dice[m][:, k]))
            M[f"asd_mm_{m}_{names[k]}"] = _nanmean(asd[m][:, k])
        M[f"dice_{m}_mean"] = float(np.nanmean(dice[m][:, 1:]))
    M["region_fraction"] = float(frac_c.mean())
    for k in organs:
        M[f"region_recall_{names[k]}"] = float(recall_c[:, k].mean())
    taus_used = [float(run["cascade"].cfg.region_threshold) for run in runs]
    M["region_threshold"] = float(np.mean(taus_used))
    for t, tau in enumerate(taus):
        M[f"region_fraction_t{tau:g}"] = float(frac_t[:, t].mean())
        M[f"region_min_recall_t{tau:g}"] = float(np.nanmin(recall_t[:, t, 1:].mean(0)))
    if any("val_frac" in run for run in runs):
        vf = np.mean([run["val_frac"] for run in runs], 0)
        vr = np.mean([run["val_recall"] for run in runs], 0)
        for t, tau in enumerate(taus):
            M[f"val_region_fraction_t{tau:g}"] = float(vf[t])
            M[f"val_region_min_recall_t{tau:g}"] = float(np.nanmin(vr[t, 1:]))
    for q, rad in enumerate(radii):
        M[f"region_fraction_r{rad}"] = float(frac[:, q].mean())
        M[f"region_min_recall_r{rad}"] = float(np.nanmin(recall[:, q, 1:].mean(0)))
    for k, v in times.items():
        M[f"time_{k}_s_per_volume"] = float(np.mean(v))
    M["stage2_tiles_run_fraction"] = float(np.sum(tiles["stage2_run"]) / max(1, np.sum(tiles["stage2_total"])))
    M["train_time_cascade_s"] = float(np.mean([r_["train_s"][0] for r_ in runs]))
    M["train_time_single_s"] = float(np.mean([r_["train_s"][1] for r_ in runs]))

    # ---- claims ----
    min_rec = float(np.nanmin(recall_c[:, 1:].mean(0)))
    tau_txt = ("argmax foreground" if max(taus_used) <= 0 else
               "tau=" + "/".join(f"{t:g}" for t in taus_used) + (" per seed" if len(set(taus_used)) > 1 else ""))
    ctx.claim("region", f"candidate region C2 (r={cfg.radius}, {tau_txt}) <= 15 % of voxels with >= 99 % recall for every organ",
              paper="~10 % of voxels, recall > 99 % (Sec. 2.4)",
              ours=f"{100 * M['region_fraction']:.1f} %, min organ recall {100 * min_rec:.1f} %",
              holds=M["region_fraction"] <= 0.15 and min_rec >= 0.99)
    idx = {n: i for i, n in enumerate(names)}
    small = [idx[n] for n in SMALL_ORGANS if n in idx] or organs[-1:]
    large = [idx[n] for n in LARGE_ORGANS if n in idx] or organs[:1]
    d_small = {names[k]: 100 * (dice["stage2"][:, k] - dice["single"][:, k]) for k in small}
    d_large = {names[k]: 100 * (dice["stage2"][:, k] - dice["single"][:, k]) for k in large}
    fmt = lambda d: ", ".join(f"{n} {mean_std(v)[0]:+.1f}±{mean_std(v)[1]:.1f}" for n, v in d.items())  # noqa: E731
    ctx.claim("small_gain", "cascade (stage 2) >= +5 Dice over single stage on small/thin organs, equal training compute",
              paper="pancreas 68.5 -> 81.2 stage 1 -> 2 (Table 2)", ours=fmt(d_small),
              holds=all(np.mean(v) >= 5.0 for v in d_small.values()))
    ctx.claim("large_same", "large organs: cascade - single stage within ±1.5 Dice",
              paper="liver 93.6 -> 94.9, spleen 89.7 -> 91.4 (Table 2)", ours=fmt(d_large),
              holds=all(abs(np.mean(v)) <= 1.5 for v in d_large.values()))
    d12 = 100 * (dice["stage2"][:, 1:].mean(1) - dice["stage1"][:, 1:].mean(1))
    ctx.claim("stage2_over_stage1", "stage 2 raises mean organ Dice over stage 1",
              paper="71.7 -> 79.2 (Table 1, validation)",
              ours=f"{100 * M['dice_stage1_mean']:.1f} -> {100 * M['dice_stage2_mean']:.1f} ({mean_std(d12)[0]:+.1f}±{mean_std(d12)[1]:.1f})",
              holds=float(np.mean(d12)) > 0)
    ctx.claim("tile_skipping", "stage 2 runs the network only on tiles touching C2 (tiles run < all tiles)",
              paper="no saving (released code tests tiles after forward)",
              ours=f"{100 * M['stage2_tiles_run_fraction']:.0f} % of stage-2 tiles run; cascade "
                   f"{M['time_cascade_s_per_volume']:.2f} s vs single stage {M['time_single_s_per_volume']:.2f} s per volume",
              holds=M["stage2_tiles_run_fraction"] < 1.0)
    # ---- honest notes where a target is missed (computed from the numbers above) ----
    rec_r = recall_c.mean(0)
    if not (M["region_fraction"] <= 0.15 and min_rec >= 0.99):
        worst = names[int(np.nanargmin(rec_r[1:])) + 1]
        ok = [rad for q, rad in enumerate(radii) if np.nanmin(recall[:, q, 1:].mean(0)) >= 0.99]
        nxt = (f"r = {ok[0]} is the smallest radius with >= 99 % recall for every organ and covers "
               f"{100 * frac[:, radii.index(ok[0])].mean():.1f} % of the voxels") if ok else "no radius tried reaches 99 %"
        ctx.note(f"Region target missed at r = {cfg.radius}, {tau_txt}: {100 * M['region_fraction']:.1f} % of the voxels, "
                 f"lowest recall {100 * min_rec:.1f} % ({worst}; per seed: "
                 f"{', '.join(f'{100 * np.nanmin(recall_c[r_, 1:]):.1f}' for r_ in range(len(runs)))} %); {nxt} (tau = 0). "
                 f"Per-organ recall at r = {cfg.radius}: "
                 + ", ".join(f"{names[k]} {100 * rec_r[k]:.1f} %" for k in organs) + ".")
    for tag, d, ok_ in (("small/thin", d_small, lambda v: np.mean(v) >= 5.0),
                        ("large", d_large, lambda v: abs(np.mean(v)) <= 1.5)):
        bad = [f"{n} {np.mean(v):+.1f} (per seed {', '.join(f'{x:+.1f}' for x in v)})" for n, v in d.items() if not ok_(v)]
        if bad:
            ctx.note(f"Cascade vs single stage, {tag} organs, target missed for: {'; '.join(bad)} Dice points. With "
                     f"{len(runs)} seed(s) and {len(test)} test volumes the seed-to-seed spread is of the same order as the "
                     "effect; the quick run is far from the paper's 200k + 115k iterations.")
    if warnings_seen:
        ctx.note(f"{len(warnings_seen)} test volume(s) had an empty stage-1 foreground: {warnings_seen[0]}")
    ctx.note(f"Equal training compute: every network has the same architecture {tuple(cfg.channels)} and patch "
             f"{tuple(cfg.roi)} x batch {cfg.batch}; the cascade trains {cfg.stage1_steps} + {cfg.stage2_steps} steps "
             f"(stage 2 fine-tuned from stage 1), the single stage {cfg.stage1_steps + cfg.stage2_steps} steps at "
             f"1/{cfg.single_factor or cfg.stage1_factor} resolution over the body mask. The cascade additionally runs stage 1 over its training volumes "
             f"once to build the stage-2 regions (inference, not counted). {len(runs)} seed(s); ± = sd over seeds.")
    grid = tuple(int(n) // cfg.stage2_factor for n in test[0][0].shape)
    ctx.note(f"Dilation radius r = {cfg.radius} voxels of stage 2's {grid} grid. The paper's r = 3 (the code: 5) is in "
             "voxels of a ~256 x 256 half-resolution grid; scaled to the grid size this is "
             f"{3 * grid[0] / 256:.1f} voxels here, so the preset uses r = {cfg.radius}. The table lists r = "
             f"{', '.join(str(r_) for r_ in radii)} to show the coverage/recall trade-off (Sec. 2.4).")
    ctx.note("Times are wall-clock on this machine's CPU (contention from other processes inflates them). With both "
             "stages at the single stage's resolution (the paper's choice) the cascade costs stage 1 + the skipped "
             "stage 2, so it is not faster than the single stage here; the saving the issue asks for is against dense "
             "full-resolution inference: benchmarks/bench_seg3d.py (128^3, MONAI sliding_window_inference).")

    # ---- tables and figures ----
    rows = []
    for k in organs:
        row = {"organ": names[k]}
        for m in METHODS:
            mu, sd = mean_std(100 * dice[m][:, k])
            row[f"Dice {m}"] = f"{mu:.1f} ± {sd:.1f}"
        for m in METHODS:
            row[f"ASD mm {m}"] = f"{_nanmean(asd[m][:, k]):.2f}"
        row[f"recall C2 (r={cfg.radius})"] = f"{100 * recall_c[:, k].mean():.1f}"
        rows.append(row)
    ctx.table("Dice (%) and average symmetric surface distance per organ on the test setting", rows)
    ctx.table("Candidate region vs dilation radius", [
        {"r": rad, "voxels in C2 %": round(100 * frac[:, q].mean(), 2),
         **{f"recall {names[k]} %": round(100 * recall[:, q, k].mean(), 2) for k in organs}}
        for q, rad in enumerate(radii)])
    ctx.table(f"Candidate region vs stage-1 foreground threshold tau at r = {cfg.radius} (tau = 0: argmax, the paper)", [
        {"tau": tau, "voxels in C2 %": round(100 * frac_t[:, t].mean(), 2),
         "min organ recall %": round(100 * np.nanmin(recall_t[:, t, 1:].mean(0)), 2),
         **({"held-out train-setting: voxels %": round(100 * M[f"val_region_fraction_t{tau:g}"], 2),
             "held-out train-setting: min recall %": round(100 * M[f"val_region_min_recall_t{tau:g}"], 2)}
            if f"val_region_fraction_t{tau:g}" in M else {}),
         **{f"recall {names[k]} %": round(100 * recall_t[:, t, k].mean(), 2) for k in organs}}
        for t, tau in enumerate(taus)])
    ctx.table("Inference time per volume (s)", [{k: round(float(np.mean(v)), 3) for k, v in times.items()}])
    _figures(ctx, cfg, names, organs, dice, frac, recall, radii, fig_case, (taus, frac_t, recall_t))


def _figures(ctx, cfg, names, organs, dice, frac, recall, radii, fig_case, sweep_t=None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(13, 4))
    w = 0.27
    for i, (m, col) in enumerate(zip(METHODS, ("tab:gray", "tab:orange", "tab:blue"))):
        mu = [100 * np.mean(dice[m][:, k]) for k in organs]
        sd = [100 * np.std(dice[m][:, k]) for k in organs]
        ax[0].bar(np.arange(len(organs)) + (i - 1) * w, mu, w, yerr=sd, capsize=2, color=col,
                  label={"single": "single stage", "stage1": "cascade stage 1", "stage2": "cascade stage 2"}[m])
    ax[0].set_xticks(range(len(organs)), [names[k] for k in organs])
    ax[0].set(ylabel="Dice %", title="Dice per organ (test setting), mean ± sd over seeds", ylim=(0, 100))
    ax[0].legend(fontsize=8)
    for k in organs:
        ax[1].plot(100 * frac.mean(0), 100 * recall[:, :, k].mean(0), marker="o", label=names[k])
    for q, rad in enumerate(radii):
        ax[1].annotate(f"r={rad}", (100 * frac[:, q].mean(), 100 * np.nanmin(recall[:, q, 1:].mean(0))), fontsize=7)
    if sweep_t is not None and len(sweep_t[0]):
        taus, frac_t, recall_t = sweep_t
        low = [100 * np.nanmin(recall_t[:, t, 1:].mean(0)) for t in range(len(taus))]
        ax[1].plot(100 * frac_t.mean(0), low, "k--", marker="s", ms=4, lw=0.8, label=f"min organ, tau sweep (r={cfg.radius})")
        for t, tau in enumerate(taus):
            ax[1].annotate(f"tau={tau:g}", (100 * frac_t[:, t].mean(), low[t]), fontsize=7, xytext=(2, -8),
                           textcoords="offset points")
    ax[1].axhline(99, ls="--", c="k", lw=0.7)
    ax[1].axvline(15, ls=":", c="k", lw=0.7)
    ax[1].set(xlabel="voxels in candidate region C2 (%)", ylabel="organ recall (%)",
              title="C2 coverage vs recall for dilation r")
    ax[1].legend(fontsize=8)
    ctx.savefig(fig, "dice_and_region", "Left: Dice per organ. Right: candidate region size vs recall (Sec. 2.4).")
    if fig_case is not None:
        hu, y, labs, lab1, lab2, c2 = fig_case
        fig = overlay_figure(hu, {"ground truth": y, "single stage": labs, "stage 1": lab1, "stage 2 (C2 outlined)": lab2},
                             region=c2, class_names=names, center=tuple(int(v) for v in np.argwhere(y == len(names) - 2).mean(0))
                             if (y == len(names) - 2).any() else None)
        ctx.savefig(fig, "overlay", "Test volume (setting B), orthogonal slices through the pancreas-like organ; "
                    "white contour = candidate region C2")
