r"""Batched image augmentation on tensors, without torchvision.

Every operation works on a whole batch ``(N, C, H, W)`` of float images in ``[0, 1]`` on any
device, with **independent random parameters per image**. Random parameters are drawn on the CPU
from a ``torch.Generator`` (the one passed to ``forward``, else the transform's own when it was
built with ``seed=``, else torch's global generator) and then moved to the images' device, so a
seed gives the same augmentation on CPU and GPU. Apply :class:`Normalize` last.

The book's equations (Ch. 4, §4.5.1, lines 7230-7302), written as *source* maps
``I'(p) = I(T(p))``, and how they are implemented here:

=================  ==============================================================================
rotation           :math:`I'(x,y)=I(x\cos\theta-y\sin\theta,\;x\sin\theta+y\cos\theta)` with
                   :math:`(x, y)` measured from the image **centre** (the book measures them from
                   the corner, which turns most of the image out of frame); bilinear sampling
                   through ``affine_grid``/``grid_sample``; positive angle = counter-clockwise.
translation        content moves by :math:`(+\Delta x,+\Delta y)` (torchvision's sign; the book's
                   :math:`I(x+\Delta x, y+\Delta y)` moves it the other way).
shear              :math:`I'(x,y)=I(x+ky,\,y)` about the centre.
brightness         :math:`I'=\beta I` (the multiplicative factor of the book's PyTorch listing,
                   ``ColorJitter(brightness=b)``, :math:`\beta\sim U[1-b,1+b]`; the book's
                   equation :math:`I+\beta` is the additive variant).
contrast           :math:`I'=\alpha(I-\mu)+\mu`, :math:`\mu` = mean grey level of the image.
saturation         :math:`I'=s I+(1-s)\,\mathrm{grey}(I)` (blend with the grey image).
hue                :math:`\mathrm{HSV}(I)+(\Delta h,0,0)`, :math:`\Delta h` in turns.
random erasing     a rectangle of random area and aspect ratio set to a value or to noise
                   (Zhong et al. 2020); cutout: a square set to 0 (DeVries & Taylor 2017).
mixup              :math:`I'=\lambda I_1+(1-\lambda)I_2,\ y'=\lambda y_1+(1-\lambda)y_2,\
                   \lambda\sim\mathrm{Beta}(\alpha,\alpha)` (Zhang et al. 2018).
cutmix             a box of area :math:`(1-\lambda)HW` pasted from another image; targets mixed by
                   the pasted area (Yun et al. 2019).
=================  ==============================================================================

Functional ops (deterministic given their parameters) come first; the random ``nn.Module``
transforms, :class:`RandAugment` (Cubuk et al. 2020) and :class:`Compose` follow.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ShapeError
from .transforms import Normalize, check_images

# --------------------------------------------------------------------------------------------
# per-sample parameters
# --------------------------------------------------------------------------------------------


def _per_sample(value: float | Tensor, n: int, like: Tensor) -> Tensor:
    """``value`` (scalar or ``(N,)``) as a float tensor ``(N, 1, 1, 1)`` on ``like``'s device."""
    t = torch.as_tensor(value, dtype=like.dtype).to(like.device)
    return t.expand(n).reshape(n, 1, 1, 1) if t.ndim == 0 else t.reshape(n, 1, 1, 1)


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _chance(n: int, p: float, generator: torch.Generator | None) -> Tensor:
    return torch.rand(n, generator=generator) < p


# --------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------


def hflip(x: Tensor) -> Tensor:
    """Mirror left-right: :math:`I'(x, y) = I(W-1-x, y)`."""
    return check_images(x).flip(-1)


def vflip(x: Tensor) -> Tensor:
    """Mirror top-bottom: :math:`I'(x, y) = I(x, H-1-y)`."""
    return check_images(x).flip(-2)


def crop(x: Tensor, top: Tensor, left: Tensor, size: tuple[int, int]) -> Tensor:
    """Per-image crops ``x[n, :, top_n:top_n+h, left_n:left_n+w]`` as one gather, ``(N, C, h, w)``."""
    n, c, hh, ww = check_images(x).shape
    h, w = size
    if h > hh or w > ww:
        raise ShapeError(f"crop size {size} is larger than the images {(hh, ww)}")
    rows = top.to(x.device).view(n, 1) + torch.arange(h, device=x.device)  # (N, h)
    cols = left.to(x.device).view(n, 1) + torch.arange(w, device=x.device)  # (N, w)
    index = (rows.view(n, h, 1) * ww + cols.view(n, 1, w)).view(n, 1, h * w).expand(n, c, h * w)
    return x.flatten(2).gather(2, index).view(n, c, h, w)


def affine_theta(source_map: Tensor, size: tuple[int, int]) -> Tensor:
    """``affine_grid``'s ``theta`` ``(N, 2, 3)`` (normalised output -> normalised input coordinates,
    ``align_corners=True``) for pixel-space *source* maps measured from the image centre."""
    h, w = size
    n = source_map.shape[0]
    sx, sy = (w - 1) / 2 if w > 1 else 1.0, (h - 1) / 2 if h > 1 else 1.0
    # the centre sits at normalised 0, so only the scales differ: theta = D^-1 A D, b' = D^-1 b
    a, b = source_map[:, :, :2].float(), source_map[:, :, 2].float()
    d = torch.tensor([sx, sy])
    theta_a = a * d.view(1, 1, 2) / d.view(1, 2, 1)
    return torch.cat([theta_a, (b / d).view(n, 2, 1)], 2)


def resample(x: Tensor, theta: Tensor, *, fill: float = 0.0, mode: str = "bilinear") -> Tensor:
    """``grid_sample`` ``x`` at ``affine_grid(theta)``; points outside the image read ``fill``."""
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=True)
    if fill == 0.0:
        return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=True)
    return F.grid_sample(x - fill, grid, mode=mode, padding_mode="zeros", align_corners=True) + fill


