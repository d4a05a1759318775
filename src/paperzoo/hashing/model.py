"""Hash network: backbone -> GeM -> L2 -> linear hash layer(s) -> tanh; codes b = sign(h).

Paper: Do, Le Tan, Pham, Hoang, Le, Cheung, Reid, "Binary Constrained Deep Hashing Network for Image
Retrieval without Manual Annotation", arXiv 1802.07437. Confirmed (abstract): an end-to-end network
maps pixels to binary codes. Backbone and head are not confirmed; the reconstruction (S7 notes Sec. 2)
puts a linear hash layer h = W_h phi(x) on S8's GeM descriptor phi (``paperzoo.retrieval.model``,
reused, not copied), with an optional tanh so the relaxed codes live in [-1, 1]^L.

Deviation: one backbone carries several hash layers (one per code length, e.g. 16/32/64) trained
jointly (the loss is summed over lengths); the paper trains one network per length. This keeps the
quick preset inside its CPU budget; ``paperzoo hash index --bits L`` picks a length.
A model file is ``NAME.safetensors`` + ``NAME.json`` (never a pickle).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from ..engine import atomic_write_json, load_weights, save_weights
from ..errors import CheckpointError, ConfigError
from ..registry import register_model
from ..retrieval.model import ImageRetrievalNet, build_retrieval_net
from .losses import b_step

INIT_KINDS = ("itq", "centre", "random")

__all__ = ["INIT_KINDS", "HashNet", "build_hash_net", "check_bits", "save_hash_model", "load_hash_model"]


def check_bits(bits: int) -> int:
    """Code lengths must be positive multiples of 8 (FAISS binary indices pack 8 bits per byte)."""
    if not isinstance(bits, int) or bits <= 0 or bits % 8:
        raise ConfigError(f"bits must be a positive multiple of 8 (e.g. 16, 32, 64), got {bits}")
    return bits


class HashNet(nn.Module):
    """features -> GeM -> L2 -> {L: Linear(D, L)} -> tanh.

    Args:
        net: an S8 `ImageRetrievalNet` (its ``pooled`` descriptor phi is the hash layers' input).
        bits: code lengths, each a multiple of 8. Defaults to (16, 32, 64).
        activation: ``"tanh"`` (h in [-1, 1]^L) or ``"linear"``. Defaults to "tanh".
    """

    def __init__(self, net: ImageRetrievalNet, bits: Sequence[int] = (16, 32, 64), activation: str = "tanh"):
        super().__init__()
        if activation not in ("tanh", "linear"):
            raise ConfigError(f"activation must be tanh or linear, got {activation!r}")
        self.net = net
        self.bits = tuple(check_bits(int(b)) for b in bits)
        self.hash = nn.ModuleDict({str(b): nn.Linear(net.dim, b) for b in self.bits})
        for layer in self.hash.values():  # phi is L2-normalised: scale so W phi starts at unit variance
            nn.init.normal_(layer.weight, std=1.0)
            nn.init.zeros_(layer.bias)
        self.activation = activation

    @torch.no_grad()
    def init_hash_layers(self, phi: torch.Tensor, kind: str = "itq", seed: int = 0) -> None:
        """Data-dependent start of every hash layer from training descriptors phi (n, D).

        ``"itq"`` (UH-BDNN, Do et al. ECCV 2016, initialises B by ITQ): W_h = (P R)^T with P the top-L
        principal directions and R the ITQ rotation, bias -W_h mu, so sign(h) starts as ITQ's codes;
        ``"centre"``: keep the random W_h, bias -W_h mu. Both rescale each unit to unit standard deviation
        over phi so tanh starts unsaturated (phi of an untrained CNN are nearly collinear, and a zero-bias
        random layer maps every image to almost the same code). ``"random"``: leave the layers as built.
        """
        if kind not in INIT_KINDS:
            raise ConfigError(f"init must be one of {', '.join(INIT_KINDS)}, got {kind!r}")
        if kind == "random":
            return
        from .baselines import ITQ

        X = phi.detach().double().cpu()  # fitted on the CPU (ITQ is NumPy); copy_ moves W to the layer
        mu = X.mean(0)
        for b in self.bits:
            layer = self.hash[str(b)]
            if kind == "itq" and b <= min(X.shape):
                itq = ITQ(b, seed).fit(X.numpy())
                W = torch.as_tensor(itq.pca.components_.T @ itq.R).T  # (L, D): h = (phi - mu) P R
            else:
                W = layer.weight.double().cpu()
            z = (X - mu) @ W.T
            W = W / (z.std(0, keepdim=True).T + 1e-12)
            layer.weight.copy_(W.to(layer.weight.dtype))
            layer.bias.copy_((-W @ mu).to(layer.bias.dtype))

    def descriptor(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): the L2-normalised GeM descriptor (B, D) (what the baselines hash)."""
        return self.net.pooled(x)

    def relaxed(self, phi: torch.Tensor, bits: int) -> torch.Tensor:
        h = self.hash[str(bits)](phi)
        return torch.tanh(h) if self.activation == "tanh" else h

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """Relaxed codes {L: h (B, L)}."""
        phi = self.descriptor(x)
        return {b: self.relaxed(phi, b) for b in self.bits}

    @torch.no_grad()
    def codes(self, x: torch.Tensor, bits: int) -> torch.Tensor:
        """Binary codes b = sign(h) in {-1, +1}, (B, L)."""
        if bits not in self.bits:
            raise ConfigError(f"this model has hash layers for {self.bits} bits, not {bits}")
        return b_step(self.relaxed(self.descriptor(x), bits))


def build_hash_net(arch: str = "small", bits: Sequence[int] = (16, 32, 64), width: int = 16, pool: str = "gem",
                   activation: str = "tanh") -> HashNet:
    net = build_retrieval_net(arch, pool, width=width)
    m = HashNet(net, bits, activation)
    m.meta = {"arch": arch, "width": width, "pool": pool, "activation": activation, "bits": list(m.bits)}
    return m


@register_model(example=(3, 32, 32), tiny={"width": 4})
def hashing_small_gem(**kw) -> HashNet:
    """Small VGG-style CNN + GeM + hash layers for 16/32/64 bits (the quick preset)."""
    return build_hash_net(**{"arch": "small", **kw})


@register_model(example=(3, 32, 32))
def hashing_vgg16_gem(**kw) -> HashNet:
    """VGG16 (to relu5_3) + GeM + hash layers."""
    return build_hash_net(**{"arch": "vgg16", **kw})


def save_hash_model(model: HashNet, path: str | Path, imsize: int, extra: dict | None = None) -> Path:
    path = Path(path).with_suffix(".safetensors")
    save_weights(model, path)
    atomic_write_json(path.with_suffix(".json"), {"format": "paperzoo.hashing/1", **model.meta,
                                                  "imsize": int(imsize), **(extra or {})})
    return path


def load_hash_model(path: str | Path) -> tuple[HashNet, dict]:
    """(model, manifest) from NAME.safetensors + NAME.json; problems are `CheckpointError`s."""
    path = Path(path).with_suffix(".safetensors")
    man = path.with_suffix(".json")
    if not path.is_file() or not man.is_file():
        raise CheckpointError(f"hash model {path} (with {man.name}) not found; run `paperzoo run hashing` first "
                              f"or pass --model PATH")
    try:
        meta = json.loads(man.read_text())
        model = build_hash_net(meta["arch"], meta["bits"], int(meta["width"]), meta["pool"], meta["activation"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{man} is not a hashing model manifest ({e})") from None
    load_weights(model, path)
    model.eval()
    return model, meta
