"""Descriptor search with FAISS: exact inner product (flat) or approximate (IVF, HNSW) for large sets.

Radenović, Tolias, Chum, arXiv 1711.02512: retrieval ranks the database by the inner product of
L2-normalised (whitened) global descriptors (Sec. 5). FAISS (https://github.com/facebookresearch/faiss)
gives the same ranking with ``IndexFlatIP`` and approximate ones with ``IndexIVFFlat`` /
``IndexHNSWFlat`` (inner-product metric) for large databases.

An index directory holds ``index.faiss`` (the FAISS index), ``manifest.json`` (image paths, the
descriptor size, the index type, the model manifest) and ``model.safetensors`` + ``model.json``
(the network that described the images, so a query is described the same way).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from ..engine import atomic_write_json
from ..errors import DataError

__all__ = ["build_index", "save_index", "load_index", "search"]

INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")


def build_index(vecs: np.ndarray, kind: str = "auto", nlist: int | None = None, hnsw_m: int = 32):
    """A FAISS inner-product index over rows of ``vecs`` (n, D). ``auto``: flat below 100k vectors, else IVF."""
    import faiss

    if kind not in INDEX_TYPES:
        raise DataError(f"index type must be one of {', '.join(INDEX_TYPES)}, got {kind!r}")
    x = np.ascontiguousarray(vecs, dtype=np.float32)
    n, d = x.shape
    if kind == "auto":
        kind = "flat" if n < 100_000 else "ivf"
    if kind == "flat":
        index = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
    else:
        nlist = nlist or max(1, min(int(4 * np.sqrt(n)), n // 39 or 1))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(x)
        index.nprobe = min(nlist, 16)
    index.add(x)
    return index


def save_index(out: str | Path, index, paths: Sequence[str], model_path: str | Path, meta: dict) -> Path:
    import faiss

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".index.faiss.tmp"
    faiss.write_index(index, str(tmp))
    tmp.replace(out / "index.faiss")
    model_path = Path(model_path)
    for suf in (".safetensors", ".json"):
        src = model_path.with_suffix(suf)
        if src.resolve() != (out / f"model{suf}").resolve():
            shutil.copyfile(src, out / f"model{suf}")
    atomic_write_json(out / "manifest.json", {"format": "paperzoo.retrieval.index/1", "paths": [str(p) for p in paths],
                                              "ntotal": int(index.ntotal), "dim": int(index.d), **meta})
    return out


def load_index(path: str | Path):
    """(faiss index, manifest) of an index directory written by `save_index`."""
    import faiss

    path = Path(path)
    if not (path / "index.faiss").is_file() or not (path / "manifest.json").is_file():
        raise DataError(f"{path} is not an index directory (needs index.faiss and manifest.json); build one with "
                        f"`paperzoo retrieval index FOLDER --model M --out {path}`")
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        index = faiss.read_index(str(path / "index.faiss"))
    except (ValueError, RuntimeError) as e:
        raise DataError(f"{path}: unreadable index ({str(e).splitlines()[0][:200]})") from None
    if index.ntotal != len(manifest.get("paths", [])):
        raise DataError(f"{path}: index holds {index.ntotal} vectors but the manifest lists "
                        f"{len(manifest.get('paths', []))} images; rebuild the index")
    return index, manifest


def search(index, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(scores (nq, k), ids (nq, k)) by descending inner product."""
    k = max(1, min(int(k), index.ntotal))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
