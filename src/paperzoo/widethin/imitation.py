"""Layerwise imitation (WIN's stage 2, "narrow learning") and the exact merge back to the thin net.

Zhou et al., "Go Wide, Then Narrow: Efficient Training of Deep Thin Networks", ICML 2020,
arXiv 2007.00811, Sec. 3 and Fig. 1:

* S-bar is the thin network S with a linear pair inserted after every block: ``A_k`` (thin width
  w -> wide width W) and ``C_k`` (W -> w). Block k's thin output ``h_k`` is compared with the wide
  network's block-k output ``y_k`` by mean-squared error on ``A_k h_k``; ``C_k`` feeds the next
  thin block. Blocks are warmed up one stage at a time, bottom to top.
* After imitation "all adjacent linear transformations in S-bar are merged": ``M_k = C_k A_k``
  (w x w) is folded into the first linear operation(s) that read block k's output, so the result
  has exactly S's architecture (`WinStudent.merge`; exact up to float rounding, tested < 1e-6).

Schedules (the paper does not say which; ``../shared/papers/S2-wide-thin.md`` Sec. 2):
``progressive`` (default) feeds thin block k its own lower blocks' output, ``teacher`` feeds it
``C_{k-1} y_{k-1}`` (teacher forcing, stages independent). ``freeze_lower`` freezes blocks below k;
the default (False) follows MobileBERT's layerwise distillation by the same group
(tensorflow/models official/projects/mobilebert, ``if_freeze_previous_layers=False``).

Deviation: the paper keeps S's head for fine-tuning. When the head is linear (MLP, ResNet) we
initialise it by merging the last map into the *wide* head, ``W_head = W_head^wide A_{L-1}``, i.e.
S-bar ends with the teacher's head (a linear map folded like the others); off with
``head_from_teacher=False``.
Deviation: a general w x w map cannot be folded through a residual connection (Transformer
blocks add their input to their output). For such blocks the pair is tied, ``A_k = s Q_k``,
``C_k = Q_k^T / s`` with orthonormal columns ``Q_k`` (``torch.nn.utils.parametrizations
.orthogonal``), so ``C_k A_k = I`` and the merge is the identity. ResNet stages fold exactly into
the next stage's first conv and its projection shortcut (both linear in the input).
"""

from __future__ import annotations

import copy
import math
from typing import Iterator

import torch
import torch.nn as nn
from torch.nn.utils import parametrizations

from ..errors import ConfigError
from ..transformer import TransformerLM, causal_mask
from ..vision import ResNet
from .model import DeepMLP, MaskedLMEncoder

__all__ = ["BlockView", "view_of", "LinearPair", "WinStudent", "block_outputs", "init_stage_lstsq"]


# -- how WIN sees a network: stem, blocks, head ---------------------------------------------------
class BlockView:
    """A block-structured view of a model: ``stem``, ``block(k, h)``, ``head``, and how to fold a
    linear map applied to block k's output into whatever reads it.

    Attributes: ``n_blocks``, ``widths`` (per-block output width), ``channel_dim`` (the feature
    axis: -1, or 1 for feature maps), ``residual`` (True: maps must compose to the identity),
    ``linear_head`` (True: the head is linear in the last block's output).
    """

    channel_dim = -1
    residual = False
    linear_head = True

    def __init__(self, model: nn.Module):
        self.model = model

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def block(self, k: int, h: torch.Tensor) -> torch.Tensor:
        return self.blocks[k](h)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def stem_modules(self) -> list[nn.Module]:
        return []

    def head_modules(self) -> list[nn.Module]:
        return []

    def fold_block_input(self, k: int, M: torch.Tensor) -> None:
        """Block k (k >= 1) now reads ``M h`` instead of ``h``: fold M into its input op(s)."""
        raise NotImplementedError

    def fold_head_input(self, M: torch.Tensor, head: nn.Linear | None = None) -> None:
        """The head reads ``M h``; with ``head`` (a wide head, M: W x w) it becomes ``head . M``."""
        lin = self.head_linear()
        src = head if head is not None else lin
        w = src.weight.detach().double() @ M.double()
        with torch.no_grad():
            lin.weight.copy_(w.to(lin.weight.dtype))
            if head is not None and lin.bias is not None:
                lin.bias.copy_(head.bias.detach())

    def head_linear(self) -> nn.Linear:
        raise NotImplementedError


