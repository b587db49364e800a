r"""Convolution as tensor algebra (book §4.1–§4.4): the readable reference paths.

Every function here is written with ``Tensor.unfold`` (im2col: a strided *view* of the sliding
windows) followed by one ``einsum`` contraction, so the code reads like the book's equations.
The training layers call the fused kernels (``torch.nn.functional.conv*``); tests prove that the
two agree in value and gradient over a property-based grid of configurations.

Conventions (book §4, "convolution = cross-correlation", no kernel flip, window anchored top-left)::

    O[n, f, i, j] = b[f] + Σ_c Σ_m Σ_n' I[n, g(f)·C/G + c, i·s + m·d, j·s + n'·d] · K[f, c, m, n']

with input ``(N, C, H, W)``, weight ``(F, C/G, kH, kW)`` (PyTorch layout; see
:func:`kernel_hwcf_to_fchw` for the book's TF layout ``(kH, kW, C, F)``), stride ``s``, dilation
``d`` and ``G`` groups (``G = C`` is a depthwise convolution).

Output size (book line 5107, generalised to dilation)::

    H_o = ⌊(H + p_before + p_after − d·(k − 1) − 1) / s⌋ + 1
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError, ShapeError

IntOrSeq = int | Sequence[int]
Padding = int | Sequence[int] | str

__all__ = [
    "as_tuple",
    "resolve_padding",
    "conv_output_size",
    "conv_transpose_output_size",
    "conv_output_shape",
    "extract_patches",
    "convnd_reference",
    "conv1d_reference",
    "conv2d_reference",
    "conv3d_reference",
    "zero_insert",
    "conv_transpose_nd_reference",
    "conv_transpose2d_scatter",
    "conv_macs",
    "depthwise_separable_cost_ratio",
    "nhwc_to_nchw",
    "nchw_to_nhwc",
    "kernel_hwcf_to_fchw",
    "dense_weight_nhwc_to_nchw",
]


def as_tuple(value: IntOrSeq, n: int, name: str = "value") -> tuple[int, ...]:
    """Broadcast an int to an ``n``-tuple, or check that a sequence has ``n`` entries."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    if len(value) != n:
        raise ConfigError(f"{name} has {len(value)} entries {value}, expected {n} (one per spatial dim) or a single int")
    return value


def resolve_padding(
    padding: Padding,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    dilation: Sequence[int],
    in_size: Sequence[int] | None = None,
) -> tuple[tuple[int, int], ...]:
    """Turn a padding spec into explicit ``(before, after)`` zero-padding per spatial dim.

    * ``int`` / tuple: symmetric explicit padding (PyTorch convention).
    * ``"valid"``: no padding (book line 5116).
    * ``"same"``: the TensorFlow rule, output size ``⌈H / s⌉``; the total padding
      ``max((⌈H/s⌉ − 1)·s + d(k−1) + 1 − H, 0)`` is split with the extra pixel *after* (bottom/right).
      For stride 1 this equals PyTorch's ``padding="same"`` and keeps ``H_o = H`` (book line 5117).
      With stride > 1 it needs ``in_size``.
    """
    n = len(kernel_size)
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return ((0, 0),) * n
        if mode != "same":
            raise ConfigError(f"padding={padding!r} is not understood; expected 'valid', 'same', an int or a tuple of ints")
        pads = []
        for i in range(n):
            k_eff = dilation[i] * (kernel_size[i] - 1) + 1
            if stride[i] == 1:
                total = k_eff - 1
            else:
                if in_size is None:
                    raise ConfigError("padding='same' with stride > 1 depends on the input size; pass in_size")
                out = math.ceil(in_size[i] / stride[i])
                total = max((out - 1) * stride[i] + k_eff - in_size[i], 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    p = as_tuple(padding, n, "padding")
    if any(v < 0 for v in p):
        raise ConfigError(f"padding must be non-negative, got {p}")
    return tuple((v, v) for v in p)


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int | tuple[int, int] = 0, dilation: int = 1
) -> int:
    """``⌊(H + p_b + p_a − d(k−1) − 1)/s⌋ + 1`` for one spatial dim (``padding`` may be ``(before, after)``)."""
    pb, pa = (padding, padding) if isinstance(padding, int) else padding
    out = (size + pb + pa - dilation * (kernel_size - 1) - 1) // stride + 1
    if out < 1:
        raise ShapeError(
            f"input size {size} is too small for kernel {kernel_size} (dilation {dilation}, padding {padding}): "
            f"the output would have size {out}; use a larger input, more padding or a smaller kernel"
        )
    return out


