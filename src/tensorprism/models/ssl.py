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

Registered as ``ssl-net`` (``create_model("ssl-net", encoder="resnet20-cifar", encoder_config={...},
method="simclr")``), so a run directory of an SSL recipe names its model in the checkpoint and
``prism eval RUN`` rebuilds it. As an ``image``-contract model, ``forward_features`` gives the
encoder's features ``(N, F)`` and the head is the projector: ``forward`` → ``(N, proj_dim)``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import setting
from ..errors import ConfigError
from . import create_model, register_model
from .contract import ImageClassifierMixin


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


class SSLNet(ImageClassifierMixin, nn.Module):
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
        # the image contract reads the encoder's input defaults
        self.in_chans = int(getattr(encoder, "in_chans", 3))
        self.img_size = getattr(encoder, "img_size", 224)
        self.mean, self.std = getattr(encoder, "mean", None), getattr(encoder, "std", None)

    # --- image contract (the projector is the head) --------------------------------------------
    @property
    def num_classes(self) -> int:
        """Outputs of ``forward``: the projection size (0 after ``reset_classifier(0)``)."""
        return getattr(self, "_num_outputs", self.out_dim)

    @property
    def default_cfg(self) -> dict[str, Any]:
        return {**self.encoder.default_cfg, "num_classes": self.num_classes, "num_features": self.num_features,
                "paradigm": self.paradigm}

    def forward_features(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        return x if pre_logits else self.projector(x)

    def get_classifier(self) -> nn.Module:
        return self.projector

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the projector by a fresh ``Linear(F, num_classes)`` (0: none, ``forward`` = features)."""
        dev = next(self.encoder.parameters()).device
        self.projector = nn.Linear(self.num_features, num_classes).to(dev) if num_classes else nn.Identity()
        self.out_dim = num_classes or self.num_features
        self._num_outputs = num_classes

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


# ------------------------------------------------------------------------------------ registry
METHOD_HEADS: dict[str, dict[str, Any]] = {  # what each method's task needs on top of the encoder
    "simclr": {}, "moco": {"momentum": True}, "byol": {"momentum": True, "predictor": True},
    "swav": {"prototypes": True}, "rotation": {"proj": False, "head": 4}, "deepcluster": {"proj": False, "head": -1},
}


@dataclass
class SSLNetConfig:
    """``ssl-net`` settings.

    Attributes:
        encoder: a registered image model (its classifier is removed).
        encoder_config: its settings (``in_chans``, ``layers``...).
        method: simclr, moco, byol, swav, rotation or deepcluster: which heads and state to build.
        proj_dim, proj_hidden: the projector (and BYOL's predictor width: ``proj_hidden``).
        queue_size: MoCo's queue. num_prototypes: SwAV's prototypes (DeepCluster: its clusters).
    """

    encoder: str = "resnet20-cifar"
    encoder_config: dict = field(default_factory=dict)
    method: str = setting("simclr", choices=tuple(METHOD_HEADS))
    proj_dim: int = setting(128, min=1)
    proj_hidden: int = setting(512, min=1)
    queue_size: int = setting(4096, min=1)
    num_prototypes: int = setting(100, min=2)


def ssl_net_kwargs(method: str, *, proj_dim: int = 128, proj_hidden: int = 512, queue_size: int = 4096,
                   num_prototypes: int = 100) -> dict[str, Any]:
    """:class:`SSLNet` keyword arguments for ``method`` (the heads and state its task expects)."""
    if method not in METHOD_HEADS:
        raise ConfigError(f"unknown SSL method {method!r}; choose one of {tuple(METHOD_HEADS)}")
    h = METHOD_HEADS[method]
    if h.get("proj", True) is False:
        return {"proj_dim": 0, "head_classes": h["head"] if h["head"] > 0 else num_prototypes}
    return {"proj_dim": proj_dim, "proj_hidden": proj_hidden, "momentum": bool(h.get("momentum")),
            "queue_size": queue_size if method == "moco" else 0,
            "pred_hidden": proj_hidden if h.get("predictor") else 0,
            "num_prototypes": num_prototypes if h.get("prototypes") else 0}


@register_model("ssl-net", config=SSLNetConfig, family="ssl")
def ssl_net(cfg: SSLNetConfig) -> SSLNet:
    """A registered encoder with one SSL method's heads and state (book Ch. 9; see :class:`SSLNet`)."""
    encoder = create_model(cfg.encoder, **cfg.encoder_config)
    return SSLNet(encoder, **ssl_net_kwargs(cfg.method, proj_dim=cfg.proj_dim, proj_hidden=cfg.proj_hidden,
                                            queue_size=cfg.queue_size, num_prototypes=cfg.num_prototypes))


__all__ = ["SSLNet", "SSLNetConfig", "mlp_head", "ssl_net_kwargs", "METHOD_HEADS"]
