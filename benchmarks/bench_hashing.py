"""Benchmark: Hamming search over 1,000,000 random 64-bit codes (S7, Do et al., arXiv 1802.07437).

Side by side in one run:
  * FAISS ``IndexBinaryFlat`` (exhaustive popcount, batched queries) vs the NumPy scan
    (`paperzoo.hashing.index.numpy_search`: XOR + ``np.bitwise_count`` + argpartition, one query at a
    time): the top-k distances must be identical; speed ratio (goal >= 15x);
  * FAISS ``IndexBinaryHNSW`` vs flat: recall@10 (fraction of flat's true 10 nearest found, counting
    distance ties as found) and speed ratio (goal recall >= 0.95 at >= 3x flat's speed).
Usage: .venv/bin/python benchmarks/bench_hashing.py [--n 1000000] [--nq 200] [--bits 64]
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from paperzoo.hashing.index import build_binary_index, numpy_search, search_binary


def timed(fn, *a, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*a)
        best = min(best, time.perf_counter() - t)
    return out, best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--nq", type=int, default=200)
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ef", type=int, nargs="+", default=[64, 256, 1024])
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    nbytes = args.bits // 8
    db = rng.integers(0, 256, (args.n, nbytes), dtype=np.uint8)
    # queries: perturbed database codes (a few flipped bits), as real near-duplicate lookups
    src = rng.integers(0, args.n, args.nq)
    flips = np.packbits(rng.random((args.nq, args.bits)) < 0.08, axis=1)
    q = db[src] ^ flips
    print(f"{args.n:,} random {args.bits}-bit codes, {args.nq} queries, k={args.k}, faiss {faiss.__version__}, "
          f"omp threads {faiss.omp_get_max_threads()}")

    (Dn, In), t_np = timed(numpy_search, db, q, args.k)
    flat = build_binary_index(db, "flat")
    (Df, If), t_flat = timed(search_binary, flat, q, args.k, repeat=3)
    same = bool((Dn == Df).all())
    r_flat = t_np / t_flat
    print(f"NumPy popcount scan : {args.nq / t_np:10.1f} queries/s")
    print(f"FAISS IndexBinaryFlat: {args.nq / t_flat:10.1f} queries/s   ratio {r_flat:.1f}x (goal >= 15x)   "
          f"identical top-{args.k} distances: {same}")

    t = time.perf_counter()
    hnsw = build_binary_index(db, "hnsw", hnsw_m=32)
    print(f"IndexBinaryHNSW(M=32) build: {time.perf_counter() - t:.1f} s")
    for ef in args.ef:
        hnsw.hnsw.efSearch = ef
        (Dh, Ih), t_h = timed(search_binary, hnsw, q, args.k, repeat=3)
        # recall@k: a returned item counts when its distance is <= the true k-th distance (ties are equivalent)
        recall = float(np.mean([(Dh[i][Ih[i] >= 0] <= Df[i, -1]).sum() / args.k for i in range(args.nq)]))
        print(f"HNSW efSearch={ef:<4}: {args.nq / t_h:10.1f} queries/s   recall@{args.k} {recall:.3f} (goal >= 0.95)   "
              f"speed vs flat {t_flat / t_h:.1f}x (goal >= 3x)")


if __name__ == "__main__":
    main()
