r"""The multilayer perceptron of Chapter 3 (§3.1–3.2) with its four output heads.

Each hidden layer computes :math:`\mathbf h^{(l)}=\sigma(\mathbf W^{(l)}\mathbf h^{(l-1)}+\mathbf b^{(l)})`
(book L2516) with ``W`` of shape ``(n_l, n_{l-1})`` as ``nn.Linear``; optional normalisation and
dropout make a block ``Linear → [Norm] → σ → [Dropout]`` (the book's PyTorch order, L4291; use
``norm_position="after"`` for its Keras order, L4263). The output layer is linear (L2526) and the
model returns **logits** for every head; the head only decides how logits become predictions and
which loss fits:

==============  ============  ==================================  ==========================
head            output units  prediction                          loss (takes logits)
==============  ============  ==================================  ==========================
``multiclass``  K             ``softmax`` / ``argmax``            ``CrossEntropyLoss``
``binary``      1             ``sigmoid`` / ``> 0``               ``BCEWithLogitsLoss``
``multilabel``  K             independent ``sigmoid`` / ``> 0``   ``BCEWithLogitsLoss``
``regression``  d             identity                            ``MSELoss``
==============  ============  ==================================  ==========================

Never put a softmax before ``CrossEntropyLoss`` (the book does, L4168, L4598: it trains a
double-softmax model with squashed gradients).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from ..errors import ConfigError, ShapeError
from ..functional.dropout import inverted_dropout
from .activations import make_activation
from .normalization import make_norm

HEADS = ("multiclass", "binary", "multilabel", "regression")


def head_loss(head: str, **kwargs) -> nn.Module:
    """The loss for an output head; every one takes **logits** (never softmax/sigmoid first).

    ``multiclass`` → ``CrossEntropyLoss``; ``binary``/``multilabel`` → ``BCEWithLogitsLoss``;
    ``regression`` → ``MSELoss``. ``kwargs`` go to the loss (``weight``, ``label_smoothing``...).
    It lives beside :data:`HEADS` (re-exported by :mod:`tensorprism.losses`) because ``nn`` sits
    below ``losses`` in the layering and :meth:`MLP.loss_fn` needs it.
    """
    if head == "multiclass":
        return nn.CrossEntropyLoss(**kwargs)
    if head in ("binary", "multilabel"):
        return nn.BCEWithLogitsLoss(**kwargs)
    if head == "regression":
        return nn.MSELoss(**kwargs)
    raise ConfigError(f"unknown head {head!r}; expected one of {', '.join(HEADS)}")


class SparseLinear(nn.Module):
    r"""``nn.Linear(in_features, out_features)`` applied to sparse inputs such as bags of words.

    For a sample with non-zero entries :math:`x_j` at indices :math:`j\in S`,
    :math:`y=\sum_{j\in S}x_j\,W_{:,j}+b=Wx+b` — exactly the dense layer, computed by
    ``F.embedding_bag`` (a gather-and-sum kernel) without materialising the ``(N, V)`` input.
    The weight is stored transposed, ``(in_features, out_features)``.

    Input: ``(indices (T,), offsets (N,), values (T,) or None)`` — sample ``i`` owns
    ``indices[offsets[i]:offsets[i+1]]`` (the layout of ``nn.EmbeddingBag``; CSR ``indptr[:-1]``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # the same distribution as nn.Linear: U(±1/sqrt(fan_in)) for weight and bias
        bound = 1.0 / self.in_features**0.5
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: tuple[Tensor, Tensor, Tensor | None]) -> Tensor:
        indices, offsets, values = x
        out = nn.functional.embedding_bag(indices, self.weight, offsets, mode="sum", per_sample_weights=values)
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class MLP(nn.Module):
    """Feed-forward network ``in_features → hidden[0] → … → out_features`` returning logits.

    Args:
        in_features: input size ``d``; inputs ``(N, *)`` with ``prod(*) == d`` are flattened.
        hidden: hidden-layer widths.
        out_features: output units (``K`` classes; 1 for ``binary``).
        activation: name, ``nn.Module`` or callable (see :func:`~tensorprism.nn.activations.make_activation`).
        dropout: drop probability after each hidden activation (inverted dropout, ``nn.Dropout``).
        norm: ``"batch"``, ``"layer"`` or ``None``.
        norm_position: ``"before"`` (Linear→Norm→σ) or ``"after"`` (Linear→σ→Norm) the activation.
        head: one of :data:`HEADS`.
        input_dropout: drop probability applied to the inputs.
        sparse_input: the first layer is a :class:`SparseLinear` taking ``(indices, offsets,
            values)`` (bag-of-words inputs; needs a hidden layer). ``input_dropout`` then drops
            non-zero entries (word dropout), the same as dropout on the dense input vector.

    Shapes: input ``(N, in_features)`` (or ``(N, *)`` flattening to it) → output ``(N, out_features)``.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation: str | Callable | nn.Module = "relu",
        dropout: float = 0.0,
        norm: str | None = None,
        norm_position: str = "before",
        head: str = "multiclass",
        input_dropout: float = 0.0,
        bias: bool = True,
        sparse_input: bool = False,
    ):
        super().__init__()
        if head not in HEADS:
            raise ConfigError(f"unknown head {head!r}; expected one of {', '.join(HEADS)}")
        if head == "binary" and out_features != 1:
            raise ConfigError(f"a binary head has 1 output unit (a logit), got out_features={out_features}")
        if norm_position not in ("before", "after"):
            raise ConfigError(f"norm_position must be 'before' or 'after', got {norm_position!r}")
        for name, p in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= p < 1.0:
                raise ConfigError(f"{name} is a drop probability in [0, 1), got {p}")
        self.in_features, self.out_features, self.head_type = in_features, out_features, head
        self.hidden = tuple(int(h) for h in hidden)
        if sparse_input and not self.hidden:
            raise ConfigError("sparse_input needs at least one hidden layer (its first layer is the sparse one)")
        self.sparse_input, self.input_dropout = sparse_input, input_dropout
        layers: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout > 0 and not sparse_input else []
        width = in_features
        for i, h in enumerate(self.hidden):
            layers.append(SparseLinear(width, h, bias) if sparse_input and i == 0 else nn.Linear(width, h, bias=bias))
            act = make_activation(activation)
            normed = [make_norm(norm, h)] if norm else []
            layers += [*normed, act] if norm_position == "before" else [act, *normed]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_features, bias=bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """The last hidden representation ``(N, hidden[-1])``."""
        if self.sparse_input:
            if self.training and self.input_dropout > 0:
                indices, offsets, values = x
                values = torch.ones(len(indices), device=indices.device) if values is None else values
                x = (indices, offsets, inverted_dropout(values, self.input_dropout))
            return self.features(x)
        if x.dim() != 2:
            x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise ShapeError(
                f"MLP expected inputs of {self.in_features} features per sample but got shape "
                f"{tuple(x.shape)}; set in_features={x.shape[1]} or reshape the input."
            )
        return self.features(x)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, out_features)``."""
        return self.head(self.forward_features(x))

    def predict_proba(self, logits: Tensor) -> Tensor:
        """Turn logits into the head's probabilities (identity for regression)."""
        if self.head_type == "multiclass":
            return torch.softmax(logits, dim=-1)
        if self.head_type in ("binary", "multilabel"):
            return torch.sigmoid(logits)
        return logits

    def predict(self, logits: Tensor) -> Tensor:
        """Turn logits into hard predictions: class index, 0/1 (per label) or the regression value."""
        if self.head_type == "multiclass":
            return logits.argmax(dim=-1)
        if self.head_type == "binary":
            return (logits.squeeze(-1) > 0).long()
        if self.head_type == "multilabel":
            return (logits > 0).long()
        return logits

    def loss_fn(self, **kwargs) -> nn.Module:
        """The loss matching this head; every one takes logits."""
        return head_loss(self.head_type, **kwargs)

    def reset_parameters(self) -> None:
        for m in self.modules():
            if m is not self and hasattr(m, "reset_parameters"):
                m.reset_parameters()

    def extra_repr(self) -> str:
        sizes = "-".join(str(s) for s in (self.in_features, *self.hidden, self.out_features))
        return f"sizes={sizes}, head={self.head_type!r}"


__all__ = ["MLP", "SparseLinear", "HEADS", "head_loss"]
