"""Swin Transformer (book §6.5, lines 14056-14167; Liu et al. 2021): hierarchical windowed attention.

::

    patch partition + linear embedding    (N, 3, H, W) -> (N, H/4 · W/4, C)       4×4 patches, LayerNorm
    stage s = 1..4:  depth_s Swin blocks at resolution H/2^{s+1} × W/2^{s+1}, width 2^{s-1} C
        block 2i   : z = z + W-MSA(LN(z));   z = z + MLP(LN(z))
        block 2i+1 : the same with SW-MSA: windows shifted by M/2 (cyclic roll), masked
    patch merging between stages: concatenate each 2×2 neighbourhood (4C), LayerNorm, Linear 4C -> 2C
    head: LayerNorm, average over tokens, Linear

Attention inside each ``M × M`` window adds a learned relative position bias ``B̂[index]``
(:func:`~tensorprism.functional.windows.relative_position_index`). The shifted windows attend with
the region mask of :func:`~tensorprism.functional.windows.shifted_window_mask`.

Corrections of the book (catalogue §1.6 VT6-VT7, erratum 5.1.7): the block is pre-LN and
sequential (the book's equation adds two parallel branches); SW-MSA has its attention mask and the
relative position bias; LayerNorm is applied on channels-last tokens (the listing applies it to a
channel-first map); patch merging is specified. As in the reference implementation and Hugging
Face, a stage whose map is not larger than the window uses one window the size of the map and no
shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...config import setting
from ...errors import ConfigError, ShapeError
from ...functional.attention import attention_reference, scaled_dot_product_attention
from ...functional.patches import _pair
from ...functional.windows import (
    relative_position_index,
    shifted_window_mask,
    window_partition,
    window_reverse,
)
from ...nn.drop_path import DropPath
from ...nn.patch_embed import PatchEmbed
from ...nn.transformer import FeedForward
from .. import register_model
from ..contract import ImageClassifierMixin

__all__ = ["SwinConfig", "Swin", "WindowAttention", "SwinBlock", "PatchMerging", "stage_windows"]


@dataclass
class SwinConfig:
    """Swin settings (defaults: Swin-T at 224², 28,288,354 parameters).

    Attributes:
        img_size: input resolution; ``img_size / patch_size`` must halve cleanly at each stage.
        patch_size: side of the patches of the first embedding (4 in the paper).
        in_chans, num_classes: image channels, classifier outputs (0: pre-logits).
        embed_dim: width ``C`` of the first stage (doubles at every stage).
        depths: blocks per stage.
        num_heads: attention heads per stage.
        window_size: ``M``, the side of the attention windows.
        mlp_ratio: MLP hidden width / block width.
        qkv_bias: biases on the query/key/value projection.
        drop_rate, attn_drop_rate: dropout on sublayer outputs / attention weights.
        drop_path_rate: stochastic depth, rising linearly over all blocks to this rate.
        layer_norm_eps: epsilon of the blocks' and the final LayerNorms (those of the patch embedding and
            patch merging keep 1e-5, as in the reference code and Hugging Face).
        patch_norm: LayerNorm after the patch embedding.
    """

    img_size: int | tuple[int, int] = 224
    patch_size: int = setting(4, min=1)
    in_chans: int = setting(3, min=1)
    num_classes: int = setting(1000, min=0)
    embed_dim: int = setting(96, min=1)
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: int = setting(7, min=1)
    mlp_ratio: float = setting(4.0, gt=0)
    qkv_bias: bool = True
    drop_rate: float = setting(0.0, min=0, max=1)
    attn_drop_rate: float = setting(0.0, min=0, max=1)
    drop_path_rate: float = setting(0.1, min=0, max=1)
    layer_norm_eps: float = setting(1e-5, gt=0)
    patch_norm: bool = True


def stage_windows(resolution: tuple[int, int], window: int, shift: int) -> tuple[int, int]:
    """The window and shift a stage actually uses: one window covering the map (no shift) when the
    map is not larger than ``window`` (as the reference implementation and Hugging Face do)."""
    if min(resolution) <= window:
        return min(resolution), 0
    return window, shift


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows with relative position bias.

    ``x (B·nW, M·M, C)`` → same shape. ``mask (nW, M·M, M·M)`` boolean (True = may attend) or ``None``.
    :meth:`forward` runs the fused kernel; ``reference=True`` the written-out softmax (tested equal).
    """

    def __init__(self, dim: int, num_heads: int, window: int, qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ConfigError(f"stage width {dim} is not divisible by its num_heads={num_heads}")
        self.dim, self.num_heads, self.window = dim, num_heads, window
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop, self.proj_drop = attn_drop, nn.Dropout(proj_drop)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", relative_position_index(window), persistent=False)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def position_bias(self) -> Tensor:
        """``(h, M·M, M·M)``: ``B̂[index]`` per head."""
        T = self.window * self.window
        return self.relative_position_bias_table[self.relative_position_index.view(-1)].view(T, T, -1).permute(2, 0, 1)

    def forward(self, x: Tensor, mask: Tensor | None = None, *, reference: bool = False,
                need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        Bw, T, C = x.shape
        h = self.num_heads
        nw = 1 if mask is None else mask.shape[0]
        q, k, v = self.qkv(x).view(Bw // nw, nw, T, 3, h, C // h).permute(3, 0, 1, 4, 2, 5)  # (B, nW, h, T, E)
        bias = self.position_bias()[None, None].to(q.dtype)  # (1, 1, h, T, T)
        m = None if mask is None else mask[None, :, None]  # (1, nW, 1, T, T)
        p = self.attn_drop if self.training else 0.0
        if reference or need_weights:
            out, w = attention_reference(q, k, v, m, bias, dropout_p=p, training=self.training)
        else:
            (out, w) = scaled_dot_product_attention(q, k, v, m, bias, dropout_p=p)
        out = out.permute(0, 1, 3, 2, 4).reshape(Bw, T, C)  # concat heads
        return self.proj_drop(self.proj(out)), w

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, window={self.window}"


class SwinBlock(nn.Module):
    """One Swin block at a fixed resolution: (S)W-MSA and MLP, pre-LN, residual, stochastic depth.
    Tokens ``(N, H·W, C)`` in raster order."""

    def __init__(self, dim: int, resolution: tuple[int, int], num_heads: int, window: int, shift: int,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, drop: float = 0.0, attn_drop: float = 0.0,
                 drop_path: float = 0.0, layer_norm_eps: float = 1e-5):
        super().__init__()
        self.resolution = resolution
        self.window, self.shift = stage_windows(resolution, window, shift)
        H, W = resolution
        if H % self.window or W % self.window:
            raise ConfigError(
                f"window_size={self.window} does not divide the {H}×{W} feature map of a stage: every stage's map "
                f"must be a multiple of the window (e.g. img_size 224, patch 4, window 7: maps 56, 28, 14, 7)")
        self.norm1 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.attn = WindowAttention(dim, num_heads, self.window, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.mlp = FeedForward(dim, int(dim * mlp_ratio), drop, "gelu")
        self.mlp_drop = nn.Dropout(drop)
        mask = shifted_window_mask(H, W, self.window, self.shift) if self.shift else None
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, x: Tensor, *, reference: bool = False, use_mask: bool = True) -> Tensor:
        """``use_mask=False`` drops the shifted-window mask: the book's SW-MSA, kept only to show
        its error (``test_erratum_*``)."""
        N, L, C = x.shape
        H, W = self.resolution
        shortcut = x
        x = self.norm1(x).view(N, H, W, C)
        if self.shift:
            x = torch.roll(x, shifts=(-self.shift, -self.shift), dims=(1, 2))  # cyclic shift up-left
        win = window_partition(x, self.window)  # (N·nW, M·M, C)
        mask = self.attn_mask if use_mask else None
        win, _ = self.attn(win, mask, reference=reference)
        x = window_reverse(win, self.window, H, W)
        if self.shift:
            x = torch.roll(x, shifts=(self.shift, self.shift), dims=(1, 2))
        x = shortcut + self.drop_path(x.reshape(N, L, C))
        return x + self.drop_path(self.mlp_drop(self.mlp(self.norm2(x))))

    def extra_repr(self) -> str:
        return f"resolution={self.resolution}, window={self.window}, shift={self.shift}"


class PatchMerging(nn.Module):
    """``(N, H·W, C)`` → ``(N, H/2 · W/2, 2C)``: each 2×2 neighbourhood concatenated (order
    ``(0,0), (1,0), (0,1), (1,1)`` as in the reference code), LayerNorm, ``Linear(4C, 2C)`` without bias."""

    def __init__(self, dim: int, resolution: tuple[int, int], layer_norm_eps: float = 1e-5):
        super().__init__()
        H, W = resolution
        if H % 2 or W % 2:
            raise ConfigError(f"patch merging halves the {H}×{W} map of a stage, which needs even sides; "
                              "choose an image size whose patch grid halves at every stage")
        self.resolution = resolution
        self.norm = nn.LayerNorm(4 * dim, eps=layer_norm_eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        N, _, C = x.shape
        H, W = self.resolution
        x = x.view(N, H, W, C)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(self.norm(x.view(N, -1, 4 * C)))


class SwinStage(nn.Module):
    """``depth`` blocks (shift on every second one), then patch merging unless it is the last stage."""

    def __init__(self, dim: int, resolution: tuple[int, int], depth: int, num_heads: int, cfg: SwinConfig,
                 drop_paths: list[float], downsample: bool):
        super().__init__()
        self.blocks = nn.ModuleList([
            SwinBlock(dim, resolution, num_heads, cfg.window_size, 0 if i % 2 == 0 else cfg.window_size // 2,
                      cfg.mlp_ratio, cfg.qkv_bias, cfg.drop_rate, cfg.attn_drop_rate, drop_paths[i],
                      cfg.layer_norm_eps)
            for i in range(depth)])
        self.downsample = PatchMerging(dim, resolution) if downsample else None

    def forward(self, x: Tensor, *, reference: bool = False) -> tuple[Tensor, Tensor]:
        """Returns ``(output, the stage's map before merging)``."""
        for blk in self.blocks:
            x = blk(x, reference=reference)
        before = x
        return (self.downsample(x) if self.downsample is not None else x), before


class Swin(ImageClassifierMixin, nn.Module):
    """Images ``(N, C, H, W)`` → logits ``(N, num_classes)`` (image-classifier contract)."""

    def __init__(self, cfg: SwinConfig):
        super().__init__()
        if len(cfg.depths) != len(cfg.num_heads) or not cfg.depths:
            raise ConfigError(f"depths {cfg.depths} and num_heads {cfg.num_heads} need one entry per stage")
        self.config = cfg
        self.in_chans, self.num_classes = cfg.in_chans, cfg.num_classes
        self.img_size = _pair(cfg.img_size, "img_size")
        self.patch_embed = PatchEmbed(self.img_size, cfg.patch_size, cfg.in_chans, cfg.embed_dim,
                                      norm=cfg.patch_norm)
        self.pos_drop = nn.Dropout(cfg.drop_rate)
        total = sum(cfg.depths)
        dpr = [cfg.drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        res = self.patch_embed.grid_size
        stages, start = [], 0
        for s, (depth, heads) in enumerate(zip(cfg.depths, cfg.num_heads, strict=True)):
            dim = cfg.embed_dim * 2**s
            last = s == len(cfg.depths) - 1
            stages.append(SwinStage(dim, res, depth, heads, cfg, dpr[start:start + depth], downsample=not last))
            start += depth
            if not last:
                res = (res[0] // 2, res[1] // 2)
        self.stages = nn.ModuleList(stages)
        self.num_features = cfg.embed_dim * 2 ** (len(cfg.depths) - 1)
        self.norm = nn.LayerNorm(self.num_features, eps=cfg.layer_norm_eps)
        self.head = self._make_head(cfg.num_classes)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def _make_head(self, k: int) -> nn.Module:
        return nn.Linear(self.num_features, k) if k > 0 else nn.Identity()

    def forward_features(self, x: Tensor, *, reference: bool = False) -> Tensor:
        """Normalised tokens of the last stage ``(N, h·w, num_features)`` (raster order)."""
        self.check_image_input(x)
        x = self.pos_drop(self.patch_embed(x))
        for stage in self.stages:
            x, _ = stage(x, reference=reference)
        return self.norm(x)

    def feature_maps(self, x: Tensor) -> list[Tensor]:
        """Each stage's output before merging, as maps ``(N, C_s, H_s, W_s)`` (for dense tasks)."""
        self.check_image_input(x)
        x = self.pos_drop(self.patch_embed(x))
        maps = []
        for stage in self.stages:
            res = stage.blocks[0].resolution if len(stage.blocks) else None
            x, before = stage(x)
            if res is not None:
                maps.append(before.transpose(1, 2).reshape(before.shape[0], -1, *res))
        return maps

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Tokens ``(N, L, C)`` → logits (pre-logits: the token average ``(N, C)``)."""
        x = x.mean(1)
        return x if pre_logits else self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.head = self._make_head(num_classes).to(self.norm.weight.device)

    def set_input_defaults(self, img_size=None, mean=None, std=None):  # type: ignore[override]
        """Swin's masks and merging are built for one resolution: a new ``img_size`` is refused."""
        if img_size is not None and _pair(img_size, "img_size") != self.img_size:
            raise ShapeError(f"Swin is built for {self.img_size[0]}×{self.img_size[1]} images; build a new model "
                             f"with img_size={img_size} instead")
        return super().set_input_defaults(None, mean, std)


@register_model("swin-tiny", config=SwinConfig, family="transformer")
def swin_tiny(cfg: SwinConfig) -> Swin:
    """Swin-T (patch 4, window 7, 224²): C = 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24); 28.3M parameters."""
    return Swin(cfg)


@register_model("swin-small", config=SwinConfig, family="transformer", depths=(2, 2, 18, 2))
def swin_small(cfg: SwinConfig) -> Swin:
    """Swin-S: Swin-T with 18 blocks in stage 3 (49.6M parameters)."""
    return Swin(cfg)


@register_model("swin-base", config=SwinConfig, family="transformer", embed_dim=128, depths=(2, 2, 18, 2),
                num_heads=(4, 8, 16, 32))
def swin_base(cfg: SwinConfig) -> Swin:
    """Swin-B: C = 128, heads (4, 8, 16, 32) (87.8M parameters)."""
    return Swin(cfg)


@register_model("swin-cifar", config=SwinConfig, family="transformer", img_size=32, patch_size=2, num_classes=10,
                embed_dim=64, depths=(2, 2, 2), num_heads=(2, 4, 8), window_size=4, drop_path_rate=0.1)
def swin_cifar(cfg: SwinConfig) -> Swin:
    """A small Swin for 32×32 images: 2×2 patches (16×16 tokens), window 4, three stages of width
    64/128/256 (16×16, 8×8, 4×4 maps; the last is one window)."""
    return Swin(cfg)
