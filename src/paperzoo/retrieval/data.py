"""Data for image retrieval: GENERATED landmarks with known 3D structure, distractors, real-format loaders.

Paper: Radenović, Tolias, Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation", TPAMI 2019,
arXiv 1711.02512. Sec. 3.2 mines training pairs from the 3D models of SfM reconstructions: a
positive shares enough 3D points with the query (m2: >= t_i = 0.2 of the query's points, scale
change <= t_s = 1.5); negatives come from other 3D models (clusters). Evaluation uses Oxford/Paris
and their revisited versions with Easy/Hard/junk labels (Radenović et al., CVPR 2018, arXiv 1803.11285).

**Generated landmarks** (labelled as such everywhere; `paperzoo.retrieval.render` draws them):
`generate_landmarks(n_landmarks, views_per_landmark, size, seed)` returns images, landmark ids
(the "3D model"/cluster ids) and, per view, the ids of the 3D points visible in it. From the
shared points follow exactly what SfM-based mining would give:

  * `covisibility(a, b)`: fraction of view a's points that b also sees;
  * `positive_pairs(...)`: (query, positive) pairs by the m2 rule (t_i, t_s);
  * `retrieval_gnd(...)`: revisited-style ground truth per query -- easy (overlap >= 0.4 and
    scale change <= 2), hard (overlap >= 0.1, or a larger scale change), junk (same landmark
    but overlap < 0.1: barely or not visible part). Deviation: the revisited datasets were
    labelled by people; here the labels are thresholds on exact 3D co-visibility.

`distractors(n, size, seed)`: random crops of scikit-image's sample photos (real images, not landmarks).

**Real formats** (read without unpickling arbitrary objects; `SafeUnpickler` admits builtins
dict/list/str/int/float and NumPy arrays only):
  * revisited ground truth ``gnd_roxford5k.pkl``/``gnd_rparis6k.pkl``: dict ``imlist``, ``qimlist``,
    ``gnd`` (per query ``bbx`` [x1, y1, x2, y2], ``easy``, ``hard``, ``junk``); old
    ``gnd_oxford5k.pkl`` uses ``ok``/``junk`` -- `load_gnd`;
  * ``retrieval-SfM-120k.pkl``: {'train'|'val': {``cids``, ``cluster``, ``qidxs``, ``pidxs``}},
    image path ``ims/cid[-2:]/cid[-4:-2]/cid[-6:-4]/cid`` -- `load_sfm120k`, `sfm120k_path`;
    ``retrieval-SfM-120k-whiten.pkl`` holds ``cids``, ``qidxs``, ``pidxs`` -- `load_sfm120k_whiten`;
  * image folders (any depth) -- `list_images`, `load_image` (longer side capped, never upscaled,
    optional bbox crop first, as cirtorch ``imresize``/``ImagesFromList``).
"""

from __future__ import annotations

import functools
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..data.vision import IMAGE_EXTENSIONS, NumpyOnlyUnpickler
from ..errors import DataError
from .render import make_scene, render_view, sample_camera

__all__ = ["Landmarks", "generate_landmarks", "covisibility", "scale_change", "positive_pairs", "retrieval_gnd",
           "distractors", "SafeUnpickler", "safe_load_pickle", "load_gnd", "load_sfm120k", "load_sfm120k_whiten",
           "sfm120k_path", "list_images", "load_image", "POINTS_PER_LANDMARK"]

POINTS_PER_LANDMARK = 100_000  # point ids of landmark k live in [k * 1e5, (k + 1) * 1e5)


@dataclass
class Landmarks:
    """GENERATED landmark views. images (N, 3, S, S) float32 in [0, 1]; landmark (N,) int64 (the
    cluster / 3D-model id); points[i] sorted int64 ids of the 3D points visible in view i;
    scale (N,) mean pixels per world unit over the visible points (for the t_s rule)."""

    images: np.ndarray
    landmark: np.ndarray
    points: list[np.ndarray]
    scale: np.ndarray

    def __len__(self) -> int:
        return len(self.landmark)

    def subset(self, idx: Sequence[int]) -> "Landmarks":
        idx = np.asarray(idx, dtype=np.int64)
        return Landmarks(self.images[idx], self.landmark[idx], [self.points[i] for i in idx], self.scale[idx])


