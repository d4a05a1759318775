"""Adapters between the web app and the systems it serves (each imported lazily, never copied).

- `G2PService`: ``paperzoo.g2p.G2P`` (S4; Yolchuyeva et al., Interspeech 2019, arXiv 2004.06338):
  CMUdict first, the Transformer for other words, with a bounded LRU cache of model answers; `Coalescer`
  batches the model work of concurrent requests into one call.
- `ChatService`: agents from ``paperzoo.dialogue.load_agent(kind)`` (S6), one per server-side session.
- `SearchService`: a ``paperzoo retrieval index`` (S8; Radenović et al., arXiv 1711.02512) queried by image.
- `HashSearchService`: a ``paperzoo hash index`` (S7; Do et al., arXiv 1802.07437) queried by image, Hamming
  distances from the index's FAISS binary search.
- `NetclassService`: ``paperzoo netclass`` CNC images + CNN class probabilities (S9).
- `Seg3dService`: ``paperzoo seg3d`` cascade on an uploaded NIfTI volume, slices with the overlay (S10).

Each ``load_*`` function returns a service, or raises a `PaperzooError` whose message the app shows
as the reason the panel is absent.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import io
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import CheckpointError, DataError, PaperzooError
from .sessions import SessionStore

__all__ = ["G2PService", "Coalescer", "ChatService", "SearchService", "HashSearchService", "NetclassService", "Seg3dService", "load_g2p_service",
           "load_chat_service", "load_search_service",
           "load_hash_search_service", "load_netclass_service", "load_seg3d_service", "png_data_url"]

AGENT_KINDS = ("task", "qa", "chat")


def png_data_url(rgb: np.ndarray) -> str:
    """``data:image/png;base64,...`` of an (H, W, 3) uint8 array."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _fig_data_url(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ----------------------------------------------------------------------------------------------- G2P
class _LexiconOnly:
    """Stand-in for `G2P` when no trained weights exist: CMUdict answers, nothing else."""

    has_model = False

    def __init__(self):
        from ..g2p.data import load_cmudict_lexicon
        self.lexicon = load_cmudict_lexicon()

    def predict(self, words: list[str]) -> list[list[str]]:
        from ..g2p import G2P
        return [[ph for p in _parts(w, G2P.clean) for ph in self.lexicon[p][0]] for w in words]


def _parts(word: str, clean: Callable[[str], str]) -> list[str]:
    """The cleaned pieces `G2P.predict` pronounces for ``word`` (hyphenated words part by part)."""
    from ..g2p.data import normalize_word
    return [clean(p) for p in word.replace("_", "-").split("-") if normalize_word(p).strip("'")] or [clean(word)]


