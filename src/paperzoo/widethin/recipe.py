"""Recipe ``wide-thin`` (S2): Zhou et al., "Go Wide, Then Narrow: Efficient Training of Deep Thin
Networks", ICML 2020, arXiv 2007.00811.

WIN's three stages (abstract), each a visible loop below:
  1. wide learning: train the wide twin B = widen(S) (same depth);
  2. narrow learning: thin block k imitates B's block-k output through ``A_k`` (MSE), k = 0..L-1
     bottom to top (`WinStudent`), each stage started in closed form (`init_stage_lstsq`; Deviation:
     ours, the paper does not say how a stage starts), then the linear pairs are merged into S (exact);
  3. fine-tuning: logit distillation from B, then the labels (the ImageNet reproduction's order:
     KD epochs, then label epochs; ``kd_frac`` of the fine-tuning steps use KD).
Baselines in the same code and with the same number of student updates: S from scratch (labels)
and S with logit KD only (Hinton et al. 2015). The teacher's cost is counted separately, as in
the paper.

Quick preset: a 16 x 12 plain ReLU MLP on scikit-learn digits, >= 10 seeds trained in lockstep
(`SeedEnsemble`), and a thin character Transformer LM on CPython's pydoc text (`lm.py`).
Full preset (``--data-dir`` required): part ``resnet``, ResNet-50 <- wide ResNet-50 on an
ImageNet-layout folder (`resnet.py`, run under ``ctx.accelerator``: DDP with ``accelerate launch``);
``--set parts=bert`` instead trains a BERT-style masked-LM encoder on a folder of .txt files
(`bert.py`). Parts: ``mlp``, ``lm`` (embedded data), ``resnet``, ``bert`` (user data).
"""

# ruff: noqa: B023  (stage closures are called only inside their own loop iteration)
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch
import torch.nn.functional as F

from ..engine import load_checkpoint, save_checkpoint, wait_for_everyone
from ..errors import ConfigError
from ..registry import register_recipe
from .ensemble import SeedEnsemble
from .imitation import WinStudent, block_outputs, init_stage_lstsq, view_of
from .losses import LogitDistillation
from .model import MLPConfig, build, widen, widths_of

__all__ = ["WideThinConfig", "train_loop", "run"]


