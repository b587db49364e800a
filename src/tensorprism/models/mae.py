r"""Masked autoencoder with a Vision Transformer encoder (He et al. 2022, "Masked Autoencoders Are
Scalable Vision Learners"; book §9.3, I9.23).

Per image, a random ``mask_ratio`` of the patches is hidden (:func:`random_masking`, MAE's
argsort-of-noise draw: every image gets its own mask). The ViT encodes **only the visible
patches** (``ViT.forward_features(x, keep=...)``: the hidden ones never enter the encoder, which is
what makes MAE cheap); a light Transformer decoder receives the encoded visible tokens projected to
its width, a shared learned *mask token* at each hidden position, and fixed 2-D sine-cosine
positions, and predicts the pixels of every patch::

    keep (N, L_vis)      = random_masking(N, L, ratio)
    z   (N, 1+L_vis, D)  = ViT.forward_features(x, keep)               visible patches (+ [CLS])
    u   (N, 1+L, D_dec)  = [W z_cls; scatter(W z_vis at keep, mask token elsewhere)] + E_pos
    p̂   (N, L, P²C)      = Linear(LN(Decoder(u)))[:, 1:]

The loss (in the ``masked-image`` task) is the mean squared error on the hidden patches only,
optionally against per-patch normalised pixels (``norm_pix_loss``, MAE's default). After
pre-training, ``net.encoder`` (the ViT, classifier removed) gives the features for kNN and probes.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from ..functional.patches import patchify, unpatchify
from ..nn.positional import sincos_2d_table
from ..nn.transformer import TransformerEncoderLayer, TransformerStack


def random_masking(n: int, num_patches: int, ratio: float, generator: torch.Generator | None = None,
                   device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """MAE's per-sample random masking: ``(keep (N, L_vis) long, mask (N, L) bool, True = hidden)``.

    ``L_vis = L - round(ratio * L)`` (at least one patch stays visible); each row of ``keep`` lists
    the visible patches of one image in ascending raster order, drawn independently per image.
    """
    if not 0 <= ratio < 1:
        raise ConfigError(f"mask_ratio must be in [0, 1), got {ratio}")
    hidden = min(int(round(ratio * num_patches)), num_patches - 1)
    noise = torch.rand(n, num_patches, generator=generator)
    keep = noise.argsort(1)[:, : num_patches - hidden].sort(1).values
    mask = torch.ones(n, num_patches, dtype=torch.bool)
    mask.scatter_(1, keep, False)
    return keep.to(device), mask.to(device)


class MAE(nn.Module):
    """ViT encoder + light decoder. ``forward(x, keep)`` → predicted patches ``(N, L, P²·C)``.

    Args:
        encoder: a :class:`~tensorprism.models.vit.vit.ViT` (its classifier is removed).
        decoder_dim, decoder_depth, decoder_heads: the decoder's width, blocks and heads (MAE's
            ViT-B uses 512, 8, 16; CIFAR-sized encoders do well with far less).
        mlp_ratio: the decoder's MLP width / ``decoder_dim``.
    """

    def __init__(self, encoder: nn.Module, decoder_dim: int = 128, decoder_depth: int = 2, decoder_heads: int = 4,
                 mlp_ratio: float = 4.0):
        super().__init__()
        if not hasattr(encoder, "patch_embed") or "keep" not in encoder.forward_features.__code__.co_varnames:
            raise ConfigError(f"MAE needs a ViT encoder whose forward_features(x, keep=...) encodes a subset of "
                              f"the patches (e.g. create_model('vit-cifar')), got {type(encoder).__name__}")
        if decoder_dim % 4:
            raise ConfigError(f"decoder_dim must be divisible by 4 (2-D sine-cosine positions), got {decoder_dim}")
        encoder.reset_classifier(0)
        self.encoder = encoder
        self.patch_size = encoder.patch_embed.patch_size
        self.grid = tuple(encoder.patch_embed.grid_size)
        self.in_chans = encoder.in_chans
        self.num_prefix = encoder.num_prefix_tokens
        d_enc = encoder.config.embed_dim
        self.decoder_embed = nn.Linear(d_enc, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        pos = sincos_2d_table(*self.grid, decoder_dim)  # fixed, as in MAE; the prefix tokens get zeros
        self.register_buffer("decoder_pos", torch.cat([pos.new_zeros(self.num_prefix, decoder_dim), pos])[None],
                             persistent=False)
        self.decoder = TransformerStack(lambda: TransformerEncoderLayer(
            decoder_dim, decoder_heads, int(decoder_dim * mlp_ratio), 0.0, "gelu", norm_first=True,
            layer_norm_eps=1e-6), decoder_depth)
        self.decoder_norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        ph, pw = self.patch_size if isinstance(self.patch_size, tuple) else (self.patch_size,) * 2
        self.decoder_pred = nn.Linear(decoder_dim, ph * pw * self.in_chans)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in (self.decoder_embed, self.decoder_pred):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    def patchify(self, x: Tensor) -> Tensor:
        """Images ``(N, C, H, W)`` → pixel targets ``(N, L, P²·C)`` in the decoder's output order."""
        return patchify(x, self.patch_size)

    def unpatchify(self, patches: Tensor) -> Tensor:
        """``(N, L, P²·C)`` → images ``(N, C, H, W)``."""
        ph, pw = self.patch_size if isinstance(self.patch_size, tuple) else (self.patch_size,) * 2
        return unpatchify(patches, self.patch_size, (self.grid[0] * ph, self.grid[1] * pw), self.in_chans)

    def features(self, x: Tensor) -> Tensor:
        """Encoder features ``(N, D)`` of the whole image (what kNN and the linear probe use)."""
        return self.encoder(x)

    def forward_encoder(self, x: Tensor, keep: Tensor) -> Tensor:
        """Tokens ``(N, prefix + L_vis, D)`` of the visible patches only."""
        return self.encoder.forward_features(x, keep=keep)

    def forward_decoder(self, latent: Tensor, keep: Tensor) -> Tensor:
        """Encoded visible tokens → predicted pixels of all ``L`` patches ``(N, L, P²·C)``."""
        y = self.decoder_embed(latent)
        n, p = y.shape[0], self.num_prefix
        full = self.mask_token.to(y.dtype).expand(n, self.num_patches, -1).clone()
        full = full.scatter(1, keep[..., None].expand(-1, -1, y.shape[-1]), y[:, p:])  # unshuffle into place
        seq = torch.cat([y[:, :p], full], dim=1) + self.decoder_pos.to(y.dtype)
        out, _ = self.decoder(seq)
        return self.decoder_pred(self.decoder_norm(out))[:, p:]

    def forward(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """Predicted patches ``(N, L, P²·C)`` from the patches ``keep (N, L_vis)`` (``None``: all)."""
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            raise ShapeError(f"MAE expects images (N, {self.in_chans}, H, W), got {tuple(x.shape)}")
        if keep is None:
            keep = torch.arange(self.num_patches, device=x.device).expand(x.shape[0], -1)
        return self.forward_decoder(self.forward_encoder(x, keep), keep)


def mae_loss(pred: Tensor, target: Tensor, mask: Tensor, norm_pix: bool = False, eps: float = 1e-6) -> Tensor:
    r"""MAE's objective: per-patch mean squared error, averaged over the **hidden** patches only,
    :math:`\mathcal L=\frac1{|M|}\sum_{(i,l)\in M}\frac1{P^2C}\lVert\hat p_{il}-p_{il}\rVert^2`.

    ``pred``/``target`` ``(N, L, P²·C)``, ``mask (N, L)`` True = hidden. ``norm_pix``: the target patch
    is standardised by its own mean and (unbiased) variance, ``(p - μ) / sqrt(σ² + eps)`` (MAE's
    ``norm_pix_loss``, which they report improves the representation).
    """
    if pred.shape != target.shape or mask.shape != pred.shape[:2]:
        raise ShapeError(f"mae_loss needs pred and target (N, L, D) and mask (N, L), got {tuple(pred.shape)}, "
                         f"{tuple(target.shape)}, {tuple(mask.shape)}")
    if norm_pix:
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        target = (target - mean) / (var + eps).sqrt()
    per_patch = ((pred - target) ** 2).mean(-1)
    m = mask.to(per_patch.dtype)
    if m.sum() == 0:
        raise ConfigError("mae_loss got a mask with no hidden patch; use mask_ratio > 0")
    return (per_patch * m).sum() / m.sum()


__all__ = ["MAE", "mae_loss", "random_masking"]
