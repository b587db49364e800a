"""Multilinear algebra on ``torch.Tensor`` (Chapters 1–2, §2.2).

Every function is pure torch, differentiable and device-agnostic; shapes are given with the book's
names (a tensor :math:`\\mathcal X\\in\\mathbb R^{I_1\\times\\dots\\times I_N}` has *order* ``N``).

Unfolding convention
--------------------
The book gives no column order for the mode-``n`` unfolding (catalogue B9). The default here is
Kolda & Bader (2009, *SIAM Review* 51(3), §2.4): element :math:`(i_1,\\dots,i_N)` goes to row
:math:`i_n` and column

.. math:: j = \\sum_{k\\ne n} i_k J_k,\\qquad J_k = \\prod_{m<k,\\,m\\ne n} I_m

(0-based), i.e. the remaining indices are read in *Fortran* order, the first one varying fastest.
With this order :math:`\\mathcal X_{(1)} = A\\,(C\\odot B)^T` for a CP tensor, where :math:`\\odot`
is the Khatri–Rao product. ``ordering="row_major"`` gives the C-ordered unfolding that TensorLy
uses (last remaining index fastest, :math:`\\mathcal X_{(1)} = A\\,(B\\odot C)^T`).

Every function that takes a mode accepts ``batch_dims`` leading dimensions that are carried along
unchanged (mode 0 is the first dimension after them).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..errors import ShapeError

ORDERINGS = ("kolda", "row_major")

__all__ = [
    "einsum", "contract", "outer", "kron", "khatri_rao", "hadamard", "frobenius_norm", "inner",
    "unfold", "fold", "mode_dot", "multi_mode_dot", "ORDERINGS",
]


def _check_mode(x: torch.Tensor, mode: int, batch_dims: int = 0) -> int:
    order = x.dim() - batch_dims
    if not -order <= mode < order:
        raise ShapeError(
            f"mode {mode} is out of range for a tensor of order {order} (shape "
            f"{tuple(x.shape)}, {batch_dims} batch dims); expected 0 <= mode < {order}. "
            "Modes are 0-based here: the book's mode-1 is mode=0."
        )
    return mode % order


def _check_ordering(ordering: str) -> None:
    if ordering not in ORDERINGS:
        raise ValueError(f"unknown ordering {ordering!r}; expected one of {ORDERINGS}")


def einsum(equation: str, *operands: torch.Tensor) -> torch.Tensor:
    """Einstein summation (book l.1362–1370: a repeated index is summed), with checked sizes.

    ``einsum("ij,jk->ik", A, B)`` is :math:`c_{ik}=\\sum_j a_{ij}b_{jk}`; ``einsum("ij,ji->", A, B)``
    is Ex 2.7's :math:`A_{ij}B_{ji}`. Before calling :func:`torch.einsum` every subscript string
    is matched against its operand, and an index used with two different sizes (other than 1,
    which broadcasts) raises :class:`~tensorprism.errors.ShapeError` naming the index and operands.
    """
    lhs = equation.replace(" ", "").split("->")[0]
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ShapeError(f"einsum: {equation!r} has {len(terms)} operand subscripts but {len(operands)} tensors were given")
    seen: dict[str, tuple[int, int]] = {}
    for t, (term, op) in enumerate(zip(terms, operands, strict=True)):
        head, ellipsis, tail = term.partition("...")
        named = len(head) + len(tail)
        if (not ellipsis and named != op.dim()) or (ellipsis and named > op.dim()):
            raise ShapeError(
                f"einsum: operand {t} has shape {tuple(op.shape)} ({op.dim()} dims) but its subscripts "
                f"{term!r} name {named}{' or more' if ellipsis else ''}; write one letter per dimension"
            )
        dims = list(zip(head, op.shape[: len(head)], strict=True))
        dims += list(zip(tail, op.shape[op.dim() - len(tail):], strict=True))
        for letter, size in dims:
            if letter in seen and size != 1 and seen[letter][0] != 1 and seen[letter][0] != size:
                first_size, first_op = seen[letter]
                raise ShapeError(
                    f"einsum: index {letter!r} has size {first_size} in operand {first_op} "
                    f"({tuple(operands[first_op].shape)}) but size {size} in operand {t} ({tuple(op.shape)}); "
                    "a repeated index must label equally long dimensions"
                )
            if letter not in seen or seen[letter][0] == 1:
                seen[letter] = (size, t)
    return torch.einsum(equation, *operands)


def contract(a: torch.Tensor, b: torch.Tensor, axes: int | tuple[Sequence[int], Sequence[int]] = 1
             ) -> torch.Tensor:
    """Contract ``a`` and ``b`` over paired axes (a checked ``tensordot``).

    .. math:: C_{i_1\\dots j_1\\dots} = \\sum_{k_1,\\dots} A_{i_1\\dots k_1\\dots}B_{k_1\\dots j_1\\dots}

    ``axes`` is either an int ``q`` (last ``q`` axes of ``a`` with first ``q`` of ``b``) or a pair of
    equally long axis lists. The free axes of ``a`` come first, then those of ``b``; e.g.
    :math:`C_{ijl}=\\sum_k A_{ijk}B_{kl}` is ``contract(A, B, ([2], [0]))`` with shape
    ``(I, J, L)``. Raises :class:`~tensorprism.errors.ShapeError` naming the mismatching pair.
    """
    if isinstance(axes, int):
        if axes < 0 or axes > min(a.dim(), b.dim()):
            raise ShapeError(f"cannot contract {axes} axes of tensors of order {a.dim()} and {b.dim()}")
        ax_a = list(range(a.dim() - axes, a.dim()))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = (list(v) for v in axes)
    if len(ax_a) != len(ax_b):
        raise ShapeError(
            f"contract: got {len(ax_a)} axes of a {ax_a} but {len(ax_b)} axes of b {ax_b}; "
            "pass two lists of the same length, one axis of b per axis of a"
        )
    for i, j in zip(ax_a, ax_b, strict=True):
        for t, ax, name in ((a, i, "a"), (b, j, "b")):
            if not -t.dim() <= ax < t.dim():
                raise ShapeError(f"contract: axis {ax} of {name} is out of range for shape {tuple(t.shape)}")
        if a.shape[i] != b.shape[j]:
            raise ShapeError(
                f"contract: axis {i} of a has size {a.shape[i]} but axis {j} of b has size "
                f"{b.shape[j]} (shapes {tuple(a.shape)} and {tuple(b.shape)}); contracted axes "
                "must have equal sizes — check the axis pairing or transpose one operand"
            )
    return torch.tensordot(a, b, dims=(ax_a, ax_b))


def outer(*tensors: torch.Tensor) -> torch.Tensor:
    """Outer (tensor) product :math:`\\mathcal A\\circ\\mathcal B\\circ\\dots`.

    For vectors :math:`(a\\circ b)_{ij}=a_ib_j`; for tensors of any order the result has shape
    ``A.shape + B.shape + ...`` (the book writes it :math:`\\otimes`, l.1304). Two matrices give a
    4-way tensor (Ex 2.2b).
    """
    if not tensors:
        raise ValueError("outer() needs at least one tensor")
    out = tensors[0]
    for t in tensors[1:]:
        out = out.reshape(*out.shape, *([1] * t.dim())) * t
    return out


def kron(*matrices: torch.Tensor) -> torch.Tensor:
    """Kronecker product: :math:`A\\otimes B\\in\\mathbb R^{mp\\times nq}`, block ``(i, j)`` = ``a_ij B``.

    Extra leading dimensions of 2-D operands are treated as batch dimensions.
    """
    out = matrices[0]
    for b in matrices[1:]:
        if out.dim() < 2 or b.dim() < 2:
            raise ShapeError(f"kron expects matrices (..., m, n); got shapes {tuple(out.shape)}, {tuple(b.shape)}")
        m, n = out.shape[-2:]
        p, q = b.shape[-2:]
        prod = out[..., :, None, :, None] * b[..., None, :, None, :]
        out = prod.reshape(*prod.shape[:-4], m * p, n * q)
    return out


def khatri_rao(matrices: Sequence[torch.Tensor], ordering: str = "kolda") -> torch.Tensor:
    """Column-wise Kronecker product of matrices with ``R`` columns each (shapes ``(..., I_k, R)``).

    ``ordering="row_major"`` gives :math:`A_1\\odot A_2\\odot\\dots` in the usual order (first matrix's
    row index slowest). ``ordering="kolda"`` multiplies in *reverse* order, the form that matches
    the Kolda–Bader unfolding: ``khatri_rao([A, B, C])`` = :math:`C\\odot B\\odot A`, so that
    :math:`\\mathcal X_{(n)} = U_n\\,\\mathrm{KR}(U_{m\\ne n})^T` for a CP tensor.
    """
    _check_ordering(ordering)
    mats = list(matrices) if ordering == "row_major" else list(matrices)[::-1]
    rank = mats[0].shape[-1]
    out = mats[0]
    for m in mats[1:]:
        if m.shape[-1] != rank:
            raise ShapeError(
                f"khatri_rao: all matrices need the same number of columns; got {rank} and "
                f"{m.shape[-1]}"
            )
        out = (out[..., :, None, :] * m[..., None, :, :]).reshape(*out.shape[:-2], -1, rank)
    return out


def hadamard(*tensors: torch.Tensor) -> torch.Tensor:
    """Element-wise (Hadamard) product :math:`A\\odot B`; shapes must be equal (no broadcasting)."""
    out = tensors[0]
    for t in tensors[1:]:
        if t.shape != out.shape:
            raise ShapeError(
                f"hadamard: shapes {tuple(out.shape)} and {tuple(t.shape)} differ; the Hadamard "
                "product needs equal shapes (use * for broadcasting)"
            )
        out = out * t
    return out


def inner(a: torch.Tensor, b: torch.Tensor, batch_dims: int = 0) -> torch.Tensor:
    """Tensor inner product :math:`\\langle\\mathcal A,\\mathcal B\\rangle=\\sum a_{i_1\\dots}b_{i_1\\dots}`."""
    if a.shape != b.shape:
        raise ShapeError(f"inner: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")
    return (a * b).flatten(batch_dims).sum(-1)


def frobenius_norm(x: torch.Tensor, batch_dims: int = 0) -> torch.Tensor:
    """:math:`\\|\\mathcal X\\|_F=\\sqrt{\\langle\\mathcal X,\\mathcal X\\rangle}` over the non-batch dims."""
    return torch.linalg.vector_norm(x.flatten(batch_dims), dim=-1)


def unfold(x: torch.Tensor, mode: int, ordering: str = "kolda", batch_dims: int = 0) -> torch.Tensor:
    """Mode-``n`` unfolding :math:`\\mathcal X_{(n)}\\in\\mathbb R^{I_n\\times\\prod_{k\\ne n}I_k}`.

    Shape ``(*B, I_1, ..., I_N) -> (*B, I_n, prod_{k!=n} I_k)``. Column order: see the module
    docstring (default Kolda–Bader; ``"row_major"`` = TensorLy's).
    """
    _check_ordering(ordering)
    n = _check_mode(x, mode, batch_dims) + batch_dims
    lead = x.shape[:batch_dims]
    if ordering == "row_major":
        return x.movedim(n, batch_dims).reshape(*lead, x.shape[n], -1)
    rest = [d for d in range(x.dim() - 1, batch_dims - 1, -1) if d != n]
    perm = list(range(batch_dims)) + [n] + rest
    return x.permute(perm).reshape(*lead, x.shape[n], -1)


def fold(mat: torch.Tensor, mode: int, shape: Sequence[int], ordering: str = "kolda",
         batch_dims: int = 0) -> torch.Tensor:
    """Inverse of :func:`unfold`: ``fold(unfold(X, n), n, X.shape) == X``.

    ``shape`` is the full shape of the folded tensor (batch dims included).
    """
    _check_ordering(ordering)
    shape = tuple(shape)
    order = len(shape) - batch_dims
    if not -order <= mode < order:
        raise ShapeError(f"fold: mode {mode} out of range for target shape {shape}")
    n = mode % order + batch_dims
    numel = 1
    for s in shape:
        numel *= s
    if mat.numel() != numel or mat.shape[-2] != shape[n]:
        raise ShapeError(
            f"fold: a {tuple(mat.shape)} unfolding cannot be folded into shape {shape} along mode "
            f"{mode}; expected (..., {shape[n]}, {numel // max(1, shape[n])}...)"
        )
    if ordering == "row_major":
        moved = (*shape[:batch_dims], shape[n], *[s for d, s in enumerate(shape) if d >= batch_dims and d != n])
        return mat.reshape(moved).movedim(batch_dims, n)
    rest = [d for d in range(len(shape) - 1, batch_dims - 1, -1) if d != n]
    perm = list(range(batch_dims)) + [n] + rest
    permuted = mat.reshape([shape[d] for d in perm])
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return permuted.permute(inv)


def mode_dot(x: torch.Tensor, matrix: torch.Tensor, mode: int, transpose: bool = False,
             batch_dims: int = 0) -> torch.Tensor:
    """Mode-``n`` product :math:`\\mathcal Y=\\mathcal X\\times_n U`, :math:`U\\in\\mathbb R^{J\\times I_n}`.

    .. math:: y_{i_1\\dots j\\dots i_N}=\\sum_{i_n} x_{i_1\\dots i_n\\dots i_N}\\,u_{j\\,i_n},\\qquad
              \\mathcal Y_{(n)} = U\\,\\mathcal X_{(n)}.

    A vector ``U`` of length ``I_n`` contracts the mode away. ``transpose=True`` uses :math:`U^T`.
    ``matrix`` may be shared ``(J, I_n)`` or carry the same batch dims as ``x``. Cost :math:`O(J\\prod_k I_k)`; no unfolding
    copy is made (a single ``matmul`` on a moved view).
    """
    n = _check_mode(x, mode, batch_dims) + batch_dims
    if transpose:
        matrix = matrix.transpose(-1, -2)
    size_in = matrix.shape[-1]
    if size_in != x.shape[n]:
        raise ShapeError(
            f"mode_dot: mode {mode} of x has size {x.shape[n]} but the matrix has {size_in} columns "
            f"(x {tuple(x.shape)}, matrix {tuple(matrix.shape)}); U must be (J, I_n) — "
            "pass transpose=True if you hold U^T"
        )
    xm = x.movedim(n, -1)  # (*B, ..., I_n)
    if matrix.dim() == 1:
        return xm @ matrix
    if matrix.dim() == 2:
        return (xm @ matrix.T).movedim(-1, n)
    if matrix.dim() != batch_dims + 2:
        raise ShapeError(f"mode_dot: matrix must be (I_n,), (J, I_n) or (*batch, J, I_n); got {tuple(matrix.shape)}")
    # batched matrix (*B, J, I_n): flatten the middle modes to use one bmm-style matmul
    lead = x.shape[:batch_dims]
    mid = xm.shape[batch_dims:-1]
    y = xm.reshape(*lead, -1, size_in) @ matrix.transpose(-1, -2)
    return y.reshape(*lead, *mid, matrix.shape[-2]).movedim(-1, n)


def multi_mode_dot(x: torch.Tensor, matrices: Sequence[torch.Tensor | None],
                   modes: Sequence[int] | None = None, skip: int | None = None,
                   transpose: bool = False, batch_dims: int = 0) -> torch.Tensor:
    """:math:`\\mathcal X\\times_1U_1\\times_2U_2\\cdots` over ``modes`` (default: all, in order).

    ``skip`` leaves one mode out (as needed by HOOI/ALS); ``None`` entries are skipped too. The
    products commute for distinct modes; they are applied in the order that shrinks the tensor
    most first.
    """
    modes = list(range(len(matrices))) if modes is None else list(modes)
    pairs = [(m, u) for m, u in zip(modes, matrices, strict=True) if u is not None and m != skip]
    # shrink first: apply the products with the smallest output/input size ratio first
    out_dim, in_dim = (-1, -2) if transpose else (-2, -1)
    pairs.sort(key=lambda p: p[1].shape[out_dim] / p[1].shape[in_dim] if p[1].dim() > 1 else 0.0)
    for m, u in pairs:
        x = mode_dot(x, u, m, transpose=transpose, batch_dims=batch_dims)
    return x