class G2PService:
    """Words -> ARPAbet with per-word errors.

    A word is pronounced part by part (hyphenated words), as `G2P.predict` does. `plan` answers every
    CMUdict part from the lexicon and every part the model pronounced before from a bounded LRU cache
    (model answers are deterministic) without touching the model; only the parts left go to
    `predict_parts`, one batched model call (the app coalesces concurrent requests' parts into it).
    """

    def __init__(self, g2p: Any, note: str = "", cache_size: int = 20000):
        from ..g2p import G2P
        self.g2p, self.note, self.cache_size = g2p, note, cache_size
        self.clean = getattr(g2p, "clean", G2P.clean)
        self.has_model = bool(getattr(g2p, "has_model", True))
        lex = getattr(g2p, "lexicon", None) if getattr(g2p, "use_lexicon", True) else None
        self.lexicon = lex if lex is not None else {}
        self._cache: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()
        self.model_calls = self.model_words = 0

    def _lookup(self, part: str) -> list[str] | None:
        """A part's phones from the lexicon or the cache, else None (needs the model)."""
        v = self.lexicon.get(part)
        if v is not None:
            return v[0]
        with self._lock:
            v = self._cache.get(part)
            if v is not None:
                self._cache.move_to_end(part)
            return v

    def plan(self, words: list[str]) -> tuple[list[dict], dict[int, list[str]]]:
        """Per-word results filled from the lexicon / cache / errors, and ``{result index: its cleaned parts}``
        for the words that still need the model (cheap; never calls the model)."""
        results: list[dict] = []
        missing: dict[int, list[str]] = {}
        for i, w in enumerate(words):
            r: dict = {"word": w, "phonemes": None, "source": None, "error": None}
            results.append(r)
            try:
                parts = _parts(w, self.clean)
            except DataError as e:
                r["error"] = str(e)
                continue
            in_lex = all(p in self.lexicon for p in parts)
            r["source"] = "lexicon" if in_lex else "model"
            if not in_lex and not self.has_model:
                r["source"], r["error"] = None, (f"{w[:40]!r} is not in CMUdict and no trained G2P model is loaded; "
                                                 f"train one with `paperzoo run g2p` and start the server with it")
                continue
            phones = [self._lookup(p) for p in parts]
            if any(ph is None for ph in phones):
                missing[i] = parts
            else:
                r["phonemes"] = [x for ph in phones for x in ph]
        return results, missing

    def predict_parts(self, parts: list[str]) -> dict[str, list[str]]:
        """One batched model call for cleaned parts (blocking: run it in a worker thread); caches the answers."""
        todo = sorted({p for p in parts if self._lookup(p) is None})
        out = {p: self._lookup(p) for p in parts if p not in todo}
        if todo:
            self.model_calls += 1
            self.model_words += len(todo)
            preds = [list(ph) for ph in self.g2p.predict(todo)]
            with self._lock:
                for p, ph in zip(todo, preds):
                    self._cache[p] = ph
                    out[p] = ph
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def stats(self) -> dict:
        """Model calls so far (each a batch), words they pronounced, cache entries (this process)."""
        return {"model_calls": self.model_calls, "model_words": self.model_words, "cached": len(self._cache),
                "cache_size": self.cache_size}

    def fill(self, results: list[dict], missing: dict[int, list[str]], phones: Mapping[str, list[str]]) -> list[dict]:
        """Complete the results `plan` left, from ``phones`` (cleaned part -> phones)."""
        for i, parts in missing.items():
            results[i]["phonemes"] = [x for p in parts for x in phones[p]]
        return results

    def finish(self, results: list[dict], missing: dict[int, list[str]]) -> list[dict]:
        """`plan` + `finish` = the whole answer without coalescing (one model call for this request's parts)."""
        if missing:
            self.fill(results, missing, self.predict_parts([p for ps in missing.values() for p in ps]))
        return results


class Coalescer:
    """Coalesces the model work of concurrent requests: keys asked for while a batch runs go together into
    the next batch (no added wait when the server is idle; bigger batches under load). ``run`` is an async
    function ``list[key] -> {key: value}``; its exceptions reach every request waiting on that batch."""

    def __init__(self, run: Callable[[list[str]], Any], max_batch: int = 256):
        self.run, self.max_batch = run, max_batch
        self._futures: dict[str, asyncio.Future] = {}
        self._queue: list[str] = []
        self._task: asyncio.Task | None = None

    async def get(self, keys: Sequence[str]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        futs = {}
        for k in dict.fromkeys(keys):
            f = self._futures.get(k)
            if f is None or f.get_loop() is not loop:  # (a future of another, finished event loop: start over)
                f = self._futures[k] = loop.create_future()
                f.add_done_callback(_retrieve)
                self._queue.append(k)
            futs[k] = f
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._drain())
        # shield: a request that gives up (time limit, client gone) must not cancel others' shared futures
        return {k: await asyncio.shield(f) for k, f in futs.items()}

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                out = await self.run(batch)
                err = None
            except Exception as e:  # noqa: BLE001 - handed to the waiting requests
                out, err = {}, e
            for k in batch:
                f = self._futures.pop(k, None)
                if f is None or f.done():
                    continue
                if err is None and k in out:
                    f.set_result(out[k])
                else:
                    f.set_exception(err or RuntimeError(f"no answer for {k!r}"))


def _retrieve(f: asyncio.Future) -> None:
    if not f.cancelled():
        f.exception()  # marks it retrieved: no "exception was never retrieved" noise for abandoned requests


def load_g2p_service(path: Path | None = None) -> G2PService:
    from ..g2p import G2P
    try:
        return G2PService(G2P.load(path), note="CMUdict first, the S4 Transformer for other words")
    except (CheckpointError, DataError):
        if path is not None:
            raise
        return G2PService(_LexiconOnly(), note="no trained G2P weights are shipped yet: CMUdict words only")


