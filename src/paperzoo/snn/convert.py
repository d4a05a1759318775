"""ANN-to-SNN conversion: BatchNorm folding, layer-wise normalisation, IF neurons.

Ho & Chang, "TCL: an ANN-to-SNN Conversion with Trainable Clipping Layers", DAC 2021,
arXiv 2008.04509, Sec. 3 (conversion follows Diehl et al. 2015 and Rueckauer et al. 2017,
"Conversion of Continuous-Valued Deep Networks to Efficient Event-Driven Networks", Front.
Neurosci., whose max / 99.9th-percentile normalisation are the baselines).

Procedure (any model traceable by torch.fx whose activations are ``nn.ReLU`` or
`TrainableClip` modules, e.g. every `paperzoo.vision` backbone with average pooling):

1. Fold each BatchNorm into the conv/linear before it (exact in eval mode); drop dropout.
2. Give every activation layer l a scale λ_l: its clip bound (TCL, Sec. 3.2), or the max or
   99.9th percentile of its non-zero activations on calibration data (Rueckauer et al. Sec. 2.2;
   the percentile is taken over non-zero values, as snn_toolbox does).
3. Normalise weights layer by layer so every IF neuron has threshold 1:
   ``W_l <- W_l · λ_in / λ_out,  b_l <- b_l / λ_out``; λ of the input is 1 (analog input), λ of
   the classifier output is 1. Linear ops (average pooling, flatten, residual additions) keep
   their input's scale; where two branches meet with different scales (a ResNet identity
   shortcut, scale λ_x, added to a branch that must reach the next neuron at λ_out) a constant
   `Rescale` by λ_x / λ_out is inserted — the notes' "shortcut rescaled by λ_in/λ_out".
4. Replace every activation by an `IFNeuron` (threshold 1, reset by subtraction, Eq. 1-2 of
   Rueckauer et al.; the notes' V(t) = V(t-1) + z(t) - V_thr θ(t)).

Read-out (Deviation from spike counting): the classifier layer has no neurons; its output is
integrated as a membrane potential and the class is argmax of the accumulated potential. Spike
counts tie at small T and cannot represent negative logits; the mean potential converges to the
ANN's logits, which the tests check.

Max pooling is refused (not rate-equivalent, SpikingJelly issue #170): build with ``pool="avg"``.
Reference code credited: SpikingJelly ann2snn (https://github.com/fangwei123456/spikingjelly),
snn_toolbox (https://github.com/NeuromorphicProcessorProject/snn_toolbox).
"""

from __future__ import annotations

import copy
import operator
from typing import TYPE_CHECKING, Any, Iterable

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError
from .model import TrainableClip

if TYPE_CHECKING:
    from .simulate import SpikingNetwork

__all__ = ["IFNeuron", "Rescale", "SNNTracer", "trace", "fold_batchnorm", "calibrate", "normalise",
           "convert", "METHODS", "neuron_nodes"]

METHODS = ("tcl", "max", "p99.9")