def _fold_linear(lin: nn.Linear, M: torch.Tensor) -> None:
    with torch.no_grad():
        lin.weight.copy_((lin.weight.detach().double() @ M.double()).to(lin.weight.dtype))


def _fold_conv(conv: nn.Conv2d, M: torch.Tensor) -> None:
    # conv(M x)[o] = sum_i W[o, i] * (M x)[i] = sum_j (W M)[o, j] x[j], per kernel tap.
    with torch.no_grad():
        w = torch.einsum("oihw,ij->ojhw", conv.weight.detach().double(), M.double())
        conv.weight.copy_(w.to(conv.weight.dtype))


class MLPView(BlockView):
    def __init__(self, model: DeepMLP):
        super().__init__(model)
        self.blocks = model.blocks
        self.widths = [b.linear.out_features for b in model.blocks]

    def stem(self, x):
        return x.flatten(1)

    def head(self, h):
        return self.model.head(h)

    def head_modules(self):
        return [self.model.head]

    def head_linear(self):
        return self.model.head

    def fold_block_input(self, k, M):
        _fold_linear(self.blocks[k].linear, M)


class ResNetView(BlockView):
    """Blocks = ResNet stages (the ImageNet reproduction's four imitation points)."""

    channel_dim = 1

    def __init__(self, model: ResNet):
        super().__init__(model)
        self.blocks = list(model.stages)
        self.widths = [(s[-1].conv3 if hasattr(s[-1], "conv3") else s[-1].conv2).out_channels
                       for s in model.stages]

    def stem(self, x):
        return self.model.stem(x)

    def head(self, h):
        return self.model.forward_head(h)

    def stem_modules(self):
        return [self.model.stem]

    def head_modules(self):
        return [self.model.fc]

    def head_linear(self):
        return self.model.fc  # average pooling commutes with a channel map

    def fold_block_input(self, k, M):
        first = self.blocks[k][0]
        if isinstance(first.shortcut, nn.Identity):
            raise ConfigError(f"stage {k} starts with an identity shortcut: a channel map cannot be merged "
                              "into it exactly; use stages that change stride or width")
        _fold_conv(first.conv1, M)
        _fold_conv(first.shortcut[0], M)


class TransformerView(BlockView):
    """Blocks = Transformer layers of a `TransformerLM` (causal)."""

    residual = True
    linear_head = False

    def __init__(self, model: TransformerLM):
        super().__init__(model)
        self.blocks = model.blocks.layers
        self.widths = [model.cfg.d_model] * len(self.blocks)

    def stem(self, idx):
        x = self.model.embed(idx)
        if self.model.cfg.scale_embeddings:
            x = x * math.sqrt(self.model.cfg.d_model)
        return self.model.drop(self.model.pos(x))

    def block(self, k, h):
        return self.blocks[k](h, attn_mask=causal_mask(h.size(1), h.device))

    def head(self, h):
        return self.model.lm_head(self.model.blocks.final_norm(h))

    def stem_modules(self):
        return [self.model.embed, self.model.pos]

    def head_modules(self):
        return [self.model.blocks.final_norm, self.model.lm_head]

    def fold_block_input(self, k, M):
        err = float((M - torch.eye(M.size(0), dtype=M.dtype, device=M.device)).abs().max())
        if err > 1e-4:
            raise ConfigError(f"a residual block cannot absorb a general map (|C A - I| = {err:.2g}); "
                              "use tied orthogonal pairs")

    def fold_head_input(self, M, head=None):
        self.fold_block_input(-1, M)


