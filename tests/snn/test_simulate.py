"""Simulation: one run gives every T, constant input encoded once, SOPs, save/load."""

import pytest
import torch
import torch.nn as nn

from paperzoo.errors import CheckpointError, ConfigError
from paperzoo.registry import create_model
from paperzoo.snn.convert import convert
from paperzoo.snn.model import insert_clips
from paperzoo.snn.simulate import ann_macs, evaluate, load_snn, parse_timesteps, save_snn


def _snn(seed=0):
    torch.manual_seed(seed)
    m = insert_clips(create_model("small_cnn", width=4), init=1.0).eval()
    return m, convert(m, "tcl")


def test_parse_timesteps():
    assert parse_timesteps("32, 8,8,16") == [8, 16, 32]
    for bad in ("0,4", "-1", "", "a,b"):
        with pytest.raises(ConfigError):
            parse_timesteps(bad)


def test_one_simulation_equals_separate_ones_and_chunking():
    _, snn = _snn()
    x = torch.rand(3, 1, 8, 8)
    r = snn.simulate(x, [3, 8, 40], chunk=7)
    for i, t in enumerate([3, 8, 40]):
        torch.testing.assert_close(r["potential"][i], snn.simulate(x, [t], chunk=64)["potential"][0])


def test_first_layer_computed_once():
    m, snn = _snn()
    calls = []
    first = snn.gm.get_submodule("features.0")
    h = first.register_forward_hook(lambda mod, i, o: calls.append(i[0].shape[0]))
    snn.simulate(torch.rand(5, 1, 8, 8), [64], chunk=16)
    h.remove()
    assert calls == [5]  # one call, on the B images, not 64 x B


def test_sops_count_spikes_times_fanout():
    torch.manual_seed(0)
    m = insert_clips(nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3)), init=1.0).eval()
    snn = convert(m, "tcl")
    x = torch.rand(2, 6)
    r = snn.simulate(x, [10], count_sops=True)
    # only the second linear receives spikes: SOPs = spikes of layer 1 x 3 synapses each
    z = (m[1](x)).clamp(0, 1)
    spikes = torch.floor(z * 10).sum(-1)
    torch.testing.assert_close(r["sops"][0], spikes * 3)


def test_ann_macs_mlp():
    m = create_model("snn_mlp", hidden=(10,))
    assert ann_macs(m, torch.rand(1, 1, 8, 8)) == 64 * 10 + 10 * 10


def test_evaluate_accuracy_per_t():
    _, snn = _snn()
    data = [(torch.rand(4, 1, 8, 8), torch.randint(0, 10, (4,))) for _ in range(2)]
    r = evaluate(snn, data, [1, 4])
    assert r["n"] == 8 and len(r["acc"]) == 2 and all(0 <= a <= 100 for a in r["acc"])


def test_save_load_roundtrip(tmp_path):
    m, snn = _snn()
    save_snn(snn, tmp_path, {"model": "small_cnn", "model_kwargs": {"width": 4}, "clips": {"per_channel": False}})
    back = load_snn(tmp_path)
    x = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(back.simulate(x, [16])["potential"], snn.simulate(x, [16])["potential"])
    (tmp_path / "snn.json").write_text((tmp_path / "snn.json").read_text().replace('"width": 4', '"width": 8'))
    with pytest.raises(CheckpointError):
        load_snn(tmp_path)
