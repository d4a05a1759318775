"""Recipe ``hashing`` (S7): Do, Le Tan, Pham, Hoang, Le, Cheung, Reid, "Binary Constrained Deep Hashing
Network for Image Retrieval without Manual Annotation", arXiv 1802.07437 (WACV 2019, unverified).

Training (the **documented reconstruction** of the unconfirmed method, see `losses` and docs/hashing.md):
hash layers start from ITQ on the untrained descriptors (UH-BDNN, ECCV 2016: B initialised by ITQ;
``init``), then alternate a B-step (auxiliary codes b_i = sign(h_i) for every training image, or with
``b_update=pairwise`` coordinate descent with the similar pairs' term on b; once per epoch) and a
W-step (Adam on the network with B fixed) on the pairwise binary constrained loss, over pairs mined
without labels: (query, positive) from shared 3D points of S8's GENERATED landmarks, one augmented
copy of the query (second source), and ``nnum`` hard negatives from other 3D models nearest in code
space. Test codes are sign(h). Evaluation: Hamming ranking (stable tie policy), mAP, precision within
radius 2 and PR curves on held-out landmarks + real distractor crops, vs LSH/PCAH/ITQ/SH on the same
GeM descriptors (the trained network's, before its hash layer).

* ``--preset quick``: small VGG-style CNN from scratch at 32 px, 16/32/64-bit heads on one backbone,
  several seeds, the ablation lambda = 0 (no quantisation term).
* ``--preset full``: the user's images from ``--data-dir`` (`full`): class folders (relevance = same
  class) or a revisited Oxford/Paris ``gnd_*.pkl`` (S8's loader and Medium protocol); pairs from
  augmentation only (user data has no 3D structure).
Deviations (quick): one backbone with three hash layers trained jointly (paper: one net per length);
trained from scratch; loss divided by L; lambda, margin and lr are ours (the paper's are unconfirmed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ConfigError
from ..registry import register_recipe
from ..retrieval.data import generate_landmarks
from ..retrieval.extract import IMAGENET_MEAN, IMAGENET_STD
from ..retrieval.mining import mine_hard_negatives, random_negatives
from .baselines import BASELINES, make_baseline
from .data import PAIR_SOURCES, augment, eval_split, train_pairs
from .losses import B_UPDATES, PairwiseBinaryConstrainedLoss, b_step, b_step_pairwise
from .metrics import hamming_map, pr_curve, precision_within_radius
from .model import HashNet, build_hash_net, check_bits, save_hash_model
from .report import ITQ_UNTRAINED


@dataclass
class HashingConfig:
    """Defaults: the reconstruction's setting (the paper's hyper-parameters are not confirmed)."""

    arch: str = "vgg16"
    width: int = 16                # small CNN only
    bits: tuple[int, ...] = (16, 32, 64)
    activation: str = "tanh"
    init: str = "itq"              # hash-layer start: itq (UH-BDNN: B initialised by ITQ) | centre | random
    lam: float = 0.1               # lambda of the quantisation term
    margin_frac: float = 0.5       # dissimilar pairs pushed >= margin_frac * L Hamming bits apart
    distance: str = "contrastive"  # contrastive (reconstruction) | inner
    quantisation: str = "alternating"  # alternating (B-step per epoch) | per_batch | none
    b_update: str = "sign"         # B-step: sign (b = sign h, the reconstruction) | pairwise (similarity term on b, CCD)
    b_sweeps: int = 3              # coordinate-descent passes per B-step
    independence: float = 0.0      # UH-BDNN's lambda_3: ||H^T H / m - I||^2 on each batch's codes (0 = off)
    balance: float = 0.0           # UH-BDNN's lambda_4: ||H^T 1 / m||^2 on each batch's codes (0 = off)
    pair_source: str = "both"      # both | 3d | aug
    aug_both: bool = False         # aug pairs: augment the anchor too (two augmented views; full preset)
    negatives: str = "hard"        # hard | random
    nnum: int = 5
    lr: float = 1e-3
    weight_decay: float = 1e-4
    epochs: int = 30
    batch_size: int = 8            # tuples per step
    qsize: int = 2000              # tuples per epoch
    imsize: int = 224              # images are resized to imsize x imsize (full: the user's images)
    init_weights: str = ""         # full: ImageNet backbone weights (.safetensors) loaded before training
    train_max: int = 0             # full: train on at most this many (random) training images; 0 = all
    seeds: int = 1
    ablation: bool = True          # also train with lambda = 0
    baselines: str = "LSH,PCAH,ITQ,SH"
    train_landmarks: int = 40
    train_views: int = 16
    test_landmarks: int = 12
    test_views: int = 12
    test_queries: int = 3
    n_distractors: int = 120
    t_i: float = 0.2
    t_s: float = 1.5


def _norm(x: torch.Tensor) -> torch.Tensor:
    return (x - IMAGENET_MEAN) / IMAGENET_STD


@torch.no_grad()
def relaxed_codes(model: HashNet, images: torch.Tensor, batch: int = 256) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    """({L: h (n, L)}, phi (n, D)) in eval mode, computed on the model's device, returned on the CPU."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    hs: dict[int, list] = {b: [] for b in model.bits}
    phis = []
    for s in range(0, len(images), batch):
        phi = model.descriptor(_norm(images[s:s + batch]).to(dev))
        phis.append(phi.cpu())
        for b in model.bits:
            hs[b].append(model.relaxed(phi, b).cpu())
    model.train(was)
    return {b: torch.cat(v) for b, v in hs.items()}, torch.cat(phis)


