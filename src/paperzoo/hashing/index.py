"""Binary-code indices with FAISS (https://github.com/facebookresearch/faiss) and a NumPy fallback.

Hamming search over packed codes (uint8, L/8 bytes; L a multiple of 8): ``IndexBinaryFlat``
(exhaustive popcount; exact), ``IndexBinaryHNSW`` (graph; approximate), ``IndexBinaryIVF`` and
``IndexBinaryMultiHash`` (optional). An index directory holds ``index.faiss``
(``faiss.write_index_binary``), ``manifest.json`` (image paths, bits, index type, model manifest)
and ``model.safetensors`` + ``model.json`` (the hash network, so queries are coded the same way).
`numpy_search` is the reference scan (XOR + popcount + stable top-k) the benchmark compares against;
`knn_recall_ties` / `knn_recall_ids` score an approximate index against it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from ..engine import atomic_write_json
from ..errors import DataError
from .model import check_bits

__all__ = ["INDEX_KINDS", "build_binary_index", "save_binary_index", "load_binary_index", "search_binary",
           "numpy_search", "knn_recall_ties", "knn_recall_ids"]

INDEX_KINDS = ("flat", "hnsw", "ivf", "multihash")


def build_binary_index(packed: np.ndarray, kind: str = "flat", hnsw_m: int = 32, ef_search: int = 64,
                       nlist: int | None = None, nprobe: int = 8, hash_bits: int | None = None,
                       ef_construction: int | None = None, nhash: int = 2, nflip: int = 0):
    """A FAISS binary index over packed codes (n, L/8) uint8.

    hnsw: ``hnsw_m`` links per node, ``ef_construction`` (FAISS default 40) beam while building,
    ``ef_search`` beam while searching. multihash: ``nhash`` tables on disjoint ``hash_bits``-bit
    substrings, probing every bucket within ``nflip`` bit flips of the query's substring.
    """
    import faiss

    if kind not in INDEX_KINDS:
        raise DataError(f"index kind must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")
    x = np.ascontiguousarray(packed, dtype=np.uint8)
    d = check_bits(int(x.shape[1] * 8))
    if kind == "flat":
        index = faiss.IndexBinaryFlat(d)
    elif kind == "hnsw":
        index = faiss.IndexBinaryHNSW(d, hnsw_m)
        index.hnsw.efSearch = ef_search
        if ef_construction:
            index.hnsw.efConstruction = ef_construction
    elif kind == "ivf":
        nlist = nlist or max(1, min(int(4 * np.sqrt(len(x))), len(x) // 39 or 1))
        index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(d), d, nlist)
        index.train(x)
        index.nprobe = min(nprobe, nlist)
    else:
        index = faiss.IndexBinaryMultiHash(d, nhash, hash_bits or min(d // nhash, 16))
        index.nflip = nflip
    index.add(x)
    return index


def search_binary(index, packed_queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(Hamming distances int32 (nq, k), ids int64 (nq, k); -1 where fewer than k found)."""
    k = max(1, min(int(k), index.ntotal))
    return index.search(np.ascontiguousarray(packed_queries, dtype=np.uint8), k)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount_distances(db: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(nq, n) Hamming distances of packed queries (nq, B) to packed codes (n, B): XOR + popcount.

    Uses ``np.bitwise_count`` on 64-bit words when the code is a multiple of 64 bits (NumPy >= 2.0),
    else a 256-entry byte lookup table.
    """
    dt = np.uint8 if db.shape[1] * 8 <= 255 else np.uint16
    if db.shape[1] % 8 == 0 and hasattr(np, "bitwise_count"):
        d64, q64 = db.view(np.uint64), q.view(np.uint64)
        out = np.bitwise_count(d64[None, :, 0] ^ q64[:, None, 0]).astype(dt)
        for w in range(1, d64.shape[1]):
            out += np.bitwise_count(d64[None, :, w] ^ q64[:, None, w]).astype(dt)
        return out
    out = np.zeros((len(q), len(db)), dt)
    for w in range(db.shape[1]):
        out += _POPCOUNT[db[None, :, w] ^ q[:, None, w]]
    return out


def numpy_search(db_packed: np.ndarray, packed_queries: np.ndarray, k: int = 10,
                 block: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Exhaustive vectorised NumPy scan (the benchmark's honest baseline and the no-FAISS fallback).

    Queries go in blocks of ``block`` (one (block, n) distance matrix: XOR + popcount on 64-bit words);
    per query the k-th smallest distance t comes from a histogram of the distances (they are integers
    0..L, so this is O(n), cheaper than a partition), the candidates d <= t are taken in database order
    and sorted stably: ties at equal distance go to the lower database index (the metrics' tie policy).
    Returns (distances int32 (nq, k), ids int64 (nq, k)).
    """
    db = np.ascontiguousarray(db_packed, dtype=np.uint8)
    qs = np.ascontiguousarray(packed_queries, dtype=np.uint8)
    k = min(int(k), len(db))
    nbits = db.shape[1] * 8
    D = np.empty((len(qs), k), np.int32)
    I = np.empty((len(qs), k), np.int64)
    for s in range(0, len(qs), block):
        dist = _popcount_distances(db, qs[s:s + block])
        for r, d in enumerate(dist):
            t = int(np.searchsorted(np.cumsum(np.bincount(d, minlength=nbits + 1)), k))  # k-th smallest distance
            cand = np.flatnonzero(d <= t)
            order = cand[np.argsort(d[cand], kind="stable")[:k]]
            D[s + r], I[s + r] = d[order], order
    return D, I


def knn_recall_ties(db_packed: np.ndarray, packed_queries: np.ndarray, ids: np.ndarray,
                    true_kth: np.ndarray) -> float:
    """Distance-based recall@k for Hamming kNN: the standard measure when distances are integers and tie.

    A returned neighbour counts when its true Hamming distance to the query is <= the true k-th nearest
    distance ``true_kth[i]`` (every code tied at the k-th distance is an equally correct answer); ids
    < 0 (not found) and repeated ids do not count, and the count is capped at k. Mean over queries of
    hits / k, with k = ``ids.shape[1]``. On random 64-bit codes many codes tie at the k-th distance, so
    the id-based measure (`knn_recall_ids`) punishes an index for choosing another, equally near, code.
    """
    ids = np.asarray(ids)
    k = ids.shape[1]
    hits = 0
    for i in range(len(ids)):
        got = np.unique(ids[i][ids[i] >= 0])
        if len(got):
            d = _popcount_distances(db_packed[got], packed_queries[i:i + 1])[0]
            hits += min(k, int((d <= true_kth[i]).sum()))
    return hits / (k * len(ids))


def knn_recall_ids(ids: np.ndarray, true_ids: np.ndarray) -> float:
    """Id-based recall@k: mean |returned ids ∩ exact top-k ids| / k (ties broken by the exact search's
    order, so an equally near code outside that order counts as a miss; see `knn_recall_ties`)."""
    ids, true_ids = np.asarray(ids), np.asarray(true_ids)
    k = true_ids.shape[1]
    return float(np.mean([len(np.intersect1d(a[a >= 0], b)) / k for a, b in zip(ids, true_ids)]))


def save_binary_index(out: str | Path, index, paths: Sequence[str], model_path: str | Path, meta: dict) -> Path:
    import faiss

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".index.faiss.tmp"
    faiss.write_index_binary(index, str(tmp))
    tmp.replace(out / "index.faiss")
    model_path = Path(model_path).with_suffix(".safetensors")
    for suf in (".safetensors", ".json"):
        src = model_path.with_suffix(suf)
        if src.resolve() != (out / f"model{suf}").resolve():
            shutil.copyfile(src, out / f"model{suf}")
    atomic_write_json(out / "manifest.json", {"format": "paperzoo.hashing.index/1", "paths": [str(p) for p in paths],
                                              "ntotal": int(index.ntotal), "bits": int(index.d), **meta})
    return out


def load_binary_index(path: str | Path):
    """(faiss binary index, manifest) of an index directory written by `save_binary_index`."""
    import faiss

    path = Path(path)
    if not (path / "index.faiss").is_file() or not (path / "manifest.json").is_file():
        raise DataError(f"{path} is not a hash index directory (needs index.faiss and manifest.json); build one "
                        f"with `paperzoo hash index FOLDER --bits 64 --out {path}`")
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        index = faiss.read_index_binary(str(path / "index.faiss"))
    except (ValueError, RuntimeError) as e:
        raise DataError(f"{path}: unreadable hash index ({str(e).splitlines()[0][:200]})") from None
    if index.ntotal != len(manifest.get("paths", [])):
        raise DataError(f"{path}: index holds {index.ntotal} codes but the manifest lists "
                        f"{len(manifest.get('paths', []))} images; rebuild the index")
    return index, manifest