def warp(x: Tensor, source_map: Tensor, *, fill: float = 0.0, mode: str = "bilinear") -> Tensor:
    """Resample ``x`` with a per-image affine *source* map in pixel coordinates.

    ``source_map`` ``(N, 2, 3)`` sends an output pixel ``(x, y)``, measured from the image centre
    ``((W-1)/2, (H-1)/2)``, to the (centred) input pixel it is read from: ``I'(p) = I(A p + b)``.
    Points outside the image read ``fill``.
    """
    check_images(x, floating=True)
    return resample(x, affine_theta(source_map.cpu(), tuple(x.shape[-2:])), fill=fill, mode=mode)


def _affine_map(a11, a12, a21, a22, bx, by) -> Tensor:
    """Stack per-image coefficients (each ``(N,)``) into source maps ``(N, 2, 3)``."""
    return torch.stack([torch.stack([a11, a12, bx], -1), torch.stack([a21, a22, by], -1)], 1)


def _as_batch(v: float | Tensor, n: int) -> Tensor:
    return torch.as_tensor(v, dtype=torch.float32).cpu().expand(n)


def rotation_map(angle: Tensor) -> Tensor:
    r"""Source maps of counter-clockwise rotations by ``angle`` ``(N,)`` degrees:
    :math:`(x, y) \mapsto (x\cos\theta-y\sin\theta,\;x\sin\theta+y\cos\theta)`."""
    t = torch.deg2rad(angle.double()).float()
    c, s, z = torch.cos(t), torch.sin(t), torch.zeros_like(t)
    return _affine_map(c, -s, s, c, z, z)


def translation_map(dx: Tensor, dy: Tensor) -> Tensor:
    """Source maps that move the content by ``(dx, dy)`` pixels (right, down)."""
    one, z = torch.ones_like(dx), torch.zeros_like(dx)
    return _affine_map(one, z, z, one, -dx, -dy)


def shear_map(kx: Tensor, ky: Tensor) -> Tensor:
    r"""Source maps :math:`(x, y) \mapsto (x + k_x y,\; y + k_y x)`."""
    one, z = torch.ones_like(kx), torch.zeros_like(kx)
    return _affine_map(one, kx, ky, one, z, z)


def rotate(x: Tensor, angle: float | Tensor, *, fill: float = 0.0, mode: str = "bilinear") -> Tensor:
    r"""Rotate each image by ``angle`` degrees (``(N,)`` or scalar) counter-clockwise about its centre.

    :math:`I'(x,y)=I(x\cos\theta-y\sin\theta,\;x\sin\theta+y\cos\theta)`, coordinates from the centre.
    """
    return warp(x, rotation_map(_as_batch(angle, x.shape[0])), fill=fill, mode=mode)


def translate(x: Tensor, dx: float | Tensor, dy: float | Tensor, *, fill: float = 0.0, mode: str = "bilinear") -> Tensor:
    """Move each image's content by ``(dx, dy)`` pixels (right, down); uncovered pixels read ``fill``."""
    n = x.shape[0]
    return warp(x, translation_map(_as_batch(dx, n), _as_batch(dy, n)), fill=fill, mode=mode)


def shear(x: Tensor, kx: float | Tensor = 0.0, ky: float | Tensor = 0.0, *, fill: float = 0.0, mode: str = "bilinear") -> Tensor:
    r"""Shear about the centre: :math:`I'(x,y)=I(x+k_x y,\;y+k_y x)` (book: :math:`k_y=0`)."""
    n = x.shape[0]
    return warp(x, shear_map(_as_batch(kx, n), _as_batch(ky, n)), fill=fill, mode=mode)


# --------------------------------------------------------------------------------------------
# colour (float images in [0, 1]; results clamped to [0, 1])
# --------------------------------------------------------------------------------------------

_GREY = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as PIL, torchvision and kornia use


def rgb_to_grayscale(x: Tensor) -> Tensor:
    """``(N, 3, H, W)`` -> ``(N, 1, H, W)`` luma ``0.299 R + 0.587 G + 0.114 B``."""
    r, g, b = check_images(x, 3).unbind(1)
    return (_GREY[0] * r + _GREY[1] * g + _GREY[2] * b).unsqueeze(1)


def _grey(x: Tensor) -> Tensor:
    return rgb_to_grayscale(x) if x.shape[1] == 3 else x.mean(1, keepdim=True)


def adjust_brightness(x: Tensor, factor: float | Tensor) -> Tensor:
    """``factor * x`` per image, clamped to [0, 1]."""
    return (x * _per_sample(factor, x.shape[0], x)).clamp_(0, 1)


def adjust_contrast(x: Tensor, factor: float | Tensor) -> Tensor:
    r""":math:`\alpha(x-\mu)+\mu` per image, :math:`\mu` its mean grey level; clamped to [0, 1]."""
    mu = _grey(x).mean((1, 2, 3), keepdim=True)
    a = _per_sample(factor, x.shape[0], x)
    return (a * x + (1 - a) * mu).clamp_(0, 1)


def adjust_saturation(x: Tensor, factor: float | Tensor) -> Tensor:
    """Blend with the grey image: ``s x + (1 - s) grey(x)``; identity for one-channel images."""
    if x.shape[1] == 1:
        return x
    s = _per_sample(factor, x.shape[0], x)
    return (s * x + (1 - s) * rgb_to_grayscale(x)).clamp_(0, 1)


