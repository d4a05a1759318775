"""Simulating a converted SNN: vectorised over batch and time, constant input encoded once.

Ho & Chang, "TCL: an ANN-to-SNN Conversion with Trainable Clipping Layers", DAC 2021,
arXiv 2008.04509. Input coding (Sec. 4, following Rueckauer et al. 2017): the analog image is a
constant input current, so every layer before the first spiking layer (the first conv, its
folded BN) is computed once per image, not T times. Later stateless layers (conv, linear,
pooling) run on all K steps of a chunk at once as a (K·B, ...) batch; only the IF neurons loop
over time. Accuracy at every T of a list comes from one simulation (the accumulated output
potential is read at each T). Energy proxy: synaptic operations (SOPs, an input event times the
synapses it reaches) next to the ANN's multiply-accumulates (MACs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import torch
import torch.fx as fx
import torch.nn as nn

from ..engine import atomic_write_json
from ..errors import CheckpointError, ConfigError

__all__ = ["SpikingNetwork", "evaluate", "ann_macs", "parse_timesteps", "load_snn", "save_snn"]


def parse_timesteps(text: str | Sequence[int]) -> list[int]:
    """``"8,16,32"`` -> [8, 16, 32]; every T must be a positive integer."""
    items = [s.strip() for s in text.split(",") if s.strip()] if isinstance(text, str) else list(text)
    try:
        ts = sorted({int(t) for t in items})
    except ValueError:
        raise ConfigError(f"--timesteps {text!r}: expected comma-separated integers, e.g. 8,16,32") from None
    if not ts or ts[0] <= 0:
        raise ConfigError(f"--timesteps {text!r}: every T must be a positive integer (T >= 1)")
    return ts


def _fanout(m: nn.Module, sample_shape: tuple[int, ...]) -> torch.Tensor:
    """Synapses leaving each input element of conv/linear ``m`` (per sample, flattened)."""
    if isinstance(m, nn.Linear):
        return torch.full((int(torch.tensor(sample_shape).prod()),), float(m.out_features))
    with torch.enable_grad():
        x = torch.ones((1,) + tuple(sample_shape), requires_grad=True)
        w = torch.ones_like(m.weight)
        y = nn.functional.conv2d(x, w, None, m.stride, m.padding, m.dilation, m.groups)
        (g,) = torch.autograd.grad(y.sum(), x)
    return g.flatten()


class SpikingNetwork(nn.Module):
    """A converted SNN: an fx graph whose activations are `IFNeuron` modules.

    ``simulate(x, timesteps)`` returns the mean output potential (B, classes) at each T of
    ``timesteps`` plus SOPs per image; `evaluate` runs it over a data loader.
    """

    def __init__(self, gm: fx.GraphModule, scales: dict[str, torch.Tensor], method: str, reset: str = "subtract",
                 meta: dict[str, Any] | None = None):
        super().__init__()
        from .convert import IFNeuron
        self.gm = gm
        self.scales, self.method, self.reset, self.meta = scales, method, reset, dict(meta or {})
        self._neurons = {n for n in gm.graph.nodes
                         if n.op == "call_module" and isinstance(gm.get_submodule(n.target), IFNeuron)}
        static: set[fx.Node] = set()
        for n in gm.graph.nodes:  # static: depends only on the (constant) input, not on any neuron
            if n.op in ("placeholder", "get_attr") or (n not in self._neurons and n.op != "output"
                                                        and all(a in static for a in n.all_input_nodes)):
                static.add(n)
        self._static = static
        self._fanouts: dict[str, torch.Tensor] = {}

    def reset_state(self) -> None:
        for m in self.gm.modules():
            if hasattr(m, "reset_state"):
                m.reset_state()

    def _chunk(self, x: torch.Tensor, K: int, cache: dict, sops: torch.Tensor | None) -> torch.Tensor:
        """Run K time steps; returns the output layer's input current per step, (K*B, ...)."""
        env: dict[fx.Node, Any] = {}
        B = x.shape[0]
        gm = self.gm
        for n in gm.graph.nodes:
            if n in cache:
                env[n] = cache[n]
                continue
            if n.op == "placeholder":
                env[n] = x
                cache[n] = x
                continue
            if n.op == "output":
                out = fx.node.map_arg(n.args[0], lambda a: env[a])
                if n.args[0] in self._static:  # a network with no neurons on the output path
                    out = out.unsqueeze(0).expand(K, *out.shape).reshape(K * B, *out.shape[1:])
                return out

            def fetch(a: fx.Node, n: fx.Node = n) -> Any:
                v = env[a]
                if n not in self._static and a in self._static and isinstance(v, torch.Tensor) \
                        and n not in self._neurons:
                    v = v.unsqueeze(0).expand(K, *v.shape).reshape(K * B, *v.shape[1:])  # (K*B, ...)
                return v

            args = fx.node.map_arg(n.args, fetch)
            kwargs = fx.node.map_arg(n.kwargs, fetch)
            if n.op == "call_module":
                m = gm.get_submodule(n.target)
                if n in self._neurons:
                    val = m(args[0], steps=K, constant=n.args[0] in self._static)
                else:
                    if sops is not None and n not in self._static and isinstance(m, (nn.Conv2d, nn.Linear)):
                        inp = args[0]
                        if n.target not in self._fanouts:
                            self._fanouts[n.target] = _fanout(m, tuple(inp.shape[1:])).to(inp.device)
                        sops += ((inp != 0).to(inp.dtype).view(K, B, -1) @ self._fanouts[n.target]).view(K, B)
                    val = m(*args, **kwargs)
            elif n.op == "call_function":
                val = n.target(*args, **kwargs)
            elif n.op == "call_method":
                val = getattr(args[0], n.target)(*args[1:], **kwargs)
            elif n.op == "get_attr":
                val = gm
                for atom in n.target.split("."):
                    val = getattr(val, atom)
            else:
                raise RuntimeError(f"unexpected fx op {n.op}")
            env[n] = val
            if n in self._static:
                cache[n] = val
        raise RuntimeError("graph has no output node")

    @torch.no_grad()
    def simulate(self, x: torch.Tensor, timesteps: Sequence[int], chunk: int = 32,
                 count_sops: bool = False) -> dict[str, torch.Tensor]:
        """Simulate ``max(timesteps)`` steps on a constant input ``x`` (B, ...).

        Returns ``{"potential": (len(timesteps), B, C)`` mean accumulated output potential at each
        T (approaches the ANN's logits), ``"sops": (len(timesteps), B)`` cumulative SOPs}.
        """
        ts = parse_timesteps(timesteps)
        self.reset_state()
        T, cache = ts[-1], {}
        run = None
        pots, sop_out = [], []
        sop_total = torch.zeros(x.shape[0], device=x.device)
        done = 0
        while done < T:
            K = min(chunk, T - done)
            sops = torch.zeros(K, x.shape[0], device=x.device) if count_sops else None
            out = self._chunk(x, K, cache, sops)
            out = out.view(K, x.shape[0], *out.shape[1:])  # (K, B, C)
            cum = out.cumsum(0) + (run if run is not None else 0)
            run = cum[-1]
            sc = sops.cumsum(0) + sop_total if count_sops else None
            for t in ts:
                if done < t <= done + K:
                    pots.append(cum[t - done - 1] / t)
                    if count_sops:
                        sop_out.append(sc[t - done - 1].clone())
            if count_sops:
                sop_total = sc[-1]
            done += K
        self.reset_state()
        res = {"potential": torch.stack(pots)}
        if count_sops:
            res["sops"] = torch.stack(sop_out)
        return res

    def forward(self, x: torch.Tensor, timesteps: int = 32) -> torch.Tensor:
        """Mean output potential after ``timesteps`` steps (B, C)."""
        return self.simulate(x, [timesteps])["potential"][-1]


