"""The ``wide-thin`` recipe's ``bert`` part: a BERT-style encoder trained by WIN on user text.

Zhou et al., "Go Wide, Then Narrow: Efficient Training of Deep Thin Networks", ICML 2020,
arXiv 2007.00811: "BERT_BASE can be comparable with BERT_LARGE" after WIN. Here the thin student
is a `MaskedLMEncoder` (default BERT_BASE's shape, 12 x 768), its wide twin has the same depth and
``bert_widen`` x the width (d_model and FFN; heads kept), both pre-trained by masked-LM
(Devlin et al. 2019, arXiv 1810.04805, Sec. 3.1: 15 % of positions; of those 80 % -> [MASK],
10 % -> a random token, 10 % unchanged). WIN: wide learning, layer-by-layer imitation of the
wide encoder's hidden states (MSE through tied orthogonal maps, `WinStudent`; residual blocks,
so the merge is the identity), then masked-LM fine-tuning (logit KD on the masked positions for
``kd_frac`` of it, then the labels). Baseline: the thin encoder from scratch, same updates.
Metric: masked-LM loss (nats per masked token) and accuracy on a held-out split.

Data (``--data-dir``): a folder of UTF-8 (or any) ``.txt`` files, read recursively in name order
and concatenated; the last ``bert_val_frac`` of the bytes is the held-out split.
Deviation: a byte vocabulary (256 byte values + [MASK] = 257 ids) instead of BERT's 30k WordPiece,
no next-sentence prediction, no token types; no SQuAD fine-tuning (the paper's evaluation).
Under several processes the model is wrapped by ``ctx.accelerator.prepare`` (DDP) and each
process takes its slice of every global batch.
"""

# ruff: noqa: B023  (stage closures are called only inside their own loop iteration)
from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F

from ..engine import unwrap
from ..errors import ConfigError, DataError
from .imitation import WinStudent, block_outputs, view_of
from .losses import LogitDistillation
from .model import BertSpec, build, widen, widths_of

__all__ = ["MASK_ID", "VOCAB", "load_text_folder", "mask_tokens", "bert_study"]

MASK_ID, VOCAB = 256, 257
TEXT_LAYOUT = "a folder of .txt files (pre-training text, read as bytes)"