def rgb_to_hsv(x: Tensor, eps: float = 1e-8) -> Tensor:
    """RGB ``(N, 3, H, W)`` in [0, 1] -> HSV with hue in turns [0, 1), saturation and value in [0, 1]."""
    r, g, b = check_images(x, 3).unbind(1)
    v = torch.maximum(torch.maximum(r, g), b)
    delta = v - torch.minimum(torch.minimum(r, g), b)
    s = delta / v.clamp_min(eps)  # 0 where v = 0, since then delta = 0
    d = delta.clamp_min(eps)
    h = torch.where(v == r, (g - b) / d, torch.where(v == g, 2 + (b - r) / d, 4 + (r - g) / d))
    h = torch.remainder(h / 6, 1.0) * (delta > 0)  # grey pixels get hue 0
    return torch.stack([h, s, v], 1)


def hsv_to_rgb(hsv: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_hsv`: channel ``c = v - v s clamp(min(k, 4 - k), 0, 1)``,
    ``k = (n_c + 6 h) mod 6`` with ``n = 5, 3, 1`` for R, G, B."""
    h, s, v = hsv.unbind(1)
    n = torch.tensor([5.0, 3.0, 1.0], dtype=hsv.dtype, device=hsv.device).view(1, 3, 1, 1)
    k = torch.remainder(n + 6 * h.unsqueeze(1), 6)
    return v.unsqueeze(1) - (v * s).unsqueeze(1) * torch.minimum(k, 4 - k).clamp(0, 1)


def adjust_hue(x: Tensor, shift: float | Tensor) -> Tensor:
    """Rotate the hue by ``shift`` turns (in [-0.5, 0.5]) per image; identity for one channel."""
    if x.shape[1] == 1:
        return x
    h, s, v = rgb_to_hsv(x).unbind(1)
    h = torch.remainder(h + _per_sample(shift, x.shape[0], x).view(-1, 1, 1), 1.0)
    return hsv_to_rgb(torch.stack([h, s, v], 1)).clamp_(0, 1)


def adjust_sharpness(x: Tensor, factor: float | Tensor) -> Tensor:
    """Blend with PIL's smoothing filter ``[[1,1,1],[1,5,1],[1,1,1]] / 13`` (border pixels kept):
    ``factor = 0`` smooths, 1 is the identity, > 1 sharpens."""
    n, c, h, w = x.shape
    if h < 3 or w < 3:
        return x
    k = torch.ones(3, 3, dtype=x.dtype, device=x.device)
    k[1, 1] = 5
    smooth = F.conv2d(x, (k / 13).expand(c, 1, 3, 3), groups=c)
    blurred = x.clone()
    blurred[..., 1:-1, 1:-1] = smooth
    f = _per_sample(factor, n, x)
    return (blurred + f * (x - blurred)).clamp_(0, 1)


def posterize(x: Tensor, bits: int | Tensor) -> Tensor:
    """Keep the top ``bits`` of each 8-bit value (per image); 8 bits leaves the image unchanged."""
    b = _per_sample(bits, x.shape[0], x)
    step = torch.pow(2.0, 8 - b)
    out = torch.floor(torch.floor(x * 255) / step) * step / 255  # floor(255 x) == uint8 truncation
    return torch.where(b >= 8, x, out)


def solarize(x: Tensor, threshold: float | Tensor) -> Tensor:
    """Invert pixels above ``threshold`` (per image): ``1 - x`` where ``x > threshold``."""
    return torch.where(x > _per_sample(threshold, x.shape[0], x), 1 - x, x)


def autocontrast(x: Tensor) -> Tensor:
    """Stretch each channel of each image to span [0, 1] (constant channels are kept)."""
    lo, hi = x.amin((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
    return torch.where(hi > lo, (x - lo) / (hi - lo).clamp_min(1e-12), x)


def equalize(x: Tensor) -> Tensor:
    """Histogram equalisation of each channel of each image (PIL's ``ImageOps.equalize`` rule)."""
    n, c, h, w = x.shape
    q = (x * 255).round().long().clamp_(0, 255).view(n * c, h * w)
    hist = torch.zeros(n * c, 256, dtype=torch.long, device=x.device).scatter_add_(1, q, torch.ones_like(q))
    last = 255 - hist.flip(1).ne(0).long().argmax(1)  # highest grey level present
    step = (h * w - hist.gather(1, last.view(-1, 1)).squeeze(1)) // 255
    lut = (hist.cumsum(1) + (step // 2).view(-1, 1)) // step.clamp_min(1).view(-1, 1)
    lut = torch.cat([torch.zeros_like(lut[:, :1]), lut[:, :-1]], 1).clamp_(0, 255)
    out = lut.gather(1, q).to(x.dtype).div_(255).view(n, c, h, w)
    return torch.where((step == 0).view(n, c, 1, 1), x, out)


# --------------------------------------------------------------------------------------------
# erasing and mixing
# --------------------------------------------------------------------------------------------


def box_mask(top: Tensor, left: Tensor, height: Tensor, width: Tensor, size: tuple[int, int], device) -> Tensor:
    """Boolean ``(N, 1, H, W)``, True inside each image's box (boxes may cross the border)."""
    h, w = size
    rows, cols = torch.arange(h, device=device), torch.arange(w, device=device)
    t, lf, bh, bw = (v.to(device).view(-1, 1) for v in (top, left, height, width))
    in_r = (rows >= t) & (rows < t + bh)  # (N, H)
    in_c = (cols >= lf) & (cols < lf + bw)  # (N, W)
    return (in_r.unsqueeze(2) & in_c.unsqueeze(1)).unsqueeze(1)


def erase(x: Tensor, mask: Tensor, value: float | Sequence[float] | Tensor = 0.0) -> Tensor:
    """Set the pixels where ``mask`` ``(N, 1, H, W)`` is True to ``value`` (a number, one per
    channel, or a tensor broadcastable to ``x``, e.g. noise)."""
    v = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    if v.ndim == 1:
        v = v.view(1, -1, 1, 1)
    return torch.where(mask, v, x)


def _soft_targets(y: Tensor, num_classes: int | None, dtype) -> Tensor:
    if y.ndim == 2:
        return y.to(dtype)
    if num_classes is None:
        raise ConfigError("mixing integer labels needs num_classes (or pass one-hot / soft targets (N, K))")
    return F.one_hot(y.long(), num_classes).to(dtype)


def mix(x: Tensor, y: Tensor, lam: Tensor, perm: Tensor, num_classes: int | None = None, mask: Tensor | None = None):
    r"""Mix each image with image ``perm[n]``: ``λ x + (1-λ) x[perm]`` (mixup), or paste
    ``x[perm]`` where ``mask`` is True (cutmix, then ``λ`` must be the kept area fraction).

    Returns ``(x_mixed, y_mixed)`` with soft targets :math:`\lambda y + (1-\lambda) y_{perm}`
    ``(N, K)``; integer labels need ``num_classes``.
    """
    perm = perm.to(x.device)
    lam4 = _per_sample(lam, x.shape[0], x)
    xm = lam4 * x + (1 - lam4) * x[perm] if mask is None else torch.where(mask, x[perm], x)
    ys = _soft_targets(y, num_classes, x.dtype)
    lam2 = lam4.view(-1, 1)
    return xm, lam2 * ys + (1 - lam2) * ys[perm]


# --------------------------------------------------------------------------------------------
# random transforms
# --------------------------------------------------------------------------------------------


class RandomTransform(nn.Module, abc.ABC):
    """Base of the random transforms: ``forward(x, generator=None)``; applied to each image with
    probability ``p`` (images not chosen pass through unchanged)."""

    def __init__(self, p: float = 1.0, seed: int | None = None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"p must be a probability in [0, 1], got {p}")
        self.p = p
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def _gen(self, generator: torch.Generator | None) -> torch.Generator | None:
        return generator if generator is not None else self.generator

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_images(x, floating=True)
        g = self._gen(generator)
        chosen = _chance(x.shape[0], self.p, g) if self.p < 1 else None
        out = self.apply(x, g)
        return out if chosen is None else torch.where(chosen.to(x.device).view(-1, 1, 1, 1), out, x)

    @abc.abstractmethod
    def apply(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        """Transform every image of ``x (N, C, H, W)``; ``generator`` draws the per-image randomness."""

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomHorizontalFlip(RandomTransform):
    """Mirror left-right each image with probability ``p`` (default 0.5)."""

    def __init__(self, p: float = 0.5, seed: int | None = None):
        super().__init__(p, seed)

    def apply(self, x, generator):
        return hflip(x)


class RandomVerticalFlip(RandomTransform):
    """Mirror top-bottom each image with probability ``p`` (default 0.5)."""

    def __init__(self, p: float = 0.5, seed: int | None = None):
        super().__init__(p, seed)

    def apply(self, x, generator):
        return vflip(x)


class RandomCrop(RandomTransform):
    """Pad by ``padding`` pixels (constant ``fill`` or ``"reflect"``/``"replicate"``) then crop a
    random ``size`` window per image (default: the input size -- the CIFAR "crop 32, pad 4")."""

    def __init__(self, size: int | tuple[int, int] | None = None, padding: int = 0, *, fill: float = 0.0,
                 padding_mode: str = "constant", p: float = 1.0, seed: int | None = None):
        super().__init__(p, seed)
        self.size = (size, size) if isinstance(size, int) else size
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def forward(self, x, generator=None):
        if self.size is not None and tuple(self.size) != tuple(x.shape[-2:]) and self.p < 1:
            raise ConfigError("a RandomCrop that changes the image size must have p=1")
        return super().forward(x, generator)

    def apply(self, x, generator):
        pad = self.padding
        if pad:
            kw = {"value": self.fill} if self.padding_mode == "constant" else {}
            x = F.pad(x, (pad, pad, pad, pad), mode=self.padding_mode, **kw)
        n, _, hh, ww = x.shape
        h, w = self.size or (hh - 2 * pad, ww - 2 * pad)
        top = torch.randint(0, hh - h + 1, (n,), generator=generator)
        left = torch.randint(0, ww - w + 1, (n,), generator=generator)
        return crop(x, top, left, (h, w))

    def extra_repr(self):
        return f"size={self.size}, padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode!r}, p={self.p}"


class RandomRotation(RandomTransform):
    """Rotate each image by an angle drawn from ``U[-degrees, degrees]`` (or ``U[lo, hi]``) about
    its centre, bilinear, uncovered corners ``fill``."""

    def __init__(self, degrees: float | tuple[float, float], *, fill: float = 0.0, p: float = 1.0, seed: int | None = None):
        super().__init__(p, seed)
        self.degrees = (-degrees, degrees) if isinstance(degrees, (int, float)) else tuple(degrees)
        self.fill = fill

    def apply(self, x, generator):
        return rotate(x, _uniform(x.shape[0], *self.degrees, generator), fill=self.fill)

    def extra_repr(self):
        return f"degrees={self.degrees}, fill={self.fill}, p={self.p}"


def _jitter_range(value: float | tuple[float, float], name: str, centre: float, bound: float) -> tuple[float, float]:
    """``v`` -> ``[max(centre - bound, centre - v), centre + v]``; a pair is taken as given."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"{name} jitter must be non-negative, got {value}")
        value = (centre - value, centre + value)
    lo, hi = value
    return float(max(lo, centre - bound)), float(hi)


class ColorJitter(RandomTransform):
    """Random brightness, contrast, saturation and hue per image, applied in that order.

    Factors are drawn as torchvision's ``ColorJitter`` draws them: brightness/contrast/saturation
    from ``U[max(0, 1 - v), 1 + v]`` and the hue shift from ``U[-h, h]`` turns (``h <= 0.5``);
    each argument may also be an explicit ``(lo, hi)``. Zero leaves that property unchanged.
    """

    def __init__(self, brightness: float | tuple = 0.0, contrast: float | tuple = 0.0, saturation: float | tuple = 0.0,
                 hue: float | tuple = 0.0, *, p: float = 1.0, seed: int | None = None):
        super().__init__(p, seed)
        self.ranges = {
            "brightness": _jitter_range(brightness, "brightness", 1.0, 1.0),
            "contrast": _jitter_range(contrast, "contrast", 1.0, 1.0),
            "saturation": _jitter_range(saturation, "saturation", 1.0, 1.0),
            "hue": _jitter_range(hue, "hue", 0.0, 0.5),
        }
        if max(abs(v) for v in self.ranges["hue"]) > 0.5:
            raise ConfigError(f"hue shift must lie in [-0.5, 0.5] turns, got {self.ranges['hue']}")

    def apply(self, x, generator):
        n = x.shape[0]
        ops = (("brightness", adjust_brightness), ("contrast", adjust_contrast),
               ("saturation", adjust_saturation), ("hue", adjust_hue))
        for name, fn in ops:
            lo, hi = self.ranges[name]
            neutral = 0.0 if name == "hue" else 1.0
            if lo == hi == neutral:
                continue
            x = fn(x, _uniform(n, lo, hi, generator))
        return x

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.ranges.items()) + f", p={self.p}"


class RandomErasing(RandomTransform):
    """Random erasing (Zhong et al. 2020): with probability ``p`` (default 0.5), a rectangle with
    area ``U[scale] * H * W`` and log-uniform aspect ratio in ``ratio`` is set to ``value`` (a
    number, one per channel, or ``"random"`` for standard normal noise)."""

    def __init__(self, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.33), ratio: tuple[float, float] = (0.3, 3.3),
                 value: float | Sequence[float] | str = 0.0, seed: int | None = None):
        super().__init__(p, seed)
        self.scale, self.ratio, self.value = scale, ratio, value

    def apply(self, x, generator):
        n, _, h, w = x.shape
        area = _uniform(n, *self.scale, generator) * h * w
        aspect = torch.exp(_uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), generator))
        bh = torch.sqrt(area * aspect).round().clamp(1, h).long()
        bw = torch.sqrt(area / aspect).round().clamp(1, w).long()
        top = (torch.rand(n, generator=generator) * (h - bh + 1)).long()
        left = (torch.rand(n, generator=generator) * (w - bw + 1)).long()
        mask = box_mask(top, left, bh, bw, (h, w), x.device)
        value = self.value
        if isinstance(value, str):
            if value != "random":
                raise ConfigError(f"value must be a number, one per channel, or 'random', got {value!r}")
            value = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
        return erase(x, mask, value)

    def extra_repr(self):
        return f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value!r}"


class Cutout(RandomTransform):
    """Cutout (DeVries & Taylor 2017): a ``size`` x ``size`` square centred on a uniformly random
    pixel (clipped at the border) is set to ``value`` (default 0)."""

    def __init__(self, size: int, value: float = 0.0, *, p: float = 1.0, seed: int | None = None):
        super().__init__(p, seed)
        self.size, self.value = size, value

    def apply(self, x, generator):
        n, _, h, w = x.shape
        cy, cx = torch.randint(0, h, (n,), generator=generator), torch.randint(0, w, (n,), generator=generator)
        s = torch.full((n,), self.size)
        return erase(x, box_mask(cy - self.size // 2, cx - self.size // 2, s, s, (h, w), x.device), self.value)

    def extra_repr(self):
        return f"size={self.size}, value={self.value}, p={self.p}"


class _Mixing(nn.Module):
    """Base of batch-mixing transforms: ``forward(x, y, generator=None) -> (x_mixed, soft_targets)``."""

    mixes_targets = True

    def __init__(self, alpha: float, num_classes: int | None, per_sample: bool, seed: int | None):
        super().__init__()
        if alpha < 0:
            raise ConfigError(f"alpha must be >= 0 (0 disables mixing), got {alpha}")
        self.alpha, self.num_classes, self.per_sample = alpha, num_classes, per_sample
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def sample(self, n: int, generator) -> tuple[Tensor, Tensor]:
        """``(λ (N,), perm (N,))`` drawn from ``Beta(α, α)`` and a random permutation."""
        if self.alpha == 0:
            return torch.ones(n), torch.arange(n)
        # Beta(a, a) as G1 / (G1 + G2) with Gamma(a) draws from the seeded generator
        k = n if self.per_sample else 1
        g1, g2 = (torch._standard_gamma(torch.full((k,), float(self.alpha)), generator=generator) for _ in range(2))
        lam = (g1 / (g1 + g2).clamp_min(1e-12)).expand(n)
        return lam, torch.randperm(n, generator=generator)

    def extra_repr(self):
        return f"alpha={self.alpha}, num_classes={self.num_classes}, per_sample={self.per_sample}"


class Mixup(_Mixing):
    r"""Mixup (Zhang et al. 2018): :math:`x'=\lambda x+(1-\lambda)x_{\pi}`, same for the targets,
    :math:`\lambda\sim\mathrm{Beta}(\alpha,\alpha)` per image (``per_sample=False``: one per
    batch, as in the paper), :math:`\pi` a random permutation of the batch."""

    def __init__(self, alpha: float = 0.2, num_classes: int | None = None, *, per_sample: bool = True, seed: int | None = None):
        super().__init__(alpha, num_classes, per_sample, seed)

    def forward(self, x: Tensor, y: Tensor, generator: torch.Generator | None = None):
        check_images(x, floating=True)
        lam, perm = self.sample(x.shape[0], generator or self.generator)
        return mix(x, y, lam, perm, self.num_classes)


class CutMix(_Mixing):
    r"""CutMix (Yun et al. 2019): paste a box of area :math:`(1-\lambda)HW` (centre uniform,
    clipped at the border) from image :math:`\pi(n)`; targets are mixed by the area actually
    kept, :math:`\lambda' = 1 - |box|/(HW)`."""

    def __init__(self, alpha: float = 1.0, num_classes: int | None = None, *, per_sample: bool = True, seed: int | None = None):
        super().__init__(alpha, num_classes, per_sample, seed)

    def forward(self, x: Tensor, y: Tensor, generator: torch.Generator | None = None):
        n, _, h, w = check_images(x, floating=True).shape
        g = generator or self.generator
        lam, perm = self.sample(n, g)
        cut = torch.sqrt(1 - lam)
        bh, bw = (cut * h).round().long(), (cut * w).round().long()
        cy, cx = torch.randint(0, h, (n,), generator=g), torch.randint(0, w, (n,), generator=g)
        top, left = (cy - bh // 2).clamp(0, h), (cx - bw // 2).clamp(0, w)
        bottom, right = (cy - bh // 2 + bh).clamp(0, h), (cx - bw // 2 + bw).clamp(0, w)
        mask = box_mask(top, left, bottom - top, right - left, (h, w), x.device)
        kept = 1 - ((bottom - top) * (right - left)).float() / (h * w)
        return mix(x, y, kept, perm, self.num_classes, mask=mask)


# --------------------------------------------------------------------------------------------
# RandAugment
# --------------------------------------------------------------------------------------------


def _signed(m: Tensor, generator) -> Tensor:
    return torch.where(torch.rand(m.shape, generator=generator) < 0.5, -m, m)


# Geometric ops: name -> (magnitude in [0, 1] -> value given (m, H, W), value -> source maps).
# All images that drew one of them are resampled together in one grid_sample call.
_GEOMETRIC_OPS: dict[str, tuple[Callable, Callable[[Tensor], Tensor]]] = {
    "shear_x": (lambda m, h, w: 0.3 * m, lambda v: shear_map(v, torch.zeros_like(v))),
    "shear_y": (lambda m, h, w: 0.3 * m, lambda v: shear_map(torch.zeros_like(v), v)),
    "translate_x": (lambda m, h, w: 150 / 331 * w * m, lambda v: translation_map(v, torch.zeros_like(v))),
    "translate_y": (lambda m, h, w: 150 / 331 * h * m, lambda v: translation_map(torch.zeros_like(v), v)),
    "rotate": (lambda m, h, w: 30.0 * m, rotation_map),
}
# Pixel ops: name -> (magnitude in [0, 1] -> value, op(x, value) on the images that drew it).
_PIXEL_OPS: dict[str, tuple[Callable, Callable[[Tensor, Tensor], Tensor]]] = {
    "brightness": (lambda m, h, w: 0.9 * m, lambda x, v: adjust_brightness(x, 1 + v)),
    "color": (lambda m, h, w: 0.9 * m, lambda x, v: adjust_saturation(x, 1 + v)),
    "contrast": (lambda m, h, w: 0.9 * m, lambda x, v: adjust_contrast(x, 1 + v)),
    "sharpness": (lambda m, h, w: 0.9 * m, lambda x, v: adjust_sharpness(x, 1 + v)),
    "posterize": (lambda m, h, w: 8 - (4 * m).round(), posterize),
    "solarize": (lambda m, h, w: 1.0 - m, solarize),
    "autocontrast": (lambda m, h, w: m, lambda x, v: autocontrast(x)),
    "equalize": (lambda m, h, w: m, lambda x, v: equalize(x)),
}
_SIGNED = {"shear_x", "shear_y", "translate_x", "translate_y", "rotate", "brightness", "color", "contrast", "sharpness"}
RANDAUGMENT_OPS = ("identity", *_GEOMETRIC_OPS, *_PIXEL_OPS)


class RandAugment(nn.Module):
    """RandAugment (Cubuk et al. 2020): ``num_ops`` operations per image, each chosen uniformly
    from ``ops``, all at one global ``magnitude`` in ``[0, num_magnitude_bins - 1]``.

    Magnitude ranges follow torchvision's RandAugment (shear 0.3, translation 150/331 of the
    image size, rotation 30 degrees, enhancement factors 1 +- 0.9, posterize 8 -> 4 bits,
    solarize threshold 1 -> 0), with a random sign where the op has one. Each image draws its own
    ops and signs. ``magnitude=0`` makes every op except ``autocontrast`` and ``equalize`` (which
    have no magnitude) the identity.
    """

    MAGNITUDE_FREE = ("autocontrast", "equalize")

    def __init__(self, num_ops: int = 2, magnitude: float = 9, num_magnitude_bins: int = 31, *,
                 ops: Sequence[str] | None = None, fill: float = 0.0, seed: int | None = None):
        super().__init__()
        ops = list(ops) if ops is not None else list(RANDAUGMENT_OPS)
        unknown = [o for o in ops if o not in RANDAUGMENT_OPS]
        if unknown:
            raise ConfigError(f"unknown RandAugment ops {unknown}; known: {', '.join(RANDAUGMENT_OPS)}")
        if not 0 <= magnitude <= num_magnitude_bins - 1:
            raise ConfigError(f"magnitude must be in [0, {num_magnitude_bins - 1}], got {magnitude}")
        self.num_ops, self.magnitude, self.num_magnitude_bins = num_ops, magnitude, num_magnitude_bins
        self.ops, self.fill = ops, fill
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        n, _, h, w = check_images(x, floating=True).shape
        g = generator or self.generator
        m = torch.full((n,), self.magnitude / (self.num_magnitude_bins - 1))
        for _ in range(self.num_ops):
            x = self._layer(x, m, g)
        return x

    def _layer(self, x: Tensor, m: Tensor, g: torch.Generator | None) -> Tensor:
        """One op per image. All parameters are drawn on the CPU, the images are sorted by op so
        that each op runs once on a contiguous slice, and sorted back (two gathers per layer)."""
        n, _, h, w = x.shape
        choice = torch.randint(0, len(self.ops), (n,), generator=g)
        values, maps = torch.zeros(n), torch.zeros(n, 2, 3)
        group = torch.full((n,), -1)  # -1 identity, 0 geometric, k + 1 pixel op k
        for k, name in enumerate(self.ops):
            sel = choice == k
            if name == "identity" or not bool(sel.any()):
                continue
            value_of, action = _GEOMETRIC_OPS.get(name) or _PIXEL_OPS[name]
            v = value_of(m[sel], h, w)
            v = _signed(v, g) if name in _SIGNED else v
            values[sel] = v
            if name in _GEOMETRIC_OPS:
                maps[sel], group[sel] = action(v), 0
            else:
                group[sel] = k + 1
        order = torch.argsort(group, stable=True)
        counts = torch.bincount(group[order] + 1, minlength=len(self.ops) + 2).tolist()
        dev_order = order.to(x.device)
        xs, vs = x[dev_order], values[order].to(x.device)
        start = counts[0]  # identity images stay as they are
        if counts[1]:
            theta = affine_theta(maps[order[start:start + counts[1]]], (h, w))
            xs[start:start + counts[1]] = resample(xs[start:start + counts[1]], theta, fill=self.fill)
        start += counts[1]
        for k, name in enumerate(self.ops):
            c = counts[k + 2]
            if c and name in _PIXEL_OPS:
                xs[start:start + c] = _PIXEL_OPS[name][1](xs[start:start + c], vs[start:start + c])
            start += c
        return torch.empty_like(x).index_copy_(0, dev_order, xs)

    def extra_repr(self):
        return f"num_ops={self.num_ops}, magnitude={self.magnitude}, num_magnitude_bins={self.num_magnitude_bins}, ops={self.ops}"


# --------------------------------------------------------------------------------------------
# self-supervised views (Chapter 9): resized crops, grey, blur, several views per image
# --------------------------------------------------------------------------------------------


class RandomResizedCrop(RandomTransform):
    """Crop a random box of area ``U[scale]`` x the image and aspect ratio log-uniform in ``ratio``,
    resized (bilinear) to ``size`` -- torchvision's ``RandomResizedCrop`` draw (10 tries, then the
    centre crop clipped to ``ratio``), one box per image, as one ``affine_grid`` resample."""

    def __init__(self, size: int | tuple[int, int], scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), *, seed: int | None = None):
        super().__init__(1.0, seed)
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ConfigError(f"RandomResizedCrop scale must satisfy 0 < lo <= hi <= 1, got {scale}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)

    def apply(self, x, generator):
        n, _, h, w = x.shape
        tries = 10
        area = h * w * _uniform(n * tries, *self.scale, generator).view(n, tries)
        log_r = _uniform(n * tries, math.log(self.ratio[0]), math.log(self.ratio[1]), generator).view(n, tries)
        r = torch.exp(log_r)
        cw, ch = torch.sqrt(area * r), torch.sqrt(area / r)
        ok = (cw <= w) & (ch <= h)
        first = torch.where(ok.any(1), ok.float().argmax(1), torch.zeros(n, dtype=torch.long))
        cw, ch = cw.gather(1, first[:, None])[:, 0], ch.gather(1, first[:, None])[:, 0]
        fallback = ~ok.any(1)  # centre crop with the ratio clipped into range
        cw = torch.where(fallback, torch.tensor(float(min(w, h * self.ratio[1]))), cw)
        ch = torch.where(fallback, torch.tensor(float(min(h, w / self.ratio[0]))), ch)
        cx = (torch.rand(n, generator=generator) * (w - cw)) + cw / 2 - w / 2  # box centre, from the image centre
        cy = (torch.rand(n, generator=generator) * (h - ch)) + ch / 2 - h / 2
        cx, cy = torch.where(fallback, torch.zeros(n), cx), torch.where(fallback, torch.zeros(n), cy)
        # normalised (align_corners=False) source coordinates: out in [-1, 1] -> box in the input
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0], theta[:, 1, 1] = cw / w, ch / h
        theta[:, 0, 2], theta[:, 1, 2] = 2 * cx / w, 2 * cy / h
        grid = F.affine_grid(theta.to(x.device, x.dtype), [n, x.shape[1], *self.size], align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def extra_repr(self):
        return f"size={self.size}, scale={self.scale}, ratio={self.ratio}"


class RandomGrayscale(RandomTransform):
    """Replace each image by its grey version (kept with its channel count) with probability ``p``."""

    def __init__(self, p: float = 0.2, seed: int | None = None):
        super().__init__(p, seed)

    def apply(self, x, generator):
        return _grey(x).expand_as(x) if x.shape[1] == 3 else x


class GaussianBlur(RandomTransform):
    """Blur each image with a Gaussian of standard deviation ``U[sigma]`` pixels (separable, reflect
    padding, kernel ``kernel_size``), with probability ``p`` (SimCLR's blur)."""

    def __init__(self, kernel_size: int = 3, sigma: tuple[float, float] = (0.1, 2.0), *, p: float = 0.5,
                 seed: int | None = None):
        super().__init__(p, seed)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"GaussianBlur kernel_size must be a positive odd integer, got {kernel_size}")
        self.kernel_size, self.sigma = kernel_size, tuple(sigma)

    def apply(self, x, generator):
        n, c, h, w = x.shape
        sig = _uniform(n, *self.sigma, generator).to(x.device, x.dtype)
        half = self.kernel_size // 2
        t = torch.arange(-half, half + 1, device=x.device, dtype=x.dtype)
        k = torch.exp(-(t[None] ** 2) / (2 * sig[:, None] ** 2))
        k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N*C, K): one kernel per image
        y = F.pad(x.reshape(1, n * c, h, w), (half, half, half, half), mode="reflect" if min(h, w) > half else "replicate")
        y = F.conv2d(y, k.view(n * c, 1, 1, -1), groups=n * c)
        y = F.conv2d(y, k.view(n * c, 1, -1, 1), groups=n * c)
        return y.view(n, c, h, w)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}, p={self.p}"