# ---------------------------------------------------------------------------------------------- chat
class ChatService:
    """Agent factories by kind + the session store; each session gets its own agent."""

    def __init__(self, factories: Mapping[str, Callable[[], Any]], max_sessions: int = 1000, ttl_s: float = 1800.0):
        if not factories:
            raise DataError("no chat agents could be loaded")
        self.factories = dict(factories)
        self.store = SessionStore(max_sessions, ttl_s)

    @property
    def kinds(self) -> list[str]:
        return list(self.factories)

    def start(self, kind: str):
        """A new session for agent ``kind`` and the agent's opening line (blocking: run in a thread)."""
        agent = self.factories[kind]()
        opening = agent.reset()
        return self.store.create(kind, agent), str(opening or "")

    @staticmethod
    def reply(session, text: str) -> str:
        with session.lock:
            session.turns += 1
            return str(session.agent.respond(text))


def load_chat_service(max_sessions: int = 1000, ttl_s: float = 1800.0) -> ChatService:
    """Agents from ``paperzoo.dialogue.load_agent``; each loaded once here, deep-copied per session."""
    try:
        from .. import dialogue
        load_agent = dialogue.load_agent
    except (ImportError, AttributeError) as e:
        raise DataError(f"paperzoo.dialogue offers no load_agent yet ({e})") from None
    factories: dict[str, Callable[[], Any]] = {}
    problems = []
    for kind in AGENT_KINDS:
        try:
            proto = load_agent(kind)
        except Exception as e:  # noqa: BLE001 - an agent that cannot load leaves its kind out, with the reason
            problems.append(f"{kind}: {str(e).splitlines()[0][:120] if str(e) else type(e).__name__}")
            continue
        try:
            copy.deepcopy(proto)
            factories[kind] = lambda p=proto: copy.deepcopy(p)
        except Exception:  # noqa: BLE001 - not copyable: load one per session instead
            factories[kind] = lambda k=kind: load_agent(k)
    if not factories:
        raise DataError("no chat agent loaded: " + "; ".join(problems))
    return ChatService(factories, max_sessions, ttl_s)


# ------------------------------------------------------------------------------------- image search
IMAGE_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF87a": "gif", b"GIF89a": "gif", b"BM": "bmp"}


def check_image(data: bytes, max_pixels: int) -> str:
    """The image type of ``data`` (PNG/JPEG/GIF/BMP, checked by magic bytes and header) or a DataError."""
    from PIL import Image, UnidentifiedImageError

    kind = next((k for m, k in IMAGE_MAGIC.items() if data.startswith(m)), None)
    if kind is None:
        raise DataError("upload is not a PNG, JPEG, GIF or BMP image")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(f"unreadable {kind} image ({str(e)[:100]})") from None
    if w * h > max_pixels or w < 1 or h < 1:
        raise DataError(f"image is {w}x{h}; the limit is {max_pixels} pixels")
    return kind


class SearchService:
    """Nearest indexed images to an uploaded query image (same network and settings as the index)."""

    def __init__(self, index_dir: Path, device: str = "cpu"):
        from ..retrieval.extract import load_retrieval_model
        from ..retrieval.search import load_index

        self.index_dir = Path(index_dir)
        self.index, self.manifest = load_index(self.index_dir)
        self.net, self.meta = load_retrieval_model(self.index_dir / "model.safetensors")
        self.device = device
        self.net.to(device).eval()
        self.paths: list[str] = list(self.manifest["paths"])
        self.lock = threading.Lock()

    def query(self, data: bytes, k: int) -> list[dict]:
        from ..retrieval.cli import _scales
        from ..retrieval.extract import FileSource, describe
        from ..retrieval.search import search

        src = FileSource([io.BytesIO(data)], int(self.manifest.get("imsize", 362)), square=self.meta.get("arch") == "small")
        with self.lock:
            q = describe(self.net, src, scales=_scales(bool(self.manifest.get("multiscale"))), device=self.device)
        if q.shape[1] != self.index.d:
            raise DataError(f"model gives {q.shape[1]}-d descriptors but the index holds {self.index.d}-d ones")
        scores, ids = search(self.index, q, k)
        return [{"rank": r, "score": float(s), "id": int(i), "name": Path(self.paths[i]).name}
                for r, (s, i) in enumerate(zip(scores[0], ids[0]), 1) if i >= 0]


