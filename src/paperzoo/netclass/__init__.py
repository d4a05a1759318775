"""S9 netclass: complex network classification by network embedding + CNN (CNC).

Xin, Zhang, Shao, "Complex network classification with convolutional neural network",
arXiv 1802.00539 (2018); Tsinghua Science and Technology 25(4):447-457, 2020,
DOI 10.26599/TST.2019.9010055. Official code: https://github.com/AXinx/cnc_2017.

A network becomes an image (random walks -> Word2Vec -> PCA to 2-D -> 48x48 node-density
histogram, `image`; `sppmi`: an optional, faster PMI-matrix embedding, not the paper's), a small
CNN classifies the image (`model`). Baselines (handcrafted
statistics + logistic regression, WL-kernel SVM, GIN) live in `baselines`; the recipe
``netclass`` in `recipe`; ``paperzoo netclass train|predict|image`` in `cli`.
"""

from .image import CNCImageConfig, cnc_image, density_histogram, embed_walks, project_2d
from .model import CNC, GIN, CNCConfig, GINConfig, cnc_cnn, cnc_cnn_trade, netclass_gin
from .walks import CSRGraph, random_walks, to_csr, uniform_walks, weighted_walks

__all__ = [
    "CNCImageConfig", "cnc_image", "density_histogram", "embed_walks", "project_2d",
    "CNC", "CNCConfig", "GIN", "GINConfig", "cnc_cnn", "cnc_cnn_trade", "netclass_gin",
    "CSRGraph", "to_csr", "uniform_walks", "weighted_walks", "random_walks",
]
