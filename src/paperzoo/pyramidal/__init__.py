"""S11 Pyramidal RoR (Zhang, Guo, Gao, Zhao 2017, arXiv 1710.00307): PyramidNet + RoR shortcuts + drop-path.

``paperzoo.pyramidal.model`` holds the network and its registered configurations; the recipe
``pyramidal-ror`` (``paperzoo run pyramidal-ror``) trains it; ``paperzoo pyramidal`` has the CLI.
"""

from .model import (
    BLOCK_STYLES,
    DropPath,
    LevelShortcut,
    PyramidalBlock,
    PyramidalRoR,
    drop_path,
    drop_path_rates,
    pyramid_widths,
)

__all__ = ["BLOCK_STYLES", "DropPath", "LevelShortcut", "PyramidalBlock", "PyramidalRoR", "drop_path",
           "drop_path_rates", "pyramid_widths"]