class IFNeuron(nn.Module):
    """Integrate-and-fire neurons, multi-step: threshold 1, reset by subtraction (or to zero).

    ``forward(z, steps, constant)`` takes the input current of ``steps`` time steps, time-major
    ``(steps*B, ...)``, or one ``(B, ...)`` current held for all steps when ``constant``; it returns
    spikes ``(steps*B, ...)`` in {0, 1}. The membrane potential ``v`` persists across calls until
    `reset_state`, so a long simulation may run in chunks of steps.
    """

    def __init__(self, v_threshold: float = 1.0, reset: str = "subtract", v_init: float = 0.0):
        super().__init__()
        if reset not in ("subtract", "zero"):
            raise ConfigError(f"reset must be 'subtract' or 'zero', got {reset!r}")
        self.register_buffer("v_threshold", torch.tensor(float(v_threshold)))
        self.reset, self.v_init = reset, float(v_init)
        self.v: torch.Tensor | None = None

    def reset_state(self) -> None:
        self.v = None

    def forward(self, z: torch.Tensor, steps: int = 1, constant: bool = False) -> torch.Tensor:
        zt = z.unsqueeze(0) if constant else z.view(steps, -1, *z.shape[1:])  # (K or 1, B, ...)
        if self.v is None:
            self.v = torch.full_like(zt[0], self.v_init * float(self.v_threshold))
        v, th = self.v, float(self.v_threshold)
        out = torch.empty((steps,) + tuple(zt.shape[1:]), dtype=z.dtype, device=z.device)  # (K, B, ...)
        fired = torch.empty(zt.shape[1:], dtype=torch.bool, device=z.device)
        for t in range(steps):
            v.add_(zt[0 if constant else t])              # integrate: V(t) = V(t-1) + z(t)
            torch.ge(v, th, out=fired)                    # fire: θ(t) = 1[V(t) >= V_th]
            s = out[t]
            s.copy_(fired)
            if self.reset == "subtract":
                v.sub_(s, alpha=th)                       # reset by subtraction: V -= V_th θ(t)
            else:
                v.masked_fill_(fired, 0.0)                # reset to zero
        self.v = v
        return out.view(-1, *zt.shape[2:])

    def extra_repr(self) -> str:
        return f"v_threshold={float(self.v_threshold)}, reset={self.reset}"