def load_text_folder(root: Path, val_frac: float, seq_len: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """All ``*.txt`` under ``root`` as byte ids: (train, held-out, number of files), or a one-line `DataError`."""
    files = sorted(p for p in Path(root).rglob("*.txt") if p.is_file())
    if not files:
        raise DataError(f"--data-dir {root} has no .txt files; it should hold {TEXT_LAYOUT}")
    data = b"\n".join(p.read_bytes() for p in files)
    ids = torch.frombuffer(bytearray(data), dtype=torch.uint8).long()
    n_val = int(len(ids) * val_frac)
    if n_val <= seq_len + 1 or len(ids) - n_val <= seq_len + 1:
        raise DataError(f"--data-dir {root}: {len(ids)} bytes of text are too few for a held-out split of "
                        f"{val_frac:g} with windows of bert_seq_len={seq_len}; add text or lower bert_seq_len")
    return ids[:-n_val], ids[-n_val:], len(files)


def mask_tokens(x: torch.Tensor, prob: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking (Devlin et al. Sec. 3.1): returns (input ids, targets with -100 where not predicted)."""
    pick = torch.rand(x.shape, generator=g) < prob
    r = torch.rand(x.shape, generator=g)
    inp = torch.where(pick & (r < 0.8), torch.full_like(x, MASK_ID), x)
    rnd = torch.randint(0, 256, x.shape, generator=g)
    inp = torch.where(pick & (r >= 0.8) & (r < 0.9), rnd, inp)
    return inp, torch.where(pick, x, torch.full_like(x, -100))


def _warmup_linear(steps: int, warmup: float = 0.01):
    """BERT's schedule: linear warm-up over ``warmup`` of the steps, then linear decay to 0."""
    w = max(1, round(warmup * steps))
    return lambda t: min((t + 1) / w, max(0.0, (steps - t) / max(1, steps - w)))


def bert_study(cfg, ctx) -> dict:
    """WIN vs scratch for a BERT-style masked-LM encoder on ``--data-dir`` text."""
    from .recipe import train_loop

    acc = ctx.accelerator
    if cfg.bert_seeds < 1 or cfg.bert_widen < 1:
        raise ConfigError(f"need bert_seeds >= 1 and bert_widen >= 1, got {cfg.bert_seeds} and {cfg.bert_widen}")
    root = ctx.require_data_dir(TEXT_LAYOUT)
    T, B, L = cfg.bert_seq_len, cfg.bert_batch, cfg.bert_layers
    train, held, n_files = load_text_folder(root, cfg.bert_val_frac, T)
    if B % acc.num_processes:
        raise ConfigError(f"bert_batch={B} must be a multiple of the {acc.num_processes} processes")
    P, rank, dev = acc.num_processes, acc.process_index, acc.device
    thin_spec = BertSpec(d_model=cfg.bert_d_model, n_heads=cfg.bert_heads, d_ff=4 * cfg.bert_d_model, n_layers=L,
                         dropout=cfg.bert_dropout, max_len=T)
    wide_spec = widen(thin_spec, cfg.bert_widen)
    steps_ft = cfg.bert_student_steps - L * cfg.bert_imitation_steps
    if steps_ft < 1:
        raise ConfigError(f"bert_student_steps={cfg.bert_student_steps} leaves no fine-tuning after {L} x "
                          f"bert_imitation_steps={cfg.bert_imitation_steps}")
    n_kd = int(round(cfg.kd_frac * steps_ft))
    kd = LogitDistillation(cfg.kd_temperature, cfg.kd_alpha)

    def batch(data: torch.Tensor, t: int, salt: int, local: bool = True):
        """Global batch t (a pure function of salt, t), this process's rows of it, on the device."""
        g = torch.Generator().manual_seed(salt * 1_000_003 + t)
        ix = torch.randint(0, len(data) - T, (B,), generator=g)
        x = torch.stack([data[i: i + T] for i in ix.tolist()])
        inp, tgt = mask_tokens(x, cfg.bert_mask_prob, g)
        if local:
            inp, tgt = inp[rank * B // P:(rank + 1) * B // P], tgt[rank * B // P:(rank + 1) * B // P]
        return inp.to(dev), tgt.to(dev)

    def evaluate(model) -> tuple[float, float]:
        """Held-out masked-LM loss (nats per masked token) and accuracy %, over fixed batches."""
        was = model.training
        model.eval()
        nll = right = count = 0.0
        with torch.no_grad():
            for j in range(cfg.bert_eval_batches):
                x, y = batch(held, j, 999, local=False)
                logits = model(x)[0]
                m = y != -100
                nll += float(F.cross_entropy(logits[m], y[m], reduction="sum"))
                right += float((logits[m].argmax(-1) == y[m]).sum())
                count += float(m.sum())
        model.train(was)
        return nll / max(count, 1), 100.0 * right / max(count, 1)

    def stage(name, model, n_steps, loss_at, lr, lr_at=None):
        model.to(dev).train()
        params = [p for p in model.parameters() if p.requires_grad]
        mp, opt = acc.prepare(model, torch.optim.Adam(params, lr=lr))
        train_loop(ctx, name, mp, params, n_steps, lambda t: loss_at(mp, t), lr, optimizer=opt, lr_at=lr_at,
                   replicated=True, checkpoint_every=cfg.checkpoint_every)
        model = unwrap(mp)
        acc.free_memory()
        return model

    def mlm(m, x, y):
        return m(x, y)[1]

    seeds = list(range(ctx.seed, ctx.seed + cfg.bert_seeds))
    out: dict = {k: [] for k in ("loss_teacher", "acc_teacher", "loss_scratch", "acc_scratch", "loss_win", "acc_win",
                                 "loss_after_imitation", "imit_rel", "merge_error")}
    sched = _warmup_linear(cfg.bert_student_steps)
    for s in seeds:
        tag = f"bert-s{s}"
        # -- stage 1: the wide encoder ---------------------------------------------------------------------
        torch.manual_seed(s * 7919 + 1)
        wide = stage(f"{tag}-teacher", build(wide_spec), cfg.bert_teacher_steps,
                     lambda m, t: mlm(m, *batch(train, t, s * 10 + 1)), cfg.bert_lr, _warmup_linear(cfg.bert_teacher_steps))
        wide.requires_grad_(False).eval()
        wv = view_of(wide)
        for k, v in zip(("loss_teacher", "acc_teacher"), evaluate(wide)):
            out[k].append(v)
        torch.manual_seed(s * 7919 + 2)
        thin_init = build(thin_spec)

        # -- baseline: the thin encoder from scratch -----------------------------------------------------------
        scratch = stage(f"{tag}-scratch", copy.deepcopy(thin_init), cfg.bert_student_steps,
                        lambda m, t: mlm(m, *batch(train, t, s * 10 + 2)), cfg.bert_lr, sched)
        for k, v in zip(("loss_scratch", "acc_scratch"), evaluate(scratch)):
            out[k].append(v)

        # -- stage 2: imitation of the wide encoder's hidden states, layer by layer -------------------------------
        win = WinStudent(copy.deepcopy(thin_init), list(widths_of(wide_spec))).to(dev)
        rel = []
        for k in range(L):
            win.set_stage(k, cfg.freeze_lower, cfg.schedule == "teacher")

            def imitate(m, t, k=k):
                x, _ = batch(train, t, s * 10 + 100 + k)
                ys = block_outputs(wv, x, upto=k)
                tin = ys[k - 1] if cfg.schedule == "teacher" and k > 0 else None
                sk = ys[k].std(dim=(0, 1), keepdim=True).clamp_min(1e-2) if cfg.imitation_norm else 1.0
                return F.mse_loss(m(x, tin, stage=k) / sk, ys[k] / sk)

            stage(f"{tag}-imitate{k:02d}", win, cfg.bert_imitation_steps, imitate, cfg.bert_imitation_lr)
            with torch.no_grad():
                win.eval()
                x, _ = batch(held, 0, 999, local=False)
                yk = block_outputs(wv, x, upto=k)[k]
                rel.append(float(((win(x, stage=k) - yk) ** 2).sum() / (yk ** 2).sum()))
        win.requires_grad_(True).eval()
        out["imit_rel"].append(rel)
        thin = win.merge().eval()
        with torch.no_grad():
            x, _ = batch(held, 0, 999, local=False)
            ref = win(x)
            out["merge_error"].append(float((thin(x)[0] - ref).abs().max() / ref.abs().max().clamp_min(1e-12)))
        out["loss_after_imitation"].append(evaluate(thin)[0])

        # -- stage 3: masked-LM fine-tuning (logit KD on masked positions, then labels) --------------------------
        def finetune(m, t):
            x, y = batch(train, t, s * 10 + 3)
            logits, loss = m(x, y)
            if t >= n_kd:
                return loss
            mk = y != -100
            with torch.no_grad():
                tl = wide(x)[0]
            return kd(logits[mk], tl[mk], y[mk])

        thin = stage(f"{tag}-finetune", thin, steps_ft, finetune, cfg.bert_lr,
                     lambda t: sched(t + L * cfg.bert_imitation_steps))
        for k, v in zip(("loss_win", "acc_win"), evaluate(thin)):
            out[k].append(v)
    out.update(seeds=seeds, n_files=n_files, train_bytes=len(train), held_bytes=len(held), n_kd=n_kd, steps_ft=steps_ft,
               wide_d_model=wide_spec.d_model, wide_d_ff=wide_spec.d_ff,
               thin_params=sum(p.numel() for p in thin.parameters()), wide_params=sum(p.numel() for p in wide.parameters()))
    return out
