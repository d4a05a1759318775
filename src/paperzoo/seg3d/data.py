"""Data for `paperzoo.seg3d`: NIfTI I/O (nibabel), Decathlon-style datasets, the paper's preprocessing.

Roth et al., "Hierarchical 3D fully convolutional networks for multi-organ segmentation",
arXiv 1704.06382 (2017): CT volumes and label maps as NIfTI (the official code reads
``*.nii.gz`` and writes ``*--PRED.nii.gz``; https://github.com/holgerroth/3Dunet_abdomen_cascade).

* `load_nifti` / `save_like` — a mask is written with the input's affine and header (dtype uint8).
* `find_pairs` — Medical Segmentation Decathlon layout (``dataset.json`` + ``imagesTr/`` +
  ``labelsTr/``) or plain paired files (same names in ``imagesTr``/``labelsTr``, nnU-Net's
  ``_0000`` channel suffix allowed).
* `window` — the intensity windows of Sec. 2.2: stage 1 [-500, 500] HU -> [0, 1], stage 2
  [-2000, 3000] HU -> [-1, 1]; `downsample` — ``I[::2, ::2, ::2]`` without anti-aliasing (Sec. 2.2,
  "half resolution"); `upsample_labels` — nearest neighbour back to the input grid.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["load_nifti", "save_like", "find_pairs", "load_pair", "window", "downsample", "upsample_labels",
           "write_decathlon"]

_NII = (".nii.gz", ".nii")


def _stem(p: Path) -> str:
    n = p.name
    for ext in _NII:
        if n.endswith(ext):
            n = n[: -len(ext)]
    return n[:-5] if n.endswith("_0000") else n


def load_nifti(path: str | Path):
    """``(array float32 (x, y, z), nibabel image)``; a missing or unreadable file is a one-line `DataError`."""
    import nibabel as nib

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist; pass a NIfTI file (.nii or .nii.gz)")
    try:
        img = nib.load(str(path))
        arr = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as e:  # nibabel raises many types for a bad file
        raise DataError(f"{path} is not a readable NIfTI file ({str(e).splitlines()[0][:120]})") from None
    if arr.ndim == 4 and arr.shape[3] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise DataError(f"{path} has shape {arr.shape}; seg3d needs a 3D volume (one channel)")
    return arr, img


def save_like(labels: np.ndarray, like, path: str | Path) -> Path:
    """Write ``labels`` (uint8) with the affine and header of the nibabel image ``like``."""
    import nibabel as nib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdr = like.header.copy()
    hdr.set_data_dtype(np.uint8)
    out = nib.Nifti1Image(np.asarray(labels, np.uint8), like.affine, header=hdr)
    out.header.set_slope_inter(1.0, 0.0)
    nib.save(out, str(path))
    return path


def spacing_of(img) -> tuple[float, float, float]:
    """Voxel size (mm) from a nibabel header."""
    return tuple(float(z) for z in img.header.get_zooms()[:3])


def find_pairs(data_dir: str | Path) -> tuple[list[tuple[Path, Path]], list[str] | None]:
    """``([(image, label), ...], class names or None)`` for a Decathlon-style folder."""
    d = Path(data_dir)
    if not d.is_dir():
        raise DataError(f"--data-dir {d} is not a directory; point it at a folder with imagesTr/ and labelsTr/")
    names = None
    meta = d / "dataset.json"
    pairs: list[tuple[Path, Path]] = []
    if meta.is_file():
        try:
            js = json.loads(meta.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataError(f"{meta} is not valid JSON ({e}); fix or delete it to pair files by name") from None
        labels = js.get("labels")
        if isinstance(labels, dict):  # Decathlon {"0": "background", ...} or nnU-Net v2 {"background": 0, ...}
            items = [(int(k), v) for k, v in labels.items()] if all(str(k).isdigit() for k in labels) \
                else [(int(v), k) for k, v in labels.items()]
            names = [n for _, n in sorted(items)]
        for e in js.get("training", []):
            if isinstance(e, dict) and "image" in e and "label" in e:
                pairs.append(((d / e["image"]).resolve(), (d / e["label"]).resolve()))
    if not pairs:
        img_dir, lab_dir = d / "imagesTr", d / "labelsTr"
        if not img_dir.is_dir() or not lab_dir.is_dir():
            raise DataError(f"--data-dir {d} has no imagesTr/ and labelsTr/ (Decathlon layout); "
                            f"put NIfTI images and label maps with the same names there")
        labs = {_stem(p): p for p in lab_dir.iterdir() if p.name.endswith(_NII) and not p.name.startswith(".")}
        for p in sorted(img_dir.iterdir()):
            if p.name.endswith(_NII) and not p.name.startswith(".") and _stem(p) in labs:
                pairs.append((p, labs[_stem(p)]))
    missing = [str(p) for pair in pairs for p in pair if not p.is_file()]
    if missing:
        raise DataError(f"{len(missing)} file(s) listed in {d} do not exist, e.g. {missing[0]}; fix dataset.json")
    if not pairs:
        raise DataError(f"--data-dir {d}: no image/label pairs found (imagesTr/X.nii.gz with labelsTr/X.nii.gz)")
    return pairs, names


def load_pair(image: str | Path, label: str | Path) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Image (HU), label map (uint8) and spacing; different shapes are a one-line `DataError`."""
    arr, img = load_nifti(image)
    lab, _ = load_nifti(label)
    if arr.shape != lab.shape:
        raise DataError(f"image {Path(image).name} has shape {arr.shape} but label {Path(label).name} has "
                        f"{lab.shape}; resample the label map onto the image grid")
    return arr, np.rint(lab).astype(np.uint8), spacing_of(img)


