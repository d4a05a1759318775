"""S-bar, layerwise imitation and the exact merge (Zhou et al. 2020, Fig. 1)."""

import pytest
import torch
import torch.nn.functional as F

from paperzoo.errors import ConfigError
from paperzoo.transformer import TransformerConfig
from paperzoo.widethin import (
    LinearPair,
    MLPConfig,
    ResNetSpec,
    WinStudent,
    block_outputs,
    build,
    init_stage_lstsq,
    view_of,
    widen,
    widths_of,
)


def _scramble(st):
    """Random, non-identity pairs, so the merge has something to fold."""
    g = torch.Generator().manual_seed(0)
    for p in st.pairs:
        with torch.no_grad():
            if p.tied:
                p.log_scale.fill_(0.3)
            else:
                p.up.weight.copy_(torch.randn(p.up.weight.shape, generator=g, dtype=p.up.weight.dtype))
                p.down.weight.copy_(torch.randn(p.down.weight.shape, generator=g, dtype=p.down.weight.dtype) * 0.2)


@pytest.mark.parametrize("head_from_teacher", [True, False])
def test_merge_exact_mlp(head_from_teacher):
    torch.manual_seed(0)
    spec = MLPConfig(width=6, depth=5)
    thin, wide = build(spec).double(), build(widen(spec, 4)).double()
    st = WinStudent(thin, list(widths_of(widen(spec, 4))), wide_head=wide.head if head_from_teacher else None).double()
    _scramble(st)
    x = torch.randn(20, 64, dtype=torch.float64)
    merged = st.merge()
    assert type(merged) is type(thin)
    assert sum(p.numel() for p in merged.parameters()) == sum(p.numel() for p in thin.parameters())
    assert (merged(x) - st(x)).abs().max() < 1e-6


def test_merge_exact_resnet():
    torch.manual_seed(0)
    spec = ResNetSpec(block="bottleneck", layers=(1, 1, 1), widths=(4, 8, 8), stem="cifar", num_classes=7)
    wspec = widen(spec, 2)
    thin, wide = build(spec).double().eval(), build(wspec).double().eval()
    st = WinStudent(thin, list(widths_of(wspec)), wide_head=wide.fc).double().eval()
    _scramble(st)
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    assert (st.merge().eval()(x) - st(x)).abs().max() < 1e-6
    assert st(x, stage=1).shape == (2, 64, 6, 6)


def test_merge_exact_transformer():
    torch.manual_seed(0)
    spec = TransformerConfig(src_vocab=20, tgt_vocab=20, d_model=8, n_heads=2, d_ff=16, n_layers=3, dropout=0.0,
                             norm="pre", max_len=16)
    st = WinStudent(build(spec).double(), list(widths_of(widen(spec, 3)))).double()
    _scramble(st)
    x = torch.randint(0, 20, (2, 10))
    assert (st.merge()(x)[0] - st(x)).abs().max() < 1e-6


def test_pair_starts_as_identity_and_tied_stays_identity():
    p = LinearPair(4, 12).double()
    assert torch.allclose(p.matrix(), torch.eye(4, dtype=torch.float64), atol=1e-6)
    q = LinearPair(4, 12, tied=True)
    with torch.no_grad():
        q.log_scale.fill_(1.0)
    h = torch.randn(3, 4)
    assert torch.allclose(q.C(q.A(h)), h, atol=1e-5)


def test_imitation_loss_decreases_stage_by_stage():
    torch.manual_seed(0)
    spec = MLPConfig(width=6, depth=4)
    wspec = widen(spec, 4)
    wide = build(wspec)
    st = WinStudent(build(spec), list(widths_of(wspec)), wide_head=wide.head)
    x = torch.rand(128, 64)
    ys = block_outputs(view_of(wide), x)
    for k in range(4):
        opt = torch.optim.Adam(st.set_stage(k), lr=1e-2)
        losses = []
        for _ in range(40):
            loss = F.mse_loss(st(x, stage=k), ys[k])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        assert losses[-1] < 0.7 * losses[0], (k, losses[0], losses[-1])


