"""Benchmark: cascade inference (tile skipping, paperzoo.seg3d) vs dense full-resolution sliding window (MONAI).

Roth et al., arXiv 1704.06382 (2017). Both sides are trained here on GENERATED phantom CT
(setting A, 128^3) for the same number of steps on the same patch size and network, then
timed on held-out phantoms (setting A and the "another hospital" setting B):

* ours: `Cascade.predict` — stage 1 and stage 2 at half resolution (the paper's choice), stage 2
  only on the tiles touching the candidate region C2;
* ours without skipping: the same cascade running every stage-2 tile (the released code's cost);
* peer: ``monai.inferers.sliding_window_inference`` over the whole full-resolution volume with a
  single-stage U-Net (MONAI's defaults: overlap 0.25, Gaussian blending).

Both use the ``seg3d`` quick preset's network, patch and optimiser (`paperzoo.seg3d.recipe.QUICK`):
the cascade trains ``--steps`` per stage, the dense model ``2 * --steps`` at full resolution (equal
training compute). Prints seconds per volume (median of ``--repeats``), Dice per organ and the time
ratio; the issue's target is a ratio <= 0.5 at equal or better mean Dice. The dense peer is also timed
without overlap (its cheapest setting) for a second ratio. Run:
``.venv/bin/python benchmarks/bench_seg3d.py [--size 128] [--steps 500]``.

Earlier versions printed Dice 0.0 for the dense peer: the per-patch class weights of Eq. 1 give the
background weight 0 on a patch holding only background, the weighted cross-entropy became 0/0 = NaN and
the NaN weights made the network predict background everywhere (full-resolution 32^3 patches meet such
patches within a few steps). Fixed in `paperzoo.seg3d.losses` (training-set weights, no 0/0); this
script now also reports what share of voxels each model labels as organ, so a collapse shows.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from paperzoo.seg3d.cascade import Cascade, preprocess
from paperzoo.seg3d.metrics import organ_metrics
from paperzoo.seg3d.phantom import ORGANS, make_phantoms
from paperzoo.seg3d.recipe import QUICK, Seg3dConfig, fit_cascade, fit_single_stage
from paperzoo.seg3d.region import body_mask, dense_sliding_window


def dense_full_res(model: Cascade, hu: np.ndarray, overlap: float) -> np.ndarray:
    """The peer: MONAI sliding window over every full-resolution tile, then background outside the body."""
    body = body_mask(hu, model.cfg.body_threshold)
    x = torch.as_tensor(preprocess(hu, 1, model.cfg, body))[None]
    probs = dense_sliding_window(x, model.cfg.roi, model.stage1, overlap=overlap, mode="gaussian", batch_size=4)
    lab = probs.argmax(0).to(torch.uint8).numpy()
    lab[~body] = 0
    return lab


def timed(fn, repeats: int):
    out, ts = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return out, statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--train", type=int, default=4)
    ap.add_argument("--test", type=int, default=2, help="test volumes per setting (A and B)")
    ap.add_argument("--steps", type=int, default=500, help="steps per cascade stage; the dense model gets twice")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--overlap", type=float, default=0.25, help="the dense peer's tile overlap (MONAI default)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    shape = (a.size,) * 3
    cfg = Seg3dConfig(**{**QUICK, "stage1_steps": a.steps, "stage2_steps": a.steps})
    print(f"GENERATED phantoms {shape}: {a.train} train (A), {a.test} test each of A and B; U-Net {cfg.channels}, "
          f"patch/tile {cfg.roi} x batch {cfg.batch}; cascade {a.steps}+{a.steps} steps at 1/{cfg.stage1_factor} "
          f"resolution vs dense {2 * a.steps} steps at full resolution; torch threads {a.threads}")
    train = make_phantoms(a.train, shape, "A", 0)
    t = time.perf_counter()
    cascade = fit_cascade(cfg, train, len(ORGANS), ORGANS, seed=0)
    print(f"trained cascade in {time.perf_counter() - t:.0f} s", flush=True)
    t = time.perf_counter()
    dense = fit_single_stage(Seg3dConfig(**{**cfg.__dict__, "single_factor": 1}), train, len(ORGANS), ORGANS, seed=0)
    print(f"trained dense full-resolution model in {time.perf_counter() - t:.0f} s", flush=True)
    K, rows = len(ORGANS), []
    for setting in ("A", "B"):
        for i, (hu, y) in enumerate(make_phantoms(a.test, shape, setting, 900)):
            (lab_c, info), t_c = timed(lambda hu=hu: cascade.predict(hu), a.repeats)
            (lab_n, _), t_n = timed(lambda hu=hu: cascade.predict(hu, skip_tiles=False), a.repeats)
            lab_d, t_d = timed(lambda hu=hu: dense_full_res(dense, hu, a.overlap), a.repeats)
            _, t_d0 = timed(lambda hu=hu: dense_full_res(dense, hu, 0.0), a.repeats)
            dice = {k: np.array([organ_metrics(lab, y, K, surface=False)[f"dice_{c}"] for c in range(1, K)])
                    for k, lab in (("c", lab_c), ("d", lab_d))}
            rows.append((t_c, t_n, t_d, t_d0, dice))
            print(f"{setting}{i}: cascade {t_c:.2f} s (stage-2 tiles {info['stage2_tiles_run']}/"
                  f"{info['stage2_tiles_total']}, C2 {100 * info['region_fraction']:.1f} % of voxels, organ voxels "
                  f"{100 * (lab_c > 0).mean():.1f} %) Dice {100 * np.nanmean(dice['c']):.1f} | no skipping {t_n:.2f} s | "
                  f"MONAI dense full-res {t_d:.2f} s (overlap 0: {t_d0:.2f} s, organ voxels "
                  f"{100 * (lab_d > 0).mean():.1f} %) Dice {100 * np.nanmean(dice['d']):.1f} "
                  f"(truth: organ voxels {100 * (y > 0).mean():.1f} %)", flush=True)
    tc, tn, td, td0 = (float(np.mean([r[j] for r in rows])) for j in range(4))
    dc, dd = (np.nanmean(np.stack([r[4][k] for r in rows]), 0) for k in ("c", "d"))
    print("\nDice % per organ (mean over test volumes):")
    for c in range(1, K):
        print(f"  {ORGANS[c]:9s} cascade {100 * dc[c - 1]:5.1f}   dense full-res {100 * dd[c - 1]:5.1f}")
    print(f"\nper {a.size}^3 volume: cascade {tc:.2f} s, cascade without tile skipping {tn:.2f} s, "
          f"MONAI dense full-res sliding window {td:.2f} s (overlap {a.overlap}), {td0:.2f} s (overlap 0)")
    mc, md = float(np.mean(dc)), float(np.mean(dd))
    print(f"ratio cascade / dense = {tc / td:.3f} (target <= 0.5); vs dense without overlap {tc / td0:.3f}; tile "
          f"skipping saves {100 * (1 - tc / tn):.0f} % of the cascade's time; mean organ Dice cascade {100 * mc:.1f} "
          f"vs dense {100 * md:.1f} ({'equal or better' if mc >= md else 'LOWER'})")


if __name__ == "__main__":
    main()
