"""Training the S4 G2P Transformer (Yolchuyeva et al. 2019, arXiv 2004.06338, Sec. 3-4).

Cross-entropy with label smoothing (Szegedy et al. 2016) on (word, pronunciation) pairs of
g014b2b.train, Adam (0.9, 0.98) with linear warm-up then cosine decay, token-bucketed batches,
gradient clipping; greedy validation WER/PER on a seeded hold-out of *training* words (never the
test set); weight snapshots (safetensors) for checkpoint averaging.

``train_g2p`` is the loop the ``g2p`` recipe runs. ``python -m paperzoo.g2p.train --out DIR`` runs
the same loop in the background for the shipped model (a wall-clock budget ``--minutes`` sets the
cosine schedule's length when the step count is not known in advance).

Deviation: the paper's optimiser/schedule details are not confirmed (S4 notes Sec. 2); we use the
Transformer's usual Adam (0.9, 0.98) + warm-up and a cosine decay, label smoothing 0.1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from ..engine import atomic_write_json, save_weights
from ..errors import ConfigError, PaperzooError
from ..transformer import TransformerBlock
from .data import BOS, EOS, PAD, Lexicon, Vocab, bucket_batches, make_pairs, pad_batch
from .metrics import wer_per
from .model import G2PModelConfig, build_model, count_params, load_g2p, make_vocabs, save_g2p


@dataclass
class TrainSettings:
    lr: float = 1.5e-3  # peak learning rate
    warmup: int = 800
    min_lr_ratio: float = 0.02
    epochs: float = 40.0
    max_minutes: float = 0.0  # > 0: the cosine runs over this wall-clock budget (background training)
    max_steps: int = 0  # > 0: stop (and schedule) by steps
    batch_tokens: int = 6000
    label_smoothing: float = 0.1
    clip: float = 1.0
    eval_every: int = 500
    n_eval: int = 1000
    snapshot_every: int = 0  # 0: no snapshots
    seed: int = 0  # draws the train/validation split (and, unless order_seed is set, batch order and dropout)
    order_seed: int = -1  # >= 0: another batch order and dropout draw on the same split (e.g. runs for a weight soup)


def encode_words(words: list[str], src_v: Vocab) -> torch.Tensor:
    return pad_batch([src_v.encode(list(w)) for w in words], bos=False, eos=True)


@torch.no_grad()
def predict_greedy(model, words: list[str], src_v: Vocab, tgt_v: Vocab, batch_size: int = 512,
                   ) -> list[list[str]]:
    from ..transformer.decode import greedy_decode

    was = model.training
    model.eval()
    out: list[list[str]] = []
    for i in range(0, len(words), batch_size):
        src = encode_words(words[i: i + batch_size], src_v)
        out += [tgt_v.decode(h.tokens) for h in greedy_decode(model, src, bos=BOS, eos=EOS, pad=PAD,
                                                               max_len=src.size(1) + 10)]
    model.train(was)
    return out


def evaluate_greedy(model, refs: Lexicon, src_v: Vocab, tgt_v: Vocab) -> dict[str, float]:
    words = sorted(refs)
    hyps = dict(zip(words, predict_greedy(model, words, src_v, tgt_v)))
    return wer_per(hyps, refs)


def lr_factor(s: TrainSettings, step: int, progress: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from 1 to ``min_lr_ratio`` over ``progress`` in [0, 1]."""
    w = min(1.0, (step + 1) / max(1, s.warmup))
    return w * (s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def train_g2p(model, train: Lexicon, valid: Lexicon, s: TrainSettings, *, snapshot_dir: str | Path | None = None,
              log: Callable[[int, dict], None] | None = None) -> list[dict]:
    """Train ``model`` in place; returns the history (one dict per evaluation)."""
    src_v, tgt_v = make_vocabs()
    pairs = [(src_v.encode(list(w)), tgt_v.encode(p)) for w, p in make_pairs(train)]
    order = s.seed if s.order_seed < 0 else s.order_seed
    rng = random.Random(order)
    torch.manual_seed(order)
    valid_words = sorted(valid)
    random.Random(s.seed + 1).shuffle(valid_words)
    valid_eval = {w: valid[w] for w in valid_words[: s.n_eval]}
    opt = torch.optim.Adam(model.parameters(), lr=s.lr, betas=(0.9, 0.98), eps=1e-9)
    steps_per_epoch = len(bucket_batches(pairs, s.batch_tokens, random.Random(0)))
    total = s.max_steps or int(s.epochs * steps_per_epoch)
    budget = s.max_minutes * 60.0
    t0 = time.time()
    step, epoch, history, run_loss, run_n = 0, 0, [], 0.0, 0
    model.train()
    while True:
        for batch in bucket_batches(pairs, s.batch_tokens, rng):
            progress = step / max(1, total)
            if budget > 0:
                progress = max(progress, (time.time() - t0) / budget) if s.max_steps else (time.time() - t0) / budget
            if progress >= 1.0:
                break
            for g in opt.param_groups:
                g["lr"] = s.lr * lr_factor(s, step, progress)
            src = pad_batch([x for x, _ in batch], eos=True)
            tgt = pad_batch([y for _, y in batch], bos=True, eos=True)
            _, loss = model(src, tgt[:, :-1], tgt[:, 1:], label_smoothing=s.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if s.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip)
            opt.step()
            step += 1
            run_loss += loss.item()
            run_n += 1
            if s.snapshot_every and snapshot_dir and step % s.snapshot_every == 0:
                save_weights(model, Path(snapshot_dir) / f"step{step:06d}.safetensors")
            if step % s.eval_every == 0:
                m = evaluate_greedy(model, valid_eval, src_v, tgt_v)
                rec = {"step": step, "epoch": step / steps_per_epoch, "loss": run_loss / run_n,
                       "valid_wer": m["wer"], "valid_per": m["per"], "lr": opt.param_groups[0]["lr"],
                       "minutes": (time.time() - t0) / 60}
                run_loss, run_n = 0.0, 0
                history.append(rec)
                if log:
                    log(step, rec)
                if snapshot_dir:
                    atomic_write_json(Path(snapshot_dir) / "history.json", history)
        else:
            epoch += 1
            continue
        break
    return history


def average_snapshots(paths: list[Path], cfg: G2PModelConfig):
    """Checkpoint averaging: the element-wise mean of the weights in ``paths``."""
    from safetensors.torch import load_file

    model = build_model(cfg)
    sds = [load_file(str(p)) for p in paths]
    avg = {k: sum(sd[k].float() for sd in sds) / len(sds) for k in sds[0]}
    missing, unexpected = model.load_state_dict(avg, strict=False)
    tied = {"lm_head.weight", "tgt_embed.weight"}  # one tensor, saved once by safetensors
    if unexpected or [k for k in missing if k not in tied] or tied <= set(missing):
        raise RuntimeError(f"snapshot mismatch: {missing[:3]} {unexpected[:3]}")
    model.eval()
    return model


def init_digest(init: str) -> str | None:
    """SHA-256 of the starting weights: a path like src/paperzoo/g2p/weights names other weights once reshipped."""
    if not init:
        return None
    return hashlib.sha256((Path(init) / "model.safetensors").read_bytes()).hexdigest()


def check_same_split(meta: dict, seed: int, n_valid: int, init: str) -> None:
    """A warm restart must keep the validation words of the run it continues: the seed also draws the
    train/validation split, so another seed (or size) would train on earlier validation words and make
    the validation WER, which picks the shipped weights, look better than it is."""
    old = meta.get("train_settings") or {}
    if "seed" in old and int(old["seed"]) != seed:
        raise ConfigError(f"--init {init} was trained with --seed {old['seed']}; a warm restart must use the same "
                          f"seed (it also draws the validation split), add --seed {old['seed']}")
    valid = (meta.get("valid") or {}).get("words")
    if valid is not None and int(valid) != n_valid:
        raise ConfigError(f"--init {init} was validated on {valid} held-out words; use --n-valid {valid}")


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except PaperzooError as e:  # a user mistake: one line, exit 2
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def set_dropout(model: torch.nn.Module, mcfg: G2PModelConfig, p: float) -> G2PModelConfig:
    """Every dropout of a loaded model (residual, FFN, attention weights, embeddings) set to ``p``."""
    if not 0 <= p < 1:
        raise ConfigError(f"--restart-dropout {p} is not a rate in [0, 1)")
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = p
        elif isinstance(m, torch.nn.MultiheadAttention):
            m.dropout = p
    return replace(mcfg, dropout=p)


def widen_ff(model: torch.nn.Module, mcfg: G2PModelConfig, d_ff: int) -> G2PModelConfig:
    """Every FFN widened to ``d_ff`` hidden units without changing the model's function (Net2WiderNet, Chen,
    Goodfellow, Shlens, ICLR 2016, in its zero-output form): the new units of ``linear1`` get PyTorch's default
    initialisation, their columns in ``linear2`` are zero, so they start silent and training gives them a role.
    A warm restart can thus use a parameter budget the saved model leaves unused."""
    if d_ff < mcfg.d_ff:
        raise ConfigError(f"--widen-ff {d_ff} is narrower than the saved model's d_ff {mcfg.d_ff}; it only widens")
    for block in [m for m in model.modules() if isinstance(m, TransformerBlock)]:
        old1, old2, n = block.linear1, block.linear2, block.linear1.out_features
        new1, new2 = torch.nn.Linear(old1.in_features, d_ff), torch.nn.Linear(d_ff, old2.out_features)
        with torch.no_grad():
            new1.weight[:n], new1.bias[:n] = old1.weight, old1.bias
            new2.weight.zero_()
            new2.weight[:, :n], new2.bias[:] = old2.weight, old2.bias
        block.linear1, block.linear2 = new1, new2
    return replace(mcfg, d_ff=d_ff)


def _main(argv: list[str] | None) -> None:
    from .data import load_split, train_valid_split

    ap = argparse.ArgumentParser(description="Train the S4 G2P Transformer on g014b2b.train (background job).")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-valid", type=int, default=3000)
    ap.add_argument("--init", default="", help="continue from a saved model folder (config.json + model.safetensors); "
                                               "its architecture replaces the --model-* options")
    ap.add_argument("--restart-dropout", type=float, default=-1.0,
                    help="with --init: train on with this dropout rate instead of the saved one (regularisation "
                         "is not architecture; -1 keeps the saved rate)")
    ap.add_argument("--widen-ff", type=int, default=0,
                    help="with --init: widen every FFN to this many hidden units, function-preserving (new units "
                         "start silent); 0 keeps the saved width")
    for f, v in asdict(TrainSettings()).items():
        ap.add_argument("--" + f.replace("_", "-"), type=type(v), default=v)
    for f, v in asdict(G2PModelConfig()).items():
        ap.add_argument("--model-" + f.replace("_", "-"), type=type(v), default=v)
    a = ap.parse_args(argv)
    if a.restart_dropout >= 0 and not a.init:
        raise ConfigError("--restart-dropout needs --init (a warm restart); a fresh run takes --model-dropout")
    if a.widen_ff and not a.init:
        raise ConfigError("--widen-ff needs --init (a warm restart); a fresh run takes --model-d-ff")
    torch.set_num_threads(a.threads)
    s = TrainSettings(**{f: getattr(a, f) for f in asdict(TrainSettings())})
    mcfg = G2PModelConfig(**{f: getattr(a, "model_" + f) for f in asdict(G2PModelConfig())})
    out = Path(a.out)
    torch.manual_seed(s.seed)
    if a.init:  # a warm restart: same split (same seed), new learning-rate schedule
        model, mcfg, meta = load_g2p(a.init)
        check_same_split(meta, s.seed, a.n_valid, a.init)
        if a.restart_dropout >= 0:
            mcfg = set_dropout(model, mcfg, a.restart_dropout)
        if a.widen_ff:
            mcfg = widen_ff(model, mcfg, a.widen_ff)
        model.train()
    else:
        model = build_model(mcfg)
    (out / "snapshots").mkdir(parents=True, exist_ok=True)
    train_lex, _ = load_split()
    train, valid = train_valid_split(train_lex, a.n_valid, seed=s.seed)
    atomic_write_json(out / "run.json", {"settings": asdict(s), "model": asdict(mcfg), "params": count_params(model),
                                        "init": a.init or None, "init_sha256": init_digest(a.init),
                                        "n_train_words": len(train), "n_valid_words": len(valid)})
    print(f"params {count_params(model)}, train words {len(train)}, valid {len(valid)}", flush=True)
    hist = train_g2p(model, train, valid, s, snapshot_dir=out / "snapshots",
                     log=lambda st, r: print(json.dumps(r), flush=True))
    save_g2p(model, out / "final", mcfg, {"history": hist})
    print("done", flush=True)


if __name__ == "__main__":
    main()
