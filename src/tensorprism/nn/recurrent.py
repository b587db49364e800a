r"""Recurrent layers for training (Ch. 5), their regularisers, and weight-layout converters.

* :class:`RNN`, :class:`LSTM`, :class:`GRU` run torch's fused kernels (cuDNN on GPU, oneDNN /
  ATen on CPU): multi-layer, bidirectional, batch-first by default, initial/final states, and
  variable-length batches through ``lengths=`` (packed internally). They are tested equal to the
  step-by-step references in :mod:`tensorprism.functional.recurrent`.
* :class:`RecurrentLoop` is a one-layer cell loop for what no fused kernel does: LSTM peepholes,
  the book's reset-before GRU, zoneout and recurrent (variational) dropout on :math:`h_{t-1}`.
* :class:`VariationalDropout` drops the same features at every time step.
* ``*_from_book`` / ``*_to_book`` / ``keras_*`` convert gate layouts:

  ============  ==================  =================================
  layout        LSTM rows           GRU rows
  ============  ==================  =================================
  book          f, i, C̃, o          z, r, h̃  (one bias per gate)
  PyTorch       i, f, g, o          r, z, n  (b_ih and b_hh)
  Keras         i, f, c, o          z, r, h  (kernel is (I, kH), transposed)
  ============  ==================  =================================
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import ConfigError, ShapeError
from ..functional.recurrent import (
    elman_cell,
    gru_cell,
    lstm_cell,
    unroll,
    variational_mask,
    zoneout,
)

__all__ = [
    "RNN", "LSTM", "GRU", "RecurrentLoop", "VariationalDropout", "detach_state", "check_lengths", "check_state",
    "lstm_from_book", "lstm_to_book", "gru_from_book", "gru_to_book",
    "keras_lstm_to_torch", "torch_lstm_to_keras", "keras_gru_to_torch", "torch_gru_to_keras",
]


def detach_state(state):
    """Detach a recurrent state (tensor or tuple) from the graph: the step that makes BPTT truncated."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def check_lengths(who: str, lengths, batch: int, steps: int, layout: str, min_length: int = 1) -> Tensor:
    """``lengths`` as a CPU ``int64 (B,)`` tensor with every entry in ``[min_length, T]``.

    A wrong count or a length above ``T`` is the visible trace of time and batch axes swapped, so
    the error names the layout ``x`` must have.
    """
    t = torch.as_tensor(lengths)
    if t.dim() != 1 or t.numel() != batch:
        raise ShapeError(
            f"{who}: lengths has shape {tuple(t.shape)} but the batch holds {batch} sequences; lengths is (B,), "
            f"one entry per sequence, with x {layout}. A time-first (T, B, I) batch must be transposed "
            "(or the layer built with batch_first=False)")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ShapeError(f"{who}: lengths must be integers, got {t.dtype}; use lengths.long()")
    t = t.cpu().long()
    if batch and (int(t.min()) < min_length or int(t.max()) > steps):
        raise ShapeError(
            f"{who}: lengths must lie in [{min_length}, T={steps}], got {int(t.min())}..{int(t.max())}; x is "
            f"{layout}: a length above T usually means the time and batch axes are swapped")
    return t


def check_state(who: str, s, want: tuple[int, ...], what: str, layout: str) -> None:
    """Raise :class:`ShapeError` unless the initial state ``s`` is a tensor of shape ``want``."""
    if not isinstance(s, Tensor) or tuple(s.shape) != want:
        got = tuple(s.shape) if isinstance(s, Tensor) else type(s).__name__
        raise ShapeError(
            f"{who}: initial {what} must be {layout} = {want}, got {got}; its batch size must match "
            "the input's (a different one means a state carried from another batch, or swapped axes)")


