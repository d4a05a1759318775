"""``--preset full`` of recipe ``hashing``: the user's image folders + ground truth from ``--data-dir``.

Do, Le Tan, Pham, Hoang, Le, Cheung, Reid, "Binary Constrained Deep Hashing Network for Image Retrieval
without Manual Annotation", arXiv 1802.07437. The paper evaluates on landmark benchmarks (probably
Holidays / Oxford5k / Paris6k, unverified). Two layouts are read (both may sit under one ``--data-dir``):

  * **revisited Oxford/Paris** (S8's loader, `paperzoo.retrieval.data.load_gnd`, reused)::

        DIR/[test/]<name>/gnd_<name>.pkl   and   DIR/[test/]<name>/jpg/<image>.jpg

    queries cropped to their ``bbx``; relevance = the revisited **Medium** protocol (easy + hard relevant,
    junk ignored; old ``ok``/``junk`` files: ok relevant), as S8 and the quick preset;
  * **class folders**::

        DIR/database/<class>/*.jpg   DIR/query/<class>/*.jpg   [DIR/train/**/*.jpg, labels unused]

    relevance = same class name (no junk).

Deviation: the paper mines pairs from 3D reconstructions; user folders have no 3D structure, so training
pairs come from augmentation only (`data.augment`): two augmented views of one image are similar, views
of other images dissimilar (random negatives by default; hard negatives in code space would often be
unlabelled same-class images). Training images are ``DIR/train`` or else the database images, without
their labels (the usual unsupervised-hashing protocol; ITQ & co. are fitted on the same descriptors).
The network, loss, alternating B-/W-steps, baselines and evaluation are the quick preset's (`recipe`, `report`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..retrieval.data import list_images, load_gnd, load_image
from .metrics import relevance_from_gnd

__all__ = ["ImageBank", "FullSet", "discover_full", "load_bank", "run_full"]

WHAT = ("database/<class>/ + query/<class>/ image folders, or a revisited gnd_<name>.pkl with jpg/ "
        "(see docs/hashing.md)")


class ImageBank:
    """Images held as uint8 (n, 3, S, S); indexing returns float32 in [0, 1] (4x less memory than floats)."""

    def __init__(self, u8: torch.Tensor):
        self.u8 = u8

    def __len__(self) -> int:
        return len(self.u8)

    def __getitem__(self, idx) -> torch.Tensor:
        return self.u8[idx].float().div_(255.0)


@dataclass
class FullSet:
    """One evaluation set from the user's data."""

    name: str
    train: list[Path]
    queries: list[Path]
    database: list[Path]
    relevant: np.ndarray            # (n_q, n_db) bool
    junk: np.ndarray                # (n_q, n_db) bool
    qbbx: list | None = None        # per query [x1, y1, x2, y2] or None
    gnd: list[dict] | None = None   # revisited ground truth (S8's evaluation of real-valued descriptors)


def _class_folders(root: Path) -> FullSet:
    from ..data.vision import ImageFolderDataset

    for sub in ("database", "query"):
        if not (root / sub).is_dir():
            raise DataError(f"--data-dir {root} has {'query' if sub == 'database' else 'database'}/ but no {sub}/; "
                            f"expected {root}/database/<class>/*.jpg and {root}/query/<class>/*.jpg")
    db, qs = ImageFolderDataset(root / "database", 1), ImageFolderDataset(root / "query", 1)
    db_cls = np.asarray([db.classes[y] for _, y in db.samples])
    q_cls = np.asarray([qs.classes[y] for _, y in qs.samples])
    rel = q_cls[:, None] == db_cls[None, :]
    train = list_images(root / "train") if (root / "train").is_dir() else [p for p, _ in db.samples]
    return FullSet("folders", train, [p for p, _ in qs.samples], [p for p, _ in db.samples], rel,
                   np.zeros_like(rel))


def _revisited(gnd_path: Path) -> FullSet:
    g = load_gnd(gnd_path)
    d = gnd_path.parent
    imdir = d / "jpg" if (d / "jpg").is_dir() else d
    img = lambda n: imdir / (n if Path(n).suffix else f"{n}.jpg")  # noqa: E731  (as S8's full preset)
    db, qs = [img(n) for n in g["imlist"]], [img(n) for n in g["qimlist"]]
    missing = [p for p in db + qs if not p.is_file()]
    if missing:
        raise DataError(f"{gnd_path.name}: {len(missing)} listed images are missing, e.g. {missing[0]}; "
                        f"put them in {imdir}")
    if len(g["gnd"]) != len(qs):
        raise DataError(f"{gnd_path}: {len(g['gnd'])} gnd entries for {len(qs)} queries")
    revisited = "easy" in g["gnd"][0] if g["gnd"] else True
    rel, junk = relevance_from_gnd(g["gnd"], len(db), ("easy", "hard") if revisited else ("ok",), ("junk",))
    name = gnd_path.stem.removeprefix("gnd_")
    return FullSet(name, db, qs, db, rel, junk, [x.get("bbx") for x in g["gnd"]], g["gnd"] if revisited else None)