def conv_transpose_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1, output_padding: int = 0
) -> int:
    """Transposed-conv output size ``(H − 1)s − 2p + d(k − 1) + output_padding + 1``.

    With ``p = 0`` this is the full (uncropped) size ``(H−1)s + k`` of the book's Exercise 7; ``padding``
    crops ``p`` pixels from each border and ``output_padding`` adds back pixels at the end (to
    disambiguate the sizes a strided convolution maps to the same output).
    """
    if output_padding >= max(stride, dilation):
        raise ConfigError(f"output_padding={output_padding} must be smaller than stride ({stride}) or dilation ({dilation})")
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


def conv_output_shape(
    input_shape: Sequence[int],
    out_channels: int,
    kernel_size: IntOrSeq,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    dilation: IntOrSeq = 1,
    *,
    transposed: bool = False,
    output_padding: IntOrSeq = 0,
) -> tuple[int, ...]:
    """Output shape ``(N, F, *spatial)`` of a (transposed) convolution on ``input_shape = (N, C, *spatial)``.

    Example (book Exercise 2): 32 filters of 3×3 on a 28×28×3 image give 26×26×32 ('valid') and
    28×28×32 ('same')::

        >>> conv_output_shape((1, 3, 28, 28), 32, 3, padding="valid")
        (1, 32, 26, 26)
        >>> conv_output_shape((1, 3, 28, 28), 32, 3, padding="same")
        (1, 32, 28, 28)
    """
    n = len(input_shape) - 2
    if n < 1:
        raise ShapeError(f"input_shape {tuple(input_shape)} needs a batch, a channel and ≥1 spatial dim: (N, C, *spatial)")
    spatial = tuple(input_shape[2:])
    k, s, d = as_tuple(kernel_size, n, "kernel_size"), as_tuple(stride, n, "stride"), as_tuple(dilation, n, "dilation")
    if transposed:
        if isinstance(padding, str):
            raise ConfigError("transposed convolutions take explicit integer padding (the crop), not a string")
        p, op = as_tuple(padding, n, "padding"), as_tuple(output_padding, n, "output_padding")
        out = [conv_transpose_output_size(spatial[i], k[i], s[i], p[i], d[i], op[i]) for i in range(n)]
    else:
        pads = resolve_padding(padding, k, s, d, spatial)
        out = [conv_output_size(spatial[i], k[i], s[i], pads[i], d[i]) for i in range(n)]
    return (input_shape[0], out_channels, *out)


def _pad_spatial(x: Tensor, pads: Sequence[tuple[int, int]], value: float = 0.0) -> Tensor:
    flat = [v for before_after in reversed(pads) for v in before_after]  # F.pad wants last dim first
    return F.pad(x, flat, value=value) if any(flat) else x


def extract_patches(
    x: Tensor, kernel_size: Sequence[int], stride: Sequence[int], dilation: Sequence[int]
) -> Tensor:
    """im2col as a view: ``(N, C, *S) → (N, C, *O, *k)`` with ``P[..., o, m] = x[..., o·s + m·d]``.

    Each spatial dim is unfolded into windows of the *effective* size ``d(k−1)+1`` with step ``s``,
    and every ``d``-th tap is kept (dilation). No data is copied until the contraction.
    """
    n = len(kernel_size)
    for i in range(n):
        k_eff = dilation[i] * (kernel_size[i] - 1) + 1
        x = x.unfold(2 + i, k_eff, stride[i])  # appends the window dim at the end
        if dilation[i] > 1:
            x = x[..., :: dilation[i]]
    # after the loop the shape is (N, C, O_1..O_n, k_1..k_n)
    return x


