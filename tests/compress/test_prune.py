"""Pruning: exact sparsity, global vs per-layer, tied weights, iterative nesting, masks through safetensors."""

import pytest
import torch
import torch.nn as nn

from paperzoo.compress import (
    count_zeros,
    fold_,
    iterative_prune,
    magnitude_masks,
    masks_of,
    prune_,
    sparsity_schedule,
    target_weights,
)
from paperzoo.compress.model import compress_lm
from paperzoo.engine import load_weights, save_weights
from paperzoo.errors import ConfigError


def _lm(seed=0):
    torch.manual_seed(seed)
    return compress_lm(vocab=40, depth=2, width=32, seq_len=16)


@pytest.mark.parametrize("s", [0.0, 0.3, 0.6, 0.9, 1.0])
@pytest.mark.parametrize("scope", ["global", "layer"])
def test_sparsity_exact(s, scope):
    m = _lm()
    refs = target_weights(m)
    prune_(m, s, scope)
    z, n = count_zeros(m)
    if scope == "global":
        assert z == n - round((1 - s) * n)
    else:
        assert z == sum(r.tensor.numel() - round((1 - s) * r.tensor.numel()) for r in refs)
        for r in refs:  # every layer individually at the target
            w = r.tensor
            assert int((w == 0).sum()) == w.numel() - round((1 - s) * w.numel())


def test_global_keeps_largest_magnitudes():
    w1, w2 = torch.tensor([[1.0, -5.0], [0.1, 3.0]]), torch.tensor([[0.2, -0.05]])
    m1, m2 = magnitude_masks([w1, w2], 0.5, "global")
    assert m1.tolist() == [[True, True], [False, True]] and m2.tolist() == [[False, False]]


def test_tied_embedding_one_mask_and_one_parameter():
    m = _lm()
    assert m.embed.weight is m.lm_head.weight
    names = [r.name for r in target_weights(m)]
    assert "lm_head.weight" not in names and "embed.weight" in names
    prune_(m, 0.5)
    assert torch.equal(m.embed.weight, m.lm_head.weight)
    assert m.embed.parametrizations.weight.original is m.lm_head.parametrizations.weight.original
    fold_(m)
    assert m.embed.weight is m.lm_head.weight


def test_attention_out_proj_is_masked_in_forward():
    """MHA reads out_proj.weight without calling out_proj: the mask must still apply."""
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    nn.init.zeros_(mha.out_proj.bias)
    prune_(mha, 1.0)
    x = torch.randn(2, 3, 8)
    assert torch.count_nonzero(mha(x, x, x)[0]) == 0


def test_finetune_keeps_pruned_weights_zero_and_masks_nested():
    m = _lm()
    x = torch.randint(0, 40, (4, 16))
    opt_state = {}

    def finetune(model, s):
        opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        for _ in range(3):
            loss = model(x, x)[1]
            opt.zero_grad()
            loss.backward()
            opt.step()
        opt_state[s] = {k: v.clone() for k, v in masks_of(model).items()}

    iterative_prune(m, sparsity_schedule(0.6, 3), finetune)
    z, n = count_zeros(m)
    assert z == n - round(0.4 * n)
    levels = sorted(opt_state)
    assert len(levels) == 3 and abs(levels[-1] - 0.6) < 1e-9
    a, b = opt_state[levels[0]], opt_state[levels[-1]]
    for k in a:  # a weight pruned at 20 % stays pruned at 60 %
        assert not (b[k] & ~a[k]).any()


def test_masks_survive_safetensors_roundtrip(tmp_path):
    m = _lm(0)
    prune_(m, 0.7)
    path = tmp_path / "pruned.safetensors"
    save_weights(m, path)
    fresh = _lm(1)
    prune_(fresh, 0.0)  # same structure: every weight gets a (all-ones) mask
    load_weights(fresh, path)
    for k, v in masks_of(m).items():
        assert torch.equal(masks_of(fresh)[k], v)
    assert count_zeros(fresh) == count_zeros(m)
    x = torch.randint(0, 40, (2, 16))
    assert torch.allclose(m(x)[0], fresh(x)[0])


def test_folded_export_keeps_zeros(tmp_path):
    m = _lm()
    prune_(m, 0.5)
    before = count_zeros(m)
    fold_(m)
    save_weights(m, tmp_path / "f.safetensors")
    plain = load_weights(_lm(3), tmp_path / "f.safetensors")
    assert count_zeros(plain) == before


def test_works_on_conv_nets():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    prune_(net, 0.8, "layer")
    z, n = count_zeros(net)
    assert z == sum(p.numel() - round(0.2 * p.numel()) for p in (net[0].weight, net[3].weight))
    assert net(torch.randn(2, 3, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("bad", [dict(sparsity=1.5), dict(sparsity=0.5, scope="rows")])
def test_bad_arguments(bad):
    with pytest.raises(ConfigError):
        prune_(_lm(), **bad)
    with pytest.raises(ConfigError):
        prune_(nn.Sequential(nn.ReLU()), 0.5)
