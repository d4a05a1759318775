"""Benchmark: our S4 G2P Transformer (batched greedy and beam) vs g2p_en's neural ``predict``.

Same process, same words (g014b2b test words, never seen by our training), both scored with the
field's WER/PER on stress-free ARPAbet. g2p_en (https://github.com/Kyubyong/g2p, Apache-2.0) is
timed on its out-of-vocabulary path: its GRU encoder-decoder (``checkpoint20.npz``) run by its own
``predict`` one word at a time. Its constructor downloads NLTK data at import, so nltk/inflect are
stubbed (never called on this path) and the instance is built without ``__init__``, as the S4 notes
describe. Note: g2p_en was trained on nearly all of CMUdict, so its error on these words is
optimistic (many are in its training data); ours never saw them.

    .venv/bin/pip install --no-deps g2p-en
    .venv/bin/python benchmarks/bench_g2p.py [--words 2000] [--threads 1 0] [--model DIR] [--clock wall|cpu]
        [--repeat N] [--int8]

``--threads`` lists torch thread counts for our rows (0 = torch's default, every usable CPU); g2p_en runs
as it ships (NumPy, one word at a time: its per-word matrix-vector products do not use more than one
core). The same-thread ratio (ours on 1 thread) and the default-threads ratio (both as they ship) are
printed separately; use ``--clock wall`` for rows on more than one thread.

Each ratio is printed twice: best time vs best time (each system's fastest of ``--repeat`` rounds), and the
median [range] over the rounds of the paired ratio (g2p_en's time / ours in the same round), which is less
moved by a machine whose speed drifts between minutes (this shared VM's does, by up to ~30 %).

``--clock cpu`` times with the process CPU time (``time.process_time``) instead of the wall clock, so
other processes on a shared machine do not count (cache contention still does); ``--repeat N`` runs
each system N times, alternating, and keeps each one's fastest run.
"""

from __future__ import annotations

import argparse
import sys
import types

from paired import paired_ratio, paired_rounds


