"""paperzoo.hashing (S7): unsupervised deep hashing with a pairwise binary constrained loss.

Do, Le Tan, Pham, Hoang, Le, Cheung, Reid, "Binary Constrained Deep Hashing Network for Image Retrieval
without Manual Annotation", arXiv 1802.07437 (2018). The loss is the documented reconstruction (the
paper's exact form is unconfirmed; see `losses`). Reuses S8 (`paperzoo.retrieval`) for the backbone,
GeM, generated landmarks with 3D structure and mining. Baselines LSH/PCAH/ITQ/SH, a Hamming evaluator
with a stable tie policy, and FAISS binary indices.
"""

from .baselines import ITQ, LSH, PCAH, SpectralHashing, make_baseline
from .losses import PairwiseBinaryConstrainedLoss, b_step
from .metrics import (
           hamming_distances,
           hamming_map,
           hamming_rank,
           pack_codes,
           pr_curve,
           precision_within_radius,
)
from .model import HashNet, build_hash_net, check_bits, load_hash_model, save_hash_model

__all__ = ["PairwiseBinaryConstrainedLoss", "b_step", "HashNet", "build_hash_net", "check_bits", "save_hash_model",
           "load_hash_model", "LSH", "PCAH", "ITQ", "SpectralHashing", "make_baseline", "hamming_distances",
           "hamming_rank", "hamming_map", "precision_within_radius", "pr_curve", "pack_codes"]