def _check_conv_inputs(x: Tensor, weight: Tensor, n: int, groups: int) -> None:
    if x.dim() != n + 2:
        raise ShapeError(f"conv{n}d expects input (N, C, {', '.join('S' + str(i) for i in range(n))}), got shape {tuple(x.shape)}")
    if weight.dim() != n + 2:
        raise ShapeError(f"conv{n}d expects weight (F, C/groups, *k) with {n + 2} dims, got {tuple(weight.shape)}")
    c, f = x.shape[1], weight.shape[0]
    if c % groups or f % groups:
        raise ConfigError(f"groups={groups} must divide in_channels={c} and out_channels={f}")
    if weight.shape[1] * groups != c:
        raise ShapeError(
            f"weight has {weight.shape[1]} input channels per group but the input has {c} channels "
            f"and groups={groups} (expected {c // groups}); is the input channels-last (N, H, W, C)?"
        )


def convnd_reference(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrSeq = 1,
    padding: Padding = 0,
    dilation: IntOrSeq = 1,
    groups: int = 1,
) -> Tensor:
    r"""N-d cross-correlation by im2col + one einsum (book eqs. C1–C9).

    Shapes: ``x`` ``(N, C, *S)``, ``weight`` ``(F, C/G, *k)``, ``bias`` ``(F,)`` → ``(N, F, *O)``.

    .. math:: O[n,g,f,\mathbf o] = b[g,f] + \sum_{c,\mathbf m} P[n,g,c,\mathbf o,\mathbf m]\,K[g,f,c,\mathbf m]

    where ``P`` are the (dilated, strided) patches of :func:`extract_patches` and channels are
    split into ``G`` groups.
    """
    n = x.dim() - 2
    _check_conv_inputs(x, weight, n, groups)
    k = tuple(weight.shape[2:])
    s, d = as_tuple(stride, n, "stride"), as_tuple(dilation, n, "dilation")
    x = _pad_spatial(x, resolve_padding(padding, k, s, d, tuple(x.shape[2:])))
    patches = extract_patches(x, k, s, d)  # (N, C, *O, *k)
    N, C = patches.shape[:2]
    out_sp = patches.shape[2 : 2 + n]
    patches = patches.reshape(N, groups, C // groups, *out_sp, *k)
    w = weight.reshape(groups, weight.shape[0] // groups, *weight.shape[1:])  # (G, F/G, C/G, *k)
    o_idx, k_idx = "ijk"[:n], "uvw"[:n]  # output and kernel positions (n ≤ 3)
    out = torch.einsum(f"zgc{o_idx}{k_idx},gfc{k_idx}->zgf{o_idx}", patches, w)
    out = out.reshape(N, weight.shape[0], *out_sp)
    if bias is not None:
        out = out + bias.view(1, -1, *([1] * n))
    return out


def conv1d_reference(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrSeq = 1,
                     padding: Padding = 0, dilation: IntOrSeq = 1, groups: int = 1) -> Tensor:
    """1-D convolution ``(N, C, L) → (N, F, L_o)``; see :func:`convnd_reference`."""
    _expect_dims(x, 3, "conv1d", "(N, C, L)")
    return convnd_reference(x, weight, bias, stride, padding, dilation, groups)


def conv2d_reference(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrSeq = 1,
                     padding: Padding = 0, dilation: IntOrSeq = 1, groups: int = 1) -> Tensor:
    """2-D convolution ``(N, C, H, W) → (N, F, H_o, W_o)`` (book eq. 5420); see :func:`convnd_reference`."""
    _expect_dims(x, 4, "conv2d", "(N, C, H, W)")
    return convnd_reference(x, weight, bias, stride, padding, dilation, groups)


def conv3d_reference(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntOrSeq = 1,
                     padding: Padding = 0, dilation: IntOrSeq = 1, groups: int = 1) -> Tensor:
    """3-D convolution ``(N, C, D, H, W) → (N, F, D_o, H_o, W_o)`` (book eq. 5178, video / volumes)."""
    _expect_dims(x, 5, "conv3d", "(N, C, D, H, W)")
    return convnd_reference(x, weight, bias, stride, padding, dilation, groups)


def _expect_dims(x: Tensor, dims: int, op: str, layout: str) -> None:
    if x.dim() != dims:
        raise ShapeError(f"{op} expects a {dims}-d input {layout}, got shape {tuple(x.shape)}")


def zero_insert(x: Tensor, stride: Sequence[int]) -> Tensor:
    """Insert ``s − 1`` zeros between neighbouring pixels of every spatial dim (book line 5164).

    ``(N, C, *S) → (N, C, *((S − 1)·s + 1))``; e.g. ``[[a, b], [c, d]]`` with stride 2 becomes
    ``[[a, 0, b], [0, 0, 0], [c, 0, d]]``.
    """
    n = x.dim() - 2
    if all(v == 1 for v in stride):
        return x
    out_sp = [(x.shape[2 + i] - 1) * stride[i] + 1 for i in range(n)]
    out = x.new_zeros(*x.shape[:2], *out_sp)
    index = (slice(None), slice(None), *(slice(None, None, s) for s in stride))
    out[index] = x
    return out


def conv_transpose_nd_reference(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: IntOrSeq = 1,
    padding: IntOrSeq = 0,
    output_padding: IntOrSeq = 0,
    groups: int = 1,
    dilation: IntOrSeq = 1,
) -> Tensor:
    r"""Transposed convolution ("deconvolution", book §4.2.1 C7) as zero-insertion + convolution.

    Shapes: ``x`` ``(N, C, *S)``, ``weight`` ``(C, F/G, *k)`` (PyTorch layout), ``bias`` ``(F,)``.

    The book's definition (line 5154) is the *scatter* form
    :math:`Y[\mathbf i s + \mathbf m d] \mathrel{+}= X[\mathbf i]\,K[\mathbf m]`; it equals a
    convolution of the zero-inserted input (:func:`zero_insert`), padded by ``d(k−1) − p`` on each
    side (plus ``output_padding`` at the end), with the spatially *flipped* kernel whose in/out
    channel axes are swapped. ``padding`` therefore *crops* ``p`` pixels from each border of the
    full ``(H−1)s + d(k−1) + 1`` output.
    """
    n = x.dim() - 2
    k = tuple(weight.shape[2:])
    s, d = as_tuple(stride, n, "stride"), as_tuple(dilation, n, "dilation")
    p, op = as_tuple(padding, n, "padding"), as_tuple(output_padding, n, "output_padding")
    C = x.shape[1]
    if weight.shape[0] != C or C % groups:
        raise ShapeError(
            f"transposed-conv weight must be (in_channels={C}, out_channels/groups, *k) with groups dividing "
            f"in_channels, got weight {tuple(weight.shape)} and groups={groups}"
        )
    for i in range(n):  # validates output_padding < max(stride, dilation)
        conv_transpose_output_size(x.shape[2 + i], k[i], s[i], p[i], d[i], op[i])
    f_per_g = weight.shape[1]
    # (C, F/G, *k) -> (G, C/G, F/G, *k) -> (G, F/G, C/G, *k) -> (F, C/G, *k), flipped spatially
    w = weight.reshape(groups, C // groups, f_per_g, *k).transpose(1, 2).reshape(groups * f_per_g, C // groups, *k)
    w = w.flip(dims=tuple(range(2, 2 + n)))
    up = zero_insert(x, s)
    full = [d[i] * (k[i] - 1) for i in range(n)]
    pads = [(full[i] - p[i], full[i] - p[i] + op[i]) for i in range(n)]
    # negative padding (p > d(k-1)) means cropping: pad with what is non-negative, then slice
    up = _pad_spatial(up, [(max(a, 0), max(b, 0)) for a, b in pads])
    crop = (slice(None), slice(None), *(slice(max(-a, 0), up.shape[2 + i] - max(-b, 0)) for i, (a, b) in enumerate(pads)))
    return convnd_reference(up[crop], w, bias, 1, 0, d, groups)


def conv_transpose2d_scatter(x: Tensor, weight: Tensor, stride: int = 1) -> Tensor:
    r"""The book's scatter definition of a 2-D transposed convolution, uncropped, single group.

    :math:`Y[n, f, i s + m, j s + q] \mathrel{+}= \sum_c X[n, c, i, j]\,K[c, f, m, q]`, computed as one
    einsum (the column tensor) followed by ``F.fold`` (col2im, which sums overlapping taps).
    Output ``(N, F, (H−1)s + kH, (W−1)s + kW)``. Used to pin the corrected worked example (book
    lines 5154–5170) and as a second reference for :func:`conv_transpose_nd_reference`.
    """
    N, C, H, W = x.shape
    _, Fo, kh, kw = weight.shape
    cols = torch.einsum("ncij,cfmq->nfmqij", x, weight).reshape(N, Fo * kh * kw, H * W)
    out_size = ((H - 1) * stride + kh, (W - 1) * stride + kw)
    return F.fold(cols, out_size, (kh, kw), stride=stride)


def conv_macs(
    out_hw: tuple[int, int], in_channels: int, out_channels: int, kernel_size: int, depthwise_separable: bool = False
) -> int:
    """Multiply-adds of a 2-D convolution (book lines 6766–6778).

    Standard: ``D_std = H·W·C·N·k²``. Depthwise-separable: ``D_dw + D_pw = H·W·C·k² + H·W·C·N``
    (``H, W`` are the *output* size; the book assumes stride 1 and 'same' padding).
    """
    h, w = out_hw
    if depthwise_separable:
        return h * w * in_channels * kernel_size**2 + h * w * in_channels * out_channels
    return h * w * in_channels * out_channels * kernel_size**2


def depthwise_separable_cost_ratio(out_channels: int, kernel_size: int) -> float:
    """``D_total / D_std = 1/N + 1/k²`` (e.g. 0.1267 for k=3, N=64): the saving grows with ``k``."""
    return 1.0 / out_channels + 1.0 / kernel_size**2


def nhwc_to_nchw(x: Tensor) -> Tensor:
    """``(N, H, W, C) → (N, C, H, W)`` (TF/Keras layout to PyTorch layout), as a view."""
    _expect_dims(x, 4, "nhwc_to_nchw", "(N, H, W, C)")
    return x.permute(0, 3, 1, 2)


def nchw_to_nhwc(x: Tensor) -> Tensor:
    """``(N, C, H, W) → (N, H, W, C)``, as a view."""
    _expect_dims(x, 4, "nchw_to_nhwc", "(N, C, H, W)")
    return x.permute(0, 2, 3, 1)


def dense_weight_nhwc_to_nchw(weight: Tensor, channels: int, height: int, width: int) -> Tensor:
    """Reorder the input axis of a dense layer that follows a *channels-last* flatten (Keras, book D2:
    ``f(i) = T(⌊i/WC⌋, ⌊(i mod WC)/C⌋, i mod C)``) so that it follows PyTorch's ``(C, H, W)`` flatten.

    ``weight`` ``(out, H·W·C)`` → ``(out, C·H·W)``; the layer then gives the same outputs on NCHW inputs.
    """
    out = weight.shape[0]
    if weight.shape[1] != channels * height * width:
        raise ShapeError(f"weight has {weight.shape[1]} inputs, expected H·W·C = {height}·{width}·{channels}")
    return weight.view(out, height, width, channels).permute(0, 3, 1, 2).reshape(out, -1)


def kernel_hwcf_to_fchw(k: Tensor) -> Tensor:
    """The book's TF kernel layout ``(kH, kW, C, F)`` (line 5229) → PyTorch ``(F, C, kH, kW)``."""
    _expect_dims(k, 4, "kernel_hwcf_to_fchw", "(kH, kW, C, F)")
    return k.permute(3, 2, 0, 1)
