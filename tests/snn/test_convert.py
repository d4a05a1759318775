"""BN folding, normalisation and conversion of plain, clipped and residual networks."""

import pytest
import torch
import torch.nn as nn

from paperzoo.errors import ConfigError
from paperzoo.registry import create_model
from paperzoo.snn.convert import IFNeuron, Rescale, calibrate, convert, fold_batchnorm, trace
from paperzoo.snn.model import insert_clips
from paperzoo.vision import BasicBlock, Bottleneck


def _randomise_bn(m):
    g = torch.Generator().manual_seed(0)
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
            n = mod.num_features
            mod.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
            mod.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            mod.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            mod.bias.data.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
    return m.eval()


@pytest.mark.parametrize("name,kw,shape", [("small_cnn", dict(width=4), (3, 1, 8, 8)),
                                           ("resnet20_cifar", dict(widths=(4, 8, 8)), (2, 3, 16, 16)),
                                           ("snn_mlp", dict(batch_norm=True), (3, 1, 8, 8))])
def test_bn_folding_is_exact(name, kw, shape):
    torch.manual_seed(0)
    m = _randomise_bn(create_model(name, **kw))
    x = torch.rand(shape)
    gm = fold_batchnorm(trace(m))
    assert not any(isinstance(x, (nn.BatchNorm1d, nn.BatchNorm2d)) for x in gm.modules())
    torch.testing.assert_close(gm(x), m(x), rtol=1e-5, atol=1e-5)


def test_if_rate_is_floor_quantised_clip():
    n = IFNeuron()
    a = torch.tensor([[-0.3, 0.0, 0.26, 0.5, 0.99, 1.0, 2.5]])
    T = 16
    rate = n(a, steps=T, constant=True).view(T, -1).mean(0)
    torch.testing.assert_close(rate, torch.floor(a.clamp(0, 1)[0] * T) / T)


def test_reset_to_zero_loses_residual_charge():
    sub, zero = IFNeuron(reset="subtract"), IFNeuron(reset="zero")
    a = torch.tensor([[0.4]])
    assert sub(a, 10, True).sum() == 4 and zero(a, 10, True).sum() == 3


def _approaches_ann(m, x, tol_frac=0.02, method="tcl", calib=None, T=2048):
    ref = m(x)
    snn = convert(m, method, calib=calib)
    pot = snn.simulate(x, [T])["potential"][-1]
    err = (pot - ref).abs().max().item()
    assert err <= tol_frac * ref.abs().max().item() + 1e-4, (err, ref.abs().max().item())
    return snn


@pytest.mark.parametrize("per_channel", [False, True])
def test_tcl_snn_approaches_ann_logits(per_channel):
    torch.manual_seed(1)
    m = _randomise_bn(insert_clips(create_model("small_cnn", width=4), init=1.5, per_channel=per_channel))
    _approaches_ann(m, torch.rand(4, 1, 8, 8))


def test_max_norm_snn_approaches_relu_ann():
    torch.manual_seed(2)
    m = _randomise_bn(create_model("small_cnn", width=4))
    x = torch.rand(4, 1, 8, 8)
    _approaches_ann(m, x, method="max", calib=[x])


class _Res(nn.Module):
    """stem -> one residual block -> pooled classifier."""

    def __init__(self, block, head_in):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.block = block
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(head_in, 5))

    def forward(self, x):
        return self.head(self.block(self.stem(x)))


@pytest.mark.parametrize("block", ["basic_identity", "basic_projection", "bottleneck"])
def test_resnet_block_conversion(block):
    torch.manual_seed(3)
    if block == "basic_identity":
        b = BasicBlock(8, 8)
        head_in = 8
    elif block == "basic_projection":
        b = BasicBlock(8, 16, stride=2)
        head_in = 16
    else:
        b = Bottleneck(8, 4)
        head_in = 16
    m = _Res(b, head_in)
    insert_clips(m, init=1.0)
    # distinct λ per layer so the shortcut needs a Rescale (λ_in / λ_out)
    for i, (_, c) in enumerate((n, mod) for n, mod in m.named_modules() if hasattr(mod, "lam")):
        c.lam.data.fill_(0.6 + 0.3 * i)
    m = _randomise_bn(m)
    snn = _approaches_ann(m, torch.rand(3, 3, 8, 8), tol_frac=0.03)
    if block == "basic_identity":
        assert any(isinstance(x, Rescale) for x in snn.gm.modules())


def test_resnet20_converts_end_to_end():
    torch.manual_seed(4)
    m = _randomise_bn(insert_clips(create_model("resnet20_cifar", widths=(4, 4, 8)), init=2.0))
    _approaches_ann(m, torch.rand(2, 3, 8, 8), tol_frac=0.05, T=1024)


def test_calibrate_max_and_percentile():
    m = create_model("snn_mlp", hidden=(16,)).eval()
    gm = trace(m)
    xs = [torch.rand(32, 1, 8, 8) for _ in range(3)]
    mx = calibrate(gm, xs, "max")
    p = calibrate(gm, xs, "p99.9")
    p50 = calibrate(gm, xs, "p50")
    key = next(iter(mx))
    acts = torch.cat([m.features(x) for x in xs]).detach()
    assert mx[key].item() == pytest.approx(acts.max().item(), rel=1e-6)
    assert p50[key].item() <= p[key].item() <= mx[key].item()


def test_unsupported_models_raise_config_errors():
    with pytest.raises(ConfigError, match="max pooling"):
        convert(create_model("small_cnn", width=4, pool="max"), "max", calib=[torch.rand(2, 1, 8, 8)])
    with pytest.raises(ConfigError, match="clip layers"):
        convert(create_model("small_cnn", width=4), "tcl")
    with pytest.raises(ConfigError, match="calibration"):
        convert(create_model("small_cnn", width=4), "max")

    class F(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return torch.relu(self.fc(x))

    with pytest.raises(ConfigError, match="functional activation"):
        convert(F(), "max", calib=[torch.rand(2, 4)])
