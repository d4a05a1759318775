"""The ``wide-thin`` recipe's ``resnet`` part: ResNet-50 <- wide ResNet-50 on a user ImageNet folder.

Zhou et al., "Go Wide, Then Narrow: Efficient Training of Deep Thin Networks", ICML 2020,
arXiv 2007.00811: "ResNet50 can outperform ResNet101" after WIN. The schedule follows the METU
CENG501 reproduction quoted in ``../shared/papers/S2-wide-thin.md`` (unverified against the paper):
wide teacher 90 epochs, SGD momentum 0.9, weight decay 1e-4, lr 0.1 with 5 warm-up epochs and x0.1
at epochs 30, 60, 80; imitation 10 epochs in total over the 4 stages (MSE per stage, SGD, no weight
decay, cosine lr), 50 epochs of logit KD, then the labels, 90 student epochs in all (= the
scratch baseline's 90). Imitation points are the 4 ResNet stages (`ResNetView`); the maps of
stage k fold exactly into stage k+1's first conv and projection shortcut, the last one into the
wide teacher's head (`WinStudent.merge`).

Every stage is `train_loop` (resumable mid-stage) over a DataLoader prepared by
``ctx.accelerator`` (DDP under ``accelerate launch``/``torchrun``; the batch size is global) whose
batch sampler is a pure function of the step (`StepBatches`), as is each image's augmentation.

Deviation: the reproduction widens only the 3x3 convolutions 4x; we widen whole stages
(``rn_widen`` x every stage width, default 2, about 4x the parameters) and bridge widths with the
imitation maps. Deviation: images are resized to a square ``rn_image_size`` and augmented by
pad-crop-flip (`paperzoo.data.vision.random_crop_flip`, pad = size / 8), not RandomResizedCrop;
validation uses the same square resize, no 256 -> 224 centre crop. So absolute top-1 is below
the usual recipe's; the WIN / scratch / KD comparison is at equal cost and data.
Deviation (ours): after each imitation stage the thin net's BN statistics are recomputed over
``rn_bn_batches`` training batches (forward only, `recalibrate_bn`), so the per-stage diagnostics and
the merged net do not use statistics that lag behind the stage's short training.
"""

# ruff: noqa: B023  (stage closures are called only inside their own loop iteration)
from __future__ import annotations

import contextlib
import copy
import math
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from ..data.vision import ImageFolderDataset, random_crop_flip
from ..engine import unwrap
from ..errors import ConfigError, DataError
from .imitation import WinStudent, block_outputs, view_of
from .losses import LogitDistillation
from .model import ResNetSpec, build, widen, widths_of

__all__ = ["StepBatches", "AugmentedImages", "load_image_folders", "recalibrate_bn", "init_maps_lstsq", "resnet_study",
           "step_lr", "cosine_lr"]

IMAGENET_LAYOUT = "an ImageNet-layout folder: train/<class>/*.JPEG and val/<class>/*.JPEG"