def train_hash_net(cfg: HashingConfig, ctx, model: HashNet, X: torch.Tensor, landmark: np.ndarray, qidx: np.ndarray,
                   pidx: np.ndarray, lam: float, seed: int, tag: str) -> list[float]:
    """Alternating optimisation: per epoch a B-step over all training images, then W-steps (Adam) on mined pairs.

    ``X``: training images (n, 3, S, S) in [0, 1] (a tensor, or anything indexable like one, e.g. `full.ImageBank`);
    the W-steps run on the model's device (``ctx.device`` once the caller moved the model there).
    """
    dev = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    crits = {b: PairwiseBinaryConstrainedLoss(b, lam, cfg.margin_frac, cfg.distance) for b in model.bits}
    use3d, useaug = cfg.pair_source in ("both", "3d"), cfg.pair_source in ("both", "aug")
    longest = max(model.bits)
    losses = []
    _, phi0 = relaxed_codes(model, X)
    model.init_hash_layers(phi0, cfg.init, seed)
    for epoch in range(cfg.epochs):
        # B-step (h fixed): sign: b_i = sign(h_i) minimises lambda/2 ||h_i - b_i||^2 exactly; pairwise: also
        # the similar pairs' 1/2 ||b_i - b_j||^2, by cyclic coordinate descent (`b_step_pairwise`)
        H, _ = relaxed_codes(model, X)
        if cfg.b_update == "pairwise" and use3d:
            B = {b: b_step_pairwise(h, qidx, pidx, lam, cfg.b_sweeps) for b, h in H.items()}
        else:
            B = {b: b_step(h) for b, h in H.items()}
        # pairs: 3D positives, hard negatives (nearest codes of other 3D models, one per model)
        sel = rng.permutation(len(qidx))[:cfg.qsize]
        q, p = qidx[sel], pidx[sel]
        if cfg.negatives == "hard":
            hn = torch.nn.functional.normalize(H[longest], dim=1)
            neg = mine_hard_negatives(hn[q], hn, landmark[q], landmark, cfg.nnum)
        else:
            neg = random_negatives(len(q), landmark[q], landmark, cfg.nnum, rng)
        keep = (neg >= 0).all(1)
        q, p, neg = q[keep], p[keep], neg[keep]
        model.train()
        total, steps = 0.0, 0
        for s in range(0, len(q), cfg.batch_size):
            tq, tp, tn = q[s:s + cfg.batch_size], p[s:s + cfg.batch_size], neg[s:s + cfg.batch_size]
            T = len(tq)
            P = T if use3d else 0                                          # positives only with the 3D source
            idx = np.concatenate([tq, tp, tn.reshape(-1)] if use3d else [tq, tn.reshape(-1)])  # (T + P + T*N,)
            x = X[torch.as_tensor(idx)]
            if useaug:
                x = torch.cat([x, augment(X[torch.as_tensor(tq)], gen)])   # + T augmented queries
                if cfg.aug_both:  # two augmented views: the anchor is augmented too
                    x[:T] = augment(x[:T], gen)
            out = model(_norm(x).to(dev))
            ii, jj, ss, bi_idx, bj_idx = [], [], [], [], []
            qpos = np.arange(T)
            if use3d:
                ii.append(qpos), jj.append(T + qpos), ss.append(np.ones(T)), bi_idx.append(tq), bj_idx.append(tp)
            npos = T + P + np.arange(T * cfg.nnum)
            ii.append(np.repeat(qpos, cfg.nnum)), jj.append(npos), ss.append(np.zeros(T * cfg.nnum))
            bi_idx.append(np.repeat(tq, cfg.nnum)), bj_idx.append(tn.reshape(-1))
            if useaug:
                apos = T + P + T * cfg.nnum + qpos
                ii.append(qpos), jj.append(apos), ss.append(np.ones(T)), bi_idx.append(tq), bj_idx.append(tq)
            ii_t, jj_t = torch.as_tensor(np.concatenate(ii)).to(dev), torch.as_tensor(np.concatenate(jj)).to(dev)
            s_t = torch.as_tensor(np.concatenate(ss), dtype=torch.float32).to(dev)
            bi_t, bj_t = torch.as_tensor(np.concatenate(bi_idx)), torch.as_tensor(np.concatenate(bj_idx))
            loss = 0.0
            for b, h in out.items():
                if cfg.quantisation == "alternating":
                    loss = loss + crits[b](h[ii_t], h[jj_t], s_t, B[b][bi_t].to(dev), B[b][bj_t].to(dev))
                else:  # per_batch: against sign(h) of this pass; none: lam = 0 makes the term vanish
                    loss = loss + crits[b](h[ii_t], h[jj_t], s_t)
                if cfg.independence or cfg.balance:
                    loss = loss + crits[b].code_statistics_term(h, cfg.independence, cfg.balance)
            opt.zero_grad()
            ctx.accelerator.backward(loss)
            opt.step()
            total, steps = total + float(loss.detach()), steps + 1
        losses.append(total / max(steps, 1))
        ctx.log(epoch, f"{tag}/", loss=losses[-1])
    return losses