def window(hu: np.ndarray, lo: float, hi: float, out: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Clip to [lo, hi] HU and map linearly to ``out`` (Sec. 2.2)."""
    x = (np.clip(hu, lo, hi) - lo) / (hi - lo)
    return (out[0] + x * (out[1] - out[0])).astype(np.float32)


def downsample(vol: np.ndarray, factor: int) -> np.ndarray:
    """``vol[::f, ::f, ::f]`` (the paper's subsampling, no anti-aliasing)."""
    return vol if factor == 1 else np.ascontiguousarray(vol[::factor, ::factor, ::factor])


def upsample_labels(lab: np.ndarray, factor: int, shape: tuple[int, ...]) -> np.ndarray:
    """Nearest-neighbour inverse of `downsample` onto ``shape``."""
    if factor == 1:
        return lab
    up = lab.repeat(factor, 0).repeat(factor, 1).repeat(factor, 2)
    return np.ascontiguousarray(up[: shape[0], : shape[1], : shape[2]])


def write_decathlon(out: str | Path, cases: list[tuple[np.ndarray, np.ndarray]], names: tuple[str, ...],
                    spacing: tuple[float, float, float] = (1.5, 1.5, 1.5), prefix: str = "phantom") -> Path:
    """Write ``cases`` as a Decathlon dataset (``imagesTr``/``labelsTr``/``dataset.json``)."""
    import nibabel as nib

    out = Path(out)
    (out / "imagesTr").mkdir(parents=True, exist_ok=True)
    (out / "labelsTr").mkdir(parents=True, exist_ok=True)
    affine = np.diag([*spacing, 1.0])
    training = []
    for i, (img, lab) in enumerate(cases):
        n = f"{prefix}_{i:03d}.nii.gz"
        nib.save(nib.Nifti1Image(img.astype(np.int16), affine), str(out / "imagesTr" / n))
        nib.save(nib.Nifti1Image(lab.astype(np.uint8), affine), str(out / "labelsTr" / n))
        training.append({"image": f"./imagesTr/{n}", "label": f"./labelsTr/{n}"})
    meta = {"name": prefix, "description": "GENERATED phantom CT (paperzoo.seg3d.phantom), not patient data",
            "modality": {"0": "CT"}, "labels": {str(i): n for i, n in enumerate(names)},
            "numTraining": len(training), "training": training}
    (out / "dataset.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return out