def load_g2p_en():
    """g2p_en's G2p with its shipped weights, built without the NLTK downloads (None if not installed)."""
    for name in ("nltk", "nltk.corpus", "nltk.tokenize", "inflect"):
        if name not in sys.modules:
            mod = types.ModuleType(name)
            sys.modules[name] = mod
    nltk = sys.modules["nltk"]
    nltk.pos_tag = lambda *a, **k: []
    nltk.data = types.SimpleNamespace(find=lambda *a, **k: True)
    nltk.download = lambda *a, **k: None
    sys.modules["nltk.corpus"].cmudict = types.SimpleNamespace(dict=dict)
    sys.modules["nltk.tokenize"].TweetTokenizer = lambda: types.SimpleNamespace(tokenize=str.split)
    sys.modules["inflect"].engine = lambda: None
    try:
        from g2p_en.g2p import G2p
    except ImportError:
        return None
    g = G2p.__new__(G2p)
    g.graphemes = ["<pad>", "<unk>", "</s>"] + list("abcdefghijklmnopqrstuvwxyz")
    g.g2idx = {c: i for i, c in enumerate(g.graphemes)}
    # the phoneme list exactly as G2p.__init__ defines it
    g.phonemes = ["<pad>", "<unk>", "<s>", "</s>"] + [
        'AA0', 'AA1', 'AA2', 'AE0', 'AE1', 'AE2', 'AH0', 'AH1', 'AH2', 'AO0', 'AO1', 'AO2', 'AW0', 'AW1', 'AW2',
        'AY0', 'AY1', 'AY2', 'B', 'CH', 'D', 'DH', 'EH0', 'EH1', 'EH2', 'ER0', 'ER1', 'ER2', 'EY0', 'EY1', 'EY2',
        'F', 'G', 'HH', 'IH0', 'IH1', 'IH2', 'IY0', 'IY1', 'IY2', 'JH', 'K', 'L', 'M', 'N', 'NG', 'OW0', 'OW1',
        'OW2', 'OY0', 'OY1', 'OY2', 'P', 'R', 'S', 'SH', 'T', 'TH', 'UH0', 'UH1', 'UH2', 'UW', 'UW0', 'UW1', 'UW2',
        'V', 'W', 'Y', 'Z', 'ZH']
    g.idx2p = dict(enumerate(g.phonemes))
    g.p2idx = {p: i for i, p in enumerate(g.phonemes)}
    g.load_variables()
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--words", type=int, default=2000, help="how many g014b2b test words (0 = all 12,000)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 0], help="torch threads for our rows; 0 = default")
    ap.add_argument("--beam", type=int, default=4)
    ap.add_argument("--int8", action="store_true", help="also time the int8-quantised model (G2P.load(int8=True))")
    ap.add_argument("--model", default=None, help="model folder (default: the shipped weights)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: perf_counter; cpu: this process's CPU time (for a loaded machine)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per system (alternating); the fastest counts")
    a = ap.parse_args()

    import torch

    from paperzoo.g2p import G2P
    from paperzoo.g2p.data import load_split, strip_stress
    from paperzoo.g2p.metrics import wer_per

    default_threads = torch.get_num_threads()
    threads = list(dict.fromkeys(t or default_threads for t in a.threads))
    refs = load_split()[1]
    words = sorted(refs)
    if a.words:
        words = words[:: max(1, len(words) // a.words)][: a.words]
    refs = {w: refs[w] for w in words}
    ours = G2P.load(a.model, use_lexicon=False)
    ours8 = G2P.load(a.model, use_lexicon=False, int8=True) if a.int8 else None
    ge = load_g2p_en()

    def on(n: int, fn):
        def timed_fn():
            torch.set_num_threads(n)
            return fn()
        return timed_fn

    systems = []
    for n in threads:
        systems += [(f"ours greedy (batched), {n} thr", on(n, lambda: ours.predict_model(words, beam=1))),
                    (f"ours beam {a.beam} (batched), {n} thr", on(n, lambda: ours.predict_model(words, beam=a.beam)))]
        if ours8 is not None:
            systems += [(f"ours int8 greedy (batched), {n} thr", on(n, lambda: ours8.predict_model(words, beam=1))),
                        (f"ours int8 beam {a.beam} (batched), {n} thr",
                         on(n, lambda: ours8.predict_model(words, beam=a.beam)))]
    if ge is None:
        print("g2p_en is not installed: `.venv/bin/pip install --no-deps g2p-en` to compare")
    else:
        systems.append(("g2p_en GRU predict (per word)", lambda: [strip_stress(ge.predict(w.lower())) for w in words]))
    out, cpu, wall = paired_rounds(dict(enumerate(fn for _, fn in systems)), a.repeat)
    times = [(cpu if a.clock == "cpu" else wall)[i] for i in range(len(systems))]  # per system, one time per round
    hyps = [out[i] for i in range(len(systems))]
    best = [min(ts) for ts in times]
    rows = [(label, len(words) / dt, wer_per(dict(zip(words, hyp)), refs))
            for (label, _), dt, hyp in zip(systems, best, hyps)]
    print(f"{len(words)} g014b2b test words, torch threads {threads} (default {default_threads}), params ours {ours.params:,}, "
          f"clock {a.clock}, best of {max(1, a.repeat)}")
    print(f"{'system':40s} {'words/s':>9s} {'WER %':>7s} {'PER %':>7s}")
    for label, wps, m in rows:
        print(f"{label:40s} {wps:9.0f} {100 * m['wer']:7.2f} {100 * m['per']:7.2f}")
    if ge is not None:
        base = rows[-1]
        for (label, wps, m), ts in zip(rows[:-1], times):
            # paired: g2p_en's time / ours in the same round (both run within seconds of each other), so a
            # machine whose speed drifts over minutes moves both; median and range over the rounds
            med, lo, hi = paired_ratio(times[-1], ts)
            print(f"ratio {label} / g2p_en: speed {wps / base[1]:.2f}x best/best, paired rounds median {med:.2f}x "
                  f"[{lo:.2f}-{hi:.2f}] (goal 2x: {'met' if wps >= 2 * base[1] else 'NOT met'} "
                  f"best/best, {'met' if med >= 2 else 'NOT met'} median), WER {100 * m['wer']:.2f} vs "
                  f"{100 * base[2]['wer']:.2f} ({'lower' if m['wer'] < base[2]['wer'] else 'NOT lower'})")


if __name__ == "__main__":
    main()
