"""Tensor decompositions: CP (ALS), Tucker (HOSVD, HOOI) and tensor train / MPS (TT-SVD).

The book (§2.2.3, l.1476–1518) states the models but no fitting algorithm; the algorithms here are
the standard ones of Kolda & Bader (2009) for CP-ALS, De Lathauwer et al. (2000a, 2000b) for HOSVD
and HOOI, and Oseledets (2011) for TT-SVD.

All functions are pure torch, run on whatever device ``x`` lives on, and take ``batch_dims``
leading dimensions that index *independent* problems (e.g. ``(B, I, J, K)`` with ``batch_dims=1``
fits ``B`` decompositions at once with batched matmuls/solves/SVDs). Modes are 0-based.

Complexities below are per problem for an order-``N`` tensor with ``P = prod_k I_k`` entries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..errors import ShapeError
from .algebra import frobenius_norm, khatri_rao, mode_dot, multi_mode_dot, unfold

__all__ = [
    "CPTensor", "TuckerTensor", "TTTensor", "cp_als", "tucker_hosvd", "tucker_hooi", "tt_svd",
    "relative_error", "explained_variance", "leading_left_singular_vectors", "mttkrp",
]


# ----------------------------------------------------------------------------------------------
# containers


@dataclass
class CPTensor:
    """:math:`\\mathcal X\\approx\\sum_{r=1}^R w_r\\,a^{(1)}_r\\circ\\dots\\circ a^{(N)}_r` (book l.1478).

    ``weights``: ``(*B, R)``; ``factors[n]``: ``(*B, I_n, R)`` with unit-norm columns after ALS.
    """

    weights: torch.Tensor
    factors: list[torch.Tensor]
    n_iter: int = 0
    errors: list[float] | None = None

    @property
    def rank(self) -> int:
        return self.weights.shape[-1]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(f.shape[-2] for f in self.factors)

    def to_tensor(self) -> torch.Tensor:
        """Reconstruct the full tensor, shape ``(*B, I_1, ..., I_N)``.

        :math:`\\mathcal X_{(1)} = A^{(1)}\\,\\mathrm{diag}(w)\\,(A^{(2)}\\odot\\dots\\odot A^{(N)})^T`
        (row-major Khatri–Rao); cost :math:`O(RP)`.
        """
        first = self.factors[0] * self.weights.unsqueeze(-2)
        lead = first.shape[:-2]
        if len(self.factors) == 1:
            return first.sum(-1)
        rest = khatri_rao(self.factors[1:], ordering="row_major")
        return (first @ rest.transpose(-1, -2)).reshape(*lead, *self.shape)


@dataclass
class TuckerTensor:
    """:math:`\\mathcal X\\approx\\mathcal G\\times_1A^{(1)}\\times_2\\dots\\times_NA^{(N)}` (book l.1484).

    ``core``: ``(*B, R_1, ..., R_N)``; ``factors[n]``: ``(*B, I_n, R_n)`` with orthonormal columns.
    """

    core: torch.Tensor
    factors: list[torch.Tensor]
    n_iter: int = 0
    errors: list[float] | None = None

    @property
    def rank(self) -> tuple[int, ...]:
        return tuple(f.shape[-1] for f in self.factors)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(f.shape[-2] for f in self.factors)

    def to_tensor(self) -> torch.Tensor:
        """Reconstruct ``(*B, I_1, ..., I_N)``; cost :math:`O(\\sum_n I_n\\prod_{k\\le n}I_k\\prod_{k>n}R_k)`."""
        batch = self.core.dim() - len(self.factors)
        return multi_mode_dot(self.core, self.factors, batch_dims=batch)


@dataclass
class TTTensor:
    """Tensor train / matrix product state (book l.1504–1518).

    .. math:: x_{i_1\\dots i_N}=G^{[1]}_{i_1}G^{[2]}_{i_2}\\cdots G^{[N]}_{i_N},\\qquad
              G^{[k]}\\in\\mathbb R^{r_{k-1}\\times I_k\\times r_k},\\ r_0=r_N=1.

    ``cores[k]``: ``(*B, r_{k-1}, I_k, r_k)``.
    """

    cores: list[torch.Tensor]

    def __post_init__(self):
        prev = 1
        for k, core in enumerate(self.cores):
            if core.dim() < 3 or core.shape[-3] != prev:
                raise ShapeError(
                    f"TT core {k} has shape {tuple(core.shape)}; expected (*B, {prev}, I_{k + 1}, r_{k + 1}) "
                    "— every core is 3-way and its first rank must equal the previous core's last"
                )
            prev = core.shape[-1]
        if prev != 1:
            raise ShapeError(f"the last TT core must end with rank 1, got {prev}")

    @property
    def rank(self) -> tuple[int, ...]:
        return (1, *(c.shape[-1] for c in self.cores))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(c.shape[-2] for c in self.cores)

    def to_tensor(self) -> torch.Tensor:
        """Contract the train left to right, shape ``(*B, I_1, ..., I_N)``; cost :math:`O(r^2 P)`."""
        first = self.cores[0]
        lead = first.shape[:-3]
        out = first.reshape(*lead, -1, first.shape[-1])  # (*B, I_1, r_1)
        for core in self.cores[1:]:
            r = core.shape[-3]
            out = out.reshape(*lead, -1, r) @ core.reshape(*lead, r, -1)
        return out.reshape(*lead, *self.shape)


def relative_error(x: torch.Tensor, approx, batch_dims: int = 0) -> torch.Tensor:
    """:math:`\\|\\mathcal X-\\hat{\\mathcal X}\\|_F/\\|\\mathcal X\\|_F`; ``approx`` is a tensor or a decomposition."""
    xh = approx.to_tensor() if hasattr(approx, "to_tensor") else approx
    if xh.shape != x.shape:
        raise ShapeError(f"relative_error: reconstruction has shape {tuple(xh.shape)}, tensor {tuple(x.shape)}")
    return frobenius_norm(x - xh, batch_dims) / frobenius_norm(x, batch_dims)


def explained_variance(x: torch.Tensor, approx, batch_dims: int = 0) -> torch.Tensor:
    """Fraction of :math:`\\|\\mathcal X\\|_F^2` the approximation captures: ``1 - relative_error**2``."""
    return 1 - relative_error(x, approx, batch_dims) ** 2


# ----------------------------------------------------------------------------------------------
# helpers (all operate on a single leading batch dimension)


def _flatten_batch(x: torch.Tensor, batch_dims: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    lead = tuple(x.shape[:batch_dims])
    if x.dim() - batch_dims < 2:
        raise ShapeError(
            f"a decomposition needs a tensor of order >= 2 after {batch_dims} batch dims; got shape "
            f"{tuple(x.shape)}"
        )
    if not x.is_floating_point():
        x = x.float()
    return x.reshape(-1, *x.shape[batch_dims:]), lead


def _restore(t: torch.Tensor, lead: tuple[int, ...]) -> torch.Tensor:
    return t.reshape(*lead, *t.shape[1:])


def _pivot_sign(u: torch.Tensor) -> torch.Tensor:
    """``(*B, 1, R)``: -1 where a column's largest-magnitude entry is negative, else +1."""
    pivot = torch.gather(u, -2, u.abs().argmax(dim=-2, keepdim=True))
    return torch.where(pivot < 0, -1.0, 1.0).to(u.dtype)


