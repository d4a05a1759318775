"""S4: Transformer grapheme-to-phoneme conversion (Yolchuyeva, Németh, Gyires-Tóth, Interspeech 2019,
arXiv 2004.06338)."""

from .api import G2P
from .metrics import wer_per

__all__ = ["G2P", "wer_per"]