class MultiView(nn.Module):
    """Several independently augmented views of one batch: ``views(x) -> [v_1, ..., v_m]``.

    ``pipelines`` is a list of transforms, one per view (multi-crop: e.g. two 32-pixel and four
    16-pixel crops); ``n_views`` repeats a single pipeline. Each view draws its own randomness from
    the same generator, so a seed fixes all of them.
    """

    def __init__(self, pipelines: nn.Module | Sequence[nn.Module], n_views: int = 2, seed: int | None = None):
        super().__init__()
        if isinstance(pipelines, nn.Module):
            pipelines = [pipelines] * n_views
        if len(pipelines) < 1:
            raise ConfigError("MultiView needs at least one pipeline")
        self.pipelines = nn.ModuleList(pipelines)
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> list[Tensor]:
        g = generator or self.generator
        return [p(x, generator=g) if isinstance(p, (Compose, RandomTransform)) else p(x) for p in self.pipelines]


def ssl_pipeline(size: int, *, scale: tuple[float, float] = (0.08, 1.0), jitter: float = 0.4, jitter_p: float = 0.8,
                 grey_p: float = 0.2, blur_p: float = 0.0, flip_p: float = 0.5, hue: float = 0.1,
                 normalize: Normalize | None = None) -> Compose:
    """SimCLR's augmentation (Chen et al. 2020, CIFAR setting by default: no blur): random resized crop,
    horizontal flip, colour jitter (brightness, contrast, saturation ``jitter``, hue ``hue``) with
    probability ``jitter_p``, grey with ``grey_p``, Gaussian blur with ``blur_p``, then ``normalize``."""
    ops: list[nn.Module] = [RandomResizedCrop(size, scale=scale), RandomHorizontalFlip(flip_p)]
    if jitter > 0 and jitter_p > 0:
        ops.append(ColorJitter(jitter, jitter, jitter, hue, p=jitter_p))
    if grey_p > 0:
        ops.append(RandomGrayscale(grey_p))
    if blur_p > 0:
        ops.append(GaussianBlur(max(3, (size // 10) | 1), p=blur_p))
    if normalize is not None:
        ops.append(normalize)
    return Compose(ops)


def multi_crop(size: int, small: int, n_large: int = 2, n_small: int = 4, *, large_scale=(0.14, 1.0),
               small_scale=(0.05, 0.14), normalize: Normalize | None = None, **kw) -> MultiView:
    """SwAV's multi-crop (Caron et al. 2020): ``n_large`` views at ``size`` and ``n_small`` at ``small``."""
    big = [ssl_pipeline(size, scale=large_scale, normalize=normalize, **kw) for _ in range(n_large)]
    little = [ssl_pipeline(small, scale=small_scale, normalize=normalize, **kw) for _ in range(n_small)]
    return MultiView(big + little)


# --------------------------------------------------------------------------------------------
# composition
# --------------------------------------------------------------------------------------------


class Compose(nn.Module):
    """Apply transforms in order: ``pipeline(x)`` or, with mixing transforms, ``pipeline(x, y)``
    returning ``(x, y)``. With ``seed`` the pipeline owns a generator, so two pipelines built with
    the same seed produce the same augmentations batch after batch."""

    def __init__(self, transforms: Sequence[nn.Module], seed: int | None = None):
        super().__init__()
        self.transforms = nn.ModuleList(transforms)
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None

    def forward(self, x: Tensor, y: Tensor | None = None, generator: torch.Generator | None = None):
        g = generator or self.generator
        for t in self.transforms:
            if getattr(t, "mixes_targets", False):
                if y is None:
                    raise ConfigError(f"{type(t).__name__} mixes targets: call the pipeline as pipeline(x, y)")
                x, y = t(x, y, generator=g)
            elif isinstance(t, (RandomTransform, RandAugment)):
                x = t(x, generator=g)
            else:
                x = t(x)
        return x if y is None else (x, y)


__all__ = [
    "GaussianBlur", "MultiView", "RandomGrayscale", "RandomResizedCrop", "multi_crop", "ssl_pipeline",
    "ColorJitter", "Compose", "CutMix", "Cutout", "Mixup", "Normalize", "RandAugment", "RandomCrop",
    "RandomErasing", "RandomHorizontalFlip", "RandomRotation", "RandomTransform", "RandomVerticalFlip",
    "adjust_brightness", "adjust_contrast", "adjust_hue", "adjust_saturation", "adjust_sharpness",
    "RANDAUGMENT_OPS", "affine_theta", "autocontrast", "box_mask", "crop", "equalize", "erase", "hflip", "hsv_to_rgb", "mix", "posterize",
    "resample", "rgb_to_grayscale", "rgb_to_hsv", "rotate", "rotation_map", "shear", "shear_map", "solarize",
    "translate", "translation_map", "vflip", "warp",
]
