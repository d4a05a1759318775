"""S3 ``large-compress``: Li et al., "Train Large, Then Compress", ICML 2020, arXiv 2002.11794.

A compact compression toolkit for any ``nn.Module`` built from Linear/Conv/Embedding/attention
layers -- magnitude pruning (`prune`), k-bit and int8-dynamic weight quantization (`quantize`),
size accounting (`metrics`) -- and the paper's compute-budget study (`recipe`).
"""

from .metrics import SizeReport, count_zeros, csr_bits, model_size, param_count, sparsity
from .model import compress_lm, lm_config, parse_size
from .prune import (
    WeightMask,
    fold_,
    iterative_prune,
    magnitude_masks,
    masks_of,
    prune_,
    sparsity_schedule,
    target_weights,
)
from .quantize import (
    BITS,
    DynamicInt8Linear,
    DynamicInt8MultiheadAttention,
    FakeQuant,
    dequantize,
    dynamic_int8,
    fake_quantize,
    quant_bits_of,
    quantize_symmetric,
    quantize_weights_,
)

__all__ = [
    "target_weights", "WeightMask", "magnitude_masks", "prune_", "iterative_prune", "sparsity_schedule", "fold_",
    "masks_of", "BITS", "quantize_symmetric", "dequantize", "fake_quantize", "FakeQuant", "quantize_weights_",
    "quant_bits_of", "DynamicInt8Linear", "DynamicInt8MultiheadAttention", "dynamic_int8", "SizeReport", "model_size", "count_zeros", "sparsity",
    "csr_bits", "param_count", "compress_lm", "lm_config", "parse_size",
]
