"""Benchmark: cascade inference (tile skipping, paperzoo.seg3d) vs dense full-resolution sliding window (MONAI).

Roth et al., arXiv 1704.06382 (2017). Both sides are trained here on GENERATED phantom CT
(setting A, 128^3) for the same number of steps on the same patch size and network, then
timed on held-out phantoms (setting A and the "another hospital" setting B):

* ours: `Cascade.predict` — stage 1 and stage 2 at half resolution (the paper's choice), stage 2
  only on the tiles touching the candidate region C2;
* ours without skipping: the same cascade running every stage-2 tile (the released code's cost);
* peer: ``monai.inferers.sliding_window_inference`` over the whole full-resolution volume with a
  single-stage U-Net (MONAI's defaults: overlap 0.25, Gaussian blending).

Prints seconds per volume (median of ``--repeats``), mean organ Dice and the time ratio; the
issue's target is a ratio <= 0.5 at equal or better Dice. Run:
``.venv/bin/python benchmarks/bench_seg3d.py [--size 128] [--steps 150]``.
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
from paperzoo.seg3d.recipe import Seg3dConfig, fit_cascade, fit_single_stage
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
    ap.add_argument("--test", type=int, default=2)
    ap.add_argument("--steps", type=int, default=150, help="steps per cascade stage; the dense model gets twice")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--overlap", type=float, default=0.25, help="the dense peer's tile overlap (MONAI default)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    shape = (a.size,) * 3
    cfg = Seg3dConfig(channels=(8, 16, 32), num_res_units=0, roi=(32, 32, 32), stage1_factor=2, stage2_factor=2,
                      stage1_steps=a.steps, stage2_steps=a.steps, batch=2, optimizer="adam", lr=3e-3,
                      finetune_lr=1e-3, lr_step=10**6, finetune_lr_step=10**6, stage2_window=(-500.0, 500.0),
                      rotate_deg=0.0, loss="wce+dice")
    print(f"GENERATED phantoms {shape}: {a.train} train (A), {a.test} test each of A and B; "
          f"U-Net {cfg.channels}, patch {cfg.roi} x {cfg.batch}; {a.steps}+{a.steps} cascade steps vs "
          f"{2 * a.steps} dense steps; torch threads {a.threads}")
    train = make_phantoms(a.train, shape, "A", 0)
    t = time.perf_counter()
    cascade = fit_cascade(cfg, train, len(ORGANS), ORGANS, seed=0)
    print(f"trained cascade in {time.perf_counter() - t:.0f} s", flush=True)
    cfg_full = Seg3dConfig(**{**cfg.__dict__, "stage2_factor": 1})
    t = time.perf_counter()
    dense = fit_single_stage(cfg_full, train, len(ORGANS), ORGANS, seed=0)
    print(f"trained dense full-resolution model in {time.perf_counter() - t:.0f} s", flush=True)
    rows = []
    for setting in ("A", "B"):
        for i, (hu, y) in enumerate(make_phantoms(a.test, shape, setting, 900)):
            (lab_c, info), t_c = timed(lambda hu=hu: cascade.predict(hu), a.repeats)
            (lab_n, _), t_n = timed(lambda hu=hu: cascade.predict(hu, skip_tiles=False), a.repeats)
            lab_d, t_d = timed(lambda hu=hu: dense_full_res(dense, hu, a.overlap), a.repeats)
            dice = {k: np.nanmean([v for n, v in organ_metrics(lab, y, len(ORGANS), surface=False).items()
                                   if n.startswith("dice")]) for k, lab in (("c", lab_c), ("n", lab_n), ("d", lab_d))}
            rows.append((setting, t_c, t_n, t_d, dice, info))
            print(f"{setting}{i}: cascade {t_c:.2f} s (stage-2 tiles {info['stage2_tiles_run']}/"
                  f"{info['stage2_tiles_total']}, C2 {100 * info['region_fraction']:.1f} % of voxels) Dice "
                  f"{100 * dice['c']:.1f} | no skipping {t_n:.2f} s Dice {100 * dice['n']:.1f} | MONAI dense "
                  f"full-res {t_d:.2f} s Dice {100 * dice['d']:.1f}", flush=True)
    tc, tn, td = (float(np.mean([r[j] for r in rows])) for j in (1, 2, 3))
    dc, dd = (float(np.mean([r[4][k] for r in rows])) for k in ("c", "d"))
    print(f"\nper {a.size}^3 volume: cascade {tc:.2f} s, cascade without tile skipping {tn:.2f} s, "
          f"MONAI dense full-res sliding window {td:.2f} s")
    print(f"ratio cascade / dense = {tc / td:.3f} (target <= 0.5); skipping saves {100 * (1 - tc / tn):.0f} % "
          f"of the cascade's time; mean organ Dice cascade {100 * dc:.1f} vs dense {100 * dd:.1f} "
          f"({'equal or better' if dc >= dd - 1e-9 else 'LOWER'})")


if __name__ == "__main__":
    main()
