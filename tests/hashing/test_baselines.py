import numpy as np
import pytest

from paperzoo.errors import ConfigError
from paperzoo.hashing.baselines import BASELINES, ITQ, PCAH, make_baseline


@pytest.mark.parametrize("name", list(BASELINES))
def test_baselines_give_pm1_codes_deterministically(name):
    X = np.random.default_rng(0).standard_normal((200, 24))
    a = make_baseline(name, 16, seed=1).fit(X).encode(X)
    b = make_baseline(name, 16, seed=1).fit(X).encode(X)
    assert a.shape == (200, 16) and set(np.unique(a)) <= {-1, 1} and (a == b).all()


def test_itq_lowers_quantisation_loss_vs_pcah():
    X = np.random.default_rng(0).standard_normal((500, 16)) @ np.random.default_rng(1).standard_normal((16, 16))
    itq = ITQ(8).fit(X)
    V = itq.pca.transform(X)
    err_itq = np.sum((itq.encode(X) - V @ itq.R) ** 2)
    err_pca = np.sum((PCAH(8).fit(X).encode(X) - V) ** 2)
    assert err_itq < err_pca


def test_bits_larger_than_dimension_rejected():
    with pytest.raises(ConfigError):
        ITQ(32).fit(np.zeros((100, 16)))
    with pytest.raises(ConfigError):
        make_baseline("KMH", 8)