def generate_landmarks(n_landmarks: int, views_per_landmark: int, size: int = 32, seed: int = 0,
                       first_landmark: int = 0, min_points: int = 8, occluders: bool = True) -> Landmarks:
    """Render GENERATED landmarks: ``n_landmarks`` scenes x ``views_per_landmark`` camera poses.

    Landmark k (ids ``first_landmark ..``) is drawn from ``seed`` and k alone, so disjoint id ranges
    give disjoint train / test landmarks. A view that sees fewer than ``min_points`` points is redrawn
    (up to 20 times) so every image depicts its landmark.
    """
    if n_landmarks < 1 or views_per_landmark < 1 or size < 8:
        raise DataError("generate_landmarks needs n_landmarks >= 1, views_per_landmark >= 1 and size >= 8")
    imgs, lms, pts, scales = [], [], [], []
    for k in range(first_landmark, first_landmark + n_landmarks):
        rng = np.random.default_rng([seed, k])
        scene = make_scene(rng, first_point_id=k * POINTS_PER_LANDMARK)
        for _ in range(views_per_landmark):
            for _attempt in range(20):
                cam = sample_camera(rng, scene, size)
                img, vis, sc = render_view(scene, cam, size, rng, occluder=occluders)
                if len(vis) >= min_points:
                    break
            imgs.append(img)
            lms.append(k)
            pts.append(np.sort(vis).astype(np.int64))
            scales.append(sc)
    return Landmarks(np.stack(imgs), np.asarray(lms, dtype=np.int64), pts, np.asarray(scales, dtype=np.float64))


def covisibility(a: np.ndarray, b: np.ndarray) -> float:
    """|a ∩ b| / |a|: the fraction of view a's 3D points that view b also sees (0 when a is empty)."""
    if len(a) == 0:
        return 0.0
    return float(np.intersect1d(a, b, assume_unique=True).size) / len(a)


def scale_change(sa: float, sb: float) -> float:
    """max(sa, sb) / min(sa, sb) (>= 1; inf when one view sees nothing)."""
    lo, hi = min(sa, sb), max(sa, sb)
    return float("inf") if lo <= 0 else hi / lo


