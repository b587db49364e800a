r"""CycleGAN (Zhu et al. 2017; book §10.6, I10.17, C10-12): unpaired image-to-image translation
with two generators :math:`G: A\to B`, :math:`F: B\to A` and two PatchGAN discriminators
:math:`D_A, D_B`, trained by the ``cycle-adversarial`` task (adversarial + cycle + identity losses).

Generator (ResNet): 7×7 conv → ``downsample`` × [3×3 stride-2 conv, channels ×2] → ``res_blocks``
residual blocks (3×3 conv, InstanceNorm, ReLU, 3×3 conv, InstanceNorm, plus the input) →
``downsample`` × [3×3 stride-2 transposed conv] → 7×7 conv → Tanh. The paper's generator
down-samples twice and pads by reflection; the book's listing (C10-12) neither down-samples nor
reflects (``downsample=0, padding="zeros", res_blocks=9, width=64``: the ``cyclegan-book`` entry,
683,587 parameters per generator and 136,385 per discriminator, as the catalogue counts).
Discriminator (PatchGAN): 4×4 stride-2 convs with InstanceNorm (none on the first) and
LeakyReLU(0.2), then a 4×4 stride-1 conv to one logit per patch ``(N, 1, h, w)``.

``forward(x)`` is :math:`G` on images in [-1, 1]; :meth:`CycleGAN.translate` maps images in [0, 1]
either way and returns [0, 1].

``pool_size`` (50 in the paper, from Shrivastava et al. 2017): each discriminator is updated on a
history of generated images, not only on the newest batch (:class:`ImagePool`). The pools are
buffers of the model, so a checkpoint holds them and a resumed run draws from the same history.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor

from ...config import setting
from ...errors import ConfigError
from .. import register_model
from ..contract import GenerativeMixin

PADDINGS = ("reflect", "zeros")


def _conv(in_ch: int, out_ch: int, k: int, padding: str) -> list[nn.Module]:
    if padding == "reflect":
        return [nn.ReflectionPad2d(k // 2), nn.Conv2d(in_ch, out_ch, k)]
    return [nn.Conv2d(in_ch, out_ch, k, padding=k // 2)]


class ResidualBlock(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))``, channels and size kept."""

    def __init__(self, dim: int, padding: str):
        super().__init__()
        self.block = nn.Sequential(*_conv(dim, dim, 3, padding), nn.InstanceNorm2d(dim), nn.ReLU(),
                                   *_conv(dim, dim, 3, padding), nn.InstanceNorm2d(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """``(N, in, H, W) → (N, out, H, W)`` in [-1, 1]; ``H, W`` divisible by ``2^downsample``."""

    def __init__(self, in_chans: int, out_chans: int, width: int, res_blocks: int, downsample: int, padding: str):
        super().__init__()
        layers: list[nn.Module] = [*_conv(in_chans, width, 7, padding), nn.InstanceNorm2d(width), nn.ReLU()]
        ch = width
        for _ in range(downsample):
            layers += [nn.Conv2d(ch, ch * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(ch * 2), nn.ReLU()]
            ch *= 2
        layers += [ResidualBlock(ch, padding) for _ in range(res_blocks)]
        for _ in range(downsample):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 3, stride=2, padding=1, output_padding=1),
                       nn.InstanceNorm2d(ch // 2), nn.ReLU()]
            ch //= 2
        layers += [*_conv(ch, out_chans, 7, padding), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """``(N, C, H, W) → (N, 1, h, w)`` patch logits."""

    def __init__(self, in_chans: int, width: int, layers: int):
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(in_chans, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = width
        for _ in range(layers - 1):
            mods += [nn.Conv2d(ch, ch * 2, 4, 2, 1), nn.InstanceNorm2d(ch * 2), nn.LeakyReLU(0.2)]
            ch *= 2
        mods.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ImagePool(nn.Module):
    """A history of up to ``size`` generated images ``(size, *shape)`` for the discriminator.

    :meth:`query` follows Zhu et al.'s rule per image: while the pool is filling, the new image is
    stored and used; afterwards, with probability 1/2 a uniformly chosen stored image is used and
    replaced by the new one, else the new image is used. ``size = 0`` returns the batch unchanged.
    Draws come from torch's global generator (checkpointed by the Trainer).
    """

    def __init__(self, size: int, shape: tuple[int, ...]):
        super().__init__()
        if size < 0:
            raise ConfigError(f"pool size must be >= 0, got {size}")
        self.size = int(size)
        self.register_buffer("images", torch.zeros(self.size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, fakes: Tensor) -> Tensor:
        """Images ``(N, *shape)`` (detached) → the ``(N, *shape)`` batch the discriminator sees."""
        if self.size == 0:
            return fakes.detach()
        fakes = fakes.detach()
        out = fakes.clone()
        for i in range(fakes.shape[0]):
            n = int(self.count)
            if n < self.size:
                self.images[n] = fakes[i]
                self.count += 1
            elif torch.rand(()) < 0.5:
                j = int(torch.randint(self.size, ()))
                out[i] = self.images[j]
                self.images[j] = fakes[i]
        return out

    def extra_repr(self) -> str:
        return f"size={self.size}"


class CycleGAN(GenerativeMixin, nn.Module):
    """``g_ab`` (G), ``g_ba`` (F), ``d_a``, ``d_b`` under the generative contract (``kind = "translation"``);
    ``pool_a`` / ``pool_b``: the histories of generated A / B images (:class:`ImagePool`)."""

    kind = "translation"

    def __init__(self, g_ab: nn.Module, g_ba: nn.Module, d_a: nn.Module, d_b: nn.Module, data_shape: tuple[int, ...],
                 pool_size: int = 0):
        super().__init__()
        self.g_ab, self.g_ba, self.d_a, self.d_b = g_ab, g_ba, d_a, d_b
        self.data_shape = tuple(data_shape)
        self.pool_a, self.pool_b = ImagePool(pool_size, self.data_shape), ImagePool(pool_size, self.data_shape)

    def forward(self, x: Tensor) -> Tensor:
        """:math:`G(x)`: domain-A images ``(N, *data_shape)`` in [-1, 1] → domain B, [-1, 1]."""
        self.check_data(x)
        return self.g_ab(x)

    @torch.no_grad()
    def translate(self, x: Tensor, direction: str = "ab", batch_size: int = 256) -> Tensor:
        """Images ``(N, *data_shape)`` in [0, 1] translated A → B (``"ab"``) or B → A, in [0, 1]."""
        if direction not in ("ab", "ba"):
            raise ConfigError(f"direction must be 'ab' or 'ba', got {direction!r}")
        self.check_data(x)
        g = self.g_ab if direction == "ab" else self.g_ba
        was = g.training
        g.eval()
        try:
            out = torch.cat([g(x[i:i + batch_size] * 2 - 1) for i in range(0, x.shape[0], batch_size)])
        finally:
            g.train(was)
        return (out + 1) / 2


@dataclass
class CycleGANConfig:
    """Images ``(in_chans, img_size, img_size)`` in both domains (``img_size`` divisible by
    ``2^downsample``); ``width``: first generator / discriminator channels; ``res_blocks``;
    ``downsample``: stride-2 stages of the generator (2 in the paper, 0 in the book);
    ``padding``: ``"reflect"`` (paper) or ``"zeros"`` (book); ``d_layers``: stride-2 convs of the PatchGAN;
    ``pool_size``: generated images kept per domain for the discriminators (50 in the paper; 0: none)."""

    in_chans: int = setting(1, min=1)
    img_size: int = setting(28, min=4)
    width: int = setting(32, min=1)
    res_blocks: int = setting(6, min=0)
    downsample: int = setting(2, min=0)
    padding: str = setting("reflect", choices=PADDINGS)
    d_width: int = setting(64, min=1)
    d_layers: int = setting(2, min=1)
    pool_size: int = setting(50, min=0)


@register_model("cyclegan", config=CycleGANConfig, family="gan")
def cyclegan(cfg: CycleGANConfig) -> CycleGAN:
    """CycleGAN with ResNet generators and PatchGAN discriminators (Zhu et al. 2017)."""
    if cfg.img_size % 2 ** cfg.downsample:
        raise ConfigError(f"img_size {cfg.img_size} must be divisible by 2^downsample = {2 ** cfg.downsample}")

    def gen():
        return ResnetGenerator(cfg.in_chans, cfg.in_chans, cfg.width, cfg.res_blocks, cfg.downsample, cfg.padding)

    def disc():
        return PatchDiscriminator(cfg.in_chans, cfg.d_width, cfg.d_layers)

    return CycleGAN(gen(), gen(), disc(), disc(), (cfg.in_chans, cfg.img_size, cfg.img_size), cfg.pool_size)


register_model("cyclegan-book", config=CycleGANConfig, family="gan", in_chans=3, img_size=64, width=64, res_blocks=9,
               downsample=0, padding="zeros", d_width=64, d_layers=2,
               description="the book's CycleGAN (C10-12): 9 residual blocks, no down-sampling, zero padding")(cyclegan)


__all__ = ["CycleGAN", "ImagePool", "ResnetGenerator", "PatchDiscriminator", "ResidualBlock", "CycleGANConfig"]