def test_stage_parameters_and_freezing():
    spec = MLPConfig(width=4, depth=3)
    st = WinStudent(build(spec), [8, 8, 8])
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    frozen = ids(st.stage_modules(2, freeze_lower=True))
    assert ids(st.thin.blocks[2].parameters()) <= frozen
    assert not ids(st.thin.blocks[1].parameters()) & frozen
    assert ids(st.pairs[1].c_parameters()) <= frozen and not ids(st.pairs[1].a_parameters()) & frozen
    assert ids(st.thin.blocks[1].parameters()) <= ids(st.stage_modules(2, freeze_lower=False))
    st.set_stage(1, freeze_lower=True)
    assert not any(p.requires_grad for p in st.thin.blocks[2].parameters())


def test_teacher_forced_input():
    spec = MLPConfig(width=4, depth=3)
    st = WinStudent(build(spec), [8, 8, 8])
    y1 = torch.randn(5, 8)
    out = st(torch.randn(5, 64), y1, stage=2)
    assert out.shape == (5, 8)


def test_bad_inputs():
    with pytest.raises(ConfigError, match="depth"):
        WinStudent(build(MLPConfig(width=4, depth=3)), [8, 8])
    with pytest.raises(ConfigError, match="at least as wide"):
        LinearPair(8, 4)
    with pytest.raises(ConfigError, match="DeepMLP"):
        view_of(torch.nn.Linear(2, 2))


def _tiny_wide_and_targets(depth=4, seed=0):
    """A briefly trained wide MLP on random data, its block outputs, and a thin spec."""
    torch.manual_seed(seed)
    spec = MLPConfig(width=6, depth=depth, num_classes=3)
    wspec = widen(spec, 4)
    wide = build(wspec)
    x = torch.rand(256, 64)
    y = (x[:, :3].argmax(1))
    opt = torch.optim.Adam(wide.parameters(), lr=3e-3)
    for _ in range(60):
        loss = F.cross_entropy(wide(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    wide.requires_grad_(False)
    return spec, wspec, wide, x, block_outputs(view_of(wide), x)


def _rel(st, x, ys, k):
    with torch.no_grad():
        return float(((st(x, stage=k) - ys[k]) ** 2).mean() / ((ys[k] - ys[k].mean(0)) ** 2).mean())


@pytest.mark.parametrize("teacher_forced", [False, True])
def test_lstsq_stage_init_beats_random_pairs_and_keeps_merge_exact(teacher_forced):
    """Regression for the 16-layer quick run (19 % after merge): a stage must start from the closed-form
    init (selected wide units + least-squares A_k), which imitates far better than random pairs, and
    the merged net must still compute exactly what S-bar computes."""
    spec, wspec, wide, x, ys = _tiny_wide_and_targets()
    st = WinStudent(build(spec), list(widths_of(wspec)), wide_head=wide.head)
    rand = WinStudent(build(spec), list(widths_of(wspec)), wide_head=wide.head)
    for k in range(spec.depth):
        tin = ys[k - 1] if teacher_forced and k > 0 else None
        sigma = init_stage_lstsq(st, wide, k, x, ys[k], tin)
        assert len(set(sigma)) == spec.width
        with torch.no_grad():
            pred = st(x, tin, stage=k) if tin is not None else st(x, stage=k)
        rel = float(((pred - ys[k]) ** 2).mean() / ((ys[k] - ys[k].mean(0)) ** 2).mean())
        assert rel < 0.6 * _rel(rand, x, ys, k), (k, rel)
        assert rel < 1.0
    st = st.double()
    xd = x.double()
    merged = st.merge()
    assert (merged(xd) - st(xd)).abs().max() / st(xd).abs().max() < 1e-9


def test_lstsq_stage_init_rejects_non_mlp():
    spec = TransformerConfig(src_vocab=20, tgt_vocab=20, d_model=8, n_heads=2, d_ff=16, n_layers=2, dropout=0.0,
                             norm="pre", max_len=16)
    st = WinStudent(build(spec), list(widths_of(widen(spec, 2))))
    with pytest.raises(ConfigError, match="DeepMLP"):
        init_stage_lstsq(st, build(widen(spec, 2)), 0, torch.randint(0, 20, (2, 5)), torch.zeros(2, 5, 16))