@dataclass
class WideThinConfig:
    """Defaults: our reading of the paper's procedure at digits scale (see the module docstring)."""

    parts: str = "mlp,lm"
    seeds: int = 10
    # deep thin MLP on digits
    mlp_depth: int = 16
    mlp_width: int = 12
    widen_factor: float = 8.0  # "sufficiently widen": 12 -> 96
    batch_size: int = 64
    lr: float = 1e-3
    teacher_steps: int = 1500
    student_steps: int = 1500  # student updates of every method (WIN: imitation + fine-tuning)
    imitation_steps: int = 20  # per block
    imitation_lr: float = 3e-3
    imitation_init: str = "lstsq"  # closed-form stage start (`init_stage_lstsq`) or "none" (random pairs)
    imitation_norm: bool = False  # True: MSE on per-feature standardised errors (MobileBERT-like)
    kd_frac: float = 0.6  # share of WIN's fine-tuning steps with logit KD (then labels)
    kd_temperature: float = 4.0
    kd_alpha: float = 0.9
    schedule: str = "progressive"  # or "teacher" (teacher-forced inputs)
    freeze_lower: bool = False
    head_from_teacher: bool = True
    eval_every: int = 100
    # thin Transformer character LM (pydoc)
    lm_seeds: int = 3
    lm_layers: int = 8
    lm_d_model: int = 32
    lm_heads: int = 2
    lm_norm: str = "post"  # BERT's
    lm_widen: float = 4.0
    lm_seq_len: int = 64
    lm_batch: int = 32
    lm_lr: float = 1e-3
    lm_teacher_steps: int = 600
    lm_student_steps: int = 600
    lm_imitation_steps: int = 25
    lm_imitation_lr: float = 3e-3
    lm_eval_batches: int = 8
    checkpoint_every: int = 0  # also checkpoint every N steps inside a stage (0: stage ends only)
    # part "resnet": ResNet-50 <- wide ResNet-50 on --data-dir (train/, val/ ImageFolders); `resnet.py`
    rn_block: str = "bottleneck"
    rn_layers: tuple[int, ...] = (3, 4, 6, 3)  # ResNet-50 (He et al. Table 1)
    rn_widths: tuple[int, ...] = (64, 128, 256, 512)
    rn_stem: str = "imagenet"
    rn_widen: float = 2.0  # every stage's width x 2 (Deviation: the reproduction widens the 3x3 convs x 4)
    rn_image_size: int = 224
    rn_batch: int = 256  # global batch (split over processes)
    rn_lr: float = 0.1  # SGD, momentum 0.9
    rn_momentum: float = 0.9
    rn_weight_decay: float = 1e-4
    rn_teacher_epochs: float = 90.0
    rn_epochs: float = 90.0  # student epochs of every method (WIN: imitation + KD + labels)
    rn_imitation_epochs: float = 10.0  # in total, split over the stages
    rn_kd_epochs: float = 50.0  # WIN's fine-tuning: KD epochs, then labels for the rest
    rn_seeds: int = 1
    rn_workers: int = 8
    rn_eval_batch: int = 256
    rn_lstsq_batches: int = 20  # imitation_init="lstsq": batches for the closed-form A_k of each stage
    rn_bn_batches: int = 50  # after each imitation stage: BN statistics recomputed over N train batches (0: off)
    rn_save_weights: bool = True  # DIR/resnet_win_seed<s>.safetensors (the merged thin ResNet)
    # part "bert": BERT-style masked-LM encoder on --data-dir (a folder of .txt files, bytes); `bert.py`
    bert_layers: int = 12
    bert_d_model: int = 768
    bert_heads: int = 12
    bert_widen: float = 2.0
    bert_seq_len: int = 128
    bert_batch: int = 256
    bert_lr: float = 1e-4
    bert_dropout: float = 0.1
    bert_mask_prob: float = 0.15
    bert_teacher_steps: int = 100_000
    bert_student_steps: int = 100_000
    bert_imitation_steps: int = 2_000  # per layer
    bert_imitation_lr: float = 1e-4
    bert_val_frac: float = 0.05
    bert_eval_batches: int = 50
    bert_seeds: int = 1


def train_loop(ctx, name: str, module: torch.nn.Module, params: list[torch.nn.Parameter], steps: int,
               loss_at: Callable[..., torch.Tensor], lr: float, *, evaluate: Callable[[], list[float]] | None = None,
               eval_every: int = 0, checkpoint_every: int = 0, optimizer: torch.optim.Optimizer | None = None,
               lr_at: Callable[[int], float] | None = None, data: Callable[[int], Iterable] | None = None,
               replicated: bool = False) -> tuple[list, float]:
    """One stage: ``steps`` updates of ``loss_at(t)`` (batch t is a pure function of t, so a stage resumed from
    ``ctx.resume_from(name)`` continues bit for bit). Checkpoints the stage at its end and every
    ``checkpoint_every`` steps. Returns (eval curve, last loss).

    Args:
        optimizer: an optimizer over ``params`` (e.g. SGD already passed through ``ctx.accelerator.prepare``).
            Defaults to None (Adam at ``lr``).
        lr_at: learning-rate multiplier of step t (a pure function of t, so resuming needs no scheduler state).
        data: ``data(start)`` -> an iterable of the batches of steps ``start, start + 1, ...`` (e.g. a prepared
            DataLoader over a step-indexed batch sampler); then ``loss_at(t, batch)`` is called.
        replicated: the module is the same on every process (DDP): only the main process writes checkpoints.
    """
    opt = optimizer if optimizer is not None else torch.optim.Adam(params, lr=lr)
    base_lr = [g["lr"] for g in opt.param_groups]
    start, curve, last = 0, [], float("nan")
    ck = ctx.resume_from(name)
    if ck is not None:
        st = load_checkpoint(ck, model=module, optimizer=opt)
        start, curve, last = st["step"], st["extra"].get("curve", []), st["extra"].get("loss", last)
        for g, b in zip(opt.param_groups, base_lr):
            g["lr"] = b

    def save(step: int) -> None:
        if not replicated or ctx.is_main:
            save_checkpoint(ctx.checkpoint_dir(name), model=module, optimizer=opt, step=step,
                            extra={"curve": curve, "loss": last})
        if replicated:
            wait_for_everyone(ctx.accelerator)

    batches = iter(data(start)) if data is not None and start < steps else None
    for t in ctx.progress(range(start, steps), desc=name, total=steps - start):
        if lr_at is not None:
            for g, b in zip(opt.param_groups, base_lr):
                g["lr"] = b * lr_at(t)
        loss = loss_at(t) if batches is None else loss_at(t, next(batches))
        opt.zero_grad(set_to_none=True)
        ctx.accelerator.backward(loss)
        opt.step()
        last = float(loss.detach())
        if evaluate is not None and eval_every and (t + 1) % eval_every == 0:
            curve.append([t + 1, evaluate()])
        if checkpoint_every and (t + 1) % checkpoint_every == 0 and t + 1 < steps:
            save(t + 1)
    if start < steps or ck is None:
        save(steps)
    return curve, last


