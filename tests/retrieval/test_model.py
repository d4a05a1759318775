import math

import pytest
import torch

from paperzoo.errors import ConfigError
from paperzoo.registry import create_model
from paperzoo.retrieval.model import MAC, GeM, SPoC, build_retrieval_net, extract_ms, param_groups


def test_gem_limits_match_spoc_and_mac():
    x = torch.rand(2, 4, 5, 6) + 0.1
    g = GeM(p=1.0)
    assert torch.allclose(g(x), SPoC()(x), atol=1e-5)
    g.p.data.fill_(200.0)
    assert torch.allclose(g(x), MAC()(x), rtol=0.05)


def test_gem_p_gets_gradient_and_is_clamped():
    x = torch.rand(2, 3, 4, 4)
    g = GeM()
    assert g.p.item() == 3.0
    g(x).sum().backward()
    assert g.p.grad is not None and torch.isfinite(g.p.grad).all() and g.p.grad.abs().item() > 0
    g.p.data.fill_(0.2)  # p < 1 is clamped to 1 (MatConvNet): SPoC
    assert torch.allclose(g(x + 0.1), SPoC()(x + 0.1), atol=1e-5)


@pytest.mark.parametrize("pool", ["gem", "mac", "spoc"])
def test_small_net_shapes_backward(pool):
    net = build_retrieval_net("small", pool, width=4)
    v = net(torch.rand(3, 3, 32, 32))
    assert v.shape == (3, 16)
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-4)
    v.sum().backward()


def test_param_groups_p_lr_times_ten_no_decay():
    net = build_retrieval_net("small", "gem", width=4)
    groups = param_groups(net, 1e-3, 1e-4)
    pg = [g for g in groups if any(p is net.pool.p for p in g["params"])][0]
    assert pg["lr"] == pytest.approx(1e-2) and pg["weight_decay"] == 0.0
    assert sum(len(g["params"]) for g in groups) == len(list(net.parameters()))


def test_multiscale_is_unit_norm_and_single_scale_matches():
    net = build_retrieval_net("small", "gem", width=4).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        ms = extract_ms(net, x, (1.0, 1 / math.sqrt(2), 0.5))
        ss = extract_ms(net, x, (1.0,))
        assert torch.allclose(ms.norm(dim=1), torch.ones(2), atol=1e-4)
        assert torch.allclose(ss, net(x), atol=1e-5)


@pytest.mark.parametrize("name,dim", [("retrieval_vgg16_gem", 512), ("retrieval_resnet50_gem", 2048)])
def test_registered_backbones(name, dim):
    net = create_model(name).eval()
    with torch.no_grad():
        assert net(torch.rand(1, 3, 32, 32)).shape == (1, dim)


def test_bad_pool_is_config_error():
    with pytest.raises(ConfigError):
        build_retrieval_net("small", "avgmax")
