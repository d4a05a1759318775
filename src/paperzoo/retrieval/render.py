"""A small numpy ray-caster for GENERATED "landmark" scenes (the data behind `data.generate_landmarks`).

Not from the paper: Radenović et al. (arXiv 1711.02512, Sec. 3.2) mine training pairs from
structure-from-motion models of real photo collections (retrieval-SfM-120k, COLMAP). Offline, we
replace the photos by renders of procedural 3D scenes whose 3D points are known exactly, so
"two images share 3D points" is computed from the geometry instead of estimated by SfM.

A landmark is 2-4 textured boxes ("buildings", each yawed about the vertical axis) on a ground
plane. Each face carries a procedural facade texture (window grids, bands, ornaments; colours
drawn per landmark) and a g x g grid of 3D points. A view is a pinhole camera (perspective
projection, focal length = zoom) looking at the landmark from a random azimuth, elevation and
distance; pixels are ray-cast against all boxes with a z-buffer (occlusion between buildings), an
optional foreground occluder (a pole/tree-like box that hides part of the landmark), a generic
ground and a sky gradient. Lighting varies per view: sun direction (Lambertian shading per face),
exposure, colour tint, gamma and sensor noise. The image is rendered at 2x and box-filtered.
A 3D point is *visible* in a view when it projects inside the image, its face looks towards the
camera and the z-buffer at its pixel is not closer (not occluded).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Box", "Scene", "make_scene", "sample_camera", "render_view"]

# face order: x-lo, x-hi, z-lo, z-hi, top (y-hi); bottom faces are never seen from above ground
_FACE_NORMALS = np.array([[-1, 0, 0], [1, 0, 0], [0, 0, -1], [0, 0, 1], [0, 1, 0]], dtype=np.float64)


@dataclass
class Box:
    center: np.ndarray  # (3,) world position of the base centre (y = 0)
    size: np.ndarray    # (3,) width (x), height (y), depth (z) in the box frame
    yaw: float          # rotation about the vertical axis
    textures: np.ndarray  # (5, T, T, 3) one texture per face, floats in [0, 1]
    points: np.ndarray | None = None   # (P, 3) world coordinates of the face points
    point_face: np.ndarray | None = None  # (P,) face index 0..4

    @property
    def rot(self) -> np.ndarray:  # box frame -> world
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


@dataclass
class Scene:
    boxes: list[Box]
    point_ids: np.ndarray     # (P_total,) global ids of all 3D points, box after box
    target: np.ndarray        # (3,) look-at centre
    radius: float             # rough extent


def _facade_texture(rng: np.random.Generator, T: int, palette: np.ndarray) -> np.ndarray:
    """A procedural facade: base colour, horizontal bands, a grid of windows, a few ornaments."""
    base = palette[rng.integers(len(palette))]
    tex = np.ones((T, T, 3)) * base
    yy, xx = np.mgrid[0:T, 0:T] / T
    # bands (storeys / cornices)
    nb = rng.integers(1, 4)
    for _ in range(nb):
        y0, h = rng.uniform(0, 1), rng.uniform(0.03, 0.12)
        tex[(yy > y0) & (yy < y0 + h)] = palette[rng.integers(len(palette))] * rng.uniform(0.6, 1.0)
    # window grid
    nx, ny = rng.integers(2, 6), rng.integers(2, 6)
    wx, wy = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7)
    win = palette[rng.integers(len(palette))] * rng.uniform(0.1, 0.5)
    fx, fy = (xx * nx) % 1.0, (yy * ny) % 1.0
    mask = (np.abs(fx - 0.5) < wx / 2) & (np.abs(fy - 0.5) < wy / 2)
    if rng.random() < 0.5:  # arched / round windows
        mask &= ((fx - 0.5) / max(wx, 1e-3)) ** 2 + ((fy - 0.5) / max(wy, 1e-3)) ** 2 < 0.3
    tex[mask] = win
    # ornaments: discs and diagonal stripes at random places
    for _ in range(rng.integers(1, 4)):
        cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.2)
        tex[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = palette[rng.integers(len(palette))]
    if rng.random() < 0.5:
        k = rng.uniform(4, 12)
        tex[((xx + yy) * k % 1.0) < 0.15] *= 0.6
    tex *= 1 + 0.08 * rng.standard_normal((T, T, 1))  # stone grain
    return np.clip(tex, 0, 1)


def make_scene(rng: np.random.Generator, first_point_id: int, tex_size: int = 32, grid: int = 6) -> Scene:
    """A random landmark: 2-4 boxes with facade textures and a grid x grid point lattice per face."""
    palette = rng.uniform(0.15, 0.95, size=(rng.integers(3, 6), 3))
    nbox = int(rng.integers(2, 5))
    boxes: list[Box] = []
    for b in range(nbox):
        size = np.array([rng.uniform(1.0, 3.0), rng.uniform(1.5, 5.0), rng.uniform(1.0, 3.0)])
        ang, rad = rng.uniform(0, 2 * np.pi), (0 if b == 0 else rng.uniform(1.5, 3.0))
        center = np.array([rad * np.cos(ang), 0.0, rad * np.sin(ang)])
        tex = np.stack([_facade_texture(rng, tex_size, palette) for _ in range(5)])
        boxes.append(Box(center, size, float(rng.uniform(0, np.pi / 2)), tex))
    ids, start = [], first_point_id
    g = (np.arange(grid) + 0.5) / grid
    a, c = np.meshgrid(g, g, indexing="ij")
    a, c = a.ravel(), c.ravel()
    for bx in boxes:
        w, h, d = bx.size
        pts, faces = [], []
        for f in range(5):
            if f in (0, 1):      # x faces: (z, y)
                loc = np.stack([np.full_like(a, -w / 2 if f == 0 else w / 2), c * h, (a - 0.5) * d], 1)
            elif f in (2, 3):    # z faces: (x, y)
                loc = np.stack([(a - 0.5) * w, c * h, np.full_like(a, -d / 2 if f == 2 else d / 2)], 1)
            else:                # top: (x, z)
                loc = np.stack([(a - 0.5) * w, np.full_like(a, h), (c - 0.5) * d], 1)
            pts.append(loc @ bx.rot.T + bx.center)
            faces.append(np.full(len(a), f))
        bx.points, bx.point_face = np.concatenate(pts), np.concatenate(faces)
        ids.append(np.arange(start, start + len(bx.points)))
        start += len(bx.points)
    allc = np.stack([b.center for b in boxes])
    target = np.array([allc[:, 0].mean(), np.mean([b.size[1] for b in boxes]) * 0.5, allc[:, 2].mean()])
    return Scene(boxes, np.concatenate(ids), target, float(np.abs(allc[:, [0, 2]]).max() + 2.0))


def sample_camera(rng: np.random.Generator, scene: Scene, size: int, azimuth_range: float = np.pi) -> dict:
    """A camera looking at the landmark: azimuth, elevation 3-30 deg, distance 2-5 radii, zoom, small roll."""
    az = rng.uniform(-azimuth_range / 2, azimuth_range / 2) + scene.boxes[0].yaw
    el = np.deg2rad(rng.uniform(3, 30))
    dist = scene.radius * rng.uniform(2.0, 5.0)
    C = scene.target + dist * np.array([np.cos(el) * np.cos(az), np.sin(el), np.cos(el) * np.sin(az)])
    C[1] = max(C[1], 0.3)
    tgt = scene.target + rng.normal(0, 0.15 * scene.radius, 3) * np.array([1, 0.5, 1])
    fwd = tgt - C
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    roll = np.deg2rad(rng.normal(0, 3))
    cr, sr = np.cos(roll), np.sin(roll)
    right, down = cr * right + sr * down, -sr * right + cr * down
    R = np.stack([right, down, fwd])  # world -> camera rows
    f = size * rng.uniform(1.0, 2.2) * dist / (scene.radius * 3.5)  # zoom keeps the landmark near frame size
    return {"C": C, "R": R, "f": f}


def _cast(o: np.ndarray, d: np.ndarray, box: Box):
    """Slab intersection of rays (o (3,), d (M, 3)) with a box: ray index (K,), t (K,), face (K,), uv (K, 2)
    for the K rays that hit it (rays are first culled by the box's bounding sphere)."""
    w, h, dd = box.size
    oc = box.center + np.array([0.0, h / 2, 0.0]) - o
    m = d @ oc
    dn2 = np.einsum("ij,ij->i", d, d)
    cand = np.flatnonzero((m > 0) & (oc @ oc - m * m / dn2 < 0.25 * float(box.size @ box.size)))
    R = box.rot
    ol = R.T @ (o - box.center)
    dl = d[cand] @ R                                      # (K, 3) rays in the box frame
    dl = np.where(np.abs(dl) < 1e-12, 1e-12, dl)
    lo, hi = np.array([-w / 2, 0.0, -dd / 2]), np.array([w / 2, h, dd / 2])
    inv = 1.0 / dl
    t1, t2 = (lo - ol) * inv, (hi - ol) * inv
    tmin_ax, tmax_ax = np.minimum(t1, t2), np.maximum(t1, t2)
    axis = tmin_ax.argmax(1)
    tn, tf = tmin_ax.max(1), tmax_ax.min(1)
    hit = (tf >= tn) & (tn > 1e-6)
    cand, tn, axis, dl = cand[hit], tn[hit], axis[hit], dl[hit]
    p = ol + dl * tn[:, None]                             # hit points, box frame
    neg = np.take_along_axis(dl, axis[:, None], 1)[:, 0] > 0  # entering through the low face
    face = np.where(axis == 0, np.where(neg, 0, 1), np.where(axis == 2, np.where(neg, 2, 3), 4))
    u = np.where(axis == 0, (p[:, 2] + dd / 2) / dd, (p[:, 0] + w / 2) / w)
    v = np.where(axis == 1, (p[:, 2] + dd / 2) / dd, 1 - p[:, 1] / h)
    return cand, tn, face, np.clip(np.stack([u, v], 1), 0, 0.9999)


def render_view(scene: Scene, cam: dict, size: int, rng: np.random.Generator, occluder: bool = True,
                supersample: int = 2) -> tuple[np.ndarray, np.ndarray, float]:
    """Render one view: image (3, size, size) float32 in [0, 1], visible point ids, mean scale (px per unit)."""
    S = size * supersample
    C, R, f = cam["C"], cam["R"], cam["f"] * supersample
    jj, ii = np.meshgrid(np.arange(S) + 0.5, np.arange(S) + 0.5)
    dcam = np.stack([(jj - S / 2) / f, (ii - S / 2) / f, np.ones_like(jj)], -1).reshape(-1, 3)
    d = dcam @ R                                           # world directions; dcam z = 1 so t = camera depth
    M = len(d)
    zbuf = np.full(M, np.inf)
    col = np.zeros((M, 3))
    sun_az, sun_el = rng.uniform(0, 2 * np.pi), np.deg2rad(rng.uniform(20, 70))
    L = np.array([np.cos(sun_el) * np.cos(sun_az), np.sin(sun_el), np.cos(sun_el) * np.sin(sun_az)])
    ambient, diffuse = rng.uniform(0.35, 0.6), rng.uniform(0.4, 0.8)
    objs = list(scene.boxes)
    if occluder and rng.random() < 0.5:
        frac = rng.uniform(0.3, 0.7)
        pos = C + (scene.target - C) * frac + rng.normal(0, 0.5, 3)
        pos[1] = 0.0
        osz = np.array([rng.uniform(0.2, 0.8), rng.uniform(1.0, 4.0) * frac * 2, rng.uniform(0.2, 0.8)])
        base = rng.uniform(0.05, 0.5, 3)
        otex = np.clip(base * (1 + 0.3 * rng.standard_normal((5, 8, 8, 1))), 0, 1)
        objs.append(Box(pos, osz, float(rng.uniform(0, np.pi)), otex))
    for bx in objs:
        idx, t, face, uv = _cast(C, d, bx)
        closer = t < zbuf[idx]
        if not closer.any():
            continue
        idx = idx[closer]
        zbuf[idx] = t[closer]
        T = bx.textures.shape[1]
        fi = face[closer]
        ui, vi = (uv[closer] * T).astype(int).T
        n_world = _FACE_NORMALS[fi] @ bx.rot.T
        shade = ambient + diffuse * np.clip(n_world @ L, 0, None)
        col[idx] = bx.textures[fi, vi, ui] * shade[:, None]
    # ground (y = 0) and sky
    with np.errstate(divide="ignore", invalid="ignore"):
        tg = -C[1] / d[:, 1]
    ground = (d[:, 1] < 0) & (tg < zbuf)
    gp = C + d[ground] * tg[ground, None]
    gtone = 0.35 + 0.1 * np.sin(gp[:, 0] * 1.7) * np.sin(gp[:, 2] * 1.3)
    col[ground] = gtone[:, None] * rng.uniform(0.8, 1.2, 3) * (ambient + diffuse * L[1])
    sky = ~ground & ~np.isfinite(zbuf)
    elev = np.clip(-d[sky, 1] / np.linalg.norm(d[sky], axis=1), 0, 1)
    sky_top, sky_hor = rng.uniform(0.4, 0.9, 3) * np.array([0.7, 0.8, 1.0]), rng.uniform(0.7, 1.0, 3)
    col[sky] = sky_hor + (sky_top - sky_hor) * elev[:, None] ** 0.5
    zbuf[ground] = np.minimum(zbuf[ground], tg[ground])
    # photometric variation: exposure, tint, gamma, noise
    col = col * rng.uniform(0.7, 1.3) * rng.uniform(0.9, 1.1, 3)
    col = np.clip(col, 0, 1) ** rng.uniform(0.8, 1.25)
    img = col.reshape(S, S, 3)
    if supersample > 1:
        img = img.reshape(size, supersample, size, supersample, 3).mean((1, 3))
    img = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1).astype(np.float32).transpose(2, 0, 1)
    # visibility of the scene's 3D points
    P = np.concatenate([b.points for b in scene.boxes])
    Fn = np.concatenate([_FACE_NORMALS[b.point_face] @ b.rot.T for b in scene.boxes])
    pc = (P - C) @ R.T                                   # camera frame
    z = pc[:, 2]
    ok = z > 1e-3
    px = np.where(ok, pc[:, 0] / np.maximum(z, 1e-3) * f + S / 2, -1)
    py = np.where(ok, pc[:, 1] / np.maximum(z, 1e-3) * f + S / 2, -1)
    ok &= (px >= 0) & (px < S) & (py >= 0) & (py < S)
    ok &= np.einsum("ij,ij->i", Fn, C - P) > 0           # the face looks at the camera
    zi = zbuf.reshape(S, S)[np.clip(py, 0, S - 1).astype(int), np.clip(px, 0, S - 1).astype(int)]
    ok &= z <= zi * 1.02 + 0.05                          # not occluded
    scale = float(np.mean(cam["f"] / z[ok])) if ok.any() else 0.0
    return img, scene.point_ids[ok], scale
