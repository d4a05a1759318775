"""A generated abdominal CT phantom in Hounsfield units, with labels (GENERATED DATA, not patients).

Stands in for the paper's 331 portal-venous abdominal CTs (Roth et al., arXiv 1704.06382, Sec. 3;
notes Sec. 5) on a CPU with no download. It has the difficulties the cascade is about: a body
outline in air, large organs (liver, spleen, two kidneys), a small elongated, curved
pancreas-like organ, thin tubular vessels (aorta, vena cava, 1-2-voxel branches, hepatic
vessels inside the liver), unlabelled distractors of similar HU (bowel loops with gas, spine),
elastic shape variation, a smooth bias field, partial-volume blur and noise.

Two settings: ``"A"`` (the training "hospital") and ``"B"`` ("another hospital": other body and
organ shapes, other contrast phase and HU levels, stronger noise, a softer reconstruction
kernel), a labelled analogue of the paper's 150-CT test set from another hospital (Table 2).

Labels: 0 background, 1 liver, 2 spleen, 3 kidney, 4 pancreas, 5 vessel (`ORGANS`).
Arrays are indexed (x, y, z) like nibabel's ``get_fdata()``; z runs feet -> head.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = ["ORGANS", "SMALL_ORGANS", "LARGE_ORGANS", "PhantomSetting", "SETTINGS", "make_phantom", "make_phantoms"]

ORGANS: tuple[str, ...] = ("background", "liver", "spleen", "kidney", "pancreas", "vessel")
SMALL_ORGANS: tuple[str, ...] = ("pancreas", "vessel")  # the small / thin structures of the Done-when
LARGE_ORGANS: tuple[str, ...] = ("liver", "spleen", "kidney")


@dataclass(frozen=True)
class PhantomSetting:
    """One "scanner / hospital": anatomy and acquisition parameters (HU, normalised lengths)."""

    name: str
    body_axes: tuple[float, float] = (0.86, 0.62)  # ellipse half-axes (x, y) of the body outline
    organ_scale: float = 1.0  # all organs scaled by this
    shape_jitter: float = 0.08  # relative per-case size/position jitter
    warp: float = 0.035  # amplitude of the smooth elastic warp
    hu: tuple[float, ...] = (100.0, 115.0, 160.0, 90.0, 175.0)  # liver, spleen, kidney, pancreas, vessel
    hu_jitter: float = 8.0  # per-case organ HU jitter
    fat: float = -90.0
    muscle: float = 45.0
    bowel: float = 35.0
    bone: float = 450.0
    noise: float = 12.0  # HU, Gaussian
    blur: float = 0.6  # voxels, reconstruction-kernel blur
    bias: float = 0.05  # relative amplitude of the smooth multiplicative field
    n_bowel: int = 9


SETTINGS: dict[str, PhantomSetting] = {
    "A": PhantomSetting("A"),
    # "another hospital": rounder, larger patients, arterial-ish phase (bright vessels/kidneys,
    # darker parenchyma), softer kernel, twice the noise, a stronger bias field.
    "B": PhantomSetting("B", body_axes=(0.9, 0.7), organ_scale=1.08, shape_jitter=0.1, warp=0.045,
                        hu=(80.0, 100.0, 190.0, 75.0, 230.0), hu_jitter=12.0, fat=-105.0, muscle=55.0,
                        bowel=25.0, bone=550.0, noise=24.0, blur=1.0, bias=0.1, n_bowel=12),
}


def _smooth_field(shape: tuple[int, ...], rng: np.random.Generator, amp: float, coarse: int = 4) -> np.ndarray:
    """A smooth random field: coarse Gaussian noise on a ``coarse``^3 grid, spread by separable Gaussian bases."""
    g = rng.standard_normal((coarse,) * len(shape)).astype(np.float32)
    f = g
    for ax, n in enumerate(shape):  # contract one axis at a time: (n, coarse) basis @ coarse grid
        x = np.linspace(0, coarse - 1, n, dtype=np.float32)[:, None]
        basis = np.exp(-0.5 * (x - np.arange(coarse, dtype=np.float32)[None]) ** 2 / 0.6**2)
        basis /= basis.sum(1, keepdims=True)
        f = np.moveaxis(np.tensordot(basis, np.moveaxis(f, ax, 0), axes=(1, 0)), 0, ax)
    return (amp * f / (np.abs(f).max() + 1e-6)).astype(np.float32)


def _polyline(p0: np.ndarray, p1: np.ndarray, bend: np.ndarray, n: int = 200) -> np.ndarray:
    """Points of a quadratic Bezier from p0 to p1 bent by ``bend`` (normalised coordinates)."""
    t = np.linspace(0, 1, n)[:, None]
    mid = (p0 + p1) / 2 + bend
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * mid + t**2 * p1


def _tube(shape: tuple[int, ...], curves: list[np.ndarray], radius: float) -> np.ndarray:
    """Voxels within ``radius`` (normalised units) of any curve: rasterise + Euclidean distance transform."""
    line = np.zeros(shape, bool)
    size = np.array(shape)
    for c in curves:
        idx = np.round((c + 1) / 2 * (size - 1)).astype(int)
        ok = np.all((idx >= 0) & (idx < size), axis=1)
        line[tuple(idx[ok].T)] = True
    if not line.any():
        return line
    # the distance transform only in the curves' bounding box (+ radius): 10x faster than the whole volume
    sampling = tuple(2.0 / (n - 1) for n in shape)
    nz = np.nonzero(line)
    box = tuple(slice(max(0, int(i.min()) - int(radius / d) - 2), min(n, int(i.max()) + int(radius / d) + 3))
                for i, d, n in zip(nz, sampling, shape))
    out = np.zeros(shape, bool)
    out[box] = ndi.distance_transform_edt(~line[box], sampling=sampling) <= radius
    return out


def make_phantom(shape: tuple[int, int, int] = (96, 96, 96), setting: str | PhantomSetting = "A",
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One generated CT volume (float32 HU) and its label map (uint8, `ORGANS`).

    Deterministic in ``seed``. Takes about 0.3 s at 96^3.
    """
    s = SETTINGS[setting] if isinstance(setting, str) else setting
    rng = np.random.default_rng(seed)
    shape = tuple(int(v) for v in shape)
    axes = [np.linspace(-1, 1, n, dtype=np.float32) for n in shape]
    X, Y, Z = np.meshgrid(*axes, indexing="ij")
    # a smooth elastic warp of the coordinates (the paper's B-spline deformation, Sec. 2.3, as shape variation)
    Xw = X + _smooth_field(shape, rng, s.warp)
    Yw = Y + _smooth_field(shape, rng, s.warp)
    Zw = Z + _smooth_field(shape, rng, s.warp)

    def jit(v: float) -> float:
        return v * (1 + s.shape_jitter * rng.uniform(-1, 1))

    def ellipsoid(c: tuple[float, float, float], r: tuple[float, float, float]) -> np.ndarray:
        c = [ci + s.shape_jitter * 0.5 * rng.uniform(-1, 1) * ri for ci, ri in zip(c, r)]
        r = [jit(ri) * s.organ_scale for ri in r]
        return ((Xw - c[0]) / r[0]) ** 2 + ((Yw - c[1]) / r[1]) ** 2 + ((Zw - c[2]) / r[2]) ** 2 <= 1.0

    ax, ay = jit(s.body_axes[0]), jit(s.body_axes[1])
    body_r = (Xw / ax) ** 2 + (Yw / ay) ** 2
    body = body_r <= 1.0
    wall = body & (body_r >= 0.82)  # abdominal wall muscle ring
    subcut = body & (body_r >= 0.9)  # subcutaneous fat under the skin
    spine = ((Xw / 0.1) ** 2 + ((Yw - 0.44 * ay / 0.62) / 0.1) ** 2 <= 1.0) & body

    liver = ellipsoid((-0.34, -0.05, 0.32), (0.48, 0.42, 0.45)) & (Xw - 0.9 * Yw < 0.15) & body
    spleen = ellipsoid((0.5, 0.18, 0.4), (0.17, 0.22, 0.25)) & body
    kidney = (ellipsoid((-0.42, 0.28, -0.3), (0.12, 0.14, 0.23)) | ellipsoid((0.42, 0.28, -0.25), (0.12, 0.14, 0.23)))
    kidney &= body
    # pancreas: a curved tube from the head (near the duodenum) to the tail (splenic hilum), head thicker
    k = s.organ_scale
    p_head = np.array([-0.12, 0.02, -0.02]) + rng.uniform(-0.04, 0.04, 3)
    p_tail = np.array([0.38, 0.12, 0.2]) + rng.uniform(-0.05, 0.05, 3)
    p_curve = _polyline(p_head, p_tail, np.array([0.0, -0.12, -0.05]) + rng.uniform(-0.06, 0.06, 3))
    pancreas = _tube(shape, [p_curve], 0.045 * k) | _tube(shape, [p_curve[:50]], 0.065 * k)
    # vessels: aorta and IVC along z, thin renal and splenic arteries, hepatic branches inside the liver
    yv = 0.27 * ay / 0.62
    aorta = np.stack([np.full(300, 0.03), np.full(300, yv), np.linspace(-1, 1, 300)], 1)
    ivc = np.stack([np.full(300, -0.16), np.full(300, yv - 0.02), np.linspace(-1, 1, 300)], 1)
    aorta[:, :2] += rng.uniform(-0.03, 0.03, 2)
    thick = _tube(shape, [aorta, ivc], 0.042 * k)
    thin_curves = [
        _polyline(np.array([0.03, yv, -0.25]), np.array([-0.38, 0.28, -0.3]), rng.uniform(-0.05, 0.05, 3)),
        _polyline(np.array([0.03, yv, -0.22]), np.array([0.38, 0.28, -0.25]), rng.uniform(-0.05, 0.05, 3)),
        _polyline(np.array([0.03, yv, 0.05]), np.array([0.45, 0.15, 0.35]), np.array([0.0, -0.1, 0.02])),
    ]
    hilum = np.array([-0.25, 0.05, 0.2])
    for _ in range(4):  # hepatic (portal) branches fanning out inside the liver
        d = rng.normal(size=3) * np.array([1.0, 0.6, 0.8])
        thin_curves.append(_polyline(hilum, hilum + 0.35 * d / np.linalg.norm(d), rng.uniform(-0.08, 0.08, 3)))
    thin = _tube(shape, thin_curves, 0.022 * k)
    hepatic = thin & liver
    vessel = (thick | (thin & ~liver) | hepatic) & body

    label = np.zeros(shape, np.uint8)
    for i, m in ((1, liver), (2, spleen), (3, kidney), (4, pancreas), (5, vessel)):
        label[m] = i  # later organs take priority (vessels over pancreas over ...)

    # --- intensities (HU) ---
    img = np.full(shape, -1000.0, np.float32)  # air
    img[body] = s.fat
    # bowel loops: unlabelled soft-tissue blobs with gas pockets, the look-alikes of pancreas
    for _ in range(s.n_bowel):
        c = (rng.uniform(-0.45, 0.45), rng.uniform(-0.45, 0.15), rng.uniform(-0.9, 0.3))
        r = rng.uniform(0.06, 0.13)
        blob = ((Xw - c[0]) ** 2 + (Yw - c[1]) ** 2 + ((Zw - c[2]) / 1.5) ** 2) <= r**2
        img[blob & body] = s.bowel + rng.uniform(-15, 15)
        gas = ((Xw - c[0]) ** 2 + (Yw - c[1] + 0.4 * r) ** 2 + ((Zw - c[2]) / 1.5) ** 2) <= (0.4 * r) ** 2
        img[gas & body] = -700.0
    img[wall] = s.muscle
    img[subcut] = s.fat
    img[spine] = s.bone
    for i in range(1, 6):
        img[label == i] = s.hu[i - 1] + rng.uniform(-s.hu_jitter, s.hu_jitter)
    img[~body] = -1000.0
    bias = 1.0 + _smooth_field(shape, rng, s.bias)
    img = np.where(body, img * bias, img)  # only tissue gets the field
    img = ndi.gaussian_filter(img, s.blur) if s.blur > 0 else img
    img = img + rng.normal(0.0, s.noise, shape).astype(np.float32)
    return np.clip(img, -1024, 3071).astype(np.float32), label


def make_phantoms(n: int, shape: tuple[int, int, int], setting: str, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` phantoms with seeds ``seed, seed+1, ...``."""
    return [make_phantom(shape, setting, seed + i) for i in range(n)]