def _batches(n: int, S: int, B: int, salt: int) -> Callable[[int], torch.Tensor]:
    """Indices (S, B) for step t: a pure function of (salt, t)."""
    def at(t: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(salt * 1_000_003 + t)
        return torch.randint(0, n, (S, B), generator=g)
    return at


def _acc(logits: torch.Tensor, y: torch.Tensor) -> list[float]:
    """Per-member accuracy: logits (S, N, C), y (N,)."""
    return (logits.argmax(-1) == y).float().mean(1).tolist()


def mlp_study(cfg: WideThinConfig, ctx) -> dict:
    """WIN vs scratch vs logit KD on a deep thin MLP (digits), all seeds in lockstep."""
    from ..data import load_digits

    tr, te = load_digits("train"), load_digits("test")
    X, Y = tr.images.flatten(1), tr.labels
    Xt, Yt = te.images.flatten(1), te.labels
    acc = ctx.accelerator
    seeds = list(range(ctx.seed, ctx.seed + cfg.seeds))[acc.process_index::acc.num_processes]
    S, N, B, L = len(seeds), len(Y), cfg.batch_size, cfg.mlp_depth
    tag = f"d{L}" + (f"-r{acc.process_index}" if acc.num_processes > 1 else "")
    thin_spec = MLPConfig(width=cfg.mlp_width, depth=L)
    wide_spec = widen(thin_spec, cfg.widen_factor)
    Xs, Xts = X.expand(S, -1, -1), Xt.expand(S, -1, -1)

    def init(spec, s, salt):
        torch.manual_seed(s * 7919 + salt)
        return build(spec)

    # -- stage 1: wide learning (teacher cost counted separately) ------------------------------
    teacher = SeedEnsemble([init(wide_spec, s, 1) for s in seeds])
    bt = _batches(N, S, B, 1)
    train_loop(ctx, f"mlp-{tag}-teacher", teacher, list(teacher.parameters()), cfg.teacher_steps,
               lambda t: F.cross_entropy(teacher(X[bt(t)]).flatten(0, 1), Y[bt(t)].flatten()) * S, cfg.lr,
               checkpoint_every=cfg.checkpoint_every)
    teacher.requires_grad_(False)
    with torch.no_grad():
        t_logits, acc_teacher = teacher(Xs), _acc(teacher(Xts), Yt)
    wides = [teacher.member(i, build(wide_spec)) for i in range(S)]
    with torch.no_grad():
        targets = [torch.stack(ys) for ys in zip(*[block_outputs(view_of(w), X) for w in wides])]  # L x (S, N, W)

    thin_init = [init(thin_spec, s, 2) for s in seeds]  # same start for every method (paired)
    def thin_eval(ens):
        return lambda: _acc(ens(Xts), Yt)

    steps_ft = cfg.student_steps - L * cfg.imitation_steps
    if steps_ft < 0:
        raise ConfigError(f"student_steps={cfg.student_steps} < depth x imitation_steps={L * cfg.imitation_steps}")
    kd = LogitDistillation(cfg.kd_temperature, cfg.kd_alpha)
    out: dict = {"acc_teacher": acc_teacher, "curves": {}}

    # -- baselines: scratch and logit KD, same updates ----------------------------------------------
    for method in ("scratch", "kd"):
        ens = SeedEnsemble(thin_init)
        b = _batches(N, S, B, 2)
        if method == "scratch":
            loss_at = lambda t: F.cross_entropy(ens(X[b(t)]).flatten(0, 1), Y[b(t)].flatten()) * S  # noqa: E731
        else:
            def loss_at(t):
                i = b(t)
                return kd(ens(X[i]), torch.gather(t_logits, 1, i[..., None].expand(-1, -1, 10)), Y[i]) * S
        curve, _ = train_loop(ctx, f"mlp-{tag}-{method}", ens, list(ens.parameters()), cfg.student_steps, loss_at,
                              cfg.lr, evaluate=thin_eval(ens), eval_every=cfg.eval_every,
                              checkpoint_every=cfg.checkpoint_every)
        with torch.no_grad():
            out[f"acc_{method}"] = _acc(ens(Xts), Yt)
        out["curves"][method] = curve

    # -- stage 2: layerwise imitation, bottom to top ---------------------------------------------------
    tmpl = WinStudent(build(thin_spec), list(widths_of(wide_spec)),
                      wide_head=wides[0].head if cfg.head_from_teacher else None)
    members = []
    for i in range(S):
        m = WinStudent(thin_init[i], list(widths_of(wide_spec)), wide_head=wides[i].head if cfg.head_from_teacher else None)
        members.append(m)
    win = SeedEnsemble(members)
    names = {id(p): n for n, p in tmpl.named_parameters()}
    teacher_forced = cfg.schedule == "teacher"
    if cfg.schedule not in ("progressive", "teacher"):
        raise ConfigError(f"schedule must be 'progressive' or 'teacher', got {cfg.schedule!r}")
    if cfg.imitation_init not in ("lstsq", "none"):
        raise ConfigError(f"imitation_init must be 'lstsq' or 'none', got {cfg.imitation_init!r}")
    win_curve, imit_loss, imit_rel, hybrid = [], [], [], []
    for k in range(L):
        params = win.select([names[id(p)] for p in tmpl.stage_modules(k, cfg.freeze_lower, teacher_forced)])
        b = _batches(N, S, B, 100 + k)
        yk = targets[k]
        if cfg.imitation_init == "lstsq":  # closed-form start of the stage, per seed (overwritten on resume)
            for i in range(S):
                m = win.member(i, tmpl)
                init_stage_lstsq(m, wides[i], k, X, yk[i], targets[k - 1][i] if teacher_forced and k > 0 else None)
                win.load_member(i, m)
        sk = yk.std(dim=1, keepdim=True).clamp_min(1e-2) if cfg.imitation_norm else torch.ones_like(yk[:, :1])  # (S, 1, W)

        def loss_at(t, k=k, b=b, yk=yk):
            i = b(t)
            tin = torch.gather(targets[k - 1], 1, i[..., None].expand(-1, -1, targets[k - 1].size(-1))) \
                if teacher_forced and k > 0 else None
            pred = win(X[i], stage=k) if tin is None else win(X[i], tin, stage=k)
            return F.mse_loss(pred / sk, torch.gather(yk, 1, i[..., None].expand(-1, -1, yk.size(-1))) / sk) * S

        _, last = train_loop(ctx, f"mlp-{tag}-imitate{k:02d}", win, params, cfg.imitation_steps, loss_at, cfg.imitation_lr,
                             checkpoint_every=cfg.checkpoint_every)
        with torch.no_grad():  # held-out imitation error and the hybrid net (thin 0..k -> wide k+1..)
            pred = win(Xts, stage=k)
            mse = ((pred - _wide_blocks(wides, Xt, k)) ** 2).mean(dim=(1, 2))
            rel = mse / _wide_blocks(wides, Xt, k).pow(2).mean(dim=(1, 2))
            logits = torch.stack([_wide_tail(wides[i], k, pred[i]) for i in range(S)])
        imit_loss.append(mse.tolist())
        imit_rel.append(rel.tolist())
        hybrid.append(_acc(logits, Yt))
        win_curve.append([(k + 1) * cfg.imitation_steps, hybrid[-1]])
    win.requires_grad_(True)

    # -- merge: S-bar -> S exactly ----------------------------------------------------------------------
    merged, merr = [], []
    for i in range(S):
        sbar = win.member(i, tmpl)
        thin = sbar.merge()
        with torch.no_grad():
            ref = sbar(Xt)  # relative error: max |diff| / max |logit|, float32
            merr.append(float((thin(Xt) - ref).abs().max() / ref.abs().max().clamp_min(1e-12)))
        merged.append(thin)
    ens = SeedEnsemble(merged)
    with torch.no_grad():
        out["acc_after_imitation"] = _acc(ens(Xts), Yt)

    # -- stage 3: fine-tuning: logit KD, then labels --------------------------------------------------
    n_kd = int(round(cfg.kd_frac * steps_ft))
    b = _batches(N, S, B, 3)

    def ft_loss(t):
        i = b(t)
        if t < n_kd:
            return kd(ens(X[i]), torch.gather(t_logits, 1, i[..., None].expand(-1, -1, 10)), Y[i]) * S
        return F.cross_entropy(ens(X[i]).flatten(0, 1), Y[i].flatten()) * S

    curve, _ = train_loop(ctx, f"mlp-{tag}-finetune", ens, list(ens.parameters()), steps_ft, ft_loss, cfg.lr,
                          evaluate=thin_eval(ens), eval_every=cfg.eval_every, checkpoint_every=cfg.checkpoint_every)
    off = L * cfg.imitation_steps
    out["curves"]["win"] = win_curve + [[s + off, a] for s, a in curve]
    with torch.no_grad():
        out["acc_win"] = _acc(ens(Xts), Yt)
    out.update(imit_mse=imit_loss, imit_rel=imit_rel, acc_hybrid=hybrid, merge_error=merr, seeds=seeds)
    return _gather(ctx, out)


def _wide_blocks(wides, x, k):
    with torch.no_grad():
        return torch.stack([block_outputs(view_of(w), x, upto=k)[-1] for w in wides])


def _wide_tail(wide, k, h):
    v = view_of(wide)
    for j in range(k + 1, v.n_blocks):
        h = v.block(j, h)
    return v.head(h)


def _gather(ctx, out: dict) -> dict:
    """Concatenate per-rank seed lists (multi-process: each rank trains its share of the seeds)."""
    acc = ctx.accelerator
    if acc.num_processes == 1:
        return out
    from accelerate.utils import gather_object
    parts = gather_object([out])
    merged: dict = {}
    for k, v in parts[0].items():
        if isinstance(v, list) and v and isinstance(v[0], list):  # per-stage lists of per-seed values
            merged[k] = [sum((p[k][j] for p in parts), []) for j in range(len(v))]
        elif isinstance(v, list):
            merged[k] = sum((p[k] for p in parts), [])
        else:
            merged[k] = v
    return merged


@register_recipe("wide-thin", config=WideThinConfig, presets={
    "quick": dict(teacher_steps=450, student_steps=750, widen_factor=6.0, freeze_lower=True, lm_seeds=2, lm_layers=6,
                  lm_d_model=24, lm_seq_len=32, lm_batch=16, lm_teacher_steps=200, lm_student_steps=200,
                  lm_imitation_steps=10),
    "full": dict(parts="resnet", seeds=20, teacher_steps=6000, student_steps=6000, imitation_steps=150, mlp_depth=24,
                 lm_layers=12, lm_d_model=64, lm_heads=4, lm_teacher_steps=5000, lm_student_steps=5000,
                 lm_imitation_steps=150, lm_seeds=3),
}, needs_data_dir=())  # resnet/bert ask for --data-dir themselves; mlp,lm need none
def run(cfg: WideThinConfig, ctx) -> None:
    from . import report
    parts = {p.strip() for p in cfg.parts.split(",") if p.strip()}
    unknown = parts - {"mlp", "lm", "resnet", "bert"}
    if unknown:
        raise ConfigError(f"parts: unknown {sorted(unknown)}; choose from mlp, lm, resnet, bert")
    if {"resnet", "bert"} <= parts:
        raise ConfigError("parts: resnet and bert read different --data-dir contents (images / text); run them separately")
    if parts & {"mlp", "lm"}:
        torch.set_num_threads(1)
    if "mlp" in parts:
        report.report_mlp(cfg, ctx, mlp_study(cfg, ctx))
    if "lm" in parts:
        from .lm import lm_study
        report.report_lm(cfg, ctx, lm_study(cfg, ctx))
    if "resnet" in parts:
        from .resnet import resnet_study
        report.report_resnet(cfg, ctx, resnet_study(cfg, ctx))
    if "bert" in parts:
        from .bert import bert_study
        report.report_bert(cfg, ctx, bert_study(cfg, ctx))