def load_search_service(index_dir: Path, device: str = "cpu") -> SearchService:
    return SearchService(index_dir, device)


class HashSearchService:
    """Nearest indexed images to an uploaded query image in Hamming distance (S7, ``paperzoo hash index``).

    The query is coded exactly as ``paperzoo hash index`` / ``hash search`` code images: the index's own copy
    of the hash network (``model.safetensors``), the image resized to ``imsize`` x ``imsize``, ImageNet
    normalisation, b = sign(h) packed to bytes, then the index's FAISS binary search.
    """

    def __init__(self, index_dir: Path, device: str = "cpu"):
        from ..hashing import load_hash_model
        from ..hashing.index import load_binary_index

        self.index_dir = Path(index_dir)
        self.index, self.manifest = load_binary_index(self.index_dir)
        self.net, self.meta = load_hash_model(self.index_dir / "model.safetensors")
        self.bits = int(self.manifest.get("bits", self.index.d))
        if self.bits not in self.net.bits:
            raise DataError(f"{self.index_dir}: the index holds {self.bits}-bit codes but its model has hash layers "
                            f"for {list(self.net.bits)}; rebuild it with `paperzoo hash index`")
        self.imsize = int(self.manifest.get("imsize", self.meta.get("imsize", 32)))
        self.device = device
        self.net.to(device).eval()
        self.paths: list[str] = list(self.manifest["paths"])
        self.lock = threading.Lock()

    def codes(self, data: bytes) -> np.ndarray:
        """Packed binary code (1, bits/8) uint8 of an image given as bytes."""
        from ..hashing import pack_codes
        from ..retrieval.data import load_image
        from ..retrieval.extract import IMAGENET_MEAN, IMAGENET_STD

        x = load_image(io.BytesIO(data), self.imsize, square=True)[None]
        with self.lock:
            b = self.net.codes(((x - IMAGENET_MEAN) / IMAGENET_STD).to(self.device), self.bits)
        return pack_codes(b.cpu().numpy())

    def query(self, data: bytes, k: int) -> list[dict]:
        from ..hashing.index import search_binary

        dist, ids = search_binary(self.index, self.codes(data), k)
        return [{"rank": r, "distance": int(d), "bits": self.bits, "id": int(i), "name": Path(self.paths[i]).name}
                for r, (d, i) in enumerate(zip(dist[0], ids[0]), 1) if i >= 0]


def load_hash_search_service(index_dir: Path, device: str = "cpu") -> HashSearchService:
    return HashSearchService(index_dir, device)


# ----------------------------------------------------------------------------------------- netclass
GRAPH_SUFFIX = {"edgelist": ".edgelist", "csv": ".csv", "graphml": ".graphml"}


class NetclassService:
    """Edge list -> CNC image (walks, Word2Vec, PCA, density histogram) -> CNN class probabilities."""

    def __init__(self, model_path: Path):
        from ..netclass.train import CNCClassifier
        self.clf = CNCClassifier.load(model_path)
        self.lock = threading.Lock()

    def classify(self, data: bytes, fmt: str, max_edges: int, seed: int = 0) -> dict:
        import matplotlib

        from ..netclass.data import read_graph
        from ..netclass.image import cnc_image
        from ..netclass.train import predict_cnc

        if fmt not in GRAPH_SUFFIX:
            raise DataError(f"format must be one of {', '.join(GRAPH_SUFFIX)}, got {fmt!r}")
        if b"\x00" in data:
            raise DataError("upload is binary; send a text edge list ('u v [weight]' per line), CSV or GraphML")
        with tempfile.TemporaryDirectory(prefix="paperzoo-serve-") as d:
            p = Path(d) / f"upload{GRAPH_SUFFIX[fmt]}"
            p.write_bytes(data)
            g = read_graph(p)
        if g.number_of_edges() > max_edges:
            raise DataError(f"network has {g.number_of_edges()} edges; the limit is {max_edges}")
        if g.number_of_edges() == 0:
            raise DataError("network has no edges; an edge list has lines 'u v [weight]'")
        with self.lock:
            img = cnc_image(g, self.clf.image_cfg, seed=seed)
            prob = predict_cnc(self.clf.model, img[None])[0]
        v = np.log1p(img[0])
        v = v / (v.max() or 1.0)
        rgb = (matplotlib.colormaps["magma"](v)[..., :3] * 255).astype(np.uint8)
        rgb = np.kron(rgb, np.ones((4, 4, 1), np.uint8))  # 48 px -> 192 px, nearest
        order = np.argsort(-prob)
        return {"nodes": g.number_of_nodes(), "edges": g.number_of_edges(),
                "predicted": self.clf.classes[int(order[0])],
                "probabilities": [{"class": self.clf.classes[int(i)], "p": float(prob[i])} for i in order],
                "image": png_data_url(rgb)}


