"""paperzoo: eleven deep-learning papers as one faithful, usable PyTorch library.

Ways in: ``create_model(name, **overrides)`` and ``paperzoo run ID`` (see ``paperzoo list``).
"""

from .errors import CheckpointError, ConfigError, DataError, PaperzooError, UnknownNameError
from .registry import create_model, list_models, list_recipes, register_model, register_recipe

__version__ = "0.1.0"
__all__ = [
    "create_model", "list_models", "list_recipes", "register_model", "register_recipe",
    "PaperzooError", "ConfigError", "DataError", "CheckpointError", "UnknownNameError", "__version__",
]
