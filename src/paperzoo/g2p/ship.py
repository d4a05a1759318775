"""Package a background training run (``python -m paperzoo.g2p.train --out RUN``) as the shipped model.

    python -m paperzoo.g2p.ship --run RUN --out src/paperzoo/g2p/weights [--average 3 5] [--soup RUN2 ...]

Chooses, by greedy WER on the runs' validation words (held out from g014b2b.train, never the test
set; PER breaks ties), among the final weights, the averages of the last ``--average`` snapshots and,
with ``--soup``, the other runs' final weights and uniform weight averages ("model soup", Wortsman et
al., ICML 2022) of runs warm-started from the same model on the same split (``train.py --order-seed``
gives them other batch orders). Then scores the choice once on the 12,000 g014b2b test words (greedy
and beam) and writes ``model.safetensors``, ``config.json`` and ``MODEL_CARD.md`` with the measured
numbers and the exact training command.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from ..errors import ConfigError, PaperzooError
from .data import load_split, train_valid_split
from .model import G2PModelConfig, count_params, load_g2p, make_vocabs, save_g2p
from .train import average_snapshots, evaluate_greedy

CARD = """# paperzoo G2P: S4 Transformer, CMUDict g014b2b

English grapheme-to-phoneme model (letters A-Z and apostrophe in, stress-free 39-phone ARPAbet out),
after Yolchuyeva, Németh, Gyires-Tóth, "Transformer based Grapheme-to-Phoneme Conversion",
Interspeech 2019, arXiv 2004.06338. Trained by paperzoo's own code.

## Data
- Training: `g014b2b.train` (Phonetisaurus split of CMUdict, BSD-3 / CMU BSD-style licence), minus
  {n_valid} words held out for validation (seed {seed}): {n_train} training words.
- Test: the 12,000 `g014b2b` test words (`g014b2b.ref`, 673 with several accepted pronunciations);
  used once, after choosing the weights on validation.

## Model
- Encoder-decoder Transformer (`paperzoo.transformer.Seq2SeqTransformer`), {n_layers} x {n_dec_layers}
  layers, d_model {d_model}, {n_heads} heads, FFN {d_ff}, Post-LN, sinusoidal positions, tied output
  embedding; **{params:,} parameters**.
- Weights chosen: {choice}.

## Test results (g014b2b, 12,000 words, stress-free; WER: any reference counts; PER: closest reference)

| decoding | WER % | PER % | words/s (this machine, batched) |
|---|---|---|---|
| greedy | {g_wer:.2f} | {g_per:.2f} | {g_wps:.0f} |
| beam {beam} (score log P / len^{alpha:g}, exponent chosen on validation{alpha_note}) | {b_wer:.2f} | {b_per:.2f} | {b_wps:.0f} |

Targets (paper level): WER <= 22.1 %, PER <= 5.3 % with <= 2 M parameters; g2p-seq2seq 20.6 %,
Phonetisaurus 24.4 %. **Met: {met}.**

## Training
- Command: `{command}`
- Settings: {settings}
- Ran {steps} optimiser steps ({epochs:.2f} epochs) in {minutes:.1f} minutes of wall-clock on {machine}, final greedy validation WER {v_wer:.2f} % / PER {v_per:.2f} %.

## Deviations and caveats
{caveats}

## Retrain
`python -m paperzoo.g2p.train --out RUN --max-minutes M` (or `paperzoo run g2p --preset full`),
then `python -m paperzoo.g2p.ship --run RUN --out src/paperzoo/g2p/weights`.
"""


def _same_start(a: dict, b: dict) -> bool:
    """Same starting weights: by SHA-256 when both runs recorded it (a path such as src/paperzoo/g2p/weights
    holds other weights after each reship), else by the --init path (runs from before the digest)."""
    if a.get("init_sha256") and b.get("init_sha256"):
        return a["init_sha256"] == b["init_sha256"]
    return a.get("init") == b.get("init")


def _without_dropout(v):
    """A run's model config minus its dropout rate (regularisation, not architecture: ``--restart-dropout``)."""
    return {k: x for k, x in v.items() if k != "dropout"} if isinstance(v, dict) else v


def soup_runs(run: Path, others: list[str]) -> list[Path]:
    """The runs of a weight soup; they must share the starting weights, the architecture and the split."""
    runs = [run] + [Path(o) for o in others]
    for r in runs:
        if not (r / "run.json").is_file():
            raise ConfigError(f"{r} has no run.json: give a folder written by python -m paperzoo.g2p.train --out")
    infos = [json.loads((r / "run.json").read_text()) for r in runs]
    for r, i in zip(runs[1:], infos[1:]):
        if not _same_start(i, infos[0]):
            raise ConfigError(f"--soup {r}: other starting weights (--init) than {run}; a soup averages runs from "
                              "the same start")
        for key, what in (("model", "architecture"), ("n_valid_words", "validation size")):
            if _without_dropout(i.get(key)) != _without_dropout(infos[0].get(key)):
                raise ConfigError(f"--soup {r}: another {what} than {run}; a soup averages runs from the same start")
        if i["settings"]["seed"] != infos[0]["settings"]["seed"]:
            raise ConfigError(f"--soup {r}: another --seed (validation split) than {run}; use runs with the same seed")
    if len(runs) > 1 and not infos[0].get("init"):
        raise ConfigError(f"--soup needs warm-started runs (train.py --init): {run} started from random weights")
    return runs