def positive_pairs(data: Landmarks, t_i: float = 0.2, t_s: float = 1.5, seed: int = 0,
                   queries: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(qidxs, pidxs): for each query a random image of its landmark that sees >= t_i of the query's
    points with scale change <= t_s (the paper's m2 positives); queries with no such image are skipped."""
    rng = np.random.default_rng(seed)
    qs, ps = [], []
    by_lm: dict[int, np.ndarray] = {int(k): np.flatnonzero(data.landmark == k) for k in np.unique(data.landmark)}
    for q in (range(len(data)) if queries is None else queries):
        cands = [j for j in by_lm[int(data.landmark[q])] if j != q
                 and covisibility(data.points[q], data.points[j]) >= t_i
                 and scale_change(data.scale[q], data.scale[j]) <= t_s]
        if cands:
            qs.append(q)
            ps.append(int(rng.choice(cands)))
    return np.asarray(qs, dtype=np.int64), np.asarray(ps, dtype=np.int64)


def retrieval_gnd(query_points: Sequence[np.ndarray], query_landmark: np.ndarray, query_scale: np.ndarray,
                  db_points: Sequence[np.ndarray], db_landmark: np.ndarray, db_scale: np.ndarray,
                  easy: float = 0.4, hard: float = 0.1, max_easy_scale: float = 2.0) -> list[dict]:
    """Revisited-style ground truth from shared 3D points: per query {'easy', 'hard', 'junk'} db indices.

    Database images of other landmarks (and distractors, landmark id -1) are negatives.
    """
    out = []
    for qp, ql, qs in zip(query_points, query_landmark, query_scale):
        e, h, j = [], [], []
        for i in np.flatnonzero(np.asarray(db_landmark) == ql):
            r = covisibility(qp, db_points[i])
            if r >= easy and scale_change(qs, db_scale[i]) <= max_easy_scale:
                e.append(i)
            elif r >= hard:
                h.append(i)
            else:
                j.append(i)
        out.append({"easy": np.asarray(e, dtype=np.int64), "hard": np.asarray(h, dtype=np.int64),
                    "junk": np.asarray(j, dtype=np.int64)})
    return out


_DISTRACTOR_PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page", "text", "brick",
                      "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "retina", "cell",
                      "motorcycle_left", "motorcycle_right", "logo", "clock", "microaneurysms", "colorwheel")


@functools.lru_cache(maxsize=1)
def _sample_photos() -> tuple[np.ndarray, ...]:
    import skimage.data as skd

    photos = []
    for name in _DISTRACTOR_PHOTOS:
        try:
            a = np.asarray(getattr(skd, name)())
        except Exception:  # a photo that would need a download is skipped
            continue
        if a.ndim == 2:
            a = np.stack([a] * 3, -1)
        a = a[..., :3]
        if a.dtype != np.uint8:
            a = a.astype(np.float64)
            a = (255 * (a - a.min()) / max(float(a.max() - a.min()), 1e-9)).astype(np.uint8)
        photos.append(a)
    if not photos:
        raise DataError("no scikit-image sample photos available for distractors")
    return tuple(photos)


def distractors(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """n random crops (scale 10-60% of the short side, random flip) of scikit-image's sample photos
    (real photographs bundled with scikit-image), resized to size x size: (n, 3, S, S) float32."""
    from PIL import Image

    photos = _sample_photos()
    rng = np.random.default_rng(seed)
    out = np.empty((n, 3, size, size), dtype=np.float32)
    for i in range(n):
        a = photos[rng.integers(len(photos))]
        H, W = a.shape[:2]
        c = int(min(H, W) * rng.uniform(0.1, 0.6))
        y, x = rng.integers(0, H - c + 1), rng.integers(0, W - c + 1)
        im = Image.fromarray(a[y:y + c, x:x + c]).resize((size, size), Image.Resampling.BILINEAR)
        b = np.asarray(im, dtype=np.float32) / 255.0
        if rng.random() < 0.5:
            b = b[:, ::-1]
        out[i] = b.transpose(2, 0, 1)
    return out


# -- real formats -----------------------------------------------------------------------------------
class SafeUnpickler(NumpyOnlyUnpickler):
    """The shared NumPy-only unpickler, widened to the builtins the revisited gnd files hold."""

    _ALLOWED = NumpyOnlyUnpickler._ALLOWED | {
        (mod, name) for mod in ("builtins", "__builtin__") for name in ("dict", "list", "str", "int", "float")
    }


def safe_load_pickle(path: str | Path):
    """Load a data pickle with `SafeUnpickler` (latin1 for Python-2 pickles); problems are `DataError`s."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} not found")
    try:
        with open(path, "rb") as f:
            return SafeUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as e:
        raise DataError(f"{path} is not a plain-data pickle ({e})") from None


def _ints(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64).reshape(-1)


def load_gnd(path: str | Path) -> dict:
    """Oxford/Paris ground truth (revisited ``easy/hard/junk`` or old ``ok/junk``), as plain arrays."""
    cfg = safe_load_pickle(path)
    if not isinstance(cfg, dict) or not {"imlist", "qimlist", "gnd"} <= set(cfg):
        raise DataError(f"{path}: expected a dict with imlist, qimlist and gnd (revisitop gnd_*.pkl)")
    gnd = []
    for g in cfg["gnd"]:
        if not isinstance(g, dict):
            raise DataError(f"{path}: each gnd entry must be a dict")
        d = {k: _ints(g[k]) for k in ("easy", "hard", "junk", "ok") if k in g}
        if "bbx" in g and g["bbx"] is not None:
            d["bbx"] = np.asarray(g["bbx"], dtype=np.float64).reshape(-1)
        if not ({"easy", "hard"} <= set(d) or "ok" in d):
            raise DataError(f"{path}: gnd entries need easy/hard/junk (revisited) or ok/junk (old format)")
        gnd.append(d)
    return {"imlist": [str(s) for s in cfg["imlist"]], "qimlist": [str(s) for s in cfg["qimlist"]], "gnd": gnd}


def load_sfm120k(path: str | Path, split: str = "train") -> dict:
    """retrieval-SfM-120k tuples: {'cids', 'cluster', 'qidxs', 'pidxs'} of one split ('train' or 'val')."""
    db = safe_load_pickle(path)
    if not isinstance(db, dict) or split not in db:
        raise DataError(f"{path}: expected a dict with a {split!r} entry (retrieval-SfM-120k.pkl)")
    d = db[split]
    missing = [k for k in ("cids", "cluster", "qidxs", "pidxs") if k not in d]
    if missing:
        raise DataError(f"{path}[{split!r}] lacks {', '.join(missing)}")
    out = {"cids": [str(c) for c in d["cids"]], "cluster": _ints(d["cluster"]),
           "qidxs": _ints(d["qidxs"]), "pidxs": _ints(d["pidxs"])}
    n = len(out["cids"])
    if len(out["cluster"]) != n or len(out["qidxs"]) != len(out["pidxs"]):
        raise DataError(f"{path}[{split!r}]: cids/cluster or qidxs/pidxs lengths differ")
    if n and (max(out["qidxs"].max(initial=0), out["pidxs"].max(initial=0)) >= n):
        raise DataError(f"{path}[{split!r}]: pair indices point past the {n} images")
    return out


def load_sfm120k_whiten(path: str | Path) -> dict:
    """retrieval-SfM-120k-whiten.pkl: {'cids', 'qidxs', 'pidxs'} (the pairs Lw is learned on)."""
    d = safe_load_pickle(path)
    if not isinstance(d, dict) or not {"cids", "qidxs", "pidxs"} <= set(d):
        raise DataError(f"{path}: expected a dict with cids, qidxs, pidxs (retrieval-SfM-120k-whiten.pkl)")
    return {"cids": [str(c) for c in d["cids"]], "qidxs": _ints(d["qidxs"]), "pidxs": _ints(d["pidxs"])}


def sfm120k_path(ims_root: str | Path, cid: str) -> Path:
    """cirtorch ``cid2filename``: ims/cid[-2:]/cid[-4:-2]/cid[-6:-4]/cid."""
    return Path(ims_root) / cid[-2:] / cid[-4:-2] / cid[-6:-4] / cid


def list_images(folder: str | Path) -> list[Path]:
    """All images under ``folder`` (recursively, sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise DataError(f"{folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def load_image(path: str | Path, imsize: int | None = None, bbx: Sequence[float] | None = None,
               square: bool = False) -> torch.Tensor:
    """An image (3, H, W) in [0, 1]: cropped to ``bbx`` first, then the longer side capped at ``imsize``
    (never upscaled; cirtorch ``imresize``); ``square`` resizes to imsize x imsize instead."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if bbx is not None:
                im = im.crop(tuple(int(round(v)) for v in bbx))
            if imsize:
                if square:
                    im = im.resize((imsize, imsize), Image.Resampling.BILINEAR)
                elif max(im.size) > imsize:
                    im.thumbnail((imsize, imsize), Image.Resampling.LANCZOS)
            a = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"cannot read image {path}: {e}") from None
    return torch.from_numpy(a.copy()).permute(2, 0, 1).float() / 255.0
