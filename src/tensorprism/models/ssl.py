r"""Networks for self-supervised learning (Chapter 9, §9.3-9.4): an encoder with the heads and the
state each method needs, in one module, so that a checkpoint holds all of it.

:class:`SSLNet` wraps any image classifier of the ``image`` contract (``forward_features`` /
``num_features``; its classifier is removed with ``reset_classifier(0)``):

* ``projector`` -- the projection MLP ``g`` (SimCLR, MoCo v2, BYOL, SwAV);
* ``predictor`` -- BYOL's extra MLP ``q`` on the online branch;
* ``target_encoder``/``target_projector`` -- the momentum (EMA) copies of MoCo and BYOL, made with
  ``copy.deepcopy`` and frozen (``requires_grad=False``): the book's listings share the module
  between both branches (C9-15, C9-16), which freezes the online network and makes the EMA a no-op;
* ``queue`` ``(K, d)`` and ``queue_ptr`` -- MoCo's FIFO of keys, as buffers;
* ``prototypes`` -- SwAV's ``K`` prototype vectors (a bias-free linear layer, rows kept unit-norm);
* ``head`` -- a classifier on the features (rotation prediction's 4 classes, DeepCluster's k).

All of it is parameters and buffers, so the Trainer's checkpoints save and restore it and a resumed
run continues bit for bit (tested). The encoder alone (``net.encoder``) is what downstream
evaluation uses.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError


def mlp_head(in_dim: int, hidden: int, out: int, *, layers: int = 2, batch_norm: bool = True,
             last_bn: bool = False) -> nn.Sequential:
    """``Linear -> [BN] -> ReLU`` x (layers - 1) ``-> Linear [-> BN]``: the projection/prediction MLPs
    (SimCLR: 2 layers; BYOL: hidden 4096 -> 256 with BN; SimCLR v2 / MoCo v3: a last BN)."""
    if layers < 1:
        raise ConfigError(f"an MLP head needs at least 1 layer, got {layers}")
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers - 1):
        mods += [nn.Linear(d, hidden, bias=not batch_norm)]
        if batch_norm:
            mods.append(nn.BatchNorm1d(hidden))
        mods.append(nn.ReLU(inplace=True))
        d = hidden
    mods.append(nn.Linear(d, out, bias=not last_bn))
    if last_bn:
        mods.append(nn.BatchNorm1d(out, affine=False))
    return nn.Sequential(*mods)


class SSLNet(nn.Module):
    """Encoder + the heads and state of one self-supervised method.

    Args:
        encoder: an image model of the ``image`` contract; its classifier is removed.
        proj_dim: output size of the projector (0: no projector).
        proj_hidden: hidden width of the projector. proj_layers: its layers.
        pred_hidden: hidden width of BYOL's predictor (0: no predictor).
        momentum: build frozen EMA copies of encoder and projector (MoCo, BYOL).
        queue_size: MoCo's queue length ``K`` (0: none).
        num_prototypes: SwAV's prototypes (0: none).
        head_classes: size of a linear classifier on the features (0: none).
    """

    def __init__(self, encoder: nn.Module, *, proj_dim: int = 128, proj_hidden: int = 512, proj_layers: int = 2,
                 pred_hidden: int = 0, momentum: bool = False, queue_size: int = 0, num_prototypes: int = 0,
                 head_classes: int = 0, proj_batch_norm: bool = True):
        super().__init__()
        if not hasattr(encoder, "reset_classifier") or not hasattr(encoder, "num_features"):
            raise ConfigError(f"SSLNet needs an image model with reset_classifier() and num_features (the image "
                              f"contract), got {type(encoder).__name__}")
        encoder.reset_classifier(0)
        self.encoder = encoder
        self.num_features = int(encoder.num_features)
        self.projector = (mlp_head(self.num_features, proj_hidden, proj_dim, layers=proj_layers,
                                   batch_norm=proj_batch_norm) if proj_dim else nn.Identity())
        out_dim = proj_dim or self.num_features
        self.out_dim = out_dim
        self.predictor = mlp_head(out_dim, pred_hidden, out_dim) if pred_hidden else None
        if momentum:
            self.target_encoder = copy.deepcopy(self.encoder)
            self.target_projector = copy.deepcopy(self.projector)
            for p in [*self.target_encoder.parameters(), *self.target_projector.parameters()]:
                p.requires_grad_(False)
        else:
            self.target_encoder = self.target_projector = None
        if queue_size:
            self.register_buffer("queue", F.normalize(torch.randn(queue_size, out_dim), dim=1))
            self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))
        else:
            self.queue = None
        self.prototypes = nn.Linear(out_dim, num_prototypes, bias=False) if num_prototypes else None
        self.head = nn.Linear(self.num_features, head_classes) if head_classes else None

    # --- branches ------------------------------------------------------------------------------
    def features(self, x: Tensor) -> Tensor:
        """Encoder features ``(N, F)`` (what kNN and the linear probe use)."""
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        """Projections ``(N, proj_dim)`` of the online branch."""
        return self.projector(self.encoder(x))

    @torch.no_grad()
    def target(self, x: Tensor) -> Tensor:
        """Projections of the momentum branch (no gradient)."""
        if self.target_encoder is None:
            raise ConfigError("this SSLNet has no momentum target; build it with momentum=True")
        return self.target_projector(self.target_encoder(x))

    @torch.no_grad()
    def momentum_update(self, tau: float) -> None:
        r"""EMA :math:`\xi \leftarrow \tau\xi + (1-\tau)\theta` of the target from the online weights;
        buffers (BatchNorm statistics) are copied."""
        for online, target in ((self.encoder, self.target_encoder), (self.projector, self.target_projector)):
            for t, o in zip(target.parameters(), online.parameters(), strict=True):
                t.lerp_(o.detach(), 1.0 - tau)
            for t, o in zip(target.buffers(), online.buffers(), strict=True):
                t.copy_(o)

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write ``keys (B, d)`` (normalised) over the oldest queue entries, wrapping around the end
        (the book's listing assumes ``K % B == 0``)."""
        k = self.queue.shape[0]
        keys = F.normalize(keys.detach(), dim=1)[-k:]
        b, ptr = keys.shape[0], int(self.queue_ptr)
        idx = (torch.arange(b, device=keys.device) + ptr) % k
        self.queue[idx] = keys.to(self.queue.dtype)
        self.queue_ptr.fill_((ptr + b) % k)

    @torch.no_grad()
    def normalize_prototypes(self) -> None:
        self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))


__all__ = ["SSLNet", "mlp_head"]