def evaluate_codes(qb: np.ndarray, dbb: np.ndarray, split) -> dict:
    mAP, _ = hamming_map(qb, dbb, split.relevant, split.junk)
    prec, rec = pr_curve(qb, dbb, split.relevant, split.junk)
    return {"map": mAP, "p_r2": precision_within_radius(qb, dbb, split.relevant, split.junk, 2),
            "prec": prec, "rec": rec}


def euclidean_map(q: torch.Tensor, db: torch.Tensor, split) -> float:
    """mAP (%) of Euclidean ranking of real descriptors (stable ties, junk removed): the pre-hashing ceiling."""
    from .metrics import average_precision

    ranks = np.argsort(torch.cdist(q, db).numpy(), axis=1, kind="stable")
    aps = [average_precision(split.relevant[i, r[~split.junk[i, r]]]) for i, r in enumerate(ranks)]
    return 100 * float(np.nanmean(aps))


def _check(cfg: HashingConfig) -> None:
    for b in cfg.bits:
        check_bits(int(b))
    if cfg.pair_source not in PAIR_SOURCES:
        raise ConfigError(f"pair_source must be one of {', '.join(PAIR_SOURCES)}, got {cfg.pair_source!r}")
    if cfg.quantisation not in ("alternating", "per_batch", "none"):
        raise ConfigError(f"quantisation must be alternating, per_batch or none, got {cfg.quantisation!r}")
    if cfg.b_update not in B_UPDATES:
        raise ConfigError(f"b_update must be one of {', '.join(B_UPDATES)}, got {cfg.b_update!r}")
    if cfg.independence < 0 or cfg.balance < 0:
        raise ConfigError(f"independence and balance are weights >= 0, got {cfg.independence} and {cfg.balance}")
    if cfg.negatives not in ("hard", "random"):
        raise ConfigError(f"negatives must be hard or random, got {cfg.negatives!r}")
    for n in filter(None, cfg.baselines.split(",")):
        if n not in BASELINES:
            raise ConfigError(f"unknown baseline {n!r}; choose from {', '.join(BASELINES)}")


