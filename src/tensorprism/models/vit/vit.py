"""Vision Transformer (book §6.5, lines 13906-13984; Dosovitskiy et al. 2021) and DeiT (Touvron et al. 2021).

An image is cut into ``P × P`` patches, each linearly embedded (:class:`~tensorprism.nn.patch_embed.
PatchEmbed`), a learned [CLS] token is prepended, positions are added, and a pre-LN Transformer
encoder reads the sequence::

    z_0 = [x_cls; x_p E] + E_pos                    (N, 1 + L, D)
    z'_l = z_{l-1} + MSA(LN(z_{l-1}))
    z_l = z'_l + MLP(LN(z'_l))                      GELU MLP, stochastic depth on both branches
    y = head(LN(z_L)[:, 0])                         (or the mean of the patch tokens: global_pool="avg")

Corrections of the book's listing L6-9 (catalogue §2): patches are cut by a permutation, not a
plain ``reshape`` (:mod:`tensorprism.functional.patches`); any channel count; batch-first encoder;
GELU and pre-LN as in the paper (the listing's ``nn.TransformerEncoderLayer`` defaults are ReLU and
post-LN). Positions are learned (paper) or fixed 2-D sine-cosine (MoCo v3/MAE), and can be resampled
to another image size (:meth:`ViT.set_image_size`, or per call with ``dynamic_img_size=True``).

DeiT adds a *distillation token* with its own head; the class head learns from the labels and the
distillation head from a teacher (:func:`tensorprism.losses.distillation.deit_distillation_loss`).
``forward`` returns the average of the two heads (DeiT's inference rule) so the model keeps the
image-classifier contract; :meth:`ViT.forward_distill` returns both for training.

``forward_features(x, keep=...)`` encodes only a subset of the patches (the MAE encoder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ...config import setting
from ...errors import ConfigError, ShapeError
from ...functional.patches import _pair
from ...nn.efficient_attention import make_attention
from ...nn.patch_embed import PatchEmbed
from ...nn.positional import resample_grid_positions, sincos_2d_table
from ...nn.transformer import TransformerEncoderLayer, TransformerStack
from .. import register_model
from ..contract import ImageClassifierMixin

__all__ = ["ViTConfig", "ViT"]


@dataclass
class ViTConfig:
    """ViT / DeiT settings (defaults: ViT-B/16 at 224², 86,567,656 parameters).

    Attributes:
        img_size: input resolution (an integer or ``(H, W)``); a multiple of ``patch_size``.
        patch_size: side of the square patches.
        in_chans: image channels.
        num_classes: classifier outputs (0: ``forward`` returns the pre-logits).
        embed_dim, depth, num_heads: width, number of blocks, attention heads.
        mlp_ratio: MLP hidden width / ``embed_dim``.
        qkv_bias: biases on the query/key/value projections.
        class_token: prepend a learned [CLS] token.
        global_pool: ``"token"`` (the [CLS] output) or ``"avg"`` (mean of the patch tokens).
        pos_embed: ``"learned"``, ``"sincos"`` (fixed 2-D) or ``"none"``.
        distilled: DeiT distillation token and head.
        representation_size: a ``Linear + tanh`` pre-logits layer of this width (the original ViT's
            pre-training head, Hugging Face's pooler); ``None``: none.
        drop_rate: dropout on the embeddings, the sublayer outputs and before the classifier.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth, rising linearly from 0 to this rate over the blocks.
        layer_norm_eps: LayerNorm epsilon (timm 1e-6, Hugging Face 1e-12).
        activation: MLP activation.
        dynamic_img_size: accept any multiple of the patch size, resampling the positions per call.
        attention: ``"full"`` softmax attention or an efficient one (see ``make_attention``).
        attention_kwargs: settings of that attention (window, features...).
        init_std: standard deviation of the truncated-normal initialisation.
    """

    img_size: int | tuple[int, int] = 224
    patch_size: int = setting(16, min=1)
    in_chans: int = setting(3, min=1)
    num_classes: int = setting(1000, min=0)
    embed_dim: int = setting(768, min=1)
    depth: int = setting(12, min=0)
    num_heads: int = setting(12, min=1)
    mlp_ratio: float = setting(4.0, gt=0)
    qkv_bias: bool = True
    class_token: bool = True
    global_pool: str = setting("token", choices=("token", "avg"))
    pos_embed: str = setting("learned", choices=("learned", "sincos", "none"))
    distilled: bool = False
    representation_size: int | None = setting(None, min=1)
    drop_rate: float = setting(0.0, min=0, max=1)
    attn_drop_rate: float = setting(0.0, min=0, max=1)
    drop_path_rate: float = setting(0.0, min=0, max=1)
    layer_norm_eps: float = setting(1e-6, gt=0)
    activation: str = "gelu"
    dynamic_img_size: bool = False
    attention: str = "full"
    attention_kwargs: dict[str, Any] = field(default_factory=dict)
    init_std: float = setting(0.02, gt=0)


class ViT(ImageClassifierMixin, nn.Module):
    """Images ``(N, C, H, W)`` → logits ``(N, num_classes)`` (image-classifier contract)."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        if cfg.global_pool == "token" and not cfg.class_token:
            raise ConfigError("global_pool='token' reads the [CLS] token: set class_token=True or global_pool='avg'")
        if cfg.embed_dim % cfg.num_heads:
            raise ConfigError(f"embed_dim={cfg.embed_dim} is not divisible by num_heads={cfg.num_heads}")
        self.config = cfg
        D = cfg.embed_dim
        self.in_chans, self.num_classes, self.global_pool = cfg.in_chans, cfg.num_classes, cfg.global_pool
        self.img_size = _pair(cfg.img_size, "img_size")
        self.patch_embed = PatchEmbed(self.img_size, cfg.patch_size, cfg.in_chans, D,
                                      strict_img_size=not cfg.dynamic_img_size)
        self.num_prefix_tokens = int(cfg.class_token) + int(cfg.distilled)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D)) if cfg.class_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, D)) if cfg.distilled else None
        n_pos = self.num_prefix_tokens + self.patch_embed.num_patches
        if cfg.pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, n_pos, D))
        else:
            self.pos_embed = None
        self.pos_drop = nn.Dropout(cfg.drop_rate)
        rates = iter([cfg.drop_path_rate * i / max(cfg.depth - 1, 1) for i in range(cfg.depth)])  # linear rule
        self.blocks = TransformerStack(lambda: TransformerEncoderLayer(
            D, cfg.num_heads, int(D * cfg.mlp_ratio), cfg.drop_rate, cfg.activation, norm_first=True,
            layer_norm_eps=cfg.layer_norm_eps, attn_dropout=cfg.attn_drop_rate, drop_path=next(rates),
            self_attn=self._attention(cfg)), cfg.depth)
        self.norm = nn.LayerNorm(D, eps=cfg.layer_norm_eps)
        self.num_features = cfg.representation_size or D
        self.pre_logits = (nn.Sequential(nn.Linear(D, cfg.representation_size), nn.Tanh())
                           if cfg.representation_size else nn.Identity())
        self.head_drop = nn.Dropout(cfg.drop_rate)
        self.head = self._make_head(cfg.num_classes)
        self.head_dist = self._make_head(cfg.num_classes) if cfg.distilled else None
        self.reset_parameters()

    # ------------------------------------------------------------------------------ set-up
    def _make_head(self, k: int) -> nn.Module:
        return nn.Linear(self.num_features, k) if k > 0 else nn.Identity()

    @staticmethod
    def _attention(cfg: ViTConfig) -> nn.Module:
        """The block's token mixer; ``qkv_bias=False`` drops only the query/key/value biases (the
        output projection keeps its bias, as in the paper, timm and Hugging Face)."""
        attn = make_attention(cfg.attention, cfg.embed_dim, cfg.num_heads, dropout=cfg.attn_drop_rate, bias=True,
                              **cfg.attention_kwargs)
        in_proj = getattr(attn, "in_proj", None)
        if not cfg.qkv_bias and in_proj is not None:
            in_proj.register_parameter("bias", None)
        return attn

    def reset_parameters(self) -> None:
        """timm's ViT initialisation: truncated normal (std 0.02) for linear maps and positions,
        zero biases, unit LayerNorms, the patch projection as a linear map of the patch vector."""
        std = self.config.init_std
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        for name, p in self.blocks.named_parameters():  # the fused (3D, D) in_proj counts as three D×D maps
            if name.endswith("in_proj.weight"):
                nn.init.trunc_normal_(p, std=std)
        for t in (self.cls_token, self.dist_token, self.pos_embed):
            if t is not None:
                nn.init.trunc_normal_(t, std=std)

    def set_image_size(self, img_size: int | tuple[int, int]) -> None:
        """Rebuild the model for another resolution, resampling learned positions (bicubic)."""
        new = _pair(img_size, "img_size")
        old_grid = self.patch_embed.grid_size
        pe = PatchEmbed(new, self.patch_embed.patch_size, self.in_chans, self.config.embed_dim,
                        strict_img_size=not self.config.dynamic_img_size)
        pe.proj = self.patch_embed.proj
        self.patch_embed = pe
        if self.pos_embed is not None:
            with torch.no_grad():
                pos = resample_grid_positions(self.pos_embed, old_grid, pe.grid_size, self.num_prefix_tokens)
            self.pos_embed = nn.Parameter(pos)
        self.img_size = new

    def set_input_defaults(self, img_size=None, mean=None, std=None):  # type: ignore[override]
        """As for every image model; a new ``img_size`` also resamples the position table."""
        if img_size is not None and _pair(img_size, "img_size") != self.img_size:
            self.set_image_size(img_size)
        return super().set_input_defaults(None, mean, std)

    # ------------------------------------------------------------------------------ encoder
    def _positions(self, grid: tuple[int, int], x: Tensor) -> Tensor | None:
        """Positions ``(1, prefix + gh*gw, D)`` for a patch grid (resampled when it is not the built one)."""
        if self.config.pos_embed == "none":
            return None
        if self.config.pos_embed == "sincos":
            grid_pos = sincos_2d_table(*grid, self.config.embed_dim).to(x)
            return torch.cat([grid_pos.new_zeros(self.num_prefix_tokens, grid_pos.shape[-1]), grid_pos])[None]
        return resample_grid_positions(self.pos_embed, self.patch_embed.grid_size, grid, self.num_prefix_tokens)

    def embed(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """Images → token sequence ``(N, prefix + L', D)`` with positions added.

        ``keep (N, L')`` (long) selects the patches to encode, by raster index in the patch grid
        (MAE's visible patches); ``None`` keeps all ``L``.
        """
        grid = self.patch_embed.check_input(x)
        tokens = self.patch_embed(x)  # (N, L, D)
        pos = self._positions(grid, tokens)
        p = self.num_prefix_tokens
        if pos is not None:
            tokens = tokens + pos[:, p:]
        if keep is not None:
            L = tokens.shape[1]
            if keep.dim() != 2 or keep.shape[0] != tokens.shape[0] or keep.dtype != torch.long:
                raise ShapeError(f"keep must be patch indices (N, L') of dtype long with N={tokens.shape[0]}, "
                                 f"got {tuple(keep.shape)} {keep.dtype}")
            if keep.numel() and (int(keep.min()) < 0 or int(keep.max()) >= L):
                raise ShapeError(f"keep indices must lie in [0, {L}) (the {grid[0]}×{grid[1]} patch grid)")
            tokens = tokens.gather(1, keep[..., None].expand(-1, -1, tokens.shape[-1]))
        prefix = [t for t in (self.cls_token, self.dist_token) if t is not None]
        if prefix:
            pre = torch.cat(prefix, dim=1).expand(tokens.shape[0], -1, -1)
            if pos is not None:
                pre = pre + pos[:, :p]
            tokens = torch.cat([pre, tokens], dim=1)
        return self.pos_drop(tokens)

    def forward_features(self, x: Tensor, keep: Tensor | None = None) -> Tensor:
        """Normalised tokens ``(N, prefix + L, D)`` ([CLS], [DIST], then the patches in raster order)."""
        tokens, _ = self.blocks(self.embed(x, keep))
        return self.norm(tokens)

    def forward_attention(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``(normalised tokens, [attention weights (N, h, T, T) per block])`` for attention maps."""
        tokens, weights = self.blocks(self.embed(x), need_weights=True)
        return self.norm(tokens), weights

    # ------------------------------------------------------------------------------ heads
    def _pool(self, x: Tensor) -> Tensor:
        if self.global_pool == "avg":
            return x[:, self.num_prefix_tokens:].mean(1)
        return x[:, 0]

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Tokens ``(N, T, D)`` → logits ``(N, num_classes)`` (pre-logits ``(N, num_features)``)."""
        if self.head_dist is not None:
            cls_logits, dist_logits = self._heads(x)
            if pre_logits:
                return self.pre_logits(self._pool(x))
            return (cls_logits + dist_logits) / 2
        x = self.pre_logits(self._pool(x))
        return x if pre_logits else self.head(self.head_drop(x))

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor]:
        cls = self.head(self.head_drop(self.pre_logits(self._pool(x))))
        dist = self.head_dist(self.head_drop(self.pre_logits(x[:, int(self.cls_token is not None)])))
        return cls, dist

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_distill(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """DeiT training outputs: ``(class-head logits, distillation-head logits)``, each ``(N, K)``."""
        if self.head_dist is None:
            raise ConfigError("forward_distill needs a distillation token: build the model with distilled=True")
        return self._heads(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """New (freshly initialised) heads for ``num_classes`` (0: ``forward`` returns pre-logits)."""
        self.num_classes = num_classes
        dev = self.norm.weight.device
        self.head = self._make_head(num_classes).to(dev)
        if self.head_dist is not None:
            self.head_dist = self._make_head(num_classes).to(dev)


# ------------------------------------------------------------------------------------ registry
_SIZES = {  # name -> (embed_dim, depth, num_heads)
    "tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12), "large": (1024, 24, 16),
}


def _vit(cfg: ViTConfig) -> ViT:
    """ViT at 224² with timm's sizes: Ti (192 wide, 3 heads), S (384, 6), B (768, 12), 12 blocks;
    L (1024, 16 heads, 24 blocks); patch 16 or 32 (Dosovitskiy et al. 2021)."""
    return ViT(cfg)


for _size, (_dim, _depth, _heads) in _SIZES.items():
    for _patch in (16, 32):
        register_model(f"vit-{_size}-patch{_patch}", config=ViTConfig, family="transformer", patch_size=_patch,
                       embed_dim=_dim, depth=_depth, num_heads=_heads)(_vit)


@register_model("deit-tiny", config=ViTConfig, family="transformer", embed_dim=192, num_heads=3, distilled=True)
def deit_tiny(cfg: ViTConfig) -> ViT:
    """DeiT-Ti⚗ (Touvron et al. 2021): ViT-Ti/16 with a distillation token, 224²."""
    return ViT(cfg)


@register_model("deit-small", config=ViTConfig, family="transformer", embed_dim=384, num_heads=6, distilled=True)
def deit_small(cfg: ViTConfig) -> ViT:
    """DeiT-S⚗: ViT-S/16 with a distillation token, 224²."""
    return ViT(cfg)


@register_model("deit-base", config=ViTConfig, family="transformer", distilled=True)
def deit_base(cfg: ViTConfig) -> ViT:
    """DeiT-B⚗: ViT-B/16 with a distillation token, 224²."""
    return ViT(cfg)


_CIFAR = dict(img_size=32, patch_size=4, num_classes=10, embed_dim=192, depth=6, num_heads=3, mlp_ratio=2.0,
              global_pool="token", drop_path_rate=0.1)


@register_model("vit-cifar", config=ViTConfig, family="transformer", **_CIFAR)
def vit_cifar(cfg: ViTConfig) -> ViT:
    """A small ViT for 32×32 images: 4×4 patches (64 tokens + [CLS]), 6 blocks, width 192, 3 heads
    (about 1.8M parameters), sized to train on a CPU."""
    return ViT(cfg)


@register_model("deit-cifar", config=ViTConfig, family="transformer", distilled=True, **_CIFAR)
def deit_cifar(cfg: ViTConfig) -> ViT:
    """``vit-cifar`` with a DeiT distillation token and head."""
    return ViT(cfg)