def discover_full(root: str | Path) -> list[FullSet]:
    """The evaluation sets under ``root`` (class folders and/or revisited gnd files); a `DataError` if none."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"--data-dir {root} is not a directory; it should hold {WHAT}")
    sets = []
    if (root / "database").is_dir() or (root / "query").is_dir():
        sets.append(_class_folders(root))
    gnds = sorted({*root.glob("gnd_*.pkl"), *root.glob("*/gnd_*.pkl"), *root.glob("test/*/gnd_*.pkl")})
    sets += [_revisited(p) for p in gnds]
    if not sets:
        raise DataError(f"--data-dir {root} holds no evaluation data; expected {WHAT}")
    for s in sets:
        if not s.relevant.any():
            raise DataError(f"{root} ({s.name}): no query has a relevant database image; check the class names "
                            f"or the ground truth")
    return sets


def load_bank(paths: list[Path], imsize: int, bbxs: list | None = None, ctx=None, desc: str = "") -> ImageBank:
    """Read ``paths`` (optional bbox crop first) resized to imsize x imsize, as an `ImageBank`."""
    out = torch.empty((len(paths), 3, imsize, imsize), dtype=torch.uint8)
    it = range(len(paths)) if ctx is None else ctx.progress(range(len(paths)), desc=desc)
    for i in it:
        x = load_image(paths[i], imsize, None if bbxs is None else bbxs[i], square=True)
        out[i] = (x * 255).round_().to(torch.uint8)
    return ImageBank(out)


def run_full(cfg, ctx) -> None:
    """Train and evaluate BCDH (+ the lambda = 0 ablation if ``ablation``) and the baselines on each set."""
    from ..engine import load_weights
    from ..retrieval.recipe import evaluate as s8_evaluate
    from .baselines import make_baseline
    from .data import EvalSplit
    from .losses import b_step
    from .model import build_hash_net, save_hash_model
    from .recipe import _check, euclidean_map, evaluate_codes, relaxed_codes, train_hash_net
    from .report import report_quick

    _check(cfg)
    root = ctx.require_data_dir(WHAT)
    sets = discover_full(root)
    m = ctx.metrics
    lam = cfg.lam if cfg.quantisation != "none" else 0.0
    variants = [("BCDH", lam)] + ([("BCDH λ=0", 0.0)] if cfg.ablation and lam > 0 else [])
    baselines = [n for n in cfg.baselines.split(",") if n]
    for ds in sets:
        pre = f"{ds.name}_"
        t0 = time.perf_counter()
        rng = np.random.default_rng(ctx.seed)
        train = ds.train
        if cfg.train_max and len(train) > cfg.train_max:
            train = [train[i] for i in np.sort(rng.choice(len(train), cfg.train_max, replace=False))]
        split = EvalSplit(load_bank(ds.queries, cfg.imsize, ds.qbbx, ctx, f"{ds.name} queries"),
                          load_bank(ds.database, cfg.imsize, None, ctx, f"{ds.name} database"), ds.relevant, ds.junk)
        X = split.db_images if train == ds.database else load_bank(train, cfg.imsize, ctx=ctx, desc=f"{ds.name} train")
        m[f"{pre}load_s"] = round(time.perf_counter() - t0, 2)
        m[f"{pre}n_train_images"], m[f"{pre}n_queries"], m[f"{pre}n_database"] = len(X), len(ds.queries), len(ds.database)
        m[f"{pre}mean_relevant_per_query"] = float(ds.relevant.sum(1).mean())
        n = len(X)
        if n <= cfg.nnum:
            raise DataError(f"{ds.name}: {n} training images, need more than nnum = {cfg.nnum} (one anchor + nnum "
                            f"negatives); add images or --set nnum=...")
        ids = np.arange(n, dtype=np.int64)  # every training image is its own "3D model": aug pairs only
        res: dict[str, dict[int, list[dict]]] = {}
        qerr: dict[str, list[float]] = {}
        curves: dict[str, list[list[float]]] = {}
        phi_maps: dict[str, list[float]] = {}
        for i in range(cfg.seeds):
            seed = ctx.seed + i
            for name, lam_v in ctx.progress(variants, desc=f"{ds.name} seed {i + 1}/{cfg.seeds}"):
                torch.manual_seed(seed)
                model = build_hash_net(cfg.arch, cfg.bits, cfg.width, "gem", cfg.activation)
                if cfg.init_weights:
                    load_weights(model.net.features.backbone, cfg.init_weights, strict=False)
                model.to(ctx.device)
                if name == "BCDH":  # the untrained descriptor, to show what training adds
                    phi_maps.setdefault("init", []).append(euclidean_map(relaxed_codes(model, split.query_images)[1],
                                                                         relaxed_codes(model, split.db_images)[1], split))
                curves.setdefault(name, []).append(
                    train_hash_net(cfg, ctx, model, X, ids, ids, ids, lam_v, seed, f"{ds.name}/seed{i}/{name}"))
                Hq, phi_q = relaxed_codes(model, split.query_images)
                Hdb, phi_db = relaxed_codes(model, split.db_images)
                qerr.setdefault(name, []).append(
                    float(np.mean([((Hdb[b] - b_step(Hdb[b])) ** 2).mean() for b in cfg.bits])))
                for b in cfg.bits:
                    res.setdefault(name, {}).setdefault(b, []).append(
                        evaluate_codes(b_step(Hq[b]).numpy(), b_step(Hdb[b]).numpy(), split))
                phi_maps.setdefault(name, []).append(euclidean_map(phi_q, phi_db, split))
                if name != "BCDH":
                    continue
                if ds.gnd is not None:  # S8's revisited evaluation of the real-valued descriptor (the ceiling)
                    r = s8_evaluate(phi_db.numpy(), phi_q.numpy(), ds.gnd)
                    for s in ("easy", "medium", "hard"):
                        phi_maps.setdefault(f"s8_{s}", []).append(100 * float(r[s]))
                _, phi_tr = relaxed_codes(model, X)
                for bl in baselines:
                    for b in cfg.bits:
                        if b > min(phi_tr.shape) and bl != "LSH":
                            continue  # PCA-based codes need bits <= min(n, D)
                        h = make_baseline(bl, b, seed).fit(phi_tr.numpy())
                        res.setdefault(bl, {}).setdefault(b, []).append(
                            evaluate_codes(h.encode(phi_q.numpy()), h.encode(phi_db.numpy()), split))
                if i == 0 and ctx.is_main:
                    save_hash_model(model.cpu(), ctx.out / f"model_{ds.name}.safetensors", cfg.imsize,
                                    {"trained_on": f"user data {ds.name} ({root}), augmentation pairs"})
        for k, v in phi_maps.items():
            key = {"BCDH": "phi_map", "BCDH λ=0": "phi_map_lam0"}.get(k, f"phi_map_{k}")
            m[f"{pre}{key}"] = round(float(np.mean(v)), 3)
        label = f"{ds.name} ({len(ds.queries)} queries x {len(ds.database)} database images, user data)"
        report_quick(cfg, ctx, res, qerr, curves, data_label=label, prefix=pre, quick_notes=False)
        ctx.note(f"{ds.name}: Euclidean mAP of the trained GeM descriptor (the pre-hashing ceiling, same relevance "
                 f"and tie policy as the Hamming rows) {m[f'{pre}phi_map']:.1f} ({m[f'{pre}phi_map_init']:.1f} untrained)"
                 + (f"; S8's revisited evaluation of it: Easy {m[f'{pre}phi_map_s8_easy']:.1f}, Medium "
                    f"{m[f'{pre}phi_map_s8_medium']:.1f}, Hard {m[f'{pre}phi_map_s8_hard']:.1f}"
                    if ds.gnd is not None else "") + ".")
    ctx.note("Full preset on the user's data: training pairs come from AUGMENTATION only (two augmented views of an "
             "image are similar, other images dissimilar, " + ("random" if cfg.negatives == "random" else "hard") +
             " negatives): user folders have no 3D reconstructions, so the paper's 3D-mined pairs are not used. "
             "Training images: DIR/train, or else the database images without their labels. Relevance: same class "
             "(class folders) or the revisited Medium protocol (easy + hard relevant, junk ignored). "
             + ("The backbone starts from " + cfg.init_weights if cfg.init_weights else
                "No --set init_weights: the backbone trains from random initialisation, not ImageNet weights")
             + f"; {cfg.epochs} alternations of a B-step (b = sign h) and Adam W-steps, images at {cfg.imsize} px, "
             "ties broken by database index."
             + (" One seed: the claims' intervals have no spread (--set seeds=3 for paired intervals)."
                if cfg.seeds == 1 else ""))
