"""Typed config dataclasses: presets and ``--set key=value`` (STYLE.md rule 5).

A recipe's config is one ``@dataclass`` whose defaults are the paper's setting. A preset is a
dict of overrides; ``--set`` strings are parsed by the field's declared type (int, float, bool,
str, tuples/lists of those, ``X | None``). Unknown keys and bad values raise `ConfigError`
with the key, the expected type and near matches. No ``exec``, no globals (unlike nanoGPT).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from .errors import ConfigError
from .registry import near

__all__ = ["apply_overrides", "parse_sets", "build_config", "config_to_dict"]

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f"}


def _parse(text: str, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if text.lower() in ("none", "null", "") and type(None) in args:
            return None
        errs = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _parse(text, a, key)
            except ConfigError as e:
                errs.append(str(e))
        raise ConfigError(errs[0] if errs else f"--set {key}: cannot parse {text!r}")
    if origin in (list, tuple):
        inner = args[0] if args else str
        parts = [p for p in text.replace(";", ",").split(",") if p.strip() != ""]
        vals = [_parse(p.strip(), inner, key) for p in parts]
        return tuple(vals) if origin is tuple else vals
    if tp is bool:
        t = text.strip().lower()
        if t in _TRUE:
            return True
        if t in _FALSE:
            return False
        raise ConfigError(f"--set {key}={text}: expected a boolean (true/false)")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"--set {key}={text}: expected an integer") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"--set {key}={text}: expected a number") from None
    if tp is str or tp is Any:
        return text
    raise ConfigError(f"--set {key}: fields of type {tp} cannot be set from the command line")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Accept already-typed preset values; parse strings."""
    if isinstance(value, str) and tp is not str:
        return _parse(value, tp, key)
    origin = typing.get_origin(tp)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def parse_sets(sets: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["lr=1e-3", "depth=6"]`` -> ``{"lr": "1e-3", "depth": "6"}``."""
    out: dict[str, str] = {}
    for s in sets or ():
        if "=" not in s:
            raise ConfigError(f"--set {s!r}: expected key=value, e.g. --set seeds=3")
        k, v = s.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def apply_overrides(cfg: T, overrides: dict[str, Any]) -> T:
    """A copy of dataclass ``cfg`` with ``overrides`` applied, each type-checked."""
    hints = typing.get_type_hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    changes = {}
    for k, v in overrides.items():
        if k not in names:
            raise ConfigError(f"unknown config key {k!r}{near(k, names)}; valid keys: {', '.join(names)}")
        changes[k] = _coerce(v, hints[k], k)
    return dataclasses.replace(cfg, **changes)


def build_config(cls: type[T], presets: dict[str, dict[str, Any]], preset: str,
                 sets: list[str] | tuple[str, ...] = ()) -> T:
    """Defaults (paper) <- preset <- ``--set`` overrides."""
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r}{near(preset, list(presets))}; choose from {', '.join(presets)}")
    cfg = apply_overrides(cls(), presets[preset])
    return apply_overrides(cfg, parse_sets(sets))


def config_to_dict(cfg: Any) -> dict[str, Any]:
    d = dataclasses.asdict(cfg)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
