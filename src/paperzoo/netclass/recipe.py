"""Recipe ``netclass`` (S9): Xin, Zhang, Shao, "Complex network classification with convolutional
neural network", arXiv 1802.00539 (2018); Tsinghua Sci. Technol. 25(4), 2020. Official code:
https://github.com/AXinx/cnc_2017.

Studies (Sec. 4 and the official code), each over ``seeds`` independent replicates (new graphs,
new walks, new CNN init per seed), CNC beside three baselines on the same graphs:
  1. ``ba_ws``: BA (m=4) vs WS (k=8, p=0.1), the paper's headline (test error 0.1 %).
  2. ``ws_p``: WS p=0.1 vs p=0.8.
  3. ``four``: ER / BA / WS / Holme-Kim at matched mean degree 8 (not in the paper), trained at
     N=300 and tested at N=300 and N=1000 (size generalisation). Besides the paper's image (CNC,
     the claims) a labelled variant ``CNC-fixed`` renders the same embedding over a fixed window
     (``extent="fixed"``, 2 PC pairs as channels), which keeps the embedding's absolute scale.
  4. ``robust``: the ``ba_ws`` model tested on BA(m) vs WS(k=2m), m = 1..16 (density robustness;
     the paper: results do not depend on density once it is at least the training density).
``--data-dir DIR`` (any preset) adds a run on the user's networks: ``DIR/labels.csv`` (file,label)
and the graph files beside it, split 80/20 (the trade-network setting when given trade networks).

Deviations: the quick preset uses fewer graphs (tens per class instead of 4,000), N=300 for
ba_ws/ws_p, 10 walks per node instead of a fixed 10,000 per graph (the official ratio at N=1000;
a fixed 1,000 walks at N=300 left Word2Vec under-trained and the images near noise), and more
CNN epochs; all stated in the report. ``embedder="sppmi"`` (an option, not the paper) replaces
Word2Vec by a PMI-matrix SVD (`sppmi`): ~10x faster, measured less accurate (docs/netclass.md).
The default ``embedder="cbow"`` runs gensim's CBOW (the same algorithm and random streams) compiled
with numba (`cbow`): the same vectors as gensim's up to float rounding, 2.6x faster;
``embedder="gensim"`` calls gensim itself (and is used for skip-gram, ``sg=1``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..registry import register_recipe
from ..stats import mean_std
from .baselines import fit_predict_gin, fit_predict_stats, fit_predict_wl
from .data import TASK_CLASSES, Featurised, featurise_many, load_graph_dir, task_specs
from .image import CNCImageConfig
from .model import CNC, CNCConfig
from .results import VARIANT
from .train import CNNTrainConfig, predict_cnc, train_cnc


@dataclass
class NetclassConfig:
    """Defaults = the paper's setting (official code); ``quick`` scales it down."""

    tasks: str = "ba_ws,ws_p,four,robust"
    seeds: int = 3
    n_nodes: int = 1000             # ba_ws / ws_p graph size (paper: 1000)
    train_per_class: int = 4000     # paper: 4,000 train (+1,000 validation) per class
    test_per_class: int = 600       # paper: 600 per class
    four_n_train: int = 300
    four_n_test_large: int = 1000
    four_train_per_class: int = 1000
    four_test_per_class: int = 250
    robust_m: tuple[int, ...] = tuple(range(1, 17))
    robust_per_class: int = 10       # paper: 10 repeats
    # image (CNCImageConfig)
    n_walks: int = 10000
    walks_per_node: float = 0.0     # > 0: walks = walks_per_node x N instead of n_walks (10 = official ratio at N=1000)
    walk_length: int = 10
    dim: int = 20
    sg: int = 0
    alpha: float = 0.025            # Word2Vec initial learning rate (gensim default = official)
    size: int = 48
    channels: int = 1
    normalise: str = "uniform"
    canonical_sign: bool = False
    embedder: str = "auto"          # auto = cbow (gensim's CBOW compiled, numba) or gensim when sg=1; "sppmi": not the paper
    # variant image for the 4-class task (not in the paper): fixed window instead of the per-image stretch
    four_variant: bool = True
    variant_extent: float = 3.0
    variant_channels: int = 2
    # CNN (CNNTrainConfig)
    epochs: int = 1
    batch_size: int = 100
    lr: float = 0.01
    flip_augment: bool = False
    # baselines
    baselines: str = "stats,wl,gin"
    wl_iter: int = 3
    gin_epochs: int = 40
    workers: int = 2                # processes for graph -> image
    torch_threads: int = 1          # torch threads for the (tiny) CNN and GIN


def image_cfg(cfg: NetclassConfig) -> CNCImageConfig:
    return CNCImageConfig(n_walks=cfg.n_walks, walks_per_node=cfg.walks_per_node, walk_length=cfg.walk_length,
                          dim=cfg.dim, sg=cfg.sg, alpha=cfg.alpha, size=cfg.size, channels=cfg.channels,
                          normalise=cfg.normalise, canonical_sign=cfg.canonical_sign,
                          embedder=cfg.embedder).validate()