def main(argv: list[str] | None = None) -> None:
    try:
        _main(argv)
    except (PaperzooError, FileNotFoundError) as e:  # a user mistake: one line, exit 2
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def _main(argv: list[str] | None) -> None:
    ap = argparse.ArgumentParser(description="Package a paperzoo.g2p.train run as the shipped model.")
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--average", type=int, nargs="+", default=[3], help="checkpoint averages tried: last N snapshots")
    ap.add_argument("--soup", nargs="*", default=[], help="other runs from the same --init, seed and split: their "
                                                          "final weights and the soup of all runs are candidates too")
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--alphas", type=float, nargs="+", default=[1.0, 0.5, 0.0],
                    help="length-normalisation exponents tried for beam search on the validation words; the "
                         "lowest validation WER wins (the first listed on a tie)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--command", default="")
    ap.add_argument("--caveats", default="")
    ap.add_argument("--machine", default="a CPU", help="where it was trained, for the card")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    run = Path(a.run)
    runs = soup_runs(run, a.soup)  # checked before the data and weights load
    info = json.loads((run / "run.json").read_text())
    mcfg = G2PModelConfig(**info["model"])
    s = info["settings"]
    train_lex, refs = load_split()
    _, valid = train_valid_split(train_lex, info["n_valid_words"], seed=s["seed"])
    src_v, tgt_v = make_vocabs()
    final, _, meta = load_g2p(run / "final")
    cands = {"final weights": final}
    for n in a.average:
        snaps = sorted((run / "snapshots").glob("step*.safetensors"))[-n:]
        if len(snaps) > 1:
            cands[f"average of snapshots {', '.join(p.stem for p in snaps)}"] = average_snapshots(snaps, mcfg)
    if len(runs) > 1:
        for r in runs[1:]:
            cands[f"final weights of {r.name}"] = load_g2p(r / "final")[0]
        cands[f"soup: mean of the final weights of {', '.join(r.name for r in runs)}"] = average_snapshots(
            [r / "final" / "model.safetensors" for r in runs], mcfg)
        for n in a.average:  # each run's checkpoint average, then the soup of those (equal weights per run)
            per_run = [sorted((r / "snapshots").glob("step*.safetensors"))[-n:] for r in runs]
            if n > 1 and len({len(p) for p in per_run}) == 1 and per_run[0]:
                cands[f"soup of the last {n} snapshots of {', '.join(r.name for r in runs)}"] = average_snapshots(
                    [p for ps in per_run for p in ps], mcfg)
    scores = {k: evaluate_greedy(m, valid, src_v, tgt_v) for k, m in cands.items()}
    choice = min(scores, key=lambda k: (scores[k]["wer"], scores[k]["per"]))  # PER breaks WER ties
    model = cands[choice]
    print({k: v for k, v in scores.items()}, "->", choice, flush=True)

    from .api import G2P
    alpha, by_alpha = 1.0, {}
    if a.beam > 1:  # beam search's length normalisation, chosen on validation words like the weights
        by_alpha = {al: G2P(model, use_lexicon=False, batch_size=512, alpha=al).evaluate(valid, beam=a.beam)["wer"]
                    for al in a.alphas}
        alpha = min(by_alpha, key=by_alpha.get)
        print("validation beam WER by alpha", by_alpha, "->", alpha, flush=True)
    g = G2P(model, use_lexicon=False, batch_size=512, alpha=alpha)
    greedy = g.evaluate(refs, beam=1)
    beam = g.evaluate(refs, beam=a.beam) if a.beam > 1 else greedy  # --beam 1: greedy only
    hist = meta.get("history", [])
    last = hist[-1] if hist else {"step": 0, "epoch": 0.0, "minutes": 0.0}
    n = count_params(model)
    met = (100 * beam["wer"] <= 22.1) and (100 * beam["per"] <= 5.3) and n <= 2_000_000
    card = CARD.format(
        n_valid=info["n_valid_words"], seed=s["seed"], n_train=info["n_train_words"], params=n, choice=choice,
        g_wer=100 * greedy["wer"], g_per=100 * greedy["per"], g_wps=greedy["words_per_sec"],
        b_wer=100 * beam["wer"], b_per=100 * beam["per"], b_wps=beam["words_per_sec"], beam=a.beam, alpha=alpha,
        alpha_note=(": " + ", ".join(f"{k:g} -> {100 * v:.2f} %" for k, v in by_alpha.items())) if by_alpha else "",
        met="yes" if met else "NO (see caveats)", command=a.command or "(not recorded)",
        settings=", ".join(f"{k}={v}" for k, v in s.items()), steps=last["step"], epochs=last["epoch"],
        minutes=last["minutes"], v_wer=100 * scores[choice]["wer"], v_per=100 * scores[choice]["per"],
        caveats=a.caveats or "- none recorded", machine=a.machine, **info["model"])
    save_g2p(model, a.out, mcfg, {
        "test": {"wer_greedy": greedy["wer"], "per_greedy": greedy["per"], "wer_beam": beam["wer"],
                 "per_beam": beam["per"], "beam": a.beam},
        "valid": scores[choice], "choice": choice, "params": n, "train_settings": s,
        "decode": {"beam": a.beam, "alpha": alpha, "valid_beam_wer_by_alpha": {str(k): v for k, v in by_alpha.items()}},
        "packaged": time.strftime("%Y-%m-%d")})
    (Path(a.out) / "MODEL_CARD.md").write_text(card, encoding="utf-8")
    print(card)


if __name__ == "__main__":
    main()
