r"""Adversarial objectives of Chapter 10 (§10.5–10.6): GAN losses, gradient penalty, spectral norm.

Discriminator outputs are **logits** (no sigmoid in the network), so every loss below is written
with ``softplus`` and stays finite where :math:`D\to0` or :math:`D\to1`:
:math:`-\log\sigma(l)=\mathrm{softplus}(-l)`, :math:`-\log(1-\sigma(l))=\mathrm{softplus}(l)`.

==================  ============================================  ===============================
kind                discriminator / critic loss (minimised)       generator loss (minimised)
==================  ============================================  ===============================
``saturating``      :math:`-\log D(x)-\log(1-D(G(z)))`            :math:`\log(1-D(G(z)))` (L23718)
``non-saturating``  same                                          :math:`-\log D(G(z))` (L23722)
``wasserstein``     :math:`-C(x)+C(G(z))` (erratum §5.13)         :math:`-C(G(z))`
``hinge``           :math:`\max(0,1-D(x))+\max(0,1+D(G(z)))`      :math:`-D(G(z))`
==================  ============================================  ===============================

All are batch means. The book says the critic *maximises* :math:`\mathcal L_C=-\mathbb E[C(x)]+
\mathbb E[C(G(z))]` (L24097); that drives the critic the wrong way. It must *minimise* it, i.e.
maximise :math:`\mathbb E[C(x)]-\mathbb E[C(G(z))]`, the Kantorovich–Rubinstein estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError, ShapeError

GAN_LOSSES = ("saturating", "non-saturating", "wasserstein", "hinge")


def _kind(kind: str) -> str:
    if kind not in GAN_LOSSES:
        raise ConfigError(f"unknown GAN loss {kind!r}; choose one of {', '.join(GAN_LOSSES)}")
    return kind


def discriminator_loss(real: Tensor, fake: Tensor, kind: str = "non-saturating") -> Tensor:
    """Discriminator (critic) loss on logits ``real (N, ...)`` of data and ``fake (M, ...)`` of
    samples, to minimise; ``kind`` as in the module table."""
    kind = _kind(kind)
    if kind == "wasserstein":
        return fake.mean() - real.mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def generator_loss(fake: Tensor, kind: str = "non-saturating") -> Tensor:
    """Generator loss on the discriminator's logits ``fake`` of generated samples, to minimise."""
    kind = _kind(kind)
    if kind == "saturating":
        return -F.softplus(fake).mean()  # log(1 - sigmoid(l)) = -softplus(l)
    if kind == "non-saturating":
        return F.softplus(-fake).mean()
    return -fake.mean()


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                     alpha: Tensor | None = None, target: float = 1.0) -> Tensor:
    r"""WGAN-GP penalty (Gulrajani et al. 2017): :math:`\mathbb E[(\lVert\nabla_{\hat x}C(\hat x)
    \rVert_2-1)^2]` at :math:`\hat x=\alpha x+(1-\alpha)\tilde x`, ``alpha ~ U(0, 1)`` per example.

    ``real``, ``fake``: ``(N, ...)``; ``critic`` maps ``(N, ...)`` to ``(N,)`` or ``(N, 1)``. The
    graph is kept (``create_graph``) so the penalty trains the critic. Multiply by λ (10 in the paper).
    """
    if real.shape != fake.shape:
        raise ShapeError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} batches must have the same shape")
    if alpha is None:
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    return (grad.reshape(grad.shape[0], -1).norm(2, dim=1) - target).pow(2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    r"""R1 penalty (Mescheder et al. 2018, used by StyleGAN): :math:`\mathbb E_{x\sim p_{data}}
    \lVert\nabla_x D(x)\rVert_2^2` on real images only, keeping the discriminator flat on the data.

    ``real (N, ...)``; ``critic`` maps it to ``(N,)`` or ``(N, 1)`` logits. The graph is kept so the
    penalty trains the discriminator. Multiply by :math:`\gamma/2` (StyleGAN: γ = 10 at 1024²; small
    images use 0.1–1).
    """
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return grad.reshape(grad.shape[0], -1).pow(2).sum(dim=1).mean()


def path_length_penalty(synthesis: Callable[[Tensor], Tensor], ws: Tensor, mean_length: float,
                        decay: float = 0.01, noise: Tensor | None = None) -> tuple[Tensor, Tensor, float]:
    r"""Path-length regularisation (Karras et al. 2020, StyleGAN2 §3.2):

    .. math:: \mathbb E_{w,y}\big(\lVert J_w^\top y\rVert_2 - a\big)^2,\qquad
              J_w^\top y = \nabla_w\,\big(g(w)\cdot y\big),\quad y\sim\mathcal N(0, I)/\sqrt{HW},

    which asks a fixed-size step in the style space to move the image by a fixed amount in every
    direction, with :math:`a` the running mean of the lengths (:math:`a \leftarrow a + \text{decay}
    \cdot(\overline{\lVert J^\top y\rVert} - a)`, so the penalty does not pick the scale).

    ``synthesis`` maps styles ``ws`` — ``(N, L, D)`` (one style per layer; the length is
    :math:`\sqrt{\tfrac1L\sum_l\lVert\cdot\rVert^2}`, as StyleGAN2) or ``(N, D)`` — to images
    ``(N, C, H, W)``. ``noise``: the :math:`y` to use (default: drawn from torch's generator).
    Returns ``(penalty, lengths (N,), new mean_length)``; the graph is kept so the penalty trains
    the generator.
    """
    if ws.dim() not in (2, 3):
        raise ShapeError(f"styles must be (N, D) or (N, L, D), got {tuple(ws.shape)}")
    if not 0.0 < decay <= 1.0:
        raise ConfigError(f"decay must lie in (0, 1], got {decay}")
    ws = ws if ws.requires_grad else ws.detach().requires_grad_(True)
    img = synthesis(ws)
    if img.dim() != 4:
        raise ShapeError(f"synthesis must return images (N, C, H, W), got {tuple(img.shape)}")
    y = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3]) if noise is None else noise
    (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
    sq = grad.pow(2).sum(-1)
    lengths = (sq.mean(1) if sq.dim() == 2 else sq).sqrt()
    new_mean = float(mean_length + decay * (float(lengths.detach().mean()) - mean_length))
    return (lengths - new_mean).pow(2).mean(), lengths, new_mean


def weight_matrix(weight: Tensor, dim: int = 0) -> Tensor:
    """A layer weight as the 2-D matrix spectral normalisation measures: axis ``dim`` (output
    channels: 0 for Linear/Conv, 1 for ConvTranspose) first, the others flattened."""
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.reshape(weight.shape[0], -1)


def spectral_norm_power_iteration(weight: Tensor, u: Tensor, v: Tensor, n_iter: int = 1, dim: int = 0,
                                  eps: float = 1e-12) -> tuple[Tensor, Tensor, Tensor]:
    r"""Estimate :math:`\sigma(W)` (the largest singular value) by ``n_iter`` power iterations
    (Miyato et al. 2018): :math:`u\leftarrow Wv/\lVert Wv\rVert`, :math:`v\leftarrow W^\top u/
    \lVert W^\top u\rVert`, :math:`\sigma=u^\top Wv`.

    ``weight`` of any layer shape (see :func:`weight_matrix`), ``u (out,)``, ``v (in,)`` the running
    vectors. Returns ``(sigma, u, v)``; :math:`W/\sigma` is the normalised weight. The vectors are
    updated without gradient, as in the paper (and ``torch.nn.utils.parametrizations.spectral_norm``).
    """
    mat = weight_matrix(weight, dim)
    with torch.no_grad():
        for _ in range(n_iter):
            u = F.normalize(mat @ v, dim=0, eps=eps)
            v = F.normalize(mat.t() @ u, dim=0, eps=eps)
    sigma = torch.dot(u, mat @ v)
    return sigma, u, v


__all__ = ["GAN_LOSSES", "discriminator_loss", "generator_loss", "gradient_penalty", "r1_penalty", "path_length_penalty", "weight_matrix",
           "spectral_norm_power_iteration"]
