"""Factorised Linear and Conv2d layers: CP, Tucker and tensor-train weights (§2.2.3 applied).

Each layer stores the factors of its weight instead of the dense weight and computes the output by
contracting the input with the factors one at a time, so both parameters and FLOPs shrink.
``full_weight()`` rebuilds the dense weight with :mod:`tensorprism.tensor` (the reference path);
tests prove ``layer(x) == F.linear(x, layer.full_weight(), layer.bias)`` (and likewise for conv).

Linear layers see the weight ``W (out, in)`` as a tensor ``(o_1..o_d, i_1..i_d)`` when ``in_shape``
/ ``out_shape`` factor the feature sizes (Novikov et al. 2015); with the default 1-D shapes the CP
and Tucker layers are low-rank matrices :math:`W\\approx U\\,G\\,V^T`.

Conv layers decompose the kernel ``W (F, C, kH, kW)``:

* :class:`CPConv2d` (Lebedev et al. 2015): :math:`W_{fcpq}=\\sum_r F_{fr}C_{cr}H_{pr}V_{qr}` ->
  1x1 conv ``C->R``, depthwise ``kHx1``, depthwise ``1xkW``, 1x1 conv ``R->F``;
* :class:`TuckerConv2d` (Tucker-2, Kim et al. 2016): :math:`W=\\mathcal G\\times_1U_F\\times_2U_C` ->
  1x1 conv ``C->R_in``, ``kHxkW`` conv ``R_in->R_out``, 1x1 conv ``R_out->F``;
* :class:`TTConv2d`: a tensor train over the modes ``(C, kH, kW, F)`` -> 1x1 conv, ``kHx1`` conv,
  ``1xkW`` conv, 1x1 conv.

Zero padding commutes with the 1x1 maps, so splitting padding/stride/dilation between the
vertical and horizontal convolutions is exact.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ShapeError
from ..tensor.algebra import multi_mode_dot
from ..tensor.decompositions import CPTensor, TTTensor, TuckerTensor, cp_als, tt_svd, tucker_hooi

__all__ = [
    "CPLinear", "TuckerLinear", "TTLinear", "CPConv2d", "TuckerConv2d", "TTConv2d",
    "balanced_factors",
]


def balanced_factors(n: int, d: int = 2) -> tuple[int, ...]:
    """Split ``n`` into ``d`` integer factors as equal as possible (e.g. 784 -> (28, 28), 10 -> (2, 5))."""
    if d == 1:
        return (n,)
    best = None
    for f in range(1, int(round(n ** (1 / d))) + 2):
        if n % f == 0:
            rest = balanced_factors(n // f, d - 1)
            cand = tuple(sorted((f, *rest)))
            if best is None or max(cand) < max(best):
                best = cand
    return best


def _gaussian_init_(params: Sequence[torch.Tensor], n_terms: int, fan_in: int) -> None:
    """Draw factors so that the rebuilt weight has PyTorch's default variance ``1 / (3 fan_in)``.

    A rebuilt entry is a sum of ``n_terms`` products of ``len(params)`` independent factors, so
    each factor gets standard deviation ``(1 / (3 fan_in n_terms)) ** (1 / (2 len(params)))``.
    """
    std = (1.0 / (3 * fan_in * n_terms)) ** (1.0 / (2 * len(params)))
    for p in params:
        nn.init.normal_(p, 0.0, std)


def _reset_bias(bias: torch.Tensor | None, fan_in: int) -> None:
    if bias is not None:
        bound = 1 / math.sqrt(fan_in)
        nn.init.uniform_(bias, -bound, bound)


def _copy(dst: nn.Parameter, src: torch.Tensor) -> None:
    with torch.no_grad():
        dst.copy_(src.reshape(dst.shape))


# ----------------------------------------------------------------------------------------------
# Linear


class _FactorizedLinear(nn.Module, abc.ABC):
    """Shared plumbing: feature shapes, bias, ``full_weight`` -> ``(out, in)``, repr."""

    def __init__(self, in_features: int, out_features: int, in_shape, out_shape, bias: bool):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.in_shape = tuple(in_shape) if in_shape is not None else (in_features,)
        self.out_shape = tuple(out_shape) if out_shape is not None else (out_features,)
        if math.prod(self.in_shape) != in_features or math.prod(self.out_shape) != out_features:
            raise ShapeError(
                f"in_shape {self.in_shape} / out_shape {self.out_shape} must multiply to in_features="
                f"{in_features} / out_features={out_features}"
            )
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None

    @abc.abstractmethod
    def weight_tensor(self) -> torch.Tensor:
        """The weight as a tensor ``(o_1..o_d, i_1..i_e)`` (reference reconstruction)."""

    def full_weight(self) -> torch.Tensor:
        """Dense ``(out_features, in_features)`` weight rebuilt from the factors."""
        return self.weight_tensor().reshape(self.out_features, self.in_features)

    def _finish(self, y: torch.Tensor, lead: torch.Size) -> torch.Tensor:
        y = y.reshape(*lead, self.out_features)
        return y if self.bias is None else y + self.bias

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ShapeError(f"{type(self).__name__} expects (..., {self.in_features}) inputs, got {tuple(x.shape)}")
        return x.reshape(-1, *self.in_shape)

    def extra_repr(self) -> str:
        shapes = "" if len(self.in_shape) == 1 and len(self.out_shape) == 1 else (
            f", in_shape={self.in_shape}, out_shape={self.out_shape}")
        return (f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}"
                f"{shapes}, bias={self.bias is not None}")

    @classmethod
    def _tensorised(cls, linear: nn.Linear, in_shape, out_shape) -> torch.Tensor:
        in_shape = tuple(in_shape) if in_shape is not None else (linear.in_features,)
        out_shape = tuple(out_shape) if out_shape is not None else (linear.out_features,)
        return linear.weight.detach().reshape(*out_shape, *in_shape)

    def _load_bias(self, linear: nn.Linear) -> None:
        if self.bias is not None and linear.bias is not None:
            _copy(self.bias, linear.bias.detach())
        elif self.bias is not None:
            nn.init.zeros_(self.bias)


class CPLinear(_FactorizedLinear):
    """:math:`y = xW^T + b` with a rank-``R`` CP weight
    :math:`W_{(o_1..o_d),(i_1..i_e)}=\\sum_r\\prod_k A^{(k)}_{o_kr}\\prod_l B^{(l)}_{i_lr}`.

    Shapes: input ``(..., in_features)`` -> output ``(..., out_features)``. Parameters
    :math:`R(\\sum o_k+\\sum i_l)`; cost per sample :math:`O(R(\\mathrm{in}+\\mathrm{out}))` for 1-D
    shapes.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, in_shape=None, out_shape=None,
                 bias: bool = True):
        super().__init__(in_features, out_features, in_shape, out_shape, bias)
        self.rank = rank
        self.out_factors = nn.ParameterList([nn.Parameter(torch.empty(o, rank)) for o in self.out_shape])
        self.in_factors = nn.ParameterList([nn.Parameter(torch.empty(i, rank)) for i in self.in_shape])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _gaussian_init_([*self.out_factors, *self.in_factors], self.rank, self.in_features)
        _reset_bias(self.bias, self.in_features)

    def weight_tensor(self) -> torch.Tensor:
        factors = [*self.out_factors, *self.in_factors]
        return CPTensor(torch.ones_like(factors[0][0]), factors).to_tensor()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        t = torch.einsum("na...,ar->n...r", self._check(x), self.in_factors[0])  # (N, i_2..i_e, R)
        for b in self.in_factors[1:]:
            t = torch.einsum("na...r,ar->n...r", t, b)
        z = t  # (N, R)
        for a in self.out_factors[:-1]:
            z = z.unsqueeze(-2) * a  # (N, o_1..o_k, R)
        return self._finish(z @ self.out_factors[-1].T, lead)

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int, in_shape=None, out_shape=None, **cp_kwargs) -> CPLinear:
        """Decompose a trained layer's weight with :func:`~tensorprism.tensor.cp_als`."""
        w = cls._tensorised(linear, in_shape, out_shape)
        layer = cls(linear.in_features, linear.out_features, rank, in_shape, out_shape,
                    bias=linear.bias is not None).to(w)
        cp = cp_als(w, rank, **cp_kwargs)
        factors = list(cp.factors)
        factors[0] = factors[0] * cp.weights
        for p, f in zip([*layer.out_factors, *layer.in_factors], factors, strict=True):
            _copy(p, f)
        layer._load_bias(linear)
        return layer