def variant_cfg(cfg: NetclassConfig) -> CNCImageConfig:
    """The labelled variant image: the same embedding over a fixed window, ``variant_channels`` PC pairs."""
    c = image_cfg(cfg)
    c.extent, c.fixed_extent, c.channels = "fixed", cfg.variant_extent, cfg.variant_channels
    return c.validate()


def _fit_cnc(train: list[Featurised], n_cls: int, cfg: NetclassConfig, ctx, seed: int, tag: str,
             alt: bool = False) -> CNC:
    import torch

    torch.manual_seed(seed)
    X = np.stack([f.alt if alt else f.image for f in train])
    model = CNC(CNCConfig(in_chans=X.shape[1], size=cfg.size, num_classes=n_cls))
    tcfg = CNNTrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, flip_augment=cfg.flip_augment)
    y = np.array([f.label for f in train])
    # the training loop (train.train_cnc): SGD momentum, L2 on FC weights, x0.95 lr per epoch
    return train_cnc(X, y, model, tcfg, ctx.accelerator, seed=seed,
                     log=lambda step, **s: ctx.log(step, f"{tag}/cnn", **s))


def _evaluate(train: list[Featurised], tests: dict[str, list[Featurised]], n_cls: int, cfg: NetclassConfig, ctx,
              seed: int, tag: str) -> tuple[dict[str, dict[str, float]], CNC, dict[str, float]]:
    """Accuracy of every method on every test split: {split: {method: acc}}; the CNN; seconds per method."""
    acc: dict[str, dict[str, float]] = {k: {} for k in tests}
    secs: dict[str, float] = {}
    t = time.perf_counter()
    model = _fit_cnc(train, n_cls, cfg, ctx, seed, tag)
    p = predict_cnc(model, np.stack([f.image for f in train]), ctx.accelerator).argmax(1)
    secs["CNC_train_acc"] = float((p == np.array([f.label for f in train])).mean())  # under- vs over-fitting
    for k, te in tests.items():
        p = predict_cnc(model, np.stack([f.image for f in te]), ctx.accelerator).argmax(1)
        acc[k]["CNC"] = float((p == np.array([f.label for f in te])).mean())
    secs["CNC"] = time.perf_counter() - t
    if train[0].alt is not None:  # the labelled variant (fixed window), same graphs and embedding
        t = time.perf_counter()
        alt = _fit_cnc(train, n_cls, cfg, ctx, seed, tag + "/fixed", alt=True)
        for k, te in tests.items():
            p = predict_cnc(alt, np.stack([f.alt for f in te]), ctx.accelerator).argmax(1)
            acc[k][VARIANT] = float((p == np.array([f.label for f in te])).mean())
        secs[VARIANT] = time.perf_counter() - t
    base = {b.strip() for b in cfg.baselines.split(",") if b.strip()}
    fns = {"stats": ("stats+LR", lambda tr, te: fit_predict_stats(tr, te, seed)),
           "wl": ("WL-SVM", lambda tr, te: fit_predict_wl(tr, te, n_iter=cfg.wl_iter, seed=seed)),
           "gin": ("GIN", lambda tr, te: fit_predict_gin(tr, te, n_cls, epochs=cfg.gin_epochs, seed=seed))}
    for key, (name, fn) in fns.items():
        if key not in base:
            continue
        t = time.perf_counter()
        names = list(tests)
        allte = [f for k in names for f in tests[k]]
        p = fn(train, allte)
        i = 0
        for k in names:
            n = len(tests[k])
            acc[k][name] = float((p[i:i + n] == np.array([f.label for f in tests[k]])).mean())
            i += n
        secs[name] = time.perf_counter() - t
    return acc, model, secs


def _featurise(specs, cfg: NetclassConfig, ctx, desc: str, alt: bool = False) -> list[Featurised]:
    t = time.perf_counter()
    out = featurise_many(specs, image_cfg(cfg), workers=cfg.workers, progress=ctx.progress, desc=desc,
                         alt_cfg=variant_cfg(cfg) if alt else None)
    ctx.metrics["featurise_seconds"] = ctx.metrics.get("featurise_seconds", 0.0) + time.perf_counter() - t
    ctx.metrics["graphs_featurised"] = ctx.metrics.get("graphs_featurised", 0) + len(out)
    return out


def _split(items: list, n_train_per_class: int, n_cls: int) -> tuple[list, list]:
    k = n_train_per_class * n_cls  # task_specs interleaves classes, so the first k are balanced
    return items[:k], items[k:]


