"""Autoencoders of Chapter 10 (§10.1–10.4): MLP, convolutional, LSTM sequence and conv+LSTM video.

==================  ===============================================================  =========
name                architecture                                                     params
==================  ===============================================================  =========
``ae-mlp``          784-256-784, ReLU code, sigmoid output (book DAE, C10-01)          402,448
``ae-sparse``       784-256-784 with a **sigmoid** code (KL sparsity needs rates)     402,448
``ae-mlp-deep``     784-256-128-32-128-256-784 (I10.02/I10.03, linear code)            ~476 k
``ae-conv``         Conv(1→16→32, s2) / ConvT(32→16→1) (book C10-04)                    9,569
``ae-lstm``         LSTM encoder, autoregressive LSTM decoder (C10-05 repaired)
``ae-video``        per-frame conv → LSTM → z; LSTM → per-frame transposed conv (C10-06 repaired)
==================  ===============================================================  =========

Every model maps ``x (N, *data_shape)`` to a reconstruction of the same shape; ``forward(x,
return_code=True)`` also returns the code ``(N, latent)`` the sparsity and contractive penalties
of :class:`~tensorprism.train.tasks.autoencoder.AutoencoderTask` act on. ``output="logits"``
leaves the last layer linear (pair it with the task's ``loss="bce"``), ``"sigmoid"`` gives
values in (0, 1) (the book's choice, with MSE).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor

from ...config import setting
from ...errors import ConfigError
from ...nn.activations import make_activation
from .. import register_model
from ..contract import GenerativeMixin

OUTPUTS = ("sigmoid", "linear", "logits")


def _output(kind: str) -> nn.Module:
    if kind not in OUTPUTS:
        raise ConfigError(f"unknown autoencoder output {kind!r}; choose one of {', '.join(OUTPUTS)}")
    return nn.Sigmoid() if kind == "sigmoid" else nn.Identity()


def mlp_stack(sizes: list[int], activation: str, last: str | None) -> nn.Sequential:
    """Linear layers ``sizes[0] → … → sizes[-1]`` with ``activation`` between them and ``last``
    (an activation name, or None for a linear end) after the final one."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        act = activation if i < len(sizes) - 2 else last
        if act is not None:
            layers.append(make_activation(act))
    return nn.Sequential(*layers)


class AutoencoderBase(GenerativeMixin, nn.Module):
    kind = "autoencoder"
    temporal = False  # sequence models decode as many steps as the input has

    def encode(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def decode(self, h: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, return_code: bool = False):
        self.check_data(x)
        h = self.encode(x)
        out = self.decode(h, x.shape[1]) if self.temporal else self.decode(h)
        return (out, h) if return_code else out


# ------------------------------------------------------------------------------------ MLP
@dataclass
class MLPAutoencoderConfig:
    """``data_shape``: one example's shape (flattened inside); ``hidden``: encoder widths before
    the code (the decoder mirrors them); ``latent_dim``: code size; ``code_activation``: the
    code's activation (``None``: linear; ``"sigmoid"`` for KL sparsity); ``output``: see module."""

    data_shape: tuple[int, ...] = (1, 28, 28)
    hidden: tuple[int, ...] = ()
    latent_dim: int = setting(256, min=1)
    activation: str = "relu"
    code_activation: str | None = "relu"
    output: str = setting("sigmoid", choices=OUTPUTS)


class MLPAutoencoder(AutoencoderBase):
    """``x → σ(W x + b) … → code → … → x̂`` (book I10.02–I10.04)."""

    def __init__(self, cfg: MLPAutoencoderConfig):
        super().__init__()
        self.data_shape, self.latent_dim = tuple(cfg.data_shape), cfg.latent_dim
        d = int(torch.Size(self.data_shape).numel())
        sizes = [d, *cfg.hidden, cfg.latent_dim]
        self.encoder = mlp_stack(sizes, cfg.activation, cfg.code_activation)
        self.decoder = nn.Sequential(mlp_stack(sizes[::-1], cfg.activation, None), _output(cfg.output))

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(1))

    def decode(self, h: Tensor) -> Tensor:
        return self.decoder(h).view(h.shape[0], *self.data_shape)


@register_model("ae-mlp", config=MLPAutoencoderConfig, family="autoencoder")
def ae_mlp(cfg: MLPAutoencoderConfig) -> MLPAutoencoder:
    """The book's (denoising) autoencoder 784-256-784 (C10-01)."""
    return MLPAutoencoder(cfg)


register_model("ae-sparse", config=MLPAutoencoderConfig, family="autoencoder", code_activation="sigmoid",
               description="784-256-784 with sigmoid code units (KL sparsity, C10-02 repaired)")(ae_mlp)
register_model("ae-mlp-deep", config=MLPAutoencoderConfig, family="autoencoder", hidden=(256, 128), latent_dim=32,
               code_activation=None, description="3-layer encoder/decoder with a linear 32-d code (I10.02/03)")(ae_mlp)