def load_netclass_service(model_path: Path) -> NetclassService:
    return NetclassService(model_path)


# -------------------------------------------------------------------------------------------- seg3d
MAX_VOXELS = 512 * 512 * 600


def _nifti_shape(path: Path) -> tuple[int, ...] | None:
    """The volume shape from a NIfTI header (reads no voxel data); None when the header is unreadable
    (`load_nifti` then gives the one-line error)."""
    try:
        import nibabel as nib
        return tuple(int(n) for n in nib.load(str(path)).shape)
    except Exception:  # noqa: BLE001 - any unreadable header is reported by load_nifti
        return None


class Seg3dService:
    """NIfTI volume -> cascade label map -> orthogonal slices with and without the overlay (PNG)."""

    def __init__(self, model_dir: Path, device: str = "cpu"):
        from ..seg3d.cascade import Cascade
        self.net = Cascade.load(model_dir, device=device)
        self.lock = threading.Lock()

    def segment(self, data: bytes) -> dict:
        from ..seg3d.data import load_nifti
        from ..seg3d.viz import overlay_figure

        if data[:2] == b"\x1f\x8b":
            suffix = ".nii.gz"
        elif len(data) >= 348 and int.from_bytes(data[:4], "little") in (348, 540) or \
                int.from_bytes(data[:4], "big") in (348, 540):
            suffix = ".nii"
        else:
            raise DataError("upload is not a NIfTI volume (.nii or .nii.gz)")
        with tempfile.TemporaryDirectory(prefix="paperzoo-serve-") as d:
            p = Path(d) / f"upload{suffix}"
            p.write_bytes(data)
            shape = _nifti_shape(p)  # header only: a small .nii.gz may decompress to a huge volume
            if shape is not None and int(np.prod(shape, dtype=np.int64)) > MAX_VOXELS:
                raise DataError(f"volume {tuple(shape)} is larger than 512x512x600 voxels")
            hu, _ = load_nifti(p)
        if hu.size > MAX_VOXELS:
            raise DataError(f"volume {hu.shape} is larger than 512x512x600 voxels")
        with self.lock:
            labels, info = self.net.predict(hu)
        names = tuple(self.net.cfg.class_names or ())
        center = tuple(int(c) for c in (np.argwhere(labels > 0).mean(0) if labels.any() else np.array(hu.shape) // 2))
        fig = overlay_figure(hu, {"image": None, "prediction": labels}, center=center, class_names=names)
        counts = np.bincount(labels.ravel(), minlength=self.net.cfg.n_classes)
        return {"shape": list(hu.shape), "image": _fig_data_url(fig),
                "voxels": {(names[i] if i < len(names) and names[i] else str(i)): int(c) for i, c in enumerate(counts) if i},
                "info": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in info.items()
                         if isinstance(v, (int, float, str))},
                "warnings": [str(w) for w in info.get("warnings", [])]}


def load_seg3d_service(model_dir: Path, device: str = "cpu") -> Seg3dService:
    return Seg3dService(model_dir, device)


def describe_error(e: BaseException) -> str:
    """A one-line reason for a panel that could not load."""
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return msg[:300] if isinstance(e, PaperzooError) else f"{type(e).__name__}: {msg[:300]}"
