"""widen(): same depth, every block's width x factor (WIN stage 1)."""

import pytest
import torch

from paperzoo.errors import ConfigError
from paperzoo.registry import create_model
from paperzoo.transformer import TransformerConfig
from paperzoo.widethin import MLPConfig, ResNetSpec, build, depth_of, widen, widths_of


@pytest.mark.parametrize("spec, factor", [
    (MLPConfig(width=12, depth=16), 8),
    (MLPConfig(width=5, depth=3), 2.0),
    (ResNetSpec(block="basic", layers=(1, 2, 1), widths=(4, 8, 16), stem="cifar", num_classes=10), 3),
    (ResNetSpec(), 2),
    (TransformerConfig(d_model=32, n_heads=2, d_ff=64, n_layers=5), 4),
])
def test_widen_keeps_depth_multiplies_width(spec, factor):
    wide = widen(spec, factor)
    assert depth_of(wide) == depth_of(spec)
    assert [round(w * factor) for w in widths_of(spec)] == list(widths_of(wide))
    assert type(wide) is type(spec)


def test_widen_transformer_ffn_and_heads():
    c = widen(TransformerConfig(d_model=32, n_heads=2, d_ff=64, n_layers=3), 4)
    assert (c.d_model, c.d_ff, c.n_heads, c.n_layers) == (128, 256, 2, 3)


@pytest.mark.parametrize("spec, x, out", [
    (MLPConfig(width=6, depth=4), torch.randn(3, 1, 8, 8), (3, 10)),
    (ResNetSpec(block="basic", layers=(1, 1), widths=(4, 8), stem="cifar", num_classes=5), torch.randn(2, 3, 8, 8), (2, 5)),
])
def test_build_shapes(spec, x, out):
    for s in (spec, widen(spec, 2)):
        assert tuple(build(s)(x).shape) == out


def test_bad_inputs():
    with pytest.raises(ConfigError, match="factor"):
        widen(MLPConfig(), 0.5)
    with pytest.raises(ConfigError, match="MLPConfig"):
        widen({"width": 3}, 2)
    with pytest.raises(ConfigError, match="depth"):
        build(MLPConfig(depth=0))


def test_registered_models():
    thin, wide = create_model("widethin_mlp16x12"), create_model("widethin_mlp16x96")
    assert len(thin.blocks) == len(wide.blocks) == 16
    assert thin.blocks[3].linear.out_features * 8 == wide.blocks[3].linear.out_features


def test_cli_widen_and_check_merge():
    from typer.testing import CliRunner

    from paperzoo.widethin.cli import app
    r = CliRunner().invoke(app, ["widen", "--kind", "mlp", "--depth", "4", "--width", "3", "--factor", "2"])
    assert r.exit_code == 0 and "block widths 6" in r.output
    r = CliRunner().invoke(app, ["check-merge", "--depth", "3", "--width", "4", "--factor", "2"])
    assert r.exit_code == 0 and "identical architecture: True" in r.output
    r = CliRunner().invoke(app, ["widen", "--kind", "nope"])
    assert r.exit_code != 0
