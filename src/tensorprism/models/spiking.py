"""A spiking network of leaky integrate-and-fire neurons trained with surrogate gradients (book §11, I11.14).

==============  ==================================================================  ========
name            architecture                                                        params
==============  ==================================================================  ========
``snn-mlp``     28×28 image as a constant input current for ``steps`` = 25 steps →      203,532
                Linear 784-256 → LIF → Linear 256-10 → leaky (non-spiking) readout;
                the two membrane decays are trained too
==============  ==================================================================  ========

The image is presented as the same input current at every step ("direct" encoding, as in Wu et al.
2018 and Rueckauer et al. 2017): the first layer's LIF neurons turn it into spike trains. The
output neurons integrate the last hidden layer's spikes without firing, and the logits are their
potentials averaged over the steps, so the cross-entropy of the ``classification`` task trains the
network unchanged on the :class:`~tensorprism.train.Trainer`; the gradient passes the spikes through
the surrogate of :func:`tensorprism.functional.spiking.spike` and is backpropagated through time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..nn.spiking import LIF
from . import register_model
from .contract import MNIST_MEAN, MNIST_STD, ImageClassifierMixin


@dataclass
class SpikingConfig:
    """Settings of :class:`SpikingMLP` (``tau`` in steps; ``learn_beta`` trains each layer's decay)."""

    num_classes: int = 10
    in_chans: int = 1
    img_size: int = 28
    hidden: tuple[int, ...] = (256,)
    steps: int = 25
    tau: float = 5.0
    threshold: float = 1.0
    reset: str = "subtract"
    learn_beta: bool = True


class SpikingMLP(ImageClassifierMixin, nn.Module):
    """Fully connected LIF layers, image ``(N, C, H, W)`` → logits ``(N, num_classes)``.

    ``forward_features`` returns the last hidden layer's spike trains ``(T, N, num_features)``;
    ``forward_head(spikes, pre_logits=True)`` their firing rates ``(N, num_features)``. After a
    forward, ``firing_rate`` holds the mean spikes per hidden neuron and step (for monitoring).
    """

    def __init__(self, cfg: SpikingConfig):
        super().__init__()
        if cfg.steps < 1 or not cfg.hidden:
            raise ConfigError(f"snn-mlp needs steps >= 1 and at least one hidden layer, got steps={cfg.steps}, "
                              f"hidden={cfg.hidden}")
        self.in_chans, self.num_classes, self.steps = cfg.in_chans, cfg.num_classes, cfg.steps
        self.img_size = cfg.img_size
        dims = [cfg.in_chans * cfg.img_size * cfg.img_size, *cfg.hidden]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.lifs = nn.ModuleList(LIF(cfg.tau, cfg.threshold, cfg.reset, cfg.learn_beta) for _ in cfg.hidden)
        self.num_features = dims[-1]
        self.tau, self.learn_beta = cfg.tau, cfg.learn_beta
        self.classifier = self._make_classifier(cfg.num_classes)
        self.readout = LIF(cfg.tau, learn_beta=cfg.learn_beta)  # its potential only: the readout never fires
        self._rate: Tensor | None = None
        self.set_input_defaults(cfg.img_size, MNIST_MEAN if cfg.in_chans == 1 else None,
                                MNIST_STD if cfg.in_chans == 1 else None)

    @property
    def firing_rate(self) -> float:
        """Mean spikes per hidden neuron and step in the last forward (NaN before any)."""
        return float("nan") if self._rate is None or self._rate.is_meta else float(self._rate)

    def _make_classifier(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.classifier = self._make_classifier(num_classes).to(next(self.parameters()).device)

    def forward_features(self, x: Tensor) -> Tensor:
        """Images ``(N, C, H, W)`` → last hidden layer's spikes ``(T, N, num_features)``."""
        self.check_image_input(x)
        current = self.fcs[0](x.flatten(1))  # the constant input current, computed once
        spikes, _ = self.lifs[0](current.expand(self.steps, *current.shape))
        rates = [spikes.mean()]
        for fc, lif in zip(self.fcs[1:], self.lifs[1:], strict=True):
            spikes, _ = lif(fc(spikes))
            rates.append(spikes.mean())
        self._rate = torch.stack(rates).mean().detach()  # read lazily: no host sync inside forward
        return spikes

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Spikes ``(T, N, F)`` → logits ``(N, num_classes)`` (firing rates ``(N, F)`` with ``pre_logits``)."""
        if pre_logits or self.num_classes == 0:
            return x.mean(0)
        current = self.classifier(x)  # (T, N, K)
        # A non-firing leaky integrator: V[t] = beta V[t-1] + I[t]; the threshold is never reached
        # by construction (its spikes are ignored), so the potential is the plain filtered input.
        beta, v, total = self.readout.beta, torch.zeros_like(current[0]), 0
        for t in range(current.shape[0]):
            v = beta * v + current[t]
            total = total + v
        return total / current.shape[0]

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


@register_model("snn-mlp", config=SpikingConfig, family="spiking")
def snn_mlp(cfg: SpikingConfig) -> SpikingMLP:
    """784-256-10 LIF network with a leaky readout, 25 steps, surrogate-gradient trained (203,532 parameters)."""
    return SpikingMLP(cfg)