def _task(task: str, cfg: NetclassConfig, ctx, seed: int, examples: dict) -> tuple[dict, CNC | None]:
    n_cls = len(TASK_CLASSES[task])
    if task == "four":
        tr = _featurise(task_specs(task, cfg.four_train_per_class + cfg.four_test_per_class, cfg.four_n_train, seed),
                        cfg, ctx, f"four N={cfg.four_n_train} seed {seed}", alt=cfg.four_variant)
        big = _featurise(task_specs(task, cfg.four_test_per_class, cfg.four_n_test_large, seed + 10_000),
                         cfg, ctx, f"four N={cfg.four_n_test_large} seed {seed}", alt=cfg.four_variant)
        train, test = _split(tr, cfg.four_train_per_class, n_cls)
        tests = {"same_size": test, "larger": big}
    else:
        fs = _featurise(task_specs(task, cfg.train_per_class + cfg.test_per_class, cfg.n_nodes, seed),
                        cfg, ctx, f"{task} seed {seed}")
        train, test = _split(fs, cfg.train_per_class, n_cls)
        tests = {"test": test}
    examples.setdefault(task, {f.label: f.image for f in reversed(test)})
    acc, model, secs = _evaluate(train, tests, n_cls, cfg, ctx, seed, f"{task}/seed{seed}")
    for split, d in acc.items():
        for meth, a in d.items():
            ctx.log(seed, f"{task}/{split}", **{meth: a})
    return {"acc": acc, "secs": secs}, model


def _robust(model: CNC, cfg: NetclassConfig, ctx, seed: int) -> dict[int, float]:
    specs = [s for m in cfg.robust_m for s in task_specs("ba_ws", cfg.robust_per_class, cfg.n_nodes, seed + 20_000, m=m)]
    fs = _featurise(specs, cfg, ctx, f"robustness seed {seed}")
    p = predict_cnc(model, np.stack([f.image for f in fs]), ctx.accelerator).argmax(1)
    y = np.array([f.label for f in fs])
    per = 2 * cfg.robust_per_class
    return {m: float((p[i * per:(i + 1) * per] == y[i * per:(i + 1) * per]).mean()) for i, m in enumerate(cfg.robust_m)}


def _user_data(cfg: NetclassConfig, ctx) -> None:
    d = ctx.data_dir
    names, graphs, ys = load_graph_dir(d, d / "labels.csv")
    classes = sorted(set(ys))
    rng = np.random.default_rng(ctx.seed)
    fs = _featurise(graphs, cfg, ctx, "user graphs")
    for f, y in zip(fs, ys):
        f.label = classes.index(y)
    perm = rng.permutation(len(fs))
    k = max(1, int(0.8 * len(fs)))
    acc, _, _ = _evaluate([fs[i] for i in perm[:k]], {"test": [fs[i] for i in perm[k:]]}, len(classes), cfg, ctx,
                          ctx.seed, "user")
    for meth, a in acc["test"].items():
        ctx.metrics[f"user_acc_{meth}"] = a
    ctx.table(f"Your networks ({d}): test accuracy (80/20 split, {len(fs)} graphs, classes {classes})",
              [{"method": m, "accuracy": a} for m, a in acc["test"].items()])


@register_recipe("netclass", config=NetclassConfig, presets={
    "quick": dict(seeds=3, n_nodes=300, train_per_class=20, test_per_class=20, four_train_per_class=14,
                  four_test_per_class=6, four_n_test_large=600, robust_m=(1, 2, 4, 8, 16), robust_per_class=2,
                  walks_per_node=10, epochs=40, batch_size=20, flip_augment=True, gin_epochs=20),
    "full": dict(),
}, needs_data_dir=())
def run(cfg: NetclassConfig, ctx) -> None:
    import torch

    from .results import report_netclass

    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.torch_threads)  # tiny models: extra threads only spin (15x slower under load)
    try:
        _run(cfg, ctx, report_netclass)
    finally:
        torch.set_num_threads(threads)


def _run(cfg: NetclassConfig, ctx, report_netclass) -> None:
    tasks = [t.strip() for t in cfg.tasks.split(",") if t.strip()]
    results: dict[str, list[dict]] = {t: [] for t in tasks if t != "robust"}
    robust: list[dict[int, float]] = []
    examples: dict[str, dict[int, np.ndarray]] = {}
    t0 = time.perf_counter()
    for i in range(cfg.seeds):
        seed = ctx.seed + i
        for task in results:
            r, model = _task(task, cfg, ctx, seed, examples)
            results[task].append(r)
            if task == "ba_ws" and "robust" in tasks:
                robust.append(_robust(model, cfg, ctx, seed))
    if "robust" in tasks and "ba_ws" not in tasks:
        ctx.note("robustness study skipped: it tests the ba_ws model, so add ba_ws to tasks")
    ctx.metrics["pipeline_seconds"] = time.perf_counter() - t0
    if ctx.data_dir is not None:
        _user_data(cfg, ctx)
    report_netclass(cfg, ctx, results, robust, examples, mean_std)