class TuckerLinear(_FactorizedLinear):
    """:math:`y = xW^T + b` with a Tucker weight
    :math:`W=\\mathcal G\\times_1U^{(1)}\\cdots\\times_{d+e}U^{(d+e)}` over ``(o_1..o_d, i_1..i_e)``.

    ``rank`` is an int (every mode, capped at the mode size) or one rank per mode. The forward pass
    projects the input on the input factors, applies the core as a small matrix and expands with
    the output factors: :math:`y = U_o\\,G\\,U_i^T x` for 1-D shapes.
    """

    def __init__(self, in_features: int, out_features: int, rank, in_shape=None, out_shape=None,
                 bias: bool = True):
        super().__init__(in_features, out_features, in_shape, out_shape, bias)
        sizes = (*self.out_shape, *self.in_shape)
        ranks = [min(rank, s) for s in sizes] if isinstance(rank, int) else list(rank)
        if len(ranks) != len(sizes):
            raise ShapeError(f"TuckerLinear: {len(ranks)} ranks given for {len(sizes)} modes {sizes}")
        self.rank = tuple(ranks)
        self.core = nn.Parameter(torch.empty(*ranks))
        self.factors = nn.ParameterList([nn.Parameter(torch.empty(s, r)) for s, r in zip(sizes, ranks, strict=True)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        n_terms = math.prod(self.rank)
        _gaussian_init_([self.core, *self.factors], n_terms, self.in_features)
        _reset_bias(self.bias, self.in_features)

    def weight_tensor(self) -> torch.Tensor:
        return TuckerTensor(self.core, list(self.factors)).to_tensor()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        d = len(self.out_shape)
        t = self._check(x)
        t = multi_mode_dot(t, self.factors[d:], transpose=True, batch_dims=1)  # (N, r_i...)
        r_out = math.prod(self.rank[:d])
        core = self.core.reshape(r_out, -1)
        z = (t.reshape(t.shape[0], -1) @ core.T).reshape(-1, *self.rank[:d])  # (N, r_o...)
        y = multi_mode_dot(z, self.factors[:d], batch_dims=1)  # (N, o...)
        return self._finish(y, lead)

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank, in_shape=None, out_shape=None, **hooi_kwargs) -> TuckerLinear:
        """Decompose a trained layer's weight with :func:`~tensorprism.tensor.tucker_hooi`."""
        w = cls._tensorised(linear, in_shape, out_shape)
        layer = cls(linear.in_features, linear.out_features, rank, in_shape, out_shape,
                    bias=linear.bias is not None).to(w)
        tk = tucker_hooi(w, layer.rank, **hooi_kwargs)
        _copy(layer.core, tk.core)
        for p, f in zip(layer.factors, tk.factors, strict=True):
            _copy(p, f)
        layer._load_bias(linear)
        return layer


class TTLinear(_FactorizedLinear):
    """:math:`y = xW^T + b` with a TT-matrix weight (Novikov et al. 2015):

    .. math:: W_{(o_1..o_d),(i_1..i_d)} = G^{[1]}_{o_1i_1}G^{[2]}_{o_2i_2}\\cdots G^{[d]}_{o_di_d},
              \\quad G^{[k]}\\in\\mathbb R^{r_{k-1}\\times o_k\\times i_k\\times r_k}.

    ``in_shape``/``out_shape`` default to the most balanced 2-factor splits (784 -> 28x28).
    ``rank``: an int (capped where the train cannot use it) or the ``d-1`` inner ranks.
    """

    def __init__(self, in_features: int, out_features: int, rank, in_shape=None, out_shape=None,
                 bias: bool = True):
        in_shape = in_shape if in_shape is not None else balanced_factors(in_features)
        d = len(in_shape)
        out_shape = out_shape if out_shape is not None else balanced_factors(out_features, d)
        super().__init__(in_features, out_features, in_shape, out_shape, bias)
        if len(self.out_shape) != d:
            raise ShapeError(f"TTLinear needs as many output as input factors, got {self.out_shape} and {self.in_shape}")
        modes = [o * i for o, i in zip(self.out_shape, self.in_shape, strict=True)]
        inner = [rank] * (d - 1) if isinstance(rank, int) else list(rank)
        if len(inner) != d - 1:
            raise ShapeError(f"TTLinear: expected {d - 1} inner ranks, got {inner}")
        # a TT rank cannot exceed the size of either side of its cut
        ranks = [1] + [min(r, math.prod(modes[: k + 1]), math.prod(modes[k + 1:])) for k, r in enumerate(inner)] + [1]
        self.rank = tuple(ranks)
        self.cores = nn.ParameterList([
            nn.Parameter(torch.empty(ranks[k], o, i, ranks[k + 1]))
            for k, (o, i) in enumerate(zip(self.out_shape, self.in_shape, strict=True))
        ])
        equation = "n" + "".join(_LETTERS[2 * k] for k in range(d))  # input indices i_k
        outs = "n" + "".join(_LETTERS[2 * k + 1] for k in range(d))  # output indices o_k
        ops = [f"{_RANKS[k]}{_LETTERS[2 * k + 1]}{_LETTERS[2 * k]}{_RANKS[k + 1]}" for k in range(d)]
        self._equation = f"{equation},{','.join(ops)}->{outs}"
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _gaussian_init_(list(self.cores), math.prod(self.rank), self.in_features)
        _reset_bias(self.bias, self.in_features)

    def weight_tensor(self) -> torch.Tensor:
        d = len(self.cores)
        merged = [c.reshape(c.shape[0], -1, c.shape[-1]) for c in self.cores]  # (r, o_k i_k, r')
        w = TTTensor(merged).to_tensor().reshape(*[s for c in self.cores for s in c.shape[1:3]])
        return w.permute(*range(0, 2 * d, 2), *range(1, 2 * d, 2))  # (o_1..o_d, i_1..i_d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        y = torch.einsum(self._equation, self._check(x), *self.cores)
        return self._finish(y, lead)

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank, in_shape=None, out_shape=None, tol: float | None = None
                    ) -> TTLinear:
        """TT-SVD of the trained weight with interleaved modes ``(o_1 i_1, ..., o_d i_d)``."""
        layer = cls(linear.in_features, linear.out_features, rank, in_shape, out_shape,
                    bias=linear.bias is not None).to(linear.weight)
        d = len(layer.in_shape)
        w = linear.weight.detach().reshape(*layer.out_shape, *layer.in_shape)
        w = w.permute([p for k in range(d) for p in (k, d + k)])
        w = w.reshape([o * i for o, i in zip(layer.out_shape, layer.in_shape, strict=True)])
        tt = tt_svd(w, rank=list(layer.rank), tol=tol)
        if tt.rank != layer.rank:  # tol may have chosen smaller ranks
            layer = cls(linear.in_features, linear.out_features, list(tt.rank[1:-1]), layer.in_shape,
                        layer.out_shape, bias=linear.bias is not None).to(linear.weight)
        for p, core in zip(layer.cores, tt.cores, strict=True):
            _copy(p, core)
        layer._load_bias(linear)
        return layer


