"""``--preset full``: retrieval-SfM-120k training and ROxford5k/RParis6k evaluation (user's files).

Radenović, Tolias, Chum, arXiv 1711.02512; data layout of cirtorch
(https://github.com/filipradenovic/cnnimageretrieval-pytorch, ``datasets/``)::

    DATA/train/retrieval-SfM-120k/retrieval-SfM-120k.pkl        tuples (cids, cluster, qidxs, pidxs)
    DATA/train/retrieval-SfM-120k/retrieval-SfM-120k-whiten.pkl  whitening pairs
    DATA/train/retrieval-SfM-120k/ims/<cid[-2:]>/<cid[-4:-2]>/<cid[-6:-4]>/<cid>
    DATA/test/roxford5k/gnd_roxford5k.pkl  and  DATA/test/roxford5k/jpg/<name>.jpg   (same for rparis6k)

Test images are described at ``test_imsize`` (queries cropped to their bbx first), multi-scale
(1, 1/sqrt 2, 1/2) and whitened with Lw learned on the whitening pairs, as the paper's tables.
``--set init_weights=PATH`` loads ImageNet backbone weights (safetensors) before fine-tuning; without
them the network starts from random initialisation (not the paper's setting; the report says so).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..engine import load_weights
from ..errors import DataError
from .data import load_gnd, load_sfm120k, load_sfm120k_whiten, sfm120k_path
from .extract import FileSource, describe, save_retrieval_model
from .model import build_retrieval_net
from .whiten import to_linear, whitenlearn


def run_full_sfm120k(cfg, ctx) -> None:
    from .recipe import evaluate, train_net

    root = ctx.require_data_dir("train/retrieval-SfM-120k/ and test/roxford5k|rparis6k/ (cirtorch layout)")
    sfm = root / "train" / "retrieval-SfM-120k"
    db = load_sfm120k(sfm / "retrieval-SfM-120k.pkl", "train")
    paths = [sfm120k_path(sfm / "ims", c) for c in db["cids"]]
    if paths and not paths[0].is_file():
        raise DataError(f"{paths[0]} not found: extract the retrieval-SfM-120k images into {sfm / 'ims'}")
    torch.manual_seed(ctx.seed)
    net = build_retrieval_net(cfg.arch, cfg.pool, cfg.p_init, width=cfg.width)
    if cfg.init_weights:
        load_weights(net.features.backbone, cfg.init_weights, strict=False)
    else:
        ctx.note("No --set init_weights: the backbone starts from random initialisation, not ImageNet as the paper.")
    src = FileSource(paths, cfg.imsize)
    losses = train_net(cfg, ctx, net, src, db["cluster"], db["qidxs"], db["pidxs"], ctx.seed, cfg.negatives, "train")
    ctx.metrics["final_loss"] = losses[-1] if losses else float("nan")
    # learned whitening on the whitening pairs, multi-scale
    wd = load_sfm120k_whiten(sfm / "retrieval-SfM-120k-whiten.pkl")
    wsrc = FileSource([sfm120k_path(sfm / "ims", c) for c in wd["cids"]], cfg.test_imsize)
    wv = describe(net, wsrc, scales=cfg.ms_scales, device=ctx.device)
    m, P = whitenlearn(wv.T, wd["qidxs"], wd["pidxs"])
    net.set_whitening(to_linear(m, P, cfg.whiten_dim or None))
    for name in ("roxford5k", "rparis6k"):
        d = root / "test" / name
        if not (d / f"gnd_{name}.pkl").is_file():
            ctx.note(f"{d / f'gnd_{name}.pkl'} not found: {name} skipped")
            continue
        g = load_gnd(d / f"gnd_{name}.pkl")
        img = lambda n, d=d: d / "jpg" / (n if Path(n).suffix else f"{n}.jpg")  # noqa: E731
        dbv = describe(net, FileSource([img(n) for n in g["imlist"]], cfg.test_imsize), scales=cfg.ms_scales,
                       device=ctx.device)
        qv = describe(net, FileSource([img(n) for n in g["qimlist"]], cfg.test_imsize, [x.get("bbx") for x in g["gnd"]]),
                      scales=cfg.ms_scales, device=ctx.device)
        r = evaluate(dbv, qv, g["gnd"])
        for s in ("easy", "medium", "hard"):
            ctx.metrics[f"{name}_map_{s}"] = round(100 * float(r[s]), 2)
    save_retrieval_model(net, ctx.out / "model.safetensors", cfg.test_imsize, {"trained_on": "retrieval-SfM-120k"})
    paper = {"roxford5k": 64.7, "rparis6k": 77.2}
    for name, v in paper.items():
        if f"{name}_map_medium" in ctx.metrics:
            ours = ctx.metrics[f"{name}_map_medium"]
            ctx.claim(f"{name}_medium", f"{name} Medium mAP, ResNet101-GeM + Lw, multi-scale", paper=v, ours=ours,
                      holds=ours >= v - 2)