class _LengthsMixin:
    """``forward(x, state=None, lengths=None)`` on top of a torch fused recurrent module."""

    batch_first: bool
    input_size: int

    def forward(self, x: Tensor, state=None, lengths: Tensor | None = None):
        """``x (B, T, I)`` (``(T, B, I)`` if ``batch_first=False``); ``state`` as in PyTorch,
        ``(L·D, B, H)`` (LSTM: a pair); ``lengths (B,)`` valid steps per sequence, padding after.
        Returns ``(output (B, T, D·H), final_state)``; with ``lengths`` the outputs past each end
        are zero and the final state is taken at each sequence's own last step.

        The layout cannot be read from ``x`` alone (``(T, B, I)`` is a valid ``(B, T, I)``), so
        everything that reveals it is checked: the feature size, the number of ``lengths`` and
        their range ``[1, T]``, and the batch axis of the initial state (:class:`ShapeError`).
        """
        if not isinstance(x, Tensor):  # a PackedSequence carries its own layout
            return super().forward(x, state) if lengths is None else self._refuse_packed_lengths()
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        who = type(self).__name__
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{who} expected input {layout} with I={self.input_size}, got {tuple(x.shape)}; pass "
                f"batch_first={not self.batch_first} if time and batch are swapped, or unsqueeze a missing "
                "batch axis"
            )
        B, T = (x.shape[0], x.shape[1]) if self.batch_first else (x.shape[1], x.shape[0])
        if state is not None:
            self._check_states(who, state, B)
        if lengths is None:
            return super().forward(x, state)
        lengths = check_lengths(who, lengths, B, T, layout)
        packed = pack_padded_sequence(x, lengths, batch_first=self.batch_first, enforce_sorted=False)
        out, state = super().forward(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=self.batch_first, total_length=T)
        return out, state

    def _refuse_packed_lengths(self):
        raise ShapeError(f"{type(self).__name__}: a PackedSequence already holds its lengths; "
                         "pass lengths= only with a padded tensor")

    def _check_states(self, who: str, state, B: int) -> None:
        """``h_0 (L·D, B, H_out)`` (and, for an LSTM, ``c_0 (L·D, B, H)``), as in PyTorch."""
        LD = self.num_layers * (2 if self.bidirectional else 1)
        h_out = getattr(self, "proj_size", 0) or self.hidden_size
        if isinstance(self, nn.LSTM):
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ShapeError(f"{who} state must be a pair (h_0, c_0), got {type(state).__name__}; "
                                 "pass None for zeros")
            check_state(who, state[0], (LD, B, h_out), "h_0", "(L·D, B, H_out)")
            check_state(who, state[1], (LD, B, self.hidden_size), "c_0", "(L·D, B, H)")
        else:
            check_state(who, state, (LD, B, h_out), "h_0", "(L·D, B, H)")


class RNN(_LengthsMixin, nn.RNN):
    r"""Elman RNN on the fused kernel: :math:`h_t = f(W_{ih}x_t + b_{ih} + W_{hh}h_{t-1} + b_{hh})`.

    Same arguments as ``torch.nn.RNN`` but ``batch_first=True`` by default; ``forward`` also takes
    ``lengths``. ``h_0 = 0`` when no state is given (l. 9824).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = True,
                 dropout: float = 0.0, bidirectional: bool = False, **factory):
        super().__init__(input_size, hidden_size, num_layers, nonlinearity=nonlinearity, bias=bias,
                         batch_first=batch_first, dropout=dropout, bidirectional=bidirectional,
                         **factory)


class LSTM(_LengthsMixin, nn.LSTM):
    r"""LSTM on the fused kernel (rows stacked i, f, g, o; see :func:`lstm_from_book`).

    Same arguments as ``torch.nn.LSTM`` (``proj_size`` gives an LSTM with projection) but
    ``batch_first=True`` by default, plus ``forget_bias``: the value the forget-gate bias
    :math:`b_{ih}` rows are set to by :meth:`reset_parameters` (Keras' ``unit_forget_bias`` is 1.0;
    the book does not say, l. 9976).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, forget_bias: float | None = None, **factory):
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, bidirectional=bidirectional, proj_size=proj_size, **factory)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if getattr(self, "forget_bias", None) is not None and self.bias:
            H = self.hidden_size
            with torch.no_grad():
                for name, p in self.named_parameters():
                    if name.startswith("bias_"):
                        p[H:2 * H].fill_(self.forget_bias if name.startswith("bias_ih") else 0.0)


