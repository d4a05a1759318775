"""Recipe ``pyramidal-ror`` (S11): Zhang, Guo, Gao, Zhao, "Pyramidal RoR for Image Classification",
Cluster Computing 2017, arXiv 1710.00307.

Trains "arms" -- Pyramidal RoR-3 (``pyramidal_ror``), the same PyramidNet without the root/middle
shortcuts and without drop-path (``pyramidnet``), and a plain ResNet (He et al. 2016, post-activation,
``paperzoo.vision.ResNet``) of the same depth whose widths are chosen to match PyramidNet's
parameter count (``resnet``) -- with one training budget, over several seeds.

Training (PyramidNet's recipe, Han et al. Sec. 4.1; the paper's own schedule is unverified): SGD with
Nesterov momentum 0.9, weight decay 1e-4, batch 128, 300 epochs, lr 0.1 (CIFAR-10, SVHN) / 0.5
(CIFAR-100) divided by 10 at 50 % and 75 % of training; SVHN (RoR's setting): 50 epochs, lr / 10
after epochs 30 and 35. ``schedule=cosine`` is offered too. AMP (bf16, or fp16 with a grad scaler)
and channels_last only on CUDA; multi-GPU through the engine's Accelerator.

quick: scikit-learn digits (8x8, embedded). It can show "no regression" and the parameter/gradient
facts, not the paper's CIFAR/SVHN accuracy gains (see the report's notes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from ..engine import load_checkpoint, save_checkpoint, unwrap, wait_for_everyone
from ..errors import ConfigError
from ..registry import register_recipe
from ..vision.backbones import ResNet
from .data import build_datasets
from .model import PyramidalRoR

ARMS = ("pyramidal_ror", "pyramidnet", "resnet")
# Paper defaults per dataset: (epochs, lr, milestones as fractions of training).
DATASET_DEFAULTS = {"cifar10": (300, 0.1, (0.5, 0.75)), "cifar100": (300, 0.5, (0.5, 0.75)),
                    "svhn": (50, 0.1, (0.6, 0.7)), "digits": (30, 0.1, (0.5, 0.75))}
PAPER = {"cifar10": 2.96, "cifar100": 16.40, "svhn": 1.59}  # test error %, abstract


@dataclass
class PyramidalRoRConfig:
    """Defaults = the paper's setting as far as known (unverified items: see docs/pyramidal.md)."""

    dataset: str = "cifar10"          # digits | cifar10 | cifar100 | svhn
    arms: tuple[str, ...] = ("pyramidal_ror",)
    depth: int = 164
    alpha: float = 270.0
    bottleneck: bool = True
    block_style: str = "pyramid"
    root_shortcut: bool = True
    stage_shortcut: bool = True
    last_block_shortcut: bool = True
    shortcut_kind: str = "projection"
    drop_path_rate: float = 0.5       # RoR+SD: survival falls linearly to 0.5
    drop_path_schedule: str = "linear"
    epochs: int = 0                   # 0: the dataset's paper default (300 CIFAR, 50 SVHN)
    lr: float = 0.0                   # 0: the dataset's paper default (0.1; 0.5 for CIFAR-100)
    batch_size: int = 128
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-4
    schedule: str = "step"            # step | cosine
    milestones: tuple[float, ...] = ()  # fractions of training; () = the dataset's default
    augment: bool = True
    svhn_extra: bool = True
    seeds: int = 1
    amp: bool = True                  # CUDA only
    channels_last: bool = True        # CUDA only
    num_workers: int = 4
    digits_size: int = 8
    grad_probe_depth: int = 0         # >0: stem-gradient probe at init for PyramidNet vs Pyramidal RoR
    grad_probe_seeds: int = 5
    checkpoint_every: int = 10        # epochs; 0: only at the end


def build_arm(arm: str, cfg: PyramidalRoRConfig, num_classes: int, in_chans: int) -> nn.Module:
    """One of `ARMS` at the config's depth/alpha; the ResNet's widths match PyramidNet's parameters."""
    body = dict(depth=cfg.depth, alpha=cfg.alpha, bottleneck=cfg.bottleneck, num_classes=num_classes,
                in_chans=in_chans, block_style=cfg.block_style)
    if arm == "pyramidal_ror":
        return PyramidalRoR(**body, root_shortcut=cfg.root_shortcut, stage_shortcut=cfg.stage_shortcut,
                            last_block_shortcut=cfg.last_block_shortcut, shortcut_kind=cfg.shortcut_kind,
                            drop_path_rate=cfg.drop_path_rate, drop_path_schedule=cfg.drop_path_schedule)
    if arm == "pyramidnet":
        return PyramidalRoR(**body)
    if arm == "resnet":
        target = _n_params(PyramidalRoR(**body))
        n = (cfg.depth - 2) // (9 if cfg.bottleneck else 6)
        best = None
        for w in range(4, 257):
            m = _resnet(cfg, n, w, num_classes, in_chans)
            gap = abs(_n_params(m) - target)
            if best is None or gap < best[0]:
                best = (gap, m)
            elif _n_params(m) > target:
                break
        return best[1]
    raise ConfigError(f"unknown arm {arm!r}; choose from {', '.join(ARMS)}")