_LETTERS = "abcdefghijklmopq"  # input/output mode indices (n is the batch)
_RANKS = "rstuvwxyzABCDEFG"


# ----------------------------------------------------------------------------------------------
# Conv2d


def _pair(v) -> tuple[int, int]:
    if isinstance(v, str):
        raise ShapeError(f"factorised convolutions take integer padding, got {v!r}; use e.g. padding=k // 2")
    return (v, v) if isinstance(v, int) else tuple(v)


class _FactorizedConv2d(nn.Module, abc.ABC):
    """Shared conv hyper-parameters; the kernel acts as a chain of convolutions (see module docs)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation = _pair(padding), _pair(dilation)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None

    @property
    def fan_in(self) -> int:
        return self.in_channels * self.kernel_size[0] * self.kernel_size[1]

    @abc.abstractmethod
    def full_weight(self) -> torch.Tensor:
        """Dense kernel ``(F, C, kH, kW)`` rebuilt from the factors (reference path)."""

    def _separable(self, x: torch.Tensor, first: torch.Tensor, vertical: torch.Tensor, horizontal: torch.Tensor,
                   last: torch.Tensor, groups: int) -> torch.Tensor:
        """1x1 -> (kH x 1) -> (1 x kW) -> 1x1 with padding/stride/dilation split over the two axes."""
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        x = F.conv2d(x, first)
        x = F.conv2d(x, vertical, stride=(sh, 1), padding=(ph, 0), dilation=(dh, 1), groups=groups)
        x = F.conv2d(x, horizontal, stride=(1, sw), padding=(0, pw), dilation=(1, dw), groups=groups)
        return F.conv2d(x, last, self.bias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, rank={self.rank}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, bias={self.bias is not None}")

    @classmethod
    def _like(cls, conv: nn.Conv2d, rank) -> _FactorizedConv2d:
        if conv.groups != 1 or conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ShapeError(
                f"only groups=1, zero-padded convolutions with integer padding can be factorised; got {conv}"
            )
        layer = cls(conv.in_channels, conv.out_channels, conv.kernel_size, rank, conv.stride, conv.padding,
                    conv.dilation, bias=conv.bias is not None).to(conv.weight)
        if layer.bias is not None:
            _copy(layer.bias, conv.bias.detach())
        return layer


class CPConv2d(_FactorizedConv2d):
    """Rank-``R`` CP kernel :math:`W_{fcpq}=\\sum_r U^F_{fr}U^C_{cr}U^H_{pr}U^W_{qr}` (Lebedev et al. 2015).

    Input ``(N, C, H, W)`` -> ``(N, F, H', W')``. Parameters :math:`R(F+C+k_H+k_W)` instead of
    :math:`FCk_Hk_W`; the middle two convolutions are depthwise (``groups=R``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, rank: int, stride=1, padding=0,
                 dilation=1, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
        self.rank = rank
        kh, kw = self.kernel_size
        self.out_factor = nn.Parameter(torch.empty(out_channels, rank))
        self.in_factor = nn.Parameter(torch.empty(in_channels, rank))
        self.height_factor = nn.Parameter(torch.empty(kh, rank))
        self.width_factor = nn.Parameter(torch.empty(kw, rank))
        self.reset_parameters()

    def _factors(self) -> list[torch.Tensor]:
        return [self.out_factor, self.in_factor, self.height_factor, self.width_factor]

    def reset_parameters(self) -> None:
        _gaussian_init_(self._factors(), self.rank, self.fan_in)
        _reset_bias(self.bias, self.fan_in)

    def full_weight(self) -> torch.Tensor:
        return CPTensor(torch.ones_like(self.out_factor[0]), self._factors()).to_tensor()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.rank
        return self._separable(
            x, self.in_factor.T[:, :, None, None], self.height_factor.T[:, None, :, None],
            self.width_factor.T[:, None, None, :], self.out_factor[:, :, None, None], groups=r,
        )

    @classmethod
    def from_conv2d(cls, conv: nn.Conv2d, rank: int, **cp_kwargs) -> CPConv2d:
        """CP-ALS of the trained kernel (weights folded into the output factor)."""
        layer = cls._like(conv, rank)
        cp = cp_als(conv.weight.detach(), rank, **cp_kwargs)
        factors = list(cp.factors)
        factors[0] = factors[0] * cp.weights
        for p, f in zip(layer._factors(), factors, strict=True):
            _copy(p, f)
        return layer


class TuckerConv2d(_FactorizedConv2d):
    """Tucker-2 kernel :math:`W=\\mathcal G\\times_1U^F\\times_2U^C`, core ``(R_out, R_in, kH, kW)`` (Kim et al. 2016).

    ``rank`` is an int (both channel ranks) or ``(R_out, R_in)``; the spatial modes stay full.
    Parameters :math:`FR_{out}+CR_{in}+R_{out}R_{in}k_Hk_W`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, rank, stride=1, padding=0, dilation=1,
                 bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
        r_out, r_in = (rank, rank) if isinstance(rank, int) else tuple(rank)
        r_out, r_in = min(r_out, out_channels), min(r_in, in_channels)
        self.rank = (r_out, r_in)
        self.out_factor = nn.Parameter(torch.empty(out_channels, r_out))
        self.in_factor = nn.Parameter(torch.empty(in_channels, r_in))
        self.core = nn.Parameter(torch.empty(r_out, r_in, *self.kernel_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _gaussian_init_([self.out_factor, self.in_factor, self.core], self.rank[0] * self.rank[1], self.fan_in)
        _reset_bias(self.bias, self.fan_in)

    def full_weight(self) -> torch.Tensor:
        return multi_mode_dot(self.core, [self.out_factor, self.in_factor], modes=[0, 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.in_factor.T[:, :, None, None])
        x = F.conv2d(x, self.core, stride=self.stride, padding=self.padding, dilation=self.dilation)
        return F.conv2d(x, self.out_factor[:, :, None, None], self.bias)

    @classmethod
    def from_conv2d(cls, conv: nn.Conv2d, rank, **hooi_kwargs) -> TuckerConv2d:
        """HOOI with full spatial ranks; the spatial factors are folded into the core."""
        layer = cls._like(conv, rank)
        w = conv.weight.detach()
        tk = tucker_hooi(w, [*layer.rank, *layer.kernel_size], **hooi_kwargs)
        _copy(layer.core, multi_mode_dot(tk.core, tk.factors[2:], modes=[2, 3]))
        _copy(layer.out_factor, tk.factors[0])
        _copy(layer.in_factor, tk.factors[1])
        return layer


class TTConv2d(_FactorizedConv2d):
    """Tensor-train kernel over the modes ``(C, kH, kW, F)``:

    .. math:: W_{fcpq}=\\sum_{a,b,e}G^{[1]}_{c a}G^{[2]}_{a p b}G^{[3]}_{b q e}G^{[4]}_{e f}.

    ``rank``: an int or the three inner ranks ``(r_1, r_2, r_3)`` (capped by what each cut allows).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, rank, stride=1, padding=0, dilation=1,
                 bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
        kh, kw = self.kernel_size
        modes = [in_channels, kh, kw, out_channels]
        inner = [rank] * 3 if isinstance(rank, int) else list(rank)
        ranks = [1] + [min(r, math.prod(modes[: k + 1]), math.prod(modes[k + 1:])) for k, r in enumerate(inner)] + [1]
        self.rank = tuple(ranks)
        self.cores = nn.ParameterList([nn.Parameter(torch.empty(ranks[k], m, ranks[k + 1])) for k, m in enumerate(modes)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _gaussian_init_(list(self.cores), math.prod(self.rank), self.fan_in)
        _reset_bias(self.bias, self.fan_in)

    def full_weight(self) -> torch.Tensor:
        return TTTensor(list(self.cores)).to_tensor().permute(3, 0, 1, 2)  # (C, kH, kW, F) -> (F, C, kH, kW)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g1, g2, g3, g4 = self.cores
        return self._separable(
            x, g1[0].T[:, :, None, None], g2.permute(2, 0, 1)[..., None], g3.permute(2, 0, 1)[:, :, None, :],
            g4[..., 0].T[:, :, None, None], groups=1,
        )

    @classmethod
    def from_conv2d(cls, conv: nn.Conv2d, rank, tol: float | None = None) -> TTConv2d:
        """TT-SVD of the trained kernel permuted to ``(C, kH, kW, F)``."""
        layer = cls._like(conv, rank)
        tt = tt_svd(conv.weight.detach().permute(1, 2, 3, 0), rank=list(layer.rank), tol=tol)
        if tt.rank != layer.rank:
            layer = cls._like(conv, list(tt.rank[1:-1]))
        for p, core in zip(layer.cores, tt.cores, strict=True):
            _copy(p, core)
        return layer