# ------------------------------------------------------------------------------------ convolutional
@dataclass
class ConvAutoencoderConfig:
    """``in_chans``/``img_size``: the images (``img_size`` divisible by 4); ``widths``: channels of
    the two stride-2 convolutions."""

    in_chans: int = setting(1, min=1)
    img_size: int = setting(28, min=4)
    widths: tuple[int, int] = (16, 32)
    output: str = setting("sigmoid", choices=OUTPUTS)


class ConvAutoencoder(AutoencoderBase):
    """Conv(3×3, s2) ×2 → code ``(N, w2, H/4, W/4)`` → ConvT(3×3, s2) ×2 (book C10-04). The code
    returned with ``return_code`` is flattened to ``(N, w2·H/4·W/4)``."""

    def __init__(self, cfg: ConvAutoencoderConfig):
        super().__init__()
        if cfg.img_size % 4:
            raise ConfigError(f"ae-conv needs img_size divisible by 4 (two stride-2 layers), got {cfg.img_size}")
        c, (w1, w2) = cfg.in_chans, cfg.widths
        self.data_shape = (c, cfg.img_size, cfg.img_size)
        self.latent_dim = w2 * (cfg.img_size // 4) ** 2
        self.encoder = nn.Sequential(nn.Conv2d(c, w1, 3, 2, 1), nn.ReLU(), nn.Conv2d(w1, w2, 3, 2, 1), nn.ReLU())
        self.decoder = nn.Sequential(nn.ConvTranspose2d(w2, w1, 3, 2, 1, output_padding=1), nn.ReLU(),
                                     nn.ConvTranspose2d(w1, c, 3, 2, 1, output_padding=1), _output(cfg.output))
        self._code_shape = (w2, cfg.img_size // 4, cfg.img_size // 4)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x).flatten(1)

    def decode(self, h: Tensor) -> Tensor:
        return self.decoder(h.view(h.shape[0], *self._code_shape))


@register_model("ae-conv", config=ConvAutoencoderConfig, family="autoencoder")
def ae_conv(cfg: ConvAutoencoderConfig) -> ConvAutoencoder:
    """The book's convolutional (denoising) autoencoder for 28×28 images (C10-04, 9,569 parameters)."""
    return ConvAutoencoder(cfg)


# ------------------------------------------------------------------------------------ LSTM sequence
@dataclass
class LSTMAutoencoderConfig:
    """``input_size`` features per step; ``hidden_size``/``num_layers`` of both LSTMs; the code is
    the encoder's last hidden state ``(N, hidden_size)``; ``seq_len`` is the length the model is
    checked with (any length runs)."""

    input_size: int = setting(1, min=1)
    hidden_size: int = setting(50, min=1)
    num_layers: int = setting(2, min=1)
    seq_len: int = setting(12, min=1)


class LSTMAutoencoder(AutoencoderBase):
    r"""Sequence autoencoder (§10.3, I10.08): :math:`z=h_T` of an LSTM encoder; the decoder LSTM
    starts from :math:`z` (every layer's hidden state, cells at zero) and a zero start token and
    feeds back its own prediction, :math:`\hat x_t=g(\hat x_{t-1},h_t)`.

    The book's listing (C10-05) cannot run: its decoder ``LSTM(50, 1)`` receives inputs of size 1
    and a hidden state of size 50, and it feeds the ground truth to the decoder. Here the decoder
    is ``LSTM(input_size, hidden_size)`` with a linear read-out, autoregressive as the text says.
    ``x (N, T, input_size)`` → ``(N, T, input_size)``.
    """

    temporal = True

    def __init__(self, cfg: LSTMAutoencoderConfig):
        super().__init__()
        self.data_shape, self.latent_dim = (cfg.seq_len, cfg.input_size), cfg.hidden_size
        self.num_layers = cfg.num_layers
        self.encoder = nn.LSTM(cfg.input_size, cfg.hidden_size, cfg.num_layers, batch_first=True)
        self.decoder = nn.LSTM(cfg.input_size, cfg.hidden_size, cfg.num_layers, batch_first=True)
        self.readout = nn.Linear(cfg.hidden_size, cfg.input_size)

    def check_data(self, x: Tensor) -> None:  # any length T
        if x.dim() != 3 or x.shape[2] != self.data_shape[1] or not x.is_floating_point():
            from ...errors import ShapeError

            raise ShapeError(f"LSTMAutoencoder expects sequences (N, T, {self.data_shape[1]}) batch first, "
                             f"got {tuple(x.shape)} {x.dtype}")

    def encode(self, x: Tensor) -> Tensor:
        _, (h, _) = self.encoder(x)
        return h[-1]

    def decode(self, h: Tensor, steps: int | None = None) -> Tensor:
        steps = steps or self.data_shape[0]
        state = (h.unsqueeze(0).repeat(self.num_layers, 1, 1).contiguous(), torch.zeros_like(h).unsqueeze(0)
                 .repeat(self.num_layers, 1, 1))
        prev = h.new_zeros(h.shape[0], 1, self.data_shape[1])  # start-of-sequence token
        outs = []
        for _ in range(steps):
            o, state = self.decoder(prev, state)
            prev = self.readout(o)
            outs.append(prev)
        return torch.cat(outs, 1)


@register_model("ae-lstm", config=LSTMAutoencoderConfig, family="autoencoder")
def ae_lstm(cfg: LSTMAutoencoderConfig) -> LSTMAutoencoder:
    """LSTM sequence autoencoder with an autoregressive decoder (book §10.3, C10-05 repaired)."""
    return LSTMAutoencoder(cfg)


# ------------------------------------------------------------------------------------ video
@dataclass
class VideoAutoencoderConfig:
    """Clips ``(N, frames, in_chans, img_size, img_size)``; ``widths`` of the two stride-2 frame
    convolutions; ``feature_dim`` per frame fed to the LSTMs; ``hidden_size`` = code size."""

    in_chans: int = setting(1, min=1)
    img_size: int = setting(64, min=4)
    frames: int = setting(10, min=1)
    widths: tuple[int, int] = (16, 32)
    feature_dim: int = setting(128, min=1)
    hidden_size: int = setting(256, min=1)
    num_layers: int = setting(1, min=1)
    output: str = setting("logits", choices=OUTPUTS)


class VideoAutoencoder(AutoencoderBase):
    r"""Conv + LSTM video autoencoder (§10.4, I10.09): each frame → two stride-2 convolutions →
    a ``feature_dim`` vector; an LSTM reads the frames and its last state is the clip's code
    :math:`z_T`; a decoder LSTM, given :math:`z_T` at every step, emits per-frame features that two
    transposed convolutions turn back into frames.

    Repairs of the book's listing (C10-06): the code is repeated along **time**
    (``z.unsqueeze(1).repeat(1, T, 1)`` for a batch-first LSTM; the book's ``unsqueeze(0)`` mixes
    batch and time, so reconstructions of one clip depend on the others), and the decoder LSTM
    outputs ``feature_dim`` values followed by a linear map instead of an LSTM of hidden size
    6,272 (≈ 479 M parameters).
    """

    temporal = True

    def __init__(self, cfg: VideoAutoencoderConfig):
        super().__init__()
        if cfg.img_size % 4:
            raise ConfigError(f"ae-video needs img_size divisible by 4, got {cfg.img_size}")
        c, (w1, w2), s = cfg.in_chans, cfg.widths, cfg.img_size // 4
        self.data_shape = (cfg.frames, c, cfg.img_size, cfg.img_size)
        self.latent_dim, self.num_layers = cfg.hidden_size, cfg.num_layers
        self._map = (w2, s, s)
        self.frame_encoder = nn.Sequential(nn.Conv2d(c, w1, 3, 2, 1), nn.ReLU(), nn.Conv2d(w1, w2, 3, 2, 1), nn.ReLU(),
                                           nn.Flatten(), nn.Linear(w2 * s * s, cfg.feature_dim), nn.ReLU())
        self.encoder = nn.LSTM(cfg.feature_dim, cfg.hidden_size, cfg.num_layers, batch_first=True)
        self.decoder = nn.LSTM(cfg.hidden_size, cfg.feature_dim, cfg.num_layers, batch_first=True)
        self.frame_decoder = nn.Sequential(
            nn.Linear(cfg.feature_dim, w2 * s * s), nn.ReLU(), nn.Unflatten(1, self._map),
            nn.ConvTranspose2d(w2, w1, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(w1, c, 3, 2, 1, output_padding=1), _output(cfg.output))

    def check_data(self, x: Tensor) -> None:  # any number of frames
        if x.dim() != 5 or tuple(x.shape[2:]) != self.data_shape[1:] or not x.is_floating_point():
            from ...errors import ShapeError

            raise ShapeError(f"VideoAutoencoder expects clips (N, T, {', '.join(map(str, self.data_shape[1:]))}), "
                             f"got {tuple(x.shape)} {x.dtype}")

    def encode(self, x: Tensor) -> Tensor:
        n, t = x.shape[:2]
        feats = self.frame_encoder(x.flatten(0, 1)).view(n, t, -1)
        _, (h, _) = self.encoder(feats)
        return h[-1]

    def decode(self, h: Tensor, steps: int | None = None) -> Tensor:
        t = steps or self.data_shape[0]
        seq = h.unsqueeze(1).repeat(1, t, 1)  # (N, T, H): batch first, time second
        feats, _ = self.decoder(seq)
        frames = self.frame_decoder(feats.flatten(0, 1))
        return frames.view(h.shape[0], t, *frames.shape[1:])


@register_model("ae-video", config=VideoAutoencoderConfig, family="autoencoder")
def ae_video(cfg: VideoAutoencoderConfig) -> VideoAutoencoder:
    """Conv + LSTM video autoencoder for Moving MNIST clips (book §10.4, C10-06 repaired)."""
    return VideoAutoencoder(cfg)
