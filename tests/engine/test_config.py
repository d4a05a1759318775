from dataclasses import dataclass

import pytest

from paperzoo.config import apply_overrides, build_config, parse_sets
from paperzoo.errors import ConfigError


@dataclass
class Cfg:
    lr: float = 1e-3
    steps: int = 10
    norm: str = "post"
    amp: bool = False
    depths: tuple[int, ...] = (6, 8)
    limit: int | None = None


@pytest.mark.parametrize("sets, expect", [
    (["lr=3e-4"], {"lr": 3e-4}),
    (["steps=5", "amp=true"], {"steps": 5, "amp": True}),
    (["depths=2,4,6"], {"depths": (2, 4, 6)}),
    (["limit=none"], {"limit": None}),
    (["limit=7"], {"limit": 7}),
    (["norm=pre"], {"norm": "pre"}),
])
def test_sets_are_typed(sets, expect):
    cfg = build_config(Cfg, {"quick": {"steps": 3}}, "quick", sets)
    for k, v in expect.items():
        assert getattr(cfg, k) == v


@pytest.mark.parametrize("sets, msg", [
    (["stepz=3"], "unknown config key 'stepz'.*steps"),
    (["steps=three"], "expected an integer"),
    (["amp=maybe"], "expected a boolean"),
    (["lr"], "expected key=value"),
])
def test_bad_sets_are_rejected_clearly(sets, msg):
    with pytest.raises(ConfigError, match=msg):
        build_config(Cfg, {"quick": {}}, "quick", sets)


def test_presets_apply_and_unknown_preset_errors():
    assert build_config(Cfg, {"quick": {"steps": 3}, "full": {}}, "quick").steps == 3
    with pytest.raises(ConfigError, match="unknown preset 'quik'"):
        build_config(Cfg, {"quick": {}}, "quik")
    assert apply_overrides(Cfg(), {"lr": 1}).lr == 1.0 and isinstance(apply_overrides(Cfg(), {"lr": 1}).lr, float)
    assert parse_sets(["a=b=c"]) == {"a": "b=c"}
