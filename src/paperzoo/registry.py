"""One registry, one way in (timm's `_registry.py`, STYLE.md rule 1).

Two kinds of entries:

* **models** — ``@register_model`` files a builder function under its name;
  ``create_model(name, **overrides)`` builds it; ``list_models("resnet*")`` filters.
* **recipes** — ``@register_recipe`` files a paper's experiment under its system id
  (``preln``, ``g2p``, ...); ``paperzoo run ID`` runs it.

Recipes live in their subpackage's ``recipe.py``. ``SYSTEMS`` is the static table of the
eleven systems (id, subpackage, paper), so ``paperzoo list`` works even for systems whose
code has not landed yet; importing ``paperzoo.<pkg>.recipe`` registers the recipe.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import UnknownNameError

__all__ = [
    "SYSTEMS",
    "System",
    "RecipeSpec",
    "register_model",
    "model_meta",
    "create_model",
    "list_models",
    "register_recipe",
    "get_recipe",
    "list_recipes",
    "near",
]


@dataclass(frozen=True)
class System:
    id: str
    paper_id: str
    package: str
    title: str
    authors: str
    year: int
    link: str


SYSTEMS: dict[str, System] = {s.id: s for s in [
    System("snn-tcl", "S1", "snn", "TCL: an ANN-to-SNN Conversion with Trainable Clipping Layers",
           "Ho, Chang", 2020, "https://arxiv.org/abs/2008.04509"),
    System("wide-thin", "S2", "widethin", "Go Wide, Then Narrow: Efficient Training of Deep Thin Networks",
           "Zhou, Ye, Chen, Meng, Tan, Song, Le, Liu, Schuurmans", 2020, "https://arxiv.org/abs/2007.00811"),
    System("large-compress", "S3", "compress",
           "Train Large, Then Compress: Rethinking Model Size for Efficient Training and Inference of Transformers",
           "Li, Wallace, Shen, Lin, Keutzer, Klein, Gonzalez", 2020, "https://arxiv.org/abs/2002.11794"),
    System("g2p", "S4", "g2p", "Transformer based Grapheme-to-Phoneme Conversion",
           "Yolchuyeva, Németh, Gyires-Tóth", 2019, "https://arxiv.org/abs/2004.06338"),
    System("preln", "S5", "transformer", "On Layer Normalization in the Transformer Architecture",
           "Xiong, Yang, He, Zheng, Zheng, Xing, Zhang, Lan, Wang, Liu", 2020, "https://arxiv.org/abs/2002.04745"),
    System("dialogue", "S6", "dialogue", "Neural Approaches to Conversational AI",
           "Gao, Galley, Li", 2019, "https://arxiv.org/abs/1809.08267"),
    System("hashing", "S7", "hashing",
           "Binary Constrained Deep Hashing Network for Image Retrieval without Manual Annotation",
           "Do, Le Tan, Pham, Hoang, Le, Cheung, Reid", 2018, "https://arxiv.org/abs/1802.07437"),
    System("retrieval", "S8", "retrieval", "Fine-tuning CNN Image Retrieval with No Human Annotation",
           "Radenović, Tolias, Chum", 2018, "https://arxiv.org/abs/1711.02512"),
    System("netclass", "S9", "netclass",
           "Complex network classification with convolutional neural network",
           "Xin, Zhang, Shao", 2018, "https://arxiv.org/abs/1802.00539"),
    System("seg3d", "S10", "seg3d",
           "Hierarchical 3D fully convolutional networks for multi-organ segmentation",
           "Roth, Oda, Hayashi, Oda, Shimizu, Fujiwara, Misawa, Mori", 2017, "https://arxiv.org/abs/1704.06382"),
    System("pyramidal-ror", "S11", "pyramidal", "Pyramidal RoR for image classification",
           "Zhang, Guo, Gao, Zhao", 2017, "https://arxiv.org/abs/1710.00307"),
]}

_MODELS: dict[str, Callable[..., Any]] = {}
_MODEL_META: dict[str, dict[str, Any]] = {}


@dataclass
class RecipeSpec:
    """A registered recipe: its run function, config dataclass and preset overrides."""

    id: str
    fn: Callable[..., Any]
    config: type
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    needs_data_dir: tuple[str, ...] = ("full",)  # presets that require --data-dir

    @property
    def system(self) -> System:
        return SYSTEMS[self.id]


_RECIPES: dict[str, RecipeSpec] = {}


def near(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """' (did you mean: a, b?)' for a mistyped name, or ''."""
    hits = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" (did you mean: {', '.join(hits)}?)" if hits else ""


def register_model(fn: Callable[..., Any] | None = None, *, example: Any = None,
                   tiny: dict[str, Any] | None = None) -> Any:
    """Decorator: file a model builder under its function name (timm's ``@register_model``).

    Usable bare (``@register_model``) or with test metadata (``@register_model(example=(3, 32, 32),
    tiny={"width": 8})``): ``example`` is an input shape without batch, or a callable
    ``model -> tuple of forward args``; ``tiny`` are overrides that make the model small. The
    all-models test (tests/test_registry.py) builds each model with ``tiny`` and runs ``example``.
    """
    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        name = f.__name__
        if name in _MODELS and _MODELS[name] is not f and _MODELS[name].__qualname__ != f.__qualname__:
            raise ValueError(f"model {name!r} registered twice ({_MODELS[name].__module__} and {f.__module__})")
        _MODELS[name] = f
        _MODEL_META[name] = {"example": example, "tiny": dict(tiny or {})}
        return f

    return deco(fn) if fn is not None else deco


def model_meta(name: str) -> dict[str, Any]:
    """``{"example": ..., "tiny": {...}}`` as registered (for tests and summaries)."""
    _import_all()
    return _MODEL_META.get(name, {"example": None, "tiny": {}})


def _import_all() -> None:
    for s in SYSTEMS.values():
        for mod in (f"paperzoo.{s.package}.model", f"paperzoo.{s.package}.recipe"):
            try:
                importlib.import_module(mod)
            except ModuleNotFoundError as e:  # system not landed yet
                if not (e.name or "").startswith(f"paperzoo.{s.package}"):
                    raise
    importlib.import_module("paperzoo.vision")


def create_model(name: str, **overrides: Any) -> Any:
    """Build a registered model by name; unknown names get a one-line error with near matches."""
    if name not in _MODELS:
        _import_all()
    if name not in _MODELS:
        raise UnknownNameError(f"unknown model {name!r}{near(name, sorted(_MODELS))}; `paperzoo models` lists them")
    return _MODELS[name](**overrides)


def list_models(pattern: str = "*") -> list[str]:
    _import_all()
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def register_recipe(id: str, *, config: type, presets: dict[str, dict[str, Any]],
                    needs_data_dir: tuple[str, ...] = ("full",)) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for a recipe's ``run(cfg, ctx)`` function.

    ``config`` is the recipe's config dataclass (defaults = the paper's setting), ``presets`` maps
    ``quick``/``full`` to overrides of it. ``needs_data_dir`` lists presets that need ``--data-dir``.
    """
    if id not in SYSTEMS:
        raise ValueError(f"recipe id {id!r} is not one of the systems: {sorted(SYSTEMS)}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _RECIPES[id] = RecipeSpec(id, fn, config, presets, needs_data_dir)
        return fn

    return deco


def get_recipe(id: str) -> RecipeSpec:
    """The recipe for a system id, importing its subpackage on demand."""
    if id not in SYSTEMS:
        raise UnknownNameError(f"unknown recipe {id!r}{near(id, list(SYSTEMS))}; `paperzoo list` shows all")
    if id not in _RECIPES:
        try:
            importlib.import_module(f"paperzoo.{SYSTEMS[id].package}.recipe")
        except ModuleNotFoundError as e:
            if not (e.name or "").startswith(f"paperzoo.{SYSTEMS[id].package}"):
                raise
    if id not in _RECIPES:
        raise UnknownNameError(f"recipe {id!r} ({SYSTEMS[id].paper_id}) is not implemented yet")
    return _RECIPES[id]


def list_recipes() -> list[tuple[System, bool]]:
    """Every system with whether its recipe is implemented."""
    out = []
    for s in SYSTEMS.values():
        try:
            get_recipe(s.id)
            ok = True
        except UnknownNameError:
            ok = False
        out.append((s, ok))
    return out