def _sign_fix(u: torch.Tensor) -> torch.Tensor:
    """Make the largest-magnitude entry of every column positive (deterministic signs)."""
    return u * _pivot_sign(u)


def leading_left_singular_vectors(m: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` leading left singular vectors of ``m`` ``(*B, I, J)`` -> ``(*B, I, k)``.

    For wide matrices (``I <= J``) this diagonalises the ``I x I`` Gram matrix :math:`MM^T`
    (cost :math:`O(I^2J + I^3)` instead of a full SVD's); otherwise a thin SVD. Columns beyond the
    numerical rank are an arbitrary orthonormal completion. Signs are made deterministic.
    """
    rows, cols = m.shape[-2:]
    if k > rows:
        raise ShapeError(f"cannot take {k} singular vectors of a matrix with {rows} rows; use rank <= {rows}")
    if rows <= cols:
        _, vecs = torch.linalg.eigh(m @ m.transpose(-1, -2))
        u = vecs.flip(-1)[..., :k]
    else:
        u = torch.linalg.svd(m, full_matrices=k > cols)[0][..., :k]
    return _sign_fix(u)


def mttkrp(x: torch.Tensor, factors: Sequence[torch.Tensor], mode: int) -> torch.Tensor:
    """Matricised tensor times Khatri–Rao product :math:`\\mathcal X_{(n)}(\\odot_{m\\ne n}A^{(m)})`.

    ``x``: ``(B, I_1, ..., I_N)``, ``factors[m]``: ``(B, I_m, R)`` -> ``(B, I_n, R)``. Computed without
    unfolding ``x`` (no copy): one matmul with the Khatri–Rao product of the trailing factors, then a
    contraction with the leading ones; cost :math:`O(RP)`. See :func:`_mttkrp_t` for the layout.
    """
    return _mttkrp_t(x, factors, mode).mT


def _mttkrp_t(x: torch.Tensor, factors: Sequence[torch.Tensor], mode: int) -> torch.Tensor:
    """The transposed MTTKRP ``(B, R, I_n)``.

    Computed as ``KR^T @ X^T`` so that the long dimension (the product of the other modes) is the
    inner one of a ``(R x K) @ (K x I_n)`` GEMM: on CPU BLAS this orientation ran 2-9x faster than
    ``(I_n x K) @ (K x R)`` for 10^7-entry tensors (``benchmarks/decomposition_sizes.py``).
    """
    b = x.shape[0]
    shape = x.shape[1:]
    size_n = shape[mode]
    left = math.prod(shape[:mode])
    right = math.prod(shape[mode + 1:])
    if mode == len(shape) - 1:
        lkr = khatri_rao(factors[:mode], ordering="row_major")  # (B, L, R)
        return lkr.mT @ x.reshape(b, left, size_n)
    rkr = khatri_rao(factors[mode + 1:], ordering="row_major")  # (B, Rg, R)
    t = rkr.mT @ x.reshape(b, left * size_n, right).mT  # (B, R, L*I_n)
    if mode == 0:
        return t
    lkr = khatri_rao(factors[:mode], ordering="row_major")
    return torch.einsum("brli,blr->bri", t.reshape(b, -1, left, size_n), lkr)


def _as_ranks(rank: int | Sequence[int], shape: Sequence[int], what: str) -> list[int]:
    ranks = [rank] * len(shape) if isinstance(rank, int) else list(rank)
    if len(ranks) != len(shape):
        raise ShapeError(f"{what}: got {len(ranks)} ranks for a tensor of order {len(shape)}")
    for r, s in zip(ranks, shape, strict=True):
        if not 1 <= r <= s:
            raise ShapeError(f"{what}: rank {r} must be between 1 and the mode size {s} (shape {tuple(shape)})")
    return ranks


# ----------------------------------------------------------------------------------------------
# CP


# Unfolded copies of ``x`` cost N*P memory but turn every MTTKRP into one GEMM; above this many
# entries the copy-free :func:`mttkrp` is used instead.
_UNFOLD_COPY_MAX = 1 << 21


def _cp_sweeps(x, factors, n_iter_max, tol, non_negative, eps):
    """ALS sweeps of :func:`cp_als` on ``x`` ``(*B, I_1..I_N)`` (``*B`` empty or one batch dim).

    The factors are left unnormalised during the sweeps (the mode-``n`` least-squares solution
    absorbs the scale of the others, so the fit sequence is the same as with per-update
    normalisation); they are normalised once at the end. Every update is one Hadamard product of
    Gram matrices, one GEMM (MTTKRP) and one ``R x R`` solve: on small tensors the cost is the
    number of operations, not their size. The sweeps hold the transposed factors ``(*B, R, I_n)``
    so that the MTTKRP GEMM is ``(R x K) @ (K x I_n)``: with a long inner dimension ``K`` that
    orientation runs 2-3x faster than ``(I_n x K) @ (K x R)`` in CPU BLAS (measured on MKL).
    Returns ``(factors, weights, n_iter, errors)``.
    """
    batched = x.dim() > len(factors)
    nb = int(batched)
    shape = x.shape[nb:]
    order, rank = len(shape), factors[0].shape[-1]
    size = math.prod(shape)
    lead = x.shape[:nb]
    ft = [f.mT.contiguous() for f in factors]  # (*B, R, I_n)
    copies = size <= _UNFOLD_COPY_MAX
    if copies:  # row-major unfoldings (*B, I_n, K): KR(others, in order)^T @ X_(n)^T is the MTTKRP^T
        unfolded = [x.movedim(n + nb, nb).reshape(*lead, shape[n], -1) for n in range(order)]

    def mttkrp_t(n):  # (*B, R, I_n)
        if not copies:
            xb = x if batched else x.unsqueeze(0)
            out = _mttkrp_t(xb, [f.mT if batched else f.mT.unsqueeze(0) for f in ft], n)
            return out if batched else out[0]
        krt = None
        for m in range(order):
            if m != n:
                krt = ft[m] if krt is None else (krt.unsqueeze(-1) * ft[m].unsqueeze(-2)).reshape(*lead, rank, -1)
        return krt @ unfolded[n].mT

    norm_x2 = (x * x).flatten(nb).sum(-1, dtype=torch.float64).reshape(-1).tolist()
    grams = [f @ f.mT for f in ft]
    errors: list[float] = []
    prev = None
    it = 0
    for it in range(1, n_iter_max + 1):  # noqa: B007 - it is reported
        for n in range(order):
            v = None
            for m in range(order):
                if m != n:
                    v = grams[m] if v is None else v * grams[m]
            m_t = mttkrp_t(n)  # (*B, R, I_n)
            if non_negative:
                u = ft[n] * m_t.clamp_min(0) / (v @ ft[n] + eps)
            else:
                u, info = torch.linalg.solve_ex(v, m_t)  # V U^T = M^T (V symmetric)
                if (info.any() if batched else info):  # singular Gram product (collinear columns): least squares
                    u = torch.linalg.pinv(v, hermitian=True) @ m_t
            ft[n] = u
            grams[n] = u @ u.mT
        # ||X - Xh||^2 = ||X||^2 - 2 <X, Xh> + ||Xh||^2: <X, Xh> from the last MTTKRP, ||Xh||^2
        # from the Gram matrices (all weights are 1 while the factors are unnormalised); summed in
        # float64 because the difference cancels most digits when the fit is good
        inner_xxh, norm_xh2 = torch.stack([(m_t * u).flatten(-2).sum(-1, dtype=torch.float64),
                                           (v * grams[-1]).flatten(-2).sum(-1, dtype=torch.float64)]).reshape(2, -1).tolist()
        err = [math.sqrt(max(nx - 2 * a + c, 0.0) / nx) for nx, a, c in zip(norm_x2, inner_xxh, norm_xh2, strict=True)]
        errors.append(max(err))
        if prev is not None and all(abs(p - e) < tol for p, e in zip(prev, err, strict=True)):
            break
        prev = err
    weights = torch.ones(*lead, rank, dtype=x.dtype, device=x.device)
    factors = []
    for f in ft:
        norm = torch.linalg.vector_norm(f, dim=-1)
        weights = weights * norm
        factors.append((f / torch.where(norm > 0, norm, torch.ones_like(norm)).unsqueeze(-1)).mT)
    return factors, weights, it, errors


def cp_als(
    x: torch.Tensor,
    rank: int,
    n_iter_max: int = 100,
    tol: float = 1e-8,
    init: str | CPTensor = "svd",
    non_negative: bool = False,
    batch_dims: int = 0,
    generator: torch.Generator | None = None,
) -> CPTensor:
    """CP decomposition by alternating least squares with column normalisation.

    Mode ``n`` update (Kolda & Bader 2009, Fig. 3.3):

    .. math:: A^{(n)}\\leftarrow \\mathcal X_{(n)}\\big(\\odot_{m\\ne n}A^{(m)}\\big)
              \\big(\\circledast_{m\\ne n}A^{(m)T}A^{(m)}\\big)^{-1},\\quad
              w_r=\\|a^{(n)}_r\\|,\\ a^{(n)}_r\\leftarrow a^{(n)}_r/w_r.

    ``non_negative=True`` replaces the solve by the multiplicative update of Lee & Seung
    (:math:`A\\leftarrow A\\odot\\mathrm{MTTKRP}/(AV)`), keeping every factor ``>= 0`` when ``x >= 0``.
    ``init``: ``"svd"`` (leading singular vectors of each unfolding, random columns when
    ``R > I_n``), ``"random"`` (uniform) or a :class:`CPTensor`. Stops when the relative error
    changes by less than ``tol`` (for every batch member) or after ``n_iter_max`` sweeps. The error
    is computed from Gram matrices, never by reconstructing. The column normalisation is applied
    once after the last sweep (it does not change the fit sequence, see :func:`_cp_sweeps`), which
    together with unfolded copies for tensors up to ``2**21`` entries keeps a sweep at
    ``N`` GEMMs, ``N`` small solves and one host synchronisation.

    Shapes: ``x (*B, I_1, ..., I_N)`` -> weights ``(*B, R)``, factors ``(*B, I_n, R)``.
    Cost per sweep :math:`O(NRP + NR^2\\sum_n I_n + NR^3)`; memory :math:`O(NP)` up to ``2**21``
    entries, :math:`O(P + R\\,P/I_1)` above.
    """
    xb, lead = _flatten_batch(x, batch_dims)
    b, shape = xb.shape[0], xb.shape[1:]
    if rank < 1:
        raise ShapeError(f"cp_als: rank must be >= 1, got {rank}")
    eps = torch.finfo(xb.dtype).eps
    if isinstance(init, CPTensor):
        factors = [f.reshape(b, *f.shape[-2:]).to(xb) for f in init.factors]
        weights = init.weights.reshape(b, rank).to(xb)
    elif init in ("svd", "random"):
        factors = []
        for n, size in enumerate(shape):
            k = min(rank, size) if init == "svd" else 0
            f = torch.rand(b, size, rank - k, generator=generator, dtype=xb.dtype).to(xb.device)  # random columns
            if k:
                u = leading_left_singular_vectors(unfold(xb, n, "row_major", batch_dims=1), k)
                f = torch.cat([u, f], dim=-1) if k < rank else u
                f = f.abs() if non_negative else f
            factors.append(f)
        weights = torch.ones(b, rank, dtype=xb.dtype, device=xb.device)
    else:
        raise ValueError(f"cp_als: unknown init {init!r}; use 'svd', 'random' or a CPTensor")
    if non_negative and bool((xb < 0).any()):
        raise ValueError("cp_als(non_negative=True) needs a tensor with no negative entries")

    if b == 1:  # one problem: 2-D matmuls/solves dispatch faster than their batched forms
        factors, weights, it, errors = _cp_sweeps(xb[0], [factors[0][0] * weights[0]] + [f[0] for f in factors[1:]],
                                                  n_iter_max, tol, non_negative, eps)
        factors, weights = [f.unsqueeze(0) for f in factors], weights.unsqueeze(0)
    else:
        factors, weights, it, errors = _cp_sweeps(xb, [factors[0] * weights.unsqueeze(1)] + factors[1:],
                                                  n_iter_max, tol, non_negative, eps)
    return CPTensor(_restore(weights, lead), [_restore(f, lead) for f in factors], it, errors)


# ----------------------------------------------------------------------------------------------
# Tucker


def tucker_hosvd(x: torch.Tensor, rank: int | Sequence[int], batch_dims: int = 0) -> TuckerTensor:
    """Truncated higher-order SVD (De Lathauwer, De Moor & Vandewalle 2000a).

    :math:`A^{(n)}` = the :math:`R_n` leading left singular vectors of :math:`\\mathcal X_{(n)}`;
    :math:`\\mathcal G=\\mathcal X\\times_1A^{(1)T}\\cdots\\times_NA^{(N)T}`. Quasi-optimal:
    the error is at most :math:`\\sqrt N` times the best rank-:math:`(R_1..R_N)` error.

    Shapes: ``x (*B, I_1..I_N)`` -> core ``(*B, R_1..R_N)``, factors ``(*B, I_n, R_n)``.
    Cost :math:`O(P\\sum_n I_n + \\sum_n I_n^3)` (Gram matrices of the unfoldings).
    """
    xb, lead = _flatten_batch(x, batch_dims)
    ranks = _as_ranks(rank, xb.shape[1:], "tucker_hosvd")
    factors = [leading_left_singular_vectors(unfold(xb, n, "row_major", batch_dims=1), r)
               for n, r in enumerate(ranks)]
    core = multi_mode_dot(xb, factors, transpose=True, batch_dims=1)
    return TuckerTensor(_restore(core, lead), [_restore(f, lead) for f in factors])


# HOOI on small tensors: below this many multiply-adds (P times the product of the other modes'
# ranks) the projection X x_{m!=n} A_m^T is one GEMM with a Kronecker product of the factors,
# fewer operations than N-1 mode products; above it the sequential mode products cost fewer flops.
_KRON_FLOPS_MAX = 1 << 22


def _hooi_sweeps(x, factors, ranks, n_iter_max, tol):
    """HOOI sweeps of :func:`tucker_hooi` on ``x`` ``(*B, I_1..I_N)`` (``*B`` empty or one batch dim).

    Inside the sweeps only the spanned subspaces matter, so the leading eigenvectors are taken
    without the deterministic sign convention; it is applied once at the end (to the factors and,
    consistently, to the core). Returns ``(core, factors, n_iter, errors)``.
    """
    nb = x.dim() - len(ranks)  # 0 or 1 batch dims
    lead = x.shape[:nb]
    shape = x.shape[nb:]
    order = len(ranks)
    size = math.prod(shape)
    kron = all(size * math.prod(ranks) // r <= _KRON_FLOPS_MAX for r in ranks)
    if kron:  # row-major unfoldings (*B, I_n, K)
        unfolded = [x.movedim(n + nb, nb).reshape(*lead, shape[n], -1) for n in range(order)]

    def leading(m, r):  # a basis of the leading r-dim left singular subspace of m (*B, I, K)
        if m.shape[-2] <= m.shape[-1]:
            return torch.linalg.eigh(m @ m.mT)[1][..., -r:].flip(-1)
        return leading_left_singular_vectors(m, r)

    if factors is None:  # HOSVD start; signs are irrelevant until the end
        factors = [leading(unfolded[n] if kron else unfold(x, n, "row_major", batch_dims=nb), r)
                   for n, r in enumerate(ranks)]

    def projected_t(n):
        """``(X x_{m!=n} A_m^T)_(n)^T``, shape ``(*B, prod_{m!=n} R_m, I_n)``."""
        kt = None
        for m in range(order):
            if m != n:
                ft = factors[m].mT  # (*B, R_m, I_m)
                kt = ft if kt is None else (kt[..., :, None, :, None] * ft[..., None, :, None, :]).reshape(
                    *lead, kt.shape[-2] * ft.shape[-2], -1)
        return kt @ unfolded[n].mT

    norm_x2 = (x * x).flatten(nb).sum(-1, dtype=torch.float64)
    errors: list[float] = []
    prev = None
    core = x
    it = 0
    for it in range(1, n_iter_max + 1):  # noqa: B007 - it is reported
        for n, r in enumerate(ranks):
            if kron:
                mt = projected_t(n)  # (*B, K_r, I_n)
                factors[n] = leading(mt.mT, r)
            else:
                y = multi_mode_dot(x, factors, skip=n, transpose=True, batch_dims=nb)
                factors[n] = leading(y.movedim(n + nb, nb).reshape(*lead, shape[n], -1), r)
        if kron:  # core_(N)^T = Y_(N)^T A_N, whose rows are the other modes in row-major order
            core = (mt @ factors[-1]).reshape(*lead, *ranks)
        else:
            core = mode_dot(y, factors[-1], order - 1, transpose=True, batch_dims=nb)
        core_norm2 = (core * core).flatten(nb).sum(-1, dtype=torch.float64)
        err = ((norm_x2 - core_norm2).clamp_min(0) / norm_x2).sqrt().reshape(-1).tolist()
        errors.append(max(err))
        if prev is not None and all(abs(p - e) < tol for p, e in zip(prev, err, strict=True)):
            break
        prev = err
    for n, f in enumerate(factors):  # deterministic signs; flip the matching core slices
        sign = _pivot_sign(f)  # (*B, 1, R_n): +-1 per column
        core = core * sign.reshape(*lead, *([1] * n), -1, *([1] * (order - n - 1)))
        factors[n] = f * sign
    return core, factors, it, errors


def tucker_hooi(
    x: torch.Tensor,
    rank: int | Sequence[int],
    n_iter_max: int = 100,
    tol: float = 1e-4,
    init: str | TuckerTensor = "svd",
    batch_dims: int = 0,
) -> TuckerTensor:
    """Higher-order orthogonal iteration (De Lathauwer, De Moor & Vandewalle 2000b).

    Starting from HOSVD (``init="svd"``) or a given :class:`TuckerTensor`, each sweep sets
    :math:`A^{(n)}` to the leading left singular vectors of
    :math:`(\\mathcal X\\times_{m\\ne n}A^{(m)T})_{(n)}`. With orthonormal factors the error is
    :math:`\\sqrt{\\|\\mathcal X\\|^2-\\|\\mathcal G\\|^2}/\\|\\mathcal X\\|`; it stops when that changes
    by less than ``tol`` (TensorLy's criterion) or after ``n_iter_max`` sweeps.

    Cost per sweep :math:`O(NRP)` for :math:`R=\\max R_n` (the first, largest mode product dominates).
    """
    xb, lead = _flatten_batch(x, batch_dims)
    shape = xb.shape[1:]
    ranks = _as_ranks(rank, shape, "tucker_hooi")
    if isinstance(init, TuckerTensor):
        factors = [f.reshape(xb.shape[0], *f.shape[-2:]).to(xb) for f in init.factors]
    elif init == "svd":
        factors = None  # the HOSVD factors, computed by the sweeps from the unfoldings they hold
    else:
        raise ValueError(f"tucker_hooi: unknown init {init!r}; use 'svd' or a TuckerTensor")
    if xb.shape[0] == 1:  # one problem: 2-D matmuls and eigensolves dispatch faster
        core, factors, it, errors = _hooi_sweeps(xb[0], factors and [f[0] for f in factors], ranks, n_iter_max, tol)
        core, factors = core.unsqueeze(0), [f.unsqueeze(0) for f in factors]
    else:
        core, factors, it, errors = _hooi_sweeps(xb, factors, ranks, n_iter_max, tol)
    return TuckerTensor(_restore(core, lead), [_restore(f, lead) for f in factors], it, errors)


# ----------------------------------------------------------------------------------------------
# Tensor train


def tt_svd(
    x: torch.Tensor,
    rank: int | Sequence[int] | None = None,
    tol: float | None = None,
    batch_dims: int = 0,
) -> TTTensor:
    """TT-SVD (Oseledets 2011, Alg. 1): sequential truncated SVDs of reshaped unfoldings.

    Give ``rank`` (an int capping every TT rank, or the ``N-1`` inner ranks, or all ``N+1`` with
    ones at the ends as TensorLy does) and/or ``tol``, a relative error bound: each of the ``N-1``
    SVDs drops the tail whose energy is at most :math:`\\delta=\\mathrm{tol}\\,\\|\\mathcal X\\|_F/\\sqrt{N-1}`,
    which guarantees :math:`\\|\\mathcal X-\\hat{\\mathcal X}\\|_F\\le\\mathrm{tol}\\,\\|\\mathcal X\\|_F`.
    In a batch the largest rank needed by any member is used (the bound holds for all).

    Shapes: ``x (*B, I_1..I_N)`` -> ``cores[k] (*B, r_{k-1}, I_k, r_k)``.
    Cost :math:`O(\\min(I_1, P/I_1)\\,P)` for the first SVD, which dominates. With a fixed rank and a
    wide unfolding the left factor comes from the small Gram matrix :math:`CC^T` (an :math:`O(I_1^2P)`
    product and an :math:`I_1\\times I_1` eigensolve) instead of a full SVD.
    """
    xb, lead = _flatten_batch(x, batch_dims)
    b, shape = xb.shape[0], xb.shape[1:]
    order = len(shape)
    if rank is None and tol is None:
        raise ValueError("tt_svd needs rank=..., tol=... or both")
    if rank is None:
        inner = [None] * (order - 1)
    elif isinstance(rank, int):
        inner = [rank] * (order - 1)
    else:
        rank = list(rank)
        if len(rank) == order + 1:
            if rank[0] != 1 or rank[-1] != 1:
                raise ShapeError(f"tt_svd: boundary ranks must be 1, got {rank}")
            rank = rank[1:-1]
        if len(rank) != order - 1:
            raise ShapeError(f"tt_svd: expected {order - 1} inner ranks (or {order + 1} with the ends), got {len(rank)}")
        inner = rank
    delta2 = None
    if tol is not None:
        delta2 = (tol ** 2) * (xb * xb).flatten(1).sum(-1) / max(1, order - 1)  # (B,)
    cores = []
    c = xb
    r_prev = 1
    for k in range(order - 1):
        c = c.reshape(b, r_prev * shape[k], -1)
        rows = c.shape[1]
        if delta2 is None and 2 * rows <= c.shape[2]:
            # fixed rank and a wide unfolding: U from the small Gram matrix, S V^T = U^T C
            r = min(inner[k], rows)
            u = leading_left_singular_vectors(c, r)
            cores.append(u.reshape(b, r_prev, shape[k], r))
            c = u.transpose(1, 2) @ c
            r_prev = r
            continue
        u, s, vh = torch.linalg.svd(c, full_matrices=False)
        r = s.shape[-1]
        if delta2 is not None:
            tail = (s * s).flip(-1).cumsum(-1).flip(-1)  # tail[j] = sum_{i>=j} s_i^2
            keep = (tail > delta2.unsqueeze(-1)).sum(-1)  # smallest r with tail[r] <= delta^2
            r = max(1, int(keep.max()))
        if inner[k] is not None:
            r = min(r, inner[k])
        cores.append(u[..., :r].reshape(b, r_prev, shape[k], r))
        c = s[..., :r, None] * vh[..., :r, :]
        r_prev = r
    cores.append(c.reshape(b, r_prev, shape[-1], 1))
    return TTTensor([_restore(g, lead) for g in cores])