class GRU(_LengthsMixin, nn.GRU):
    r"""GRU on the fused kernel: the reset-after form with :math:`h_t=(1-z)\odot n + z\odot h_{t-1}`.

    Same arguments as ``torch.nn.GRU`` but ``batch_first=True`` by default. This is the convention
    of PyTorch, cuDNN and Keras (``reset_after=True``); the book's update
    :math:`h_t=(1-z)\odot h_{t-1}+z\odot\tilde h` is the same function with the z rows negated
    (:func:`gru_from_book` does it). The book's reset-*before* GRU (l. 10141) has no fused kernel:
    use :class:`RecurrentLoop` ``("gru", ..., reset_after=False)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 **factory):
        super().__init__(input_size, hidden_size, num_layers, bias=bias, batch_first=batch_first,
                         dropout=dropout, bidirectional=bidirectional, **factory)


class RecurrentLoop(nn.Module):
    r"""One recurrent layer unrolled in Python, for the variants fused kernels do not have.

    ``mode`` is ``"rnn"``, ``"lstm"`` or ``"gru"``. Options:

    * ``peephole`` (LSTM): gates see the cell state, ``weight_peep (3, H)`` (rows i, f, o).
    * ``reset_after`` / ``z_keeps_previous`` (GRU): the two conventions of :func:`gru_cell`; the
      defaults are the book's (reset before the product, ``z`` selects the new state).
    * ``zoneout`` (Krueger et al. 2017): each unit keeps its previous value with probability p
      (for the LSTM both :math:`h` and :math:`c`); see :func:`~tensorprism.functional.recurrent.zoneout`.
    * ``recurrent_dropout``: one inverted-dropout mask per sequence on :math:`h_{t-1}` where it
      enters the recurrent product (Gal & Ghahramani 2016; Keras' ``recurrent_dropout``).

    Parameters are named as in PyTorch (``weight_ih_l0``…), so converters and state dicts carry
    over. ``forward(x (B, T, I), state=None, lengths=None) -> (out (B, T, H), state)``.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, *, bias: bool = True,
                 nonlinearity: str = "tanh", peephole: bool = False, reset_after: bool = False,
                 z_keeps_previous: bool = False, zoneout: float = 0.0,
                 recurrent_dropout: float = 0.0, batch_first: bool = True):
        super().__init__()
        gates = {"rnn": 1, "lstm": 4, "gru": 3}
        if mode not in gates:
            raise ConfigError(f"mode must be one of {sorted(gates)}, got {mode!r}")
        if peephole and mode != "lstm":
            raise ConfigError("peephole=True needs mode='lstm'")
        for name, p in (("zoneout", zoneout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= p < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {p}")
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.nonlinearity, self.reset_after, self.z_keeps_previous = nonlinearity, reset_after, z_keeps_previous
        self.zoneout, self.recurrent_dropout, self.batch_first = zoneout, recurrent_dropout, batch_first
        g = gates[mode] * hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(g, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(g)) if bias else None
        self.bias_hh_l0 = nn.Parameter(torch.empty(g)) if bias else None
        self.weight_peep = nn.Parameter(torch.empty(3, hidden_size)) if peephole else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform :math:`\\mathcal U(-1/\\sqrt H, 1/\\sqrt H)` for every tensor, as torch.nn.LSTM."""
        bound = self.hidden_size ** -0.5
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.mode}, {self.input_size}, {self.hidden_size}"
        if self.weight_peep is not None:
            s += ", peephole=True"
        if self.mode == "gru":
            s += f", reset_after={self.reset_after}, z_keeps_previous={self.z_keeps_previous}"
        if self.zoneout:
            s += f", zoneout={self.zoneout}"
        if self.recurrent_dropout:
            s += f", recurrent_dropout={self.recurrent_dropout}"
        return s

    def forward(self, x: Tensor, state=None, lengths: Tensor | None = None):
        layout = "(B, T, I)" if self.batch_first else "(T, B, I)"
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ShapeError(f"RecurrentLoop expected {layout} with I={self.input_size}, got {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)
        B, H = x.shape[0], self.hidden_size
        if lengths is not None:
            lengths = check_lengths("RecurrentLoop", lengths, B, x.shape[1], layout, min_length=0)
        if state is None:
            state = (x.new_zeros(B, H), x.new_zeros(B, H)) if self.mode == "lstm" else x.new_zeros(B, H)
        elif self.mode == "lstm":
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise ShapeError("RecurrentLoop('lstm') state must be a pair (h_0 (B, H), c_0 (B, H))")
            for s, what in zip(state, ("h_0", "c_0"), strict=True):
                check_state("RecurrentLoop", s, (B, H), what, "(B, H)")
            state = tuple(state)
        else:
            check_state("RecurrentLoop", state, (B, H), "h_0", "(B, H)")
        w = (self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
        mask = (variational_mask((B, H), self.recurrent_dropout, x)
                if self.training and self.recurrent_dropout > 0 else None)
        zo, training = self.zoneout, self.training

        def step(xt, s):
            if self.mode == "lstm":
                h, c = s
                h_in = h if mask is None else h * mask
                h_new, c_new = lstm_cell(xt, (h_in, c), *w, w_peep=self.weight_peep)
                return zoneout(h, h_new, zo, training), zoneout(c, c_new, zo, training)
            h_in = s if mask is None else s * mask
            if self.mode == "gru":
                # the dropped state enters the products; the interpolation keeps the true one
                h_new = gru_cell(xt, s, *w, self.reset_after, self.z_keeps_previous, h_rec=h_in)
            else:
                h_new = elman_cell(xt, h_in, *w, self.nonlinearity)
            return zoneout(s, h_new, zo, training)

        out, state = unroll(step, x, state, lengths)
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, state


class VariationalDropout(nn.Module):
    r"""Dropout with one mask per sequence, shared by all time steps ("locked" dropout).

    ``x (B, T, F)`` → ``x ⊙ m`` with ``m (B, 1, F)``, entries 0 or :math:`1/(1-p)`. Use it on the
    embeddings and between stacked layers (Gal & Ghahramani 2016). Identity in eval mode.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.dim() != 3:
            raise ShapeError(f"VariationalDropout expects (B, T, F), got {tuple(x.shape)}")
        return x * variational_mask((x.shape[0], 1, x.shape[2]), self.p, x)


# --------------------------------------------------------------------------- layout converters
_LSTM_BOOK_TO_TORCH = {"i": "i", "f": "f", "c": "g", "o": "o"}  # book names -> torch block
_TORCH_LSTM = ("i", "f", "g", "o")
_TORCH_GRU = ("r", "z", "n")
_BOOK_GRU_TO_TORCH = {"r": "r", "z": "z", "h": "n"}


def _stack(blocks: Mapping[str, Tensor], order) -> Tensor:
    return torch.cat([blocks[k] for k in order], 0)


def lstm_from_book(W: Mapping[str, Tensor], U: Mapping[str, Tensor], b: Mapping[str, Tensor]) -> dict[str, Tensor]:
    r"""The book's per-gate LSTM weights → PyTorch's stacked tensors.

    ``W[g] (H, I)``, ``U[g] (H, H)``, ``b[g] (H,)`` for ``g`` in the book's ``f, i, c, o``
    (the candidate :math:`\tilde C` is ``"c"``; Exercise 3 calls it ``g``, accepted too).
    Returns ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih`` (the book's bias) and
    ``bias_hh`` (zeros), rows in PyTorch's i, f, g, o order.
    """
    def rename(d):
        return {_LSTM_BOOK_TO_TORCH.get(k, k): v for k, v in d.items()}
    Wt, Ut, bt = rename(W), rename(U), rename(b)
    bias = _stack(bt, _TORCH_LSTM)
    return {"weight_ih": _stack(Wt, _TORCH_LSTM), "weight_hh": _stack(Ut, _TORCH_LSTM),
            "bias_ih": bias, "bias_hh": torch.zeros_like(bias)}


def lstm_to_book(weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
                 bias_hh: Tensor | None = None) -> tuple[dict, dict, dict]:
    """PyTorch's stacked LSTM tensors → the book's ``(W, U, b)`` dicts keyed ``f, i, c, o``.

    The book has one bias per gate: it is :math:`b_{ih} + b_{hh}`.
    """
    bias = None
    if bias_ih is not None:
        bias = bias_ih + (bias_hh if bias_hh is not None else 0)
    names = {"i": "i", "f": "f", "g": "c", "o": "o"}
    W = dict(zip((names[k] for k in _TORCH_LSTM), weight_ih.chunk(4, 0), strict=True))
    U = dict(zip((names[k] for k in _TORCH_LSTM), weight_hh.chunk(4, 0), strict=True))
    b = {} if bias is None else dict(zip((names[k] for k in _TORCH_LSTM), bias.chunk(4), strict=True))
    order = ("f", "i", "c", "o")
    return ({k: W[k] for k in order}, {k: U[k] for k in order}, {k: b[k] for k in order if k in b})


def gru_from_book(W: Mapping[str, Tensor], U: Mapping[str, Tensor], b: Mapping[str, Tensor], *,
                  z_keeps_previous: bool = True) -> dict[str, Tensor]:
    r"""The book's per-gate GRU weights (keys ``z, r, h``) → stacked (r, z, n) tensors.

    The book's update :math:`h_t=(1-z)h_{t-1}+z\tilde h` is PyTorch's with
    :math:`z \to 1-z = \sigma(-a_z)`, so for a target with ``z_keeps_previous=True`` (``nn.GRU``,
    :class:`GRU`) the z rows and bias are negated. The candidate's bias goes to ``bias_ih``; its
    recurrent bias is 0, so the reset-before / reset-after choice is the target layer's.
    """
    sign = {"z": -1.0 if z_keeps_previous else 1.0}

    def blocks(d):
        return {_BOOK_GRU_TO_TORCH[k]: v * sign.get(k, 1.0) for k, v in d.items()}
    bias = _stack(blocks(b), _TORCH_GRU)
    return {"weight_ih": _stack(blocks(W), _TORCH_GRU), "weight_hh": _stack(blocks(U), _TORCH_GRU),
            "bias_ih": bias, "bias_hh": torch.zeros_like(bias)}


def gru_to_book(weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor, bias_hh: Tensor, *,
                z_keeps_previous: bool = True) -> tuple[dict, dict, dict, Tensor]:
    """Stacked (r, z, n) GRU tensors → the book's ``(W, U, b, b_hn)`` keyed ``z, r, h``.

    ``b[z]``, ``b[r]`` are :math:`b_{i\\cdot}+b_{h\\cdot}`; the candidate's recurrent bias ``b_hn``
    cannot be merged (it sits inside the reset product) and is returned separately.
    """
    sign = -1.0 if z_keeps_previous else 1.0
    wi, wh = dict(zip(_TORCH_GRU, weight_ih.chunk(3, 0), strict=True)), dict(zip(_TORCH_GRU, weight_hh.chunk(3, 0), strict=True))
    bi, bh = dict(zip(_TORCH_GRU, bias_ih.chunk(3), strict=True)), dict(zip(_TORCH_GRU, bias_hh.chunk(3), strict=True))
    W = {"z": sign * wi["z"], "r": wi["r"], "h": wi["n"]}
    U = {"z": sign * wh["z"], "r": wh["r"], "h": wh["n"]}
    b = {"z": sign * (bi["z"] + bh["z"]), "r": bi["r"] + bh["r"], "h": bi["n"]}
    return W, U, b, bh["n"]


def keras_lstm_to_torch(kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor | None = None) -> dict[str, Tensor]:
    """Keras LSTM weights → PyTorch. Keras stacks the same (i, f, c, o) order along the *last*
    axis (``kernel (I, 4H)``, ``recurrent_kernel (H, 4H)``, one ``bias (4H,)``)."""
    out = {"weight_ih": kernel.t().contiguous(), "weight_hh": recurrent_kernel.t().contiguous()}
    if bias is not None:
        out.update(bias_ih=bias.clone(), bias_hh=torch.zeros_like(bias))
    return out


def torch_lstm_to_keras(weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor, bias_hh: Tensor) -> dict[str, Tensor]:
    """PyTorch LSTM → Keras ``kernel``, ``recurrent_kernel``, ``bias`` (biases summed)."""
    return {"kernel": weight_ih.t().contiguous(), "recurrent_kernel": weight_hh.t().contiguous(),
            "bias": bias_ih + bias_hh}


def _reorder(t: Tensor, src: tuple[str, ...], dst: tuple[str, ...], dim: int) -> Tensor:
    parts = dict(zip(src, t.chunk(len(src), dim), strict=True))
    return torch.cat([parts[k] for k in dst], dim)


def keras_gru_to_torch(kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor) -> dict[str, Tensor]:
    """Keras GRU (``reset_after=True``) → PyTorch. Keras stacks (z, r, h) along the last axis and
    has ``bias (2, 3H)`` = (input bias, recurrent bias); its update keeps :math:`h_{t-1}` with
    weight z, like PyTorch, so only the layout changes."""
    keras, torch_order = ("z", "r", "n"), _TORCH_GRU
    if bias.dim() != 2 or bias.shape[0] != 2:
        raise ShapeError(f"Keras GRU bias must be (2, 3H) (reset_after=True), got {tuple(bias.shape)}")
    return {"weight_ih": _reorder(kernel, keras, torch_order, 1).t().contiguous(),
            "weight_hh": _reorder(recurrent_kernel, keras, torch_order, 1).t().contiguous(),
            "bias_ih": _reorder(bias[0], keras, torch_order, 0),
            "bias_hh": _reorder(bias[1], keras, torch_order, 0)}


def torch_gru_to_keras(weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor, bias_hh: Tensor) -> dict[str, Tensor]:
    """PyTorch GRU → Keras ``kernel (I, 3H)``, ``recurrent_kernel (H, 3H)``, ``bias (2, 3H)``."""
    keras = ("z", "r", "n")
    return {"kernel": _reorder(weight_ih, _TORCH_GRU, keras, 0).t().contiguous(),
            "recurrent_kernel": _reorder(weight_hh, _TORCH_GRU, keras, 0).t().contiguous(),
            "bias": torch.stack([_reorder(bias_ih, _TORCH_GRU, keras, 0), _reorder(bias_hh, _TORCH_GRU, keras, 0)])}