class StepBatches(Sampler):
    """Batches of steps ``start..steps-1``: step t is slice ``t mod E`` of epoch ``t // E``'s permutation
    (seeded by ``salt`` and the epoch), so any step's batch is a pure function of t. Yields ``(t, i)`` keys."""

    def __init__(self, n: int, batch_size: int, start: int, steps: int, salt: int):
        self.n, self.batch_size, self.start, self.steps, self.salt = n, batch_size, start, steps, salt
        self.drop_last = True
        self.per_epoch = max(1, n // batch_size)

    def __len__(self) -> int:
        return max(0, self.steps - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, perm = -1, None
        for t in range(self.start, self.steps):
            e, j = divmod(t, self.per_epoch)
            if e != epoch:
                epoch, perm = e, torch.randperm(self.n, generator=torch.Generator().manual_seed(self.salt * 100_003 + e))
            yield [(t, int(i)) for i in perm[j * self.batch_size:(j + 1) * self.batch_size]]


class AugmentedImages(Dataset):
    """Item ``(t, i)``: image i of ``folder`` with a pad-crop-flip drawn from a generator seeded by (t, i)."""

    def __init__(self, folder: ImageFolderDataset, pad: int, salt: int = 0):
        self.folder, self.pad, self.salt = folder, pad, salt

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, key: tuple[int, int]):
        t, i = key
        x, y = self.folder[i]
        g = torch.Generator().manual_seed((self.salt * 1_000_003 + t) * 65_537 + i)
        return random_crop_flip(self.pad, generator=g)(x), y


def load_image_folders(root: Path, size: int) -> tuple[ImageFolderDataset, ImageFolderDataset]:
    """``root/train`` and ``root/val`` as ImageFolders with the same classes, or a one-line `DataError`."""
    for split in ("train", "val"):
        if not (root / split).is_dir():
            raise DataError(f"--data-dir {root} has no {split}/ folder; it should hold {IMAGENET_LAYOUT}")
    tr, va = ImageFolderDataset(root / "train", size=size), ImageFolderDataset(root / "val", size=size)
    if tr.classes != va.classes:
        raise DataError(f"{root}/train has {len(tr.classes)} classes and {root}/val {len(va.classes)} "
                        "(or other names); both need the same class folders")
    return tr, va


def step_lr(steps: int, warmup: float = 5 / 90, milestones: tuple[float, ...] = (30 / 90, 60 / 90, 80 / 90)
            ) -> Callable[[int], float]:
    """The reproduction's teacher schedule as fractions of the run: linear warm-up, then x0.1 at each milestone."""
    w = max(1, round(warmup * steps))
    bounds = [round(m * steps) for m in milestones]
    return lambda t: min(1.0, (t + 1) / w) * 0.1 ** sum(t >= b for b in bounds)


def cosine_lr(steps: int, offset: int = 0) -> Callable[[int], float]:
    """Cosine from 1 to 0 over ``steps`` steps starting at step ``offset``."""
    return lambda t: 0.5 * (1 + math.cos(math.pi * (t - offset) / max(1, steps)))


@contextlib.contextmanager
def _eval(*modules):
    was = [m.training for m in modules]
    for m in modules:
        m.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, w in zip(modules, was):
            m.train(w)


def _ieee_fp32():
    """cuDNN convolutions in full float32 while the merge is checked: CUDA's default TF32 convolutions round
    their inputs to 10 mantissa bits (~1e-3 relative), which would hide whether the merge is exact."""
    c = torch.backends.cudnn
    return c.flags(enabled=c.enabled, benchmark=c.benchmark, deterministic=c.deterministic, allow_tf32=False)


@torch.no_grad()
def recalibrate_bn(module: torch.nn.Module, forward: Callable[[torch.Tensor], object], batches) -> int:
    """Recompute every BatchNorm's running statistics as the plain average over ``batches`` (train mode,
    no updates; as ``torch.optim.swa_utils.update_bn``). Returns the number of batches used.

    Deviation (ours; the paper does not discuss BN): after a short imitation stage the thin blocks' running
    statistics lag far behind their weights, so the held-out imitation error, the hybrid accuracy and the
    merged network are judged with stale statistics; a forward-only pass fixes that without any update.
    """
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    moms, was, n = [m.momentum for m in bns], module.training, 0
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    module.train()
    for x, _ in batches:
        forward(x)
        n += 1
    for m, mo in zip(bns, moms):
        m.momentum = mo
    module.train(was)
    return n


@torch.no_grad()
def init_maps_lstsq(student: WinStudent, wide_view, stage: int, batches, acc=None, teacher_forced: bool = False) -> int:
    """Closed-form start of imitation stage k for feature maps: ``C_{k-1} = pinv(A_{k-1})`` (block k reads
    exactly what the thin net would), then ``A_k`` = least-squares map from the thin block-k output to the wide
    one, channels as features and every pixel of every image as a sample (normal equations summed over
    ``batches`` and, with ``acc``, over processes). Returns the number of batches used.

    Deviation (ours; the paper does not say how a stage starts): the ResNet analogue of the MLP's
    `init_stage_lstsq` without its unit selection. Without it, a few hundred SGD steps per stage left the
    held-out imitation error above that of predicting each wide channel's mean (digits ImageFolder run).
    """
    pair = student.pairs[stage]
    if stage > 0 and student.pairs[stage - 1].down is not None:
        prev = student.pairs[stage - 1]
        prev.down.weight.copy_(torch.linalg.pinv(prev.up.weight.double()).to(prev.down.weight.dtype))
    w, W = pair.up.weight.shape[1], pair.up.weight.shape[0]
    dev = pair.up.weight.device
    hth = torch.zeros(w, w, dtype=torch.float64, device=dev)
    hty = torch.zeros(w, W, dtype=torch.float64, device=dev)
    n = 0
    for x, _ in batches:
        ys = block_outputs(wide_view, x, upto=stage)
        tin = ys[stage - 1] if teacher_forced and stage > 0 else None
        h = student.thin_output(x, stage, tin).transpose(0, 1).flatten(1).double()  # (w, pixels)
        y = ys[stage].transpose(0, 1).flatten(1).double()  # (W, pixels)
        hth += h @ h.t()
        hty += h @ y.t()
        n += 1
    if acc is not None and acc.num_processes > 1:
        hth, hty = acc.reduce(hth, reduction="sum"), acc.reduce(hty, reduction="sum")
    ridge = 1e-6 * hth.diagonal().mean().clamp_min(1e-12) * torch.eye(w, dtype=torch.float64, device=dev)
    A = torch.linalg.solve(hth + ridge, hty)  # (w, W): y ~ A^T h
    pair.up.weight.copy_(A.t().to(pair.up.weight.dtype))
    return n


def resnet_study(cfg, ctx) -> dict:
    """WIN vs scratch vs logit KD on a ResNet (default ResNet-50) from an ImageFolder, one run per seed."""
    from .recipe import train_loop

    acc = ctx.accelerator
    if cfg.rn_seeds < 1 or cfg.rn_widen < 1:
        raise ConfigError(f"need rn_seeds >= 1 and rn_widen >= 1, got {cfg.rn_seeds} and {cfg.rn_widen}")
    root = ctx.require_data_dir(IMAGENET_LAYOUT)
    train_set, val_set = load_image_folders(root, cfg.rn_image_size)
    n, C = len(train_set), len(train_set.classes)
    B = min(cfg.rn_batch, n - n % acc.num_processes)
    if B < acc.num_processes:
        raise DataError(f"{root}/train has {n} images, fewer than the {acc.num_processes} processes")
    spe = max(1, n // B)  # steps per epoch

    def steps(epochs: float) -> int:
        return max(1, round(epochs * spe))

    thin_spec = ResNetSpec(block=cfg.rn_block, layers=tuple(cfg.rn_layers), widths=tuple(cfg.rn_widths),
                           stem=cfg.rn_stem, num_classes=C)
    wide_spec = widen(thin_spec, cfg.rn_widen)
    L = len(thin_spec.layers)
    n_student, n_teacher = steps(cfg.rn_epochs), steps(cfg.rn_teacher_epochs)
    n_imit = max(1, steps(cfg.rn_imitation_epochs) // L)
    n_ft = n_student - L * n_imit
    n_kd = min(n_ft, steps(cfg.rn_kd_epochs))
    if n_ft < 1:
        raise ConfigError(f"rn_epochs={cfg.rn_epochs} leaves no fine-tuning after {L} x {n_imit} imitation steps; "
                          "raise rn_epochs or lower rn_imitation_epochs")
    cuda = acc.device.type == "cuda"
    images = AugmentedImages(train_set, max(1, cfg.rn_image_size // 8))
    val_loader = acc.prepare(DataLoader(val_set, batch_size=cfg.rn_eval_batch, num_workers=cfg.rn_workers,
                                        pin_memory=cuda))
    kd = LogitDistillation(cfg.kd_temperature, cfg.kd_alpha)

    def data(salt: int, n_steps: int) -> Callable[[int], DataLoader]:
        def at(start: int) -> DataLoader:
            sampler = StepBatches(n, B, start, n_steps, salt)
            return acc.prepare(DataLoader(images, batch_sampler=sampler, num_workers=cfg.rn_workers, pin_memory=cuda))
        return at

    def top1(fn: Callable[[torch.Tensor], torch.Tensor], *modules) -> float:
        right = total = 0
        with _eval(*modules):
            for x, y in val_loader:
                hit = acc.gather_for_metrics(fn(x).argmax(-1) == y)
                right, total = right + int(hit.sum()), total + hit.numel()
        return 100.0 * right / max(1, total)

    def sgd(model, wd: float):
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=cfg.rn_lr, momentum=cfg.rn_momentum, weight_decay=wd)
        model, opt = acc.prepare(model, opt)
        return model, opt, params

    def stage(name, model, n_steps, loss_at, lr_at, salt, wd=cfg.rn_weight_decay):
        model.train()
        mp, opt, params = sgd(model, wd=wd)
        train_loop(ctx, name, mp, params, n_steps, lambda t, b: loss_at(mp, *b, t), cfg.rn_lr, optimizer=opt,
                   lr_at=lr_at, data=data(salt, n_steps), replicated=True, checkpoint_every=cfg.checkpoint_every)
        model = unwrap(mp)
        _sync_buffers(acc, model)
        acc.free_memory()  # drop the accelerator's references to this stage's wrapper and optimizer state
        return model

    seeds = list(range(ctx.seed, ctx.seed + cfg.rn_seeds))
    out: dict = {k: [] for k in ("acc_teacher", "acc_scratch", "acc_kd", "acc_after_imitation", "acc_win",
                                 "acc_hybrid", "imit_rel", "merge_error")}
    for s in seeds:
        tag = f"rn-s{s}"
        # -- stage 1: wide learning (teacher cost counted separately) ----------------------------------
        torch.manual_seed(s * 7919 + 1)
        wide = stage(f"{tag}-teacher", build(wide_spec), n_teacher,
                     lambda m, x, y, t: F.cross_entropy(m(x), y), step_lr(n_teacher), salt=s * 10 + 1)
        wide.requires_grad_(False).eval()
        wv = view_of(wide)
        out["acc_teacher"].append(top1(wide, wide))
        torch.manual_seed(s * 7919 + 2)
        thin_init = build(thin_spec)  # same start for every method (paired)

        def teacher_logits(x):
            with torch.no_grad():
                return wide(x)

        # -- baselines: scratch (the standard schedule) and logit KD (cosine), same student updates -------
        scratch = stage(f"{tag}-scratch", copy.deepcopy(thin_init), n_student,
                        lambda m, x, y, t: F.cross_entropy(m(x), y), step_lr(n_student), salt=s * 10 + 2)
        out["acc_scratch"].append(top1(scratch, scratch))
        kdnet = stage(f"{tag}-kd", copy.deepcopy(thin_init), n_student,
                      lambda m, x, y, t: kd(m(x), teacher_logits(x), y), cosine_lr(n_student), salt=s * 10 + 2)
        out["acc_kd"].append(top1(kdnet, kdnet))

        # -- stage 2: layerwise imitation of the 4 stages, bottom to top ------------------------------------
        win = WinStudent(copy.deepcopy(thin_init), list(widths_of(wide_spec)),
                         wide_head=wide.fc if cfg.head_from_teacher else None).to(acc.device)
        teacher_forced = cfg.schedule == "teacher"
        hyb, rel = [], []
        for k in range(L):
            if cfg.imitation_init == "lstsq" and ctx.resume_from(f"{tag}-imitate{k:02d}") is None:
                win.train()
                init_maps_lstsq(win, wv, k, data(s * 10 + 300 + k, cfg.rn_lstsq_batches)(0), acc, teacher_forced)
            win.set_stage(k, cfg.freeze_lower, teacher_forced)

            def imitate(m, x, y, t, k=k):
                ys = block_outputs(wv, x, upto=k)
                tin = ys[k - 1] if teacher_forced and k > 0 else None
                sk = ys[k].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-2) if cfg.imitation_norm else 1.0
                return F.mse_loss(m(x, tin, stage=k) / sk, ys[k] / sk)

            stage(f"{tag}-imitate{k:02d}", win, n_imit, imitate, cosine_lr(n_imit), salt=s * 10 + 100 + k, wd=0.0)
            if cfg.rn_bn_batches:
                recalibrate_bn(win, lambda x, k=k: win(x, stage=k), data(s * 10 + 200 + k, cfg.rn_bn_batches)(0))
                _sync_buffers(acc, win)

            def hybrid(x, k=k):  # thin stages 0..k (through A_k), then the wide teacher's upper stages
                h = win(x, stage=k)
                for j in range(k + 1, L):
                    h = wv.block(j, h)
                return wv.head(h)

            hyb.append(top1(hybrid, win))
            err = tot = 0.0
            with _eval(win):
                for x, _ in val_loader:
                    yk = block_outputs(wv, x, upto=k)[k]
                    e, y2 = acc.gather_for_metrics((((win(x, stage=k) - yk) ** 2).flatten(1).sum(1),
                                                    (yk ** 2).flatten(1).sum(1)))  # per image: no duplicates
                    err, tot = err + float(e.sum()), tot + float(y2.sum())
            rel.append(err / max(tot, 1e-12))
        win.requires_grad_(True)
        out["acc_hybrid"].append(hyb)
        out["imit_rel"].append(rel)

        # -- merge: S-bar -> S exactly (BN in eval mode: running statistics) ---------------------------
        thin = win.merge()
        with _eval(win, thin), _ieee_fp32():
            x = next(iter(val_loader))[0]
            ref = win(x)
            out["merge_error"].append(float((thin(x) - ref).abs().max() / ref.abs().max().clamp_min(1e-12)))
        out["acc_after_imitation"].append(top1(thin, thin))

        # -- stage 3: fine-tuning: logit KD (cosine), then labels (cosine) ----------------------------------
        def finetune(m, x, y, t):
            return kd(m(x), teacher_logits(x), y) if t < n_kd else F.cross_entropy(m(x), y)

        kd_lr, ce_lr = cosine_lr(n_kd), cosine_lr(n_ft - n_kd, offset=n_kd)
        thin = stage(f"{tag}-finetune", thin, n_ft, finetune, lambda t: kd_lr(t) if t < n_kd else ce_lr(t),
                     salt=s * 10 + 3)
        out["acc_win"].append(top1(thin, thin))
        if ctx.is_main and cfg.rn_save_weights:
            from ..engine import save_weights
            save_weights(thin, ctx.out / f"resnet_win_seed{s}.safetensors")
    out.update(seeds=seeds, n_classes=C, n_train=n, n_val=len(val_set), batch=B, steps_per_epoch=spe,
               student_steps=n_student, teacher_steps=n_teacher, imitation_steps=n_imit, kd_steps=n_kd,
               finetune_steps=n_ft, wide_widths=list(wide_spec.widths), thin_params=sum(p.numel() for p in thin.parameters()),
               wide_params=sum(p.numel() for p in wide.parameters()), default_resnet50=thin_spec == ResNetSpec(num_classes=C))
    return out


def _sync_buffers(acc, model: torch.nn.Module) -> None:
    """Rank 0's buffers everywhere: DDP syncs BN statistics only at each forward's start (and rank 0's are saved)."""
    if acc.num_processes > 1:
        for buf in model.buffers():
            torch.distributed.broadcast(buf.data, src=0)
