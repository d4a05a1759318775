"""S10 seg3d: cascaded 3D fully convolutional networks for multi-organ CT segmentation, on MONAI.

Roth, Oda, Hayashi, Oda, Shimizu, Fujiwara, Misawa, Mori, "Hierarchical 3D fully convolutional
networks for multi-organ segmentation", arXiv 1704.06382 (2017); "An application of cascaded 3D
fully convolutional networks for medical image segmentation", CMIG 66 (2018), arXiv 1803.05431.
Reference code: https://github.com/holgerroth/3Dunet_abdomen_cascade.

Modules: `phantom` (generated CT + labels), `data` (NIfTI, Decathlon, windows), `model`
(MONAI U-Net), `losses` (region-restricted weighted CE), `region` (body mask, candidate region,
tile-skipping sliding window), `metrics` (Dice, surface distance), `cascade` (the two stages,
save/load), `sampling`, `recipe` (``paperzoo run seg3d``), `evaluate`, `viz`, `cli`
(``paperzoo seg3d``).
"""

from .cascade import Cascade, CascadeConfig, EmptyRegionWarning
from .data import find_pairs, load_nifti, load_pair, save_like
from .losses import RegionLoss, class_weights, region_class_weights
from .metrics import organ_metrics
from .model import build_unet, seg3d_unet, seg3d_unet_tiny
from .phantom import ORGANS, make_phantom
from .region import body_mask, candidate_region, region_sliding_window, region_stats, tiles_touching

__all__ = [
    "Cascade", "CascadeConfig", "EmptyRegionWarning", "find_pairs", "load_nifti", "load_pair", "save_like",
    "RegionLoss", "class_weights", "region_class_weights", "organ_metrics", "build_unet", "seg3d_unet", "seg3d_unet_tiny", "ORGANS",
    "make_phantom", "body_mask", "candidate_region", "region_sliding_window", "region_stats", "tiles_touching",
]