class EncoderView(TransformerView):
    """Blocks = layers of a bidirectional `MaskedLMEncoder` (BERT-style; no causal mask)."""

    def block(self, k, h):
        return self.blocks[k](h)


def view_of(model: nn.Module) -> BlockView:
    """The `BlockView` of a DeepMLP, ResNet, TransformerLM or MaskedLMEncoder."""
    # MaskedLMEncoder is a TransformerLM: test the subclass first
    for cls, view in ((DeepMLP, MLPView), (ResNet, ResNetView), (MaskedLMEncoder, EncoderView),
                      (TransformerLM, TransformerView)):
        if isinstance(model, cls):
            return view(model)
    raise ConfigError(f"WIN needs a DeepMLP, ResNet, TransformerLM or MaskedLMEncoder, got {type(model).__name__}")


@torch.no_grad()
def block_outputs(view: BlockView, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
    """Outputs ``y_0..y_upto`` of a (wide, frozen) network's blocks: the imitation targets."""
    n = view.n_blocks if upto is None else upto + 1
    h, out = view.stem(x), []
    for k in range(n):
        h = view.block(k, h)
        out.append(h)
    return out


# -- the linear pairs --------------------------------------------------------------------------
class LinearPair(nn.Module):
    """``A`` (w -> W) and ``C`` (W -> w) between thin block k and block k+1 (Fig. 1).

    Initialised so that ``C A = I`` (S-bar starts equal to S): A has orthonormal columns, C = A^T.
    With ``tied=True`` (residual blocks) ``A = s Q``, ``C = Q^T / s`` for ever.
    """

    def __init__(self, w: int, W: int, channel_dim: int = -1, tied: bool = False):
        super().__init__()
        if W < w:
            raise ConfigError(f"the wide block ({W}) must be at least as wide as the thin one ({w})")
        self.channel_dim, self.tied = channel_dim, tied
        self.up = nn.Linear(w, W, bias=False)
        nn.init.orthogonal_(self.up.weight)
        if tied:
            parametrizations.orthogonal(self.up)
            self.log_scale = nn.Parameter(torch.zeros(()))
            self.down = None
        else:
            self.down = nn.Linear(W, w, bias=False)
            with torch.no_grad():
                self.down.weight.copy_(self.up.weight.t())

    def _map(self, lin_w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        if self.channel_dim == -1:
            return h @ lin_w.t()
        return torch.einsum("oi,bi...->bo...", lin_w, h)

    def A(self, h: torch.Tensor) -> torch.Tensor:
        w = self.up.weight * self.log_scale.exp() if self.tied else self.up.weight
        return self._map(w, h)

    def C(self, z: torch.Tensor) -> torch.Tensor:
        w = self.up.weight.t() * (-self.log_scale).exp() if self.tied else self.down.weight
        return self._map(w, z)

    def a_matrix(self) -> torch.Tensor:
        """A as a (W, w) matrix."""
        return (self.up.weight * self.log_scale.exp() if self.tied else self.up.weight).detach()

    def matrix(self) -> torch.Tensor:
        """M = C A, the (w, w) map merged into the next block."""
        A = self.up.weight.detach().double()
        if self.tied:
            return A.t() @ A
        return self.down.weight.detach().double() @ A

    def a_parameters(self) -> list[nn.Parameter]:
        return list(self.up.parameters()) + ([self.log_scale] if self.tied else [])

    def c_parameters(self) -> list[nn.Parameter]:
        return [] if self.tied else list(self.down.parameters())


# -- S-bar ---------------------------------------------------------------------------------------
class WinStudent(nn.Module):
    """S-bar: the thin network with a `LinearPair` after every block (Fig. 1).

    Args:
        thin: the deep thin network S (DeepMLP, ResNet or TransformerLM).
        wide_widths: output width of each wide block (``widths_of(widen(spec, f))``).
        wide_head: the trained wide network's linear head, frozen; S-bar ends with it and the merge
            folds ``A_{L-1}`` into it (linear heads only). Defaults to None (S's own head).
    """

    def __init__(self, thin: nn.Module, wide_widths: list[int], wide_head: nn.Module | None = None):
        super().__init__()
        self.thin = thin
        view = view_of(thin)
        if len(wide_widths) != view.n_blocks:
            raise ConfigError(f"thin has {view.n_blocks} blocks, wide has {len(wide_widths)}: WIN keeps the depth")
        if wide_head is not None and not view.linear_head:
            raise ConfigError(f"{type(thin).__name__} has a non-linear head; use wide_head=None")
        self.pairs = nn.ModuleList(LinearPair(w, W, view.channel_dim, tied=view.residual)
                                   for w, W in zip(view.widths, wide_widths))
        self.wide_head = copy.deepcopy(wide_head) if wide_head is not None else None
        if self.wide_head is not None:
            self.wide_head.requires_grad_(False)

    @property
    def view(self) -> BlockView:
        return view_of(self.thin)

    @property
    def n_blocks(self) -> int:
        return len(self.pairs)

    def forward(self, x: torch.Tensor, teacher_in: torch.Tensor | None = None, stage: int | None = None
                ) -> torch.Tensor:
        """``stage=None``: S-bar's logits. ``stage=k``: ``A_k h_k``, the imitation of wide block k's output;
        ``teacher_in`` (wide block k-1's output) makes block k read ``C_{k-1} y_{k-1}`` (teacher forcing)."""
        v = self.view
        if stage is None:
            h = v.stem(x)
            L = self.n_blocks
            for k in range(L):
                h = v.block(k, h)
                if k < L - 1 or self.wide_head is None:
                    h = self.pairs[k].C(self.pairs[k].A(h))
            if self.wide_head is not None:
                return self.wide_head(_pool(self.pairs[-1].A(h)))
            return v.head(h)
        return self.pairs[stage].A(self.thin_output(x, stage, teacher_in))

    def thin_output(self, x: torch.Tensor, stage: int, teacher_in: torch.Tensor | None = None) -> torch.Tensor:
        """``h_k``: thin block k's output in S-bar (before ``A_k``); block k reads ``C_{k-1} A_{k-1} h_{k-1}``,
        or ``C_{k-1} y_{k-1}`` when ``teacher_in`` (wide block k-1's output) is given."""
        v = self.view
        if teacher_in is not None and stage > 0:
            return v.block(stage, self.pairs[stage - 1].C(teacher_in))
        h = v.stem(x)
        for k in range(stage + 1):
            h = v.block(k, h)
            if k < stage:
                h = self.pairs[k].C(self.pairs[k].A(h))
        return h

    def stage_modules(self, stage: int, freeze_lower: bool = False, teacher_forced: bool = False) -> Iterator[nn.Parameter]:
        """Parameters trained in imitation stage k: block k (with the stem at k = 0), ``A_k``, ``C_{k-1}``;
        plus, unless ``freeze_lower`` or teacher forcing, everything below."""
        v = self.view
        params: list[nn.Parameter] = list(v.blocks[stage].parameters()) + self.pairs[stage].a_parameters()
        if stage > 0:
            params += self.pairs[stage - 1].c_parameters()
        if stage == 0 or not (freeze_lower or teacher_forced):
            for m in v.stem_modules():
                params += list(m.parameters())
        if not (freeze_lower or teacher_forced):
            for k in range(stage):
                params += list(v.blocks[k].parameters()) + self.pairs[k].a_parameters()
                params += self.pairs[k].c_parameters()
        seen, out = set(), []
        for p in params:  # deduplicate (tied weights)
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
        return iter(out)

    def set_stage(self, stage: int, freeze_lower: bool = False, teacher_forced: bool = False) -> list[nn.Parameter]:
        """Mark only stage k's parameters trainable (so DDP sees no unused ones); returns them."""
        self.requires_grad_(False)
        params = list(self.stage_modules(stage, freeze_lower, teacher_forced))
        for p in params:
            p.requires_grad_(True)
        return params

    @torch.no_grad()
    def merge(self) -> nn.Module:
        """A copy of the thin network with every ``C_k A_k`` folded into block k+1 and the last map
        into the head: exactly S's architecture, same function as S-bar."""
        thin = copy.deepcopy(self.thin)
        v = view_of(thin)
        L = self.n_blocks
        for k in range(L - 1):
            v.fold_block_input(k + 1, self.pairs[k].matrix())
        if self.wide_head is not None:
            v.fold_head_input(self.pairs[-1].a_matrix(), head=self.wide_head)
        else:
            v.fold_head_input(self.pairs[-1].matrix())
        thin.requires_grad_(True)
        return thin


@torch.no_grad()
def init_stage_lstsq(student: WinStudent, wide: nn.Module, stage: int, x: torch.Tensor, target: torch.Tensor,
                     teacher_in: torch.Tensor | None = None) -> list[int]:
    """Closed-form start of imitation stage k (plain MLP blocks ``ReLU(W h + b)`` only).

    Deviation (ours; the paper does not say how the stage starts): before the MSE updates of stage
    k, (1) ``C_{k-1} = pinv(A_{k-1})``, so block k reads the least-squares code of the wide input;
    (2) thin block k becomes w of the wide block's units, chosen by column-pivoted QR of the wide
    outputs ``y_k`` (column subset selection): ``W_k = V_k[sigma] A_{k-1}``, ``b_k = c_k[sigma]``
    (block 0 reads x: ``W_0 = V_0[sigma]``), i.e. the thin block computes those wide units from
    the reconstructed wide input; (3) ``A_k`` = least-squares map from ``h_k`` to ``y_k``. Every
    piece stays linear where it was, so the merge stays exact. Without it, randomly initialised
    pairs and a high imitation lr left the 16-layer MLP at ~20 % after merging (dead ReLUs).

    Args:
        student: S-bar (its thin net a `DeepMLP`); wide: the trained wide `DeepMLP`.
        stage: k. x: training inputs (N, ...). target: wide block-k output y_k (N, W).
        teacher_in: wide block k-1's output for the teacher-forced schedule. Defaults to None.
    Returns: the selected wide units sigma.
    """
    import scipy.linalg

    if not (isinstance(student.thin, DeepMLP) and isinstance(wide, DeepMLP)):
        raise ConfigError("the least-squares stage initialisation needs plain MLPs (DeepMLP); "
                          "use imitation_init='none' for ResNets and Transformers")
    thin_blk, wide_lin = student.thin.blocks[stage].linear, wide.blocks[stage].linear
    w = thin_blk.out_features
    y = target.detach().double()
    _, _, piv = scipy.linalg.qr(y.numpy(), mode="economic", pivoting=True)
    sigma = [int(i) for i in piv[:w]]
    V, c = wide_lin.weight.detach().double()[sigma], wide_lin.bias.detach()[sigma]
    if stage > 0:
        pair = student.pairs[stage - 1]
        A_prev = pair.up.weight.detach().double()  # (W, w)
        if pair.down is not None:
            pair.down.weight.copy_(torch.linalg.pinv(A_prev).to(pair.down.weight.dtype))
        V = V @ A_prev
    thin_blk.weight.copy_(V.to(thin_blk.weight.dtype))
    thin_blk.bias.copy_(c.to(thin_blk.bias.dtype))
    h = student.thin_output(x, stage, teacher_in).detach().double()  # (N, w)
    A = torch.linalg.lstsq(h, y, driver="gelsd").solution  # (w, W)
    up = student.pairs[stage].up
    up.weight.copy_(A.t().to(up.weight.dtype))
    return sigma


def _pool(h: torch.Tensor) -> torch.Tensor:
    """Global average pooling for feature maps (ResNet's head), identity for vectors."""
    return torch.flatten(h.mean(dim=(2, 3)), 1) if h.dim() == 4 else h