def run_quick(cfg: HashingConfig, ctx) -> None:
    from .report import report_quick

    _check(cfg)
    t0 = time.perf_counter()
    tr = generate_landmarks(cfg.train_landmarks, cfg.train_views, cfg.imsize, seed=ctx.seed)
    split = eval_split(cfg.test_landmarks, cfg.test_views, cfg.imsize, ctx.seed, cfg.train_landmarks,
                       cfg.test_queries, cfg.n_distractors)
    qidx, pidx = train_pairs(tr, cfg.t_i, cfg.t_s, seed=ctx.seed)
    m = ctx.metrics
    m["data_s"] = round(time.perf_counter() - t0, 2)
    m["n_train_images"], m["n_train_pairs"] = len(tr), len(qidx)
    m["n_queries"], m["n_database"] = len(split.query_images), len(split.db_images)
    m["mean_relevant_per_query"] = float(split.relevant.sum(1).mean())
    m["max_w_steps_per_run"] = cfg.epochs * -(-min(cfg.qsize, len(qidx)) // cfg.batch_size)  # tuples without negatives drop out
    X = torch.as_tensor(tr.images)
    Xq, Xdb = torch.as_tensor(split.query_images), torch.as_tensor(split.db_images)
    lam = cfg.lam if cfg.quantisation != "none" else 0.0
    variants = [("BCDH", lam)] + ([("BCDH λ=0", 0.0)] if cfg.ablation and lam > 0 else [])
    baselines = [n for n in cfg.baselines.split(",") if n]
    res: dict[str, dict[int, list[dict]]] = {}
    qerr: dict[str, list[float]] = {}
    curves: dict[str, list[list[float]]] = {}
    phi_maps: dict[str, list[float]] = {}

    def add(name: str, bits: int, r: dict) -> None:
        res.setdefault(name, {}).setdefault(bits, []).append(r)

    for i in range(cfg.seeds):
        seed = ctx.seed + i
        for name, lam_v in ctx.progress(variants, desc=f"seed {i + 1}/{cfg.seeds}"):
            torch.manual_seed(seed)
            model = build_hash_net(cfg.arch, cfg.bits, cfg.width, "gem", cfg.activation).to(ctx.device)
            if name == "BCDH":
                _, pq0 = relaxed_codes(model, Xq)
                _, pdb0 = relaxed_codes(model, Xdb)
                phi_maps.setdefault("init", []).append(euclidean_map(pq0, pdb0, split))
                if "ITQ" in baselines:  # the paper's protocol: shallow hashing of the descriptors the network starts from
                    _, ptr0 = relaxed_codes(model, X)
                    for b in cfg.bits:
                        if b <= ptr0.shape[1]:
                            h = make_baseline("ITQ", b, seed).fit(ptr0.numpy())
                            add(ITQ_UNTRAINED, b, evaluate_codes(h.encode(pq0.numpy()), h.encode(pdb0.numpy()), split))
            curves.setdefault(name, []).append(
                train_hash_net(cfg, ctx, model, X, tr.landmark, qidx, pidx, lam_v, seed, f"seed{i}/{name}"))
            Hq, phi_q = relaxed_codes(model, Xq)
            Hdb, phi_db = relaxed_codes(model, Xdb)
            qerr.setdefault(name, []).append(float(np.mean([((Hdb[b] - b_step(Hdb[b])) ** 2).mean() for b in cfg.bits])))
            for b in cfg.bits:
                add(name, b, evaluate_codes(b_step(Hq[b]).numpy(), b_step(Hdb[b]).numpy(), split))
            phi_maps.setdefault(name, []).append(euclidean_map(phi_q, phi_db, split))
            if name == "BCDH":
                _, phi_tr = relaxed_codes(model, X)
                m["descriptor_dim"] = int(phi_tr.shape[1])
                for bl in baselines:
                    for b in cfg.bits:
                        if b > phi_tr.shape[1] and bl != "LSH":
                            continue
                        h = make_baseline(bl, b, seed).fit(phi_tr.numpy())
                        add(bl, b, evaluate_codes(h.encode(phi_q.numpy()), h.encode(phi_db.numpy()), split))
                if i == 0:
                    save_hash_model(model.cpu(), ctx.out / "model.safetensors", cfg.imsize,
                                    {"trained_on": "generated landmarks (paperzoo.retrieval.data)"})
    m["phi_map_init"] = round(float(np.mean(phi_maps["init"])), 3)
    m["phi_map"] = round(float(np.mean(phi_maps["BCDH"])), 3)
    if "BCDH λ=0" in phi_maps:
        m["phi_map_lam0"] = round(float(np.mean(phi_maps["BCDH λ=0"])), 3)
    report_quick(cfg, ctx, res, qerr, curves)


@register_recipe("hashing", config=HashingConfig, presets={
    # lam 0.3: the best mean BCDH mAP (16/32/64 bits) over lam in {0.1, 0.3, 1, 3} on the validation draw
    # (--seed 100: other landmarks), 5 seeds each; docs/hashing.md has the sweep
    "quick": dict(arch="small", width=16, imsize=32, epochs=6, qsize=128, batch_size=8, nnum=5, lr=3e-3,
                  seeds=5, ablation=True, lam=0.3),
    "full": dict(pair_source="aug", aug_both=True, negatives="random", ablation=False, seeds=1),
})
def run(cfg: HashingConfig, ctx) -> None:
    if ctx.preset == "full" or ctx.data_dir is not None:
        from .full import run_full

        run_full(cfg, ctx)
    else:
        run_quick(cfg, ctx)
