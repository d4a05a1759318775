"""S5 and the shared Transformer (Xiong et al. 2020, arXiv 2002.04745).

`model` holds the block every Transformer system uses (S2, S3, S4, S6); `probe` the gradient
probe of the paper's Fig. 3; `recipe` the ``preln`` recipe.
"""

from .model import (
    Seq2SeqTransformer,
    SinusoidalPositions,
    TransformerBlock,
    TransformerConfig,
    TransformerLM,
    TransformerStack,
    causal_mask,
    init_transformer,
)

__all__ = [
    "TransformerBlock", "TransformerStack", "TransformerConfig", "Seq2SeqTransformer", "TransformerLM",
    "SinusoidalPositions", "causal_mask", "init_transformer",
]
