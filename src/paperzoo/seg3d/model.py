"""The 3D U-Net of each cascade stage, from MONAI.

Roth et al., "Hierarchical 3D fully convolutional networks for multi-organ segmentation",
arXiv 1704.06382 (2017), Sec. 2.2: a 3D U-Net (Cicek et al., "3D U-Net: Learning Dense
Volumetric Segmentation from Sparse Annotation", MICCAI 2016, arXiv 1606.06650) with batch
normalisation; encoder 32->64 | 64->128 | 128->256 | 256->512, decoder 256 | 128 | 64, a 1x1x1
convolution to K outputs (19 M parameters).

We build it from ``monai.networks.nets.UNet`` (https://github.com/Project-MONAI/MONAI), the
network medical-imaging people already use. Level widths (64, 128, 256, 512) are the paper's
level outputs; two convolutions per level (``num_res_units=2``).
Deviation: MONAI's UNet uses padded convolutions, strided-convolution downsampling and residual
units instead of valid convolutions with 2x2x2 max-pooling, so input and output tiles have the
same size (the paper: input 132x132x116 -> output 44x44x28).
"""

from __future__ import annotations

from monai.networks.nets import UNet

from ..errors import ConfigError
from ..registry import register_model

__all__ = ["build_unet", "seg3d_unet", "seg3d_unet_tiny"]


def build_unet(n_classes: int, channels: tuple[int, ...] = (64, 128, 256, 512), strides: tuple[int, ...] | None = None,
               num_res_units: int = 2, in_channels: int = 1, norm: str = "batch") -> UNet:
    """A MONAI 3D UNet with ``len(channels)`` levels (downsampling x2 between levels).

    Args:
        n_classes: outputs K (organs + background). Defaults to none; the paper has 8.
        channels: widths per level. Defaults to (64, 128, 256, 512) (Sec. 2.2).
        strides: downsampling per level; Defaults to 2 for every level transition.
        num_res_units: convolutions per residual unit. Defaults to 2.
    """
    if n_classes < 2:
        raise ConfigError(f"n_classes={n_classes}: a segmentation needs background + at least one class")
    if len(channels) < 2:
        raise ConfigError(f"channels={channels}: a U-Net needs at least two levels")
    strides = tuple(strides) if strides else (2,) * (len(channels) - 1)
    return UNet(spatial_dims=3, in_channels=in_channels, out_channels=n_classes, channels=tuple(channels),
                strides=strides, num_res_units=num_res_units, norm=norm)


@register_model(example=(1, 16, 16, 16), tiny={"n_classes": 3, "channels": (4, 8), "num_res_units": 0})
def seg3d_unet(n_classes: int = 8, **kw) -> UNet:
    """The paper's width: levels 64-128-256-512, K = 8 (7 organs + background)."""
    return build_unet(n_classes, **kw)


@register_model(example=(1, 16, 16, 16), tiny={"n_classes": 3})
def seg3d_unet_tiny(n_classes: int = 6, **kw) -> UNet:
    """A CPU-sized U-Net (8-16-32-64, one convolution per level) for the phantom recipe."""
    kw.setdefault("channels", (8, 16, 32, 64))
    kw.setdefault("num_res_units", 0)
    return build_unet(n_classes, **kw)
