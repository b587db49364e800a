"""Tensors of Chapters 1–2: multilinear algebra, decompositions and geometry.

* :mod:`.algebra` — contraction, outer/Kronecker/Khatri–Rao/Hadamard products, norms, mode-``n``
  unfolding (Kolda–Bader order by default) and mode-``n`` products.
* :mod:`.decompositions` — CP-ALS, Tucker (HOSVD/HOOI), tensor train (TT-SVD), errors.
* :mod:`.geometry` — affine maps, rotations, point clouds, meshes, MDS, PCA, Riemannian metrics.
* :mod:`.graph` — graph tensors (adjacency, degree, Laplacians).
"""

from .algebra import (
    contract,
    einsum,
    fold,
    frobenius_norm,
    hadamard,
    inner,
    khatri_rao,
    kron,
    mode_dot,
    multi_mode_dot,
    outer,
    unfold,
)
from .decompositions import (
    CPTensor,
    TTTensor,
    TuckerTensor,
    cp_als,
    explained_variance,
    relative_error,
    tt_svd,
    tucker_hooi,
    tucker_hosvd,
)

__all__ = [
    "einsum", "contract", "outer", "kron", "khatri_rao", "hadamard", "inner", "frobenius_norm", "unfold",
    "fold", "mode_dot", "multi_mode_dot", "CPTensor", "TuckerTensor", "TTTensor", "cp_als",
    "tucker_hosvd", "tucker_hooi", "tt_svd", "relative_error", "explained_variance",
]