@torch.no_grad()
def evaluate(snn: SpikingNetwork, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], timesteps: Sequence[int],
             chunk: int = 32, count_sops: bool = True, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Accuracy (%) and mean SOPs per image at every T, from one simulation per batch."""
    ts = parse_timesteps(timesteps)
    snn = snn.to(device)
    correct = torch.zeros(len(ts))
    sops = torch.zeros(len(ts))
    n = 0
    for x, y in batches:
        x, y = x.to(device), y.to(device)
        r = snn.simulate(x, ts, chunk=chunk, count_sops=count_sops)
        correct += (r["potential"].argmax(-1) == y).float().sum(-1).cpu()
        if count_sops:
            sops += r["sops"].sum(-1).cpu()
        n += len(y)
    if n == 0:
        raise ConfigError("no evaluation data")
    return {"timesteps": ts, "acc": (100.0 * correct / n).tolist(), "sops": (sops / n).tolist(), "n": n}


@torch.no_grad()
def ann_macs(model: nn.Module, sample: torch.Tensor) -> float:
    """Multiply-accumulates of one forward pass per image (conv and linear layers)."""
    total = [0.0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            total[0] += out[0].numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        else:
            total[0] += m.in_features * m.out_features

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was = model.training
    model.eval()
    try:
        model(sample[:1])
    finally:
        for h in hs:
            h.remove()
        model.train(was)
    return total[0]


def save_snn(snn: SpikingNetwork, directory: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``snn.safetensors`` (normalised weights) + ``snn.json`` (model, method, scales, results)."""
    from safetensors.torch import save_file
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().cpu().contiguous().clone() for k, v in snn.gm.state_dict().items()}
    tmp = d / ".snn.safetensors.tmp"
    save_file(sd, str(tmp))
    tmp.replace(d / "snn.safetensors")
    info = {"format": "paperzoo-snn/1", "method": snn.method, "reset": snn.reset,
            "scales": {k: v.tolist() for k, v in snn.scales.items()}, **meta}
    atomic_write_json(d / "snn.json", info)
    return d


def load_snn(directory: str | Path) -> SpikingNetwork:
    """Rebuild a converted SNN written by `save_snn` (safetensors + JSON only, no pickle)."""
    from safetensors.torch import load_file

    from ..registry import create_model
    from .convert import convert
    from .model import insert_clips
    d = Path(directory)
    if not (d / "snn.json").is_file() or not (d / "snn.safetensors").is_file():
        raise CheckpointError(f"{d} lacks snn.json / snn.safetensors; pass a directory `paperzoo snn convert` wrote")
    info = json.loads((d / "snn.json").read_text())
    ann = create_model(info["model"], **info.get("model_kwargs", {}))
    if info.get("clips"):
        insert_clips(ann, per_channel=info["clips"].get("per_channel", False))
    scales = {k: torch.tensor(v) for k, v in info["scales"].items()}
    snn = convert(ann, method=info["method"], scales=scales, reset=info.get("reset", "subtract"))
    try:
        snn.gm.load_state_dict(load_file(str(d / "snn.safetensors")), strict=True)
    except (RuntimeError, OSError) as e:
        raise CheckpointError(f"{d}/snn.safetensors does not match {info['model']}: {str(e).splitlines()[0][:200]}") \
            from None
    snn.meta = info
    return snn
