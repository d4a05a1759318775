"""TrainableClip (Eqs. 9-11), insert_clips, clip_penalty."""

import pytest
import torch
import torch.nn as nn

from paperzoo.registry import create_model
from paperzoo.snn.model import TrainableClip, clip_layers, clip_penalty, insert_clips


def test_clip_forward_and_eq10_gradients():
    c = TrainableClip(init=1.0, alpha=0.0)
    x = torch.tensor([-1.0, 0.5, 1.5, 3.0], requires_grad=True)
    y = c(x)
    assert torch.equal(y.detach(), torch.tensor([0.0, 0.5, 1.0, 1.0]))
    y.sum().backward()
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 0.0, 0.0]))  # dy/dx = 1[0 < x < λ]
    assert c.lam.grad.item() == 2.0  # dy/dλ = 1[x >= λ], summed over the layer


def test_penalty_gradient_is_alpha_lambda():
    c = TrainableClip(init=3.0, alpha=0.1)
    c.penalty().backward()
    assert c.lam.grad.item() == pytest.approx(0.1 * 3.0)  # Eq. 11: + α λ
    assert c.penalty().item() == pytest.approx(0.5 * 0.1 * 9.0)


def test_per_channel_bound_broadcasts():
    c = TrainableClip(init=1.0, per_channel=True, channels=3)
    with torch.no_grad():
        c.lam.copy_(torch.tensor([0.5, 1.0, 2.0]))
    y = c(torch.full((2, 3, 4, 4), 1.5))
    assert torch.allclose(y[0, :, 0, 0], torch.tensor([0.5, 1.0, 1.5]))


@pytest.mark.parametrize("name,kw,n_relu", [
    ("vgg16_cifar", dict(pool="avg"), 14), ("resnet20_cifar", dict(widths=(4, 8, 8)), 19),
    ("small_cnn", dict(width=4), 4), ("snn_mlp", {}, 2)])
def test_insert_clips_replaces_every_relu(name, kw, n_relu):
    m = create_model(name, **kw)
    insert_clips(m, init=2.0, alpha=1e-3)
    assert not any(isinstance(x, nn.ReLU) for x in m.modules())
    assert len(list(clip_layers(m))) == n_relu
    p = clip_penalty(m)
    assert p.item() == pytest.approx(n_relu * 0.5 * 1e-3 * 4.0)


def test_insert_clips_per_channel_counts_channels():
    m = insert_clips(create_model("small_cnn", width=4), per_channel=True)
    assert [c.lam.numel() for _, c in clip_layers(m)] == [4, 4, 8, 8]


def test_penalty_trains_lambda_down():
    m = insert_clips(create_model("snn_mlp", hidden=(8,)), init=2.0, alpha=1.0)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(5):
        opt.zero_grad()
        clip_penalty(m).backward()
        opt.step()
    lam = next(c for _, c in clip_layers(m)).lam.item()
    assert lam == pytest.approx(2.0 * 0.9 ** 5)