def _resnet(cfg: PyramidalRoRConfig, n: int, w: int, num_classes: int, in_chans: int) -> ResNet:
    return ResNet("bottleneck" if cfg.bottleneck else "basic", (n, n, n), (w, 2 * w, 4 * w), stem="cifar",
                  num_classes=num_classes, in_chans=in_chans)


def _n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _evaluate(model: nn.Module, loader, ctx, autocast) -> float:
    """Test error (%) over the whole loader, gathered over processes."""
    model.eval()
    wrong = total = 0
    with torch.no_grad():
        for x, y in loader:
            with autocast():
                pred = model(x).argmax(1)
            pred, y = ctx.accelerator.gather_for_metrics((pred, y))
            wrong += int((pred != y).sum())
            total += int(y.numel())
    return 100.0 * wrong / max(total, 1)


def train_arm(arm: str, seed: int, cfg: PyramidalRoRConfig, data, ctx) -> dict:
    """Train one arm with one seed; returns params, final test error and per-epoch curves."""
    acc = ctx.accelerator
    epochs, lr0, ms = DATASET_DEFAULTS[cfg.dataset]
    epochs, lr0, ms = cfg.epochs or epochs, cfg.lr or lr0, cfg.milestones or ms
    torch.manual_seed(seed)
    model = build_arm(arm, cfg, data.num_classes, data.in_chans)
    n_params = _n_params(model)
    cuda = acc.device.type == "cuda"
    if cuda and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    # PyramidNet's train.py decays every parameter (BN included), as here.
    opt = torch.optim.SGD(model.parameters(), lr=lr0, momentum=cfg.momentum, nesterov=cfg.nesterov,
                          weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(data.train, batch_size=cfg.batch_size, shuffle=True, generator=g, drop_last=False,
                              num_workers=cfg.num_workers, pin_memory=cuda, persistent_workers=cfg.num_workers > 0)
    test_loader = DataLoader(data.test, batch_size=max(256, cfg.batch_size), num_workers=cfg.num_workers)
    steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    total = epochs * steps_per_epoch
    if cfg.schedule == "step":
        bounds = [int(f * total) for f in ms]
        lr_at = lambda t: 0.1 ** sum(t >= b for b in bounds)  # noqa: E731
    elif cfg.schedule == "cosine":
        lr_at = lambda t: 0.5 * (1 + math.cos(math.pi * t / total))  # noqa: E731
    else:
        raise ConfigError(f"schedule must be 'step' or 'cosine', got {cfg.schedule!r}")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model, opt, train_loader, test_loader = acc.prepare(model, opt, train_loader, test_loader)
    amp_dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
    use_amp = cuda and cfg.amp
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    def autocast():
        return torch.autocast("cuda", dtype=amp_dtype, enabled=use_amp) if cuda else torch.autocast("cpu", enabled=False)

    name = f"{cfg.dataset}-{arm}-seed{seed}"
    hist = {"epoch": [], "test_err": [], "train_loss": []}
    start = 0
    res = ctx.resume_from(name)
    if res is not None:
        st = load_checkpoint(res, model=unwrap(model), optimizer=opt, scheduler=sched)
        start, hist = st["step"], st["extra"].get("hist", hist)
    for epoch in ctx.progress(range(start, epochs), desc=f"{arm} seed {seed}", total=epochs, initial=start):
        model.train()
        loss_sum, seen = 0.0, 0
        for x, y in train_loader:
            if cuda and cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast():
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            acc.backward(scaler.scale(loss))
            scaler.step(opt)
            scaler.update()
            sched.step()
            loss_sum += float(loss.detach()) * len(y)
            seen += len(y)
        err = _evaluate(model, test_loader, ctx, autocast)
        hist["epoch"].append(epoch + 1)
        hist["test_err"].append(err)
        hist["train_loss"].append(loss_sum / max(seen, 1))
        ctx.log(epoch + 1, f"{name}", test_err=err, train_loss=hist["train_loss"][-1], lr=sched.get_last_lr()[0])
        last = epoch + 1 == epochs
        if ctx.is_main and (last or (cfg.checkpoint_every and (epoch + 1) % cfg.checkpoint_every == 0)):
            save_checkpoint(ctx.checkpoint_dir(name), model=unwrap(model), optimizer=opt, scheduler=sched,
                            step=epoch + 1, extra={"hist": hist, "arm": arm, "params": n_params})
        wait_for_everyone(acc)
    return {"params": n_params, "err": hist["test_err"][-1] if hist["test_err"] else float("nan"), "hist": hist}


def stem_grad_probe(cfg: PyramidalRoRConfig, data, ctx) -> dict[str, list[float]]:
    """Gradient attenuation at initialisation, PyramidNet vs Pyramidal RoR-3 of depth ``grad_probe_depth``
    with the same body weights: ||grad stem conv|| / ||grad last block's last conv|| on one training
    batch (train-mode BN, drop-path off) -- a probe of the "suppresses gradient disappearance" claim
    (abstract); a value < 1 would mean the gradient shrinks on its way to the first layer."""
    from dataclasses import replace

    pcfg = replace(cfg, depth=cfg.grad_probe_depth, drop_path_rate=0.0)
    g = torch.Generator().manual_seed(ctx.seed)
    idx = torch.randperm(len(data.train), generator=g)[:128].tolist()
    x = torch.stack([data.train[i][0] for i in idx])
    y = torch.stack([torch.as_tensor(data.train[i][1]) for i in idx])
    out: dict[str, list[float]] = {"pyramidnet": [], "pyramidal_ror": []}
    for s in range(cfg.grad_probe_seeds):
        torch.manual_seed(ctx.seed + 1000 + s)
        pn = build_arm("pyramidnet", pcfg, data.num_classes, data.in_chans)
        ror = build_arm("pyramidal_ror", pcfg, data.num_classes, data.in_chans)
        ror.load_state_dict(pn.state_dict(), strict=False)  # same body weights: only the RoR shortcuts differ
        for arm, m in (("pyramidnet", pn), ("pyramidal_ror", ror)):
            F.cross_entropy(m.train()(x), y).backward()
            last = [c for c in m.stages[-1][-1].residual if isinstance(c, nn.Conv2d)][-1]
            out[arm].append(float(m.stem[0].weight.grad.norm() / last.weight.grad.norm()))
    return out


@register_recipe("pyramidal-ror", config=PyramidalRoRConfig, presets={
    "quick": dict(dataset="digits", arms=ARMS, depth=20, alpha=16.0, bottleneck=False, epochs=10, lr=0.1,
                  batch_size=64, weight_decay=5e-4, schedule="cosine", drop_path_rate=0.1, seeds=3, num_workers=0,
                  svhn_extra=False, grad_probe_depth=56, grad_probe_seeds=5, checkpoint_every=0),
    "full": dict(arms=("pyramidal_ror", "pyramidnet")),
})
def run(cfg: PyramidalRoRConfig, ctx) -> None:
    from .report import report

    for a in cfg.arms:
        if a not in ARMS:
            raise ConfigError(f"unknown arm {a!r} in --set arms; choose from {', '.join(ARMS)}")
    if cfg.dataset != "digits":
        ctx.require_data_dir({"cifar10": "cifar-10-batches-py/", "cifar100": "cifar-100-python/",
                              "svhn": "train_32x32.mat, test_32x32.mat (extra_32x32.mat)"}.get(cfg.dataset, "the data"))
    data = build_datasets(cfg.dataset, ctx.data_dir, augment=cfg.augment, seed=ctx.seed,
                          svhn_extra=cfg.svhn_extra, digits_size=cfg.digits_size)
    results: dict[str, list[dict]] = {a: [] for a in cfg.arms}
    for i in range(cfg.seeds):
        for a in cfg.arms:
            results[a].append(train_arm(a, ctx.seed + i, cfg, data, ctx))
    probe = stem_grad_probe(cfg, data, ctx) if cfg.grad_probe_depth > 0 else None
    report(cfg, ctx, results, probe)


__all__ = ["PyramidalRoRConfig", "ARMS", "DATASET_DEFAULTS", "PAPER", "build_arm", "train_arm", "stem_grad_probe",
           "run"]
