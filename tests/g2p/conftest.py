import pytest
import torch

from paperzoo.g2p.model import G2PModelConfig, build_model, save_g2p

TINY = G2PModelConfig(d_model=16, n_heads=2, d_ff=32, n_layers=1, n_dec_layers=1, dropout=0.0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """An untrained tiny model written in the shipped format (safetensors + config.json)."""
    d = tmp_path_factory.mktemp("g2p_tiny")
    torch.manual_seed(0)
    save_g2p(build_model(TINY), d, TINY)
    return d
