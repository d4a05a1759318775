import pytest
import torch

from paperzoo.errors import CheckpointError, ConfigError
from paperzoo.hashing.data import augment
from paperzoo.hashing.model import build_hash_net, load_hash_model, save_hash_model
from paperzoo.registry import create_model


def test_shapes_range_and_codes():
    m = create_model("hashing_small_gem", width=4, bits=(8, 16))
    x = torch.rand(3, 3, 32, 32)
    out = m(x)
    assert out[8].shape == (3, 8) and out[16].shape == (3, 16)
    assert out[16].abs().max() <= 1
    b = m.codes(x, 16)
    assert set(b.unique().tolist()) <= {-1.0, 1.0}
    sum(h.sum() for h in out.values()).backward()
    with pytest.raises(ConfigError):
        m.codes(x, 64)
    with pytest.raises(ConfigError):
        build_hash_net(width=4, bits=(12,))


def test_save_load_round_trip(tmp_path):
    m = build_hash_net(width=4, bits=(16,))
    p = save_hash_model(m, tmp_path / "h.safetensors", imsize=32)
    m2, meta = load_hash_model(p)
    x = torch.rand(2, 3, 32, 32)
    m.eval()
    assert meta["bits"] == [16] and torch.equal(m.codes(x, 16), m2.codes(x, 16))
    with pytest.raises(CheckpointError):
        load_hash_model(tmp_path / "missing.safetensors")


def test_augment_keeps_shape_and_range():
    x = torch.rand(4, 3, 16, 16)
    y = augment(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1 and not torch.equal(x, y)


def test_itq_init_reproduces_itq_codes_and_unsaturated_start():
    import numpy as np

    from paperzoo.hashing.baselines import ITQ

    torch.manual_seed(0)
    m = build_hash_net(width=4, bits=(8,))
    phi = torch.nn.functional.normalize(torch.rand(50, m.net.dim).double() + 1.0, dim=1).float()
    m.init_hash_layers(phi, "itq", seed=3)
    h = m.relaxed(phi, 8)
    codes = np.where(h.detach().numpy() >= 0, 1, -1)
    ref = ITQ(8, 3).fit(phi.double().numpy()).encode(phi.double().numpy())
    assert (codes == ref).mean() > 0.98  # same codes up to float rounding at sign boundaries
    pre = torch.atanh(h.clamp(-0.999999, 0.999999))
    assert torch.allclose(pre.mean(0), torch.zeros(8), atol=1e-3) and torch.allclose(pre.std(0), torch.ones(8), atol=2e-2)
    with pytest.raises(ConfigError):
        m.init_hash_layers(phi, "pca")