class Rescale(nn.Module):
    """Multiply by a constant (per-channel on dim 1 when a vector): joins branches of different scales."""

    def __init__(self, factor: torch.Tensor):
        super().__init__()
        self.register_buffer("factor", factor.detach().clone().float().reshape(-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.factor
        if f.numel() == 1:
            return x * f
        return x * f.view(1, -1, *([1] * (x.dim() - 2)))


class SNNTracer(fx.Tracer):
    """torch.fx tracer that keeps activations, clips and spiking modules as leaves."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, (TrainableClip, IFNeuron, Rescale)):
            return True
        return super().is_leaf_module(m, qualname)


def trace(model: nn.Module) -> fx.GraphModule:
    """An fx GraphModule of ``model`` (a ConfigError if it cannot be traced)."""
    try:
        graph = SNNTracer().trace(model)
    except Exception as e:  # fx raises many types on data-dependent control flow
        raise ConfigError(f"cannot trace {type(model).__name__} with torch.fx ({str(e).splitlines()[0][:120]}); "
                          f"the converter needs a model without data-dependent control flow") from None
    return fx.GraphModule(model, graph, type(model).__name__)


def _mod(gm: fx.GraphModule, node: fx.Node) -> nn.Module | None:
    return gm.get_submodule(node.target) if node.op == "call_module" else None


def _set_module(gm: fx.GraphModule, target: str, m: nn.Module) -> None:
    parent, _, attr = target.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, attr, m)


def fold_batchnorm(gm: fx.GraphModule) -> fx.GraphModule:
    """Fold every BatchNorm into the conv/linear that feeds it (in place; eval statistics).

    ``W' = W·γ/σ``, ``b' = (b - μ)·γ/σ + β`` with σ = sqrt(var + eps). Dropout and Identity
    modules are removed too. A BatchNorm not directly after a conv/linear is a ConfigError.
    """
    for node in list(gm.graph.nodes):
        m = _mod(gm, node)
        if isinstance(m, (nn.Dropout, nn.Identity)):
            node.replace_all_uses_with(node.args[0])
            gm.graph.erase_node(node)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            src = node.args[0]
            w = _mod(gm, src) if isinstance(src, fx.Node) else None
            if not isinstance(w, (nn.Conv2d, nn.Linear)) or len(src.users) != 1:
                raise ConfigError(f"BatchNorm {node.target} does not follow a conv/linear layer; "
                                  f"only conv/linear -> BN can be folded for conversion")
            sd = 1.0 / torch.sqrt(m.running_var + m.eps)
            g = (m.weight if m.affine else torch.ones_like(sd)) * sd
            beta = m.bias if m.affine else torch.zeros_like(sd)
            with torch.no_grad():
                W = w.weight.detach() * g.view(-1, *([1] * (w.weight.dim() - 1)))
                b0 = w.bias.detach() if w.bias is not None else torch.zeros_like(m.running_mean)
                b = (b0 - m.running_mean) * g + beta
                new = copy.deepcopy(w)
                new.weight = nn.Parameter(W.clone())
                new.bias = nn.Parameter(b.detach().clone())
            _set_module(gm, src.target, new)
            node.replace_all_uses_with(src)
            gm.graph.erase_node(node)
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def neuron_nodes(gm: fx.GraphModule) -> list[fx.Node]:
    """Activation nodes (nn.ReLU / TrainableClip modules), in graph order."""
    return [n for n in gm.graph.nodes if isinstance(_mod(gm, n), (nn.ReLU, TrainableClip))]


@torch.no_grad()
def calibrate(gm: fx.GraphModule, batches: Iterable[torch.Tensor], method: str = "max",
              max_values: int = 2_000_000, seed: int = 0) -> dict[str, torch.Tensor]:
    """Per-layer activation scale from calibration data: ``max`` or ``p<q>`` (percentile of non-zeros).

    Percentiles use at most ``max_values`` non-zero activations per layer (a random subsample
    once exceeded), so memory stays bounded on ImageNet-sized layers.
    """
    q = None if method == "max" else _percentile(method)
    nodes = neuron_nodes(gm)
    stats: dict[str, Any] = {n.target: (torch.zeros(()) if q is None else []) for n in nodes}
    counts = {n.target: 0 for n in nodes}
    g = torch.Generator().manual_seed(seed)
    hooks = []

    def hook(name):
        def f(_m, _inp, out):
            if q is None:
                stats[name] = torch.maximum(stats[name], out.detach().max().float().cpu())
                return
            nz = out.detach().flatten()
            nz = nz[nz > 0].float().cpu()
            if counts[name] + nz.numel() > max_values:
                keep = max(1, int(nz.numel() * max_values / max(counts[name] + nz.numel(), 1)))
                nz = nz[torch.randperm(nz.numel(), generator=g)[:keep]]
            counts[name] += nz.numel()
            stats[name].append(nz)
        return f

    for n in nodes:
        hooks.append(gm.get_submodule(n.target).register_forward_hook(hook(n.target)))
    was = gm.training
    gm.eval()
    try:
        seen = 0
        for x in batches:
            gm(x)
            seen += 1
    finally:
        for h in hooks:
            h.remove()
        gm.train(was)
    if seen == 0:
        raise ConfigError("calibration data is empty; give at least one batch")
    out = {}
    for name, s in stats.items():
        if q is None:
            v = s
        else:
            a = torch.cat(s) if s else torch.zeros(0)
            v = torch.quantile(a[:16_000_000], q / 100.0) if a.numel() else torch.zeros(())
        out[name] = torch.clamp(v.reshape(1), min=1e-6)
    return out


def _percentile(method: str) -> float:
    try:
        q = float(method[1:])
    except ValueError:
        raise ConfigError(f"unknown method {method!r}; choose from {', '.join(METHODS)} (or pNN.N)") from None
    if not (0 < q <= 100) or method[0] != "p":
        raise ConfigError(f"unknown method {method!r}; choose from {', '.join(METHODS)} (or pNN.N)")
    return q


# ---------------------------------------------------------------------------------------------
# Layer-wise normalisation (step 3) on the fx graph.
_PASS_MODULES = (nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.AvgPool1d)
_PASS_FUNCS = {torch.flatten, operator.add, torch.add, F.avg_pool2d, F.adaptive_avg_pool2d, operator.iadd}
_PASS_METHODS = {"view", "reshape", "flatten", "add", "contiguous", "__add__"}
_SCALAR_METHODS = {"size", "dim"}


def _is_tensor(node: fx.Node, cache: dict) -> bool:
    if node in cache:
        return cache[node]
    if node.op == "call_method" and node.target in _SCALAR_METHODS or \
            node.op == "call_function" and node.target is getattr:
        r = False
    elif node.op == "call_function" and node.target in (operator.getitem, operator.mul, operator.floordiv):
        r = any(_is_tensor(a, cache) for a in node.all_input_nodes)
    else:
        r = True
    cache[node] = r
    return r


def _kind(gm: fx.GraphModule, node: fx.Node) -> str:
    m = _mod(gm, node)
    if node.op in ("placeholder", "output"):
        return node.op
    if isinstance(m, (nn.ReLU, TrainableClip, IFNeuron)):
        return "neuron"
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        return "weight"
    if isinstance(m, _PASS_MODULES) or isinstance(m, Rescale):
        return "pass"
    if node.op == "call_function" and node.target in _PASS_FUNCS:
        return "pass"
    if node.op == "call_method" and node.target in _PASS_METHODS:
        return "pass"
    if isinstance(m, (nn.MaxPool2d, nn.AdaptiveMaxPool2d)) or node.target in (F.max_pool2d, torch.max_pool2d):
        raise ConfigError(f"max pooling at {node.target} has no rate-coded equivalent; build the model with "
                          f"average pooling (e.g. pool='avg' / stem_pool='avg') and retrain")
    if node.target in (F.relu, torch.relu, "relu", torch.clamp, "clamp"):
        raise ConfigError(f"functional activation at node {node.name} cannot be converted; "
                          f"use an nn.ReLU module per activation")
    raise ConfigError(f"cannot convert node {node.name} ({node.op} {getattr(node.target, '__name__', node.target)}) "
                      f"to a spiking layer: supported are conv/linear, ReLU/clip, avg pooling, flatten, add")


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-6, atol=1e-12)) or \
        (a.numel() == 1 and b.numel() > 1 and bool(torch.allclose(a.expand_as(b), b))) or \
        (b.numel() == 1 and a.numel() > 1 and bool(torch.allclose(b.expand_as(a), a)))


def _expand(s: torch.Tensor, n: int) -> torch.Tensor:
    """A per-channel scale vector stretched to ``n`` features (after a flatten) or kept scalar."""
    if s.numel() in (1, n):
        return s
    if n % s.numel():
        raise ConfigError(f"cannot map a per-channel scale of {s.numel()} channels onto {n} features")
    return s.repeat_interleave(n // s.numel())


@torch.no_grad()
def normalise(gm: fx.GraphModule, scales: dict[str, torch.Tensor], reset: str = "subtract") -> fx.GraphModule:
    """Weight/bias normalisation from per-layer scales, Rescale insertion, neurons -> `IFNeuron` (in place)."""
    nodes = list(gm.graph.nodes)
    tens: dict = {}
    for n in nodes:
        if _is_tensor(n, tens) and n.op not in ("get_attr",):
            _kind(gm, n)  # raises on unsupported ops before anything changes
    lam = {n: scales[n.target].reshape(-1).float() for n in neuron_nodes(gm)}
    missing = [n.target for n in neuron_nodes(gm) if n.target not in scales]
    if missing:
        raise ConfigError(f"no scale for activation layers {missing[:3]}")
    # demand pass (reverse): the scale each node's consumers want its output in
    demand: dict[fx.Node, torch.Tensor] = {}
    for n in reversed(nodes):
        if not _is_tensor(n, tens):
            continue
        k = _kind(gm, n)
        want = {"output": torch.ones(1), "neuron": lam.get(n)}.get(k, demand.get(n) if k == "pass" else None)
        if want is None:
            continue
        for a in n.all_input_nodes:
            if _is_tensor(a, tens) and a not in demand:
                demand[a] = want
    # forward pass: absorb scales into weights, insert Rescale where a fixed scale meets a demand
    scale: dict[fx.Node, torch.Tensor] = {}
    counter = [0]

    def rescale(consumer: fx.Node, arg: fx.Node, factor: torch.Tensor) -> None:
        name = f"snn_rescale_{counter[0]}"
        counter[0] += 1
        gm.add_submodule(name, Rescale(factor))
        with gm.graph.inserting_before(consumer):
            new = gm.graph.call_module(name, (arg,))
        consumer.replace_input_with(arg, new)

    for n in nodes:
        if not _is_tensor(n, tens):
            continue
        k = _kind(gm, n)
        ins = [a for a in n.all_input_nodes if _is_tensor(a, tens)]
        if k == "placeholder":
            scale[n] = torch.ones(1)
        elif k == "weight":
            m = _mod(gm, n)
            if len([u for u in nodes if u.op == "call_module" and u.target == n.target]) > 1:
                raise ConfigError(f"layer {n.target} is called twice; shared weights cannot be normalised per use")
            s_in = scale[ins[0]]
            c_out = m.weight.shape[0]
            s_out = demand.get(n, torch.ones(1))
            s_out = s_out if s_out.numel() in (1, c_out) else torch.ones(1)
            c_in = m.weight.shape[1] if isinstance(m, nn.Linear) else m.in_channels
            s_in_v = _expand(s_in, c_in) if (isinstance(m, nn.Linear) or m.groups == 1) else s_in
            if s_in_v.numel() > 1 and isinstance(m, nn.Conv2d) and m.groups != 1:
                raise ConfigError(f"per-channel scales into grouped conv {n.target} are not supported")
            shape_in = (1, -1) + (1,) * (m.weight.dim() - 2)
            shape_out = (-1,) + (1,) * (m.weight.dim() - 1)
            m.weight.mul_(s_in_v.view(shape_in) / s_out.view(shape_out))
            if m.bias is not None:
                m.bias.div_(s_out)
            scale[n] = s_out
        elif k in ("neuron", "output", "pass"):
            want = lam[n] if k == "neuron" else torch.ones(1) if k == "output" else demand.get(n)
            if want is None:
                want = scale[ins[0]] if ins else torch.ones(1)
            for a in ins:
                if not _close(scale[a], want):
                    rescale(n, a, scale[a] / want)  # e.g. identity shortcut: λ_x / λ_out
            scale[n] = want
    for n in neuron_nodes(gm):
        _set_module(gm, n.target, IFNeuron(1.0, reset))
    gm.graph.lint()
    gm.recompile()
    return gm


def convert(model: nn.Module, method: str = "tcl", calib: Iterable[torch.Tensor] | None = None,
            scales: dict[str, torch.Tensor] | None = None, reset: str = "subtract") -> "SpikingNetwork":
    """Convert a trained ANN into a `SpikingNetwork` (the ANN is not modified).

    Args:
        model: the ANN (``nn.ReLU`` or `TrainableClip` activations, average pooling).
        method: ``"tcl"`` (scales = learned clip bounds λ), ``"max"`` or ``"p99.9"`` (calibration
            statistics; any ``pNN.N`` works). Defaults to "tcl".
        calib: batches of input tensors for ``max``/``pNN``.
        scales: explicit per-layer scales (e.g. from a saved SNN); overrides ``method``.
        reset: ``"subtract"`` (the paper's) or ``"zero"``. Defaults to "subtract".
    """
    from .simulate import SpikingNetwork

    gm = fold_batchnorm(trace(copy.deepcopy(model).eval()))
    tens: dict = {}
    for n in gm.graph.nodes:  # refuse unsupported layers first, with the reason
        if n.op != "get_attr" and _is_tensor(n, tens):
            _kind(gm, n)
    nodes = neuron_nodes(gm)
    if not nodes:
        raise ConfigError("the model has no nn.ReLU / TrainableClip modules to turn into spiking neurons")
    if scales is None:
        if method == "tcl":
            plain = [n.target for n in nodes if not isinstance(_mod(gm, n), TrainableClip)]
            if plain:
                raise ConfigError(f"method tcl needs clip layers after every ReLU ({plain[0]} has none); "
                                  f"train with TCL (paperzoo snn train --tcl) or use --method max|p99.9")
            scales = {n.target: _mod(gm, n).lam.detach().abs().clamp(min=1e-6).clone() for n in nodes}
        else:
            if method != "max":
                _percentile(method)
            if calib is None:
                raise ConfigError(f"method {method} needs calibration data (--calib-data)")
            scales = calibrate(gm, calib, method)
    scales = {k: v.detach().reshape(-1).float().cpu() for k, v in scales.items()}
    gm = normalise(gm, scales, reset)
    return SpikingNetwork(gm, scales=scales, method=method, reset=reset)
