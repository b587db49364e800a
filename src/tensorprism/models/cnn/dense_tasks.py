"""Dense-prediction CNNs (book §4.6.3–§4.6.4, §4.7.3): U-Net, FCN, SRCNN.

These return per-pixel maps ``(N, num_classes, H, W)`` rather than vectors, so they are plain
modules (no classifier head to reset: ``num_classes`` sets the output channels).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...errors import ShapeError
from ...nn.conv import ConvNormAct
from .. import create_model, register_model
from ..contract import DenseImageMixin


# ---------------------------------------------------------------------------------------------
@dataclass
class UNetConfig:
    num_classes: int = 1  # output channels (1 + sigmoid for the book's binary masks)
    in_chans: int = 1
    base_width: int = 64
    depth: int = 4  # number of 2× down-samplings
    up: str = "transpose"  # "transpose" (book L101, 2×2/2 transposed conv) or "bilinear" (book L102)
    norm: str | None = None  # "bn" adds batch norm after every conv (the book's listings have none)


class UNet(DenseImageMixin, nn.Module):
    r"""U-Net (Ronneberger et al. 2015; book lines 9393–9405): encoder :math:`F_i = \text{Conv}(F_{i-1})`,
    decoder :math:`F'_i = \text{UpConv}(F_{i+1})`, skip :math:`F''_i = F_i \oplus F'_i` (concatenation).

    ``(N, in_chans, H, W) → (N, num_classes, H, W)`` logits; ``H`` and ``W`` must be divisible by ``2^depth``.
    With ``up="transpose"`` a 2×2/2 transposed conv halves the channels before the skip concat
    (31,030,593 parameters at the book's config); with ``"bilinear"`` the channels are kept and the
    first decoder conv reads ``c + c/2`` channels (31,377,793).
    """

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        self.in_chans, self.num_classes = cfg.in_chans, cfg.num_classes
        self.set_input_defaults(16 * 2**cfg.depth)  # any multiple of 2^depth works; 256 at depth 4
        widths = [cfg.base_width * 2**i for i in range(cfg.depth + 1)]

        def double(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(ConvNormAct(cin, cout, 3, norm=cfg.norm, bias=True), ConvNormAct(cout, cout, 3, norm=cfg.norm, bias=True))

        self.down = nn.ModuleList()
        cin = cfg.in_chans
        for w in widths:
            self.down.append(double(cin, w))
            cin = w
        self.ups, self.dec = nn.ModuleList(), nn.ModuleList()
        for w in reversed(widths[:-1]):
            if cfg.up == "transpose":
                self.ups.append(nn.ConvTranspose2d(cin, w, 2, 2))
                self.dec.append(double(2 * w, w))
            elif cfg.up == "bilinear":
                self.ups.append(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True))
                self.dec.append(double(cin + w, w))
            else:
                raise ValueError(f"up={cfg.up!r}; expected 'transpose' or 'bilinear'")
            cin = w
        self.out = nn.Conv2d(cin, cfg.num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        m = 2**self.cfg.depth
        if x.dim() != 4 or x.shape[2] % m or x.shape[3] % m:
            raise ShapeError(f"U-Net expects (N, C, H, W) with H, W divisible by {m}, got {tuple(x.shape)}; pad or resize the input")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for up, dec in zip(self.ups, self.dec, strict=True):
            x = dec(torch.cat([skips.pop(), up(x)], 1))
        return self.out(x)


@register_model("unet", config=UNetConfig, family="cnn-dense")
def unet(cfg: UNetConfig) -> nn.Module:
    """U-Net with a transposed-conv (default) or bilinear decoder."""
    return UNet(cfg)


register_model("unet-bilinear", config=UNetConfig, family="cnn-dense", up="bilinear",
               description="U-Net with the book's PyTorch bilinear decoder (L102)")(unet)


# ---------------------------------------------------------------------------------------------
@dataclass
class FCNConfig:
    num_classes: int = 21
    in_chans: int = 3
    backbone: str = "book"  # "book": the book's toy encoder; else a registered CNN with feature_maps()
    downsample: bool = True  # book toy only: max-pool after conv2 and conv3 (False reproduces erratum 21)
    skips: bool = True  # backbone FCNs: fuse the last three stages (FCN-8s style); False = FCN-32s
    backbone_kwargs: dict | None = None


class BookFCN(DenseImageMixin, nn.Module):
    """The book's toy FCN (L77/L78): convs 64-128-256, ×2 up, conv 128, ×2 up, conv 64, 1×1 classifier.

    As printed it never down-samples, so a 256² input gives 1024² logits (erratum 21); ``downsample=True``
    adds a 2×2 max pool after the second and third convs so the output matches the input size.
    """

    def __init__(self, cfg: FCNConfig):
        super().__init__()
        self.in_chans, self.num_classes = cfg.in_chans, cfg.num_classes
        self.set_input_defaults(256)  # the book's example input
        pool = [nn.MaxPool2d(2)] if cfg.downsample else []
        self.body = nn.Sequential(
            ConvNormAct(cfg.in_chans, 64, 3, norm=None), ConvNormAct(64, 128, 3, norm=None), *pool,
            ConvNormAct(128, 256, 3, norm=None), *pool,
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), ConvNormAct(256, 128, 3, norm=None),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), ConvNormAct(128, 64, 3, norm=None),
            nn.Conv2d(64, cfg.num_classes, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class FCN(DenseImageMixin, nn.Module):
    """Fully convolutional network (Long et al. 2015) on any zoo backbone's ``feature_maps``.

    1×1 score convs on the last (up to three) stages, summed coarse-to-fine after bilinear upsampling
    (FCN-8s style fusion), then upsampled to the input size: ``(N, C, H, W) → (N, num_classes, H, W)``.
    """

    def __init__(self, cfg: FCNConfig):
        super().__init__()
        self.in_chans, self.num_classes = cfg.in_chans, cfg.num_classes
        self.backbone = create_model(cfg.backbone, in_chans=cfg.in_chans, num_classes=0, **(cfg.backbone_kwargs or {}))
        used = self.backbone.feature_info[-3:] if cfg.skips else self.backbone.feature_info[-1:]
        self.n_used = len(used)
        self.scores = nn.ModuleList(nn.Conv2d(f.channels, cfg.num_classes, 1) for f in used)
        self.set_input_defaults(self.backbone.img_size, self.backbone.mean, self.backbone.std)

    def forward(self, x: Tensor) -> Tensor:
        feats = self.backbone.feature_maps(x)[-self.n_used:]
        out = None
        for f, score in zip(reversed(feats), reversed(self.scores), strict=True):
            s = score(f)
            out = s if out is None else s + F.interpolate(out, size=s.shape[-2:], mode="bilinear", align_corners=False)
        return F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)


@register_model("fcn", config=FCNConfig, family="cnn-dense")
def fcn(cfg: FCNConfig) -> nn.Module:
    """FCN: the book's toy network (``backbone="book"``) or score-fusion on a zoo backbone."""
    return BookFCN(cfg) if cfg.backbone == "book" else FCN(cfg)


register_model("fcn-resnet18", config=FCNConfig, family="cnn-dense", backbone="resnet18")(fcn)


# ---------------------------------------------------------------------------------------------
@dataclass
class SRCNNConfig:
    in_chans: int = 3
    widths: tuple[int, int] = (64, 32)
    kernels: tuple[int, int, int] = (9, 1, 5)
    residual: bool = False  # predict the correction to the bicubic input (VDSR-style global skip; not in the book)


class SRCNN(DenseImageMixin, nn.Sequential):
    """The three SRCNN convs (``num_classes`` = ``in_chans`` output channels); with ``residual`` the output is ``x + f(x)`` (same parameters, faster training)."""

    def __init__(self, cfg: SRCNNConfig):
        k1, k2, k3 = cfg.kernels
        w1, w2 = cfg.widths
        super().__init__(
            ConvNormAct(cfg.in_chans, w1, k1, norm=None), ConvNormAct(w1, w2, k2, norm=None),
            nn.Conv2d(w2, cfg.in_chans, k3, padding=k3 // 2),
        )
        self.residual = cfg.residual
        self.in_chans = self.num_classes = cfg.in_chans
        self.set_input_defaults(33)  # the paper's 33×33 training sub-images

    def forward(self, x: Tensor) -> Tensor:
        y = super().forward(x)
        return x + y if self.residual else y


@register_model("srcnn", config=SRCNNConfig, family="cnn-dense")
def srcnn(cfg: SRCNNConfig) -> nn.Module:
    """SRCNN 9-1-5 (Dong et al. 2014; book L86/L87): patch extraction → non-linear mapping → reconstruction.

    Size-preserving (``same`` padding): the low-resolution image must first be upsampled (bicubic) to the
    target size; the book never says so (erratum 22). ``(N, C, H, W) → (N, C, H, W)``.
    """
    return SRCNN(cfg)
