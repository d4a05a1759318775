"""paperzoo.retrieval (S8): CNN image retrieval fine-tuned without human annotation.

Radenović, Tolias, Chum, "Fine-tuning CNN Image Retrieval with No Human Annotation",
IEEE TPAMI 2019, arXiv 1711.02512. GeM pooling, contrastive loss on tuples mined from 3D structure,
learned whitening (Lw), multi-scale description, the Oxford/Paris (revisited) evaluator and a
FAISS search tool. Reference code: https://github.com/filipradenovic/cnnimageretrieval-pytorch.
"""

from .data import Landmarks, covisibility, distractors, generate_landmarks, positive_pairs, retrieval_gnd
from .losses import ContrastiveLoss, TripletLoss
from .metrics import compute_ap, compute_map, compute_map_revisited
from .model import MAC, GeM, ImageRetrievalNet, SPoC, build_retrieval_net, extract_ms, param_groups
from .whiten import pcawhitenlearn, to_linear, whitenapply, whitenlearn

__all__ = [
    "GeM", "MAC", "SPoC", "ImageRetrievalNet", "build_retrieval_net", "extract_ms", "param_groups",
    "ContrastiveLoss", "TripletLoss", "compute_ap", "compute_map", "compute_map_revisited",
    "whitenlearn", "pcawhitenlearn", "whitenapply", "to_linear",
    "Landmarks", "generate_landmarks", "covisibility", "positive_pairs", "retrieval_gnd", "distractors",
]
