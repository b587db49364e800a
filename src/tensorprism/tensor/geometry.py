"""Geometry on tensors (§2.3, §2.5.1, Ex 2.4–2.6, 2.14, 2.17): transforms, rotations, point clouds,
meshes, distances, classical MDS, centred PCA, and Riemannian metrics with geodesics.

Conventions
-----------
* Points are *rows* by default: a point cloud is ``(..., N, 3)`` and transforms act as
  :math:`\\mathcal P R^T + t` (book l.1819). The exercises use columns (``3 x N``, Ex 2.6, 2.14,
  2.17); every function that takes points has an explicit ``layout`` argument, ``"N3"`` (rows) or
  ``"3N"`` (columns) — it is never guessed from the shape.
* Mesh faces are integer, **0-based** ``(M, 3)`` tensors; :meth:`Mesh.from_one_based` converts the
  book's 1-based faces (l.1799, erratum E28).
* Rotation matrices act on column vectors, :math:`y = Rx`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import ShapeError

__all__ = [
    "affine", "rotation_2d", "rotation_x", "rotation_y", "rotation_z", "axis_angle",
    "quaternion_to_matrix", "matrix_to_quaternion", "is_orthogonal", "check_rotation",
    "PointCloud", "Mesh", "pairwise_distances", "classical_mds", "pca", "great_circle_distance",
    "RiemannianMetric", "sphere_metric", "spherical_to_cartesian", "divergence",
]

LAYOUTS = ("N3", "3N")


def _angle(theta, like: torch.Tensor | None = None) -> torch.Tensor:
    if isinstance(theta, torch.Tensor):
        return theta if theta.is_floating_point() else theta.float()
    return torch.tensor(float(theta), dtype=like.dtype if like is not None else torch.get_default_dtype())


def affine(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Affine map :math:`y = Ax + b` on row vectors ``x (..., n)`` with ``A (m, n)``, ``b (m,)``.

    Affine maps are *not* linear unless ``b = 0`` (erratum E13, l.1530).
    """
    if a.shape[-1] != x.shape[-1]:
        raise ShapeError(f"affine: A is {tuple(a.shape)} but points have {x.shape[-1]} coordinates; expected A (m, {x.shape[-1]})")
    y = x @ a.transpose(-1, -2)
    return y if b is None else y + b


def rotation_2d(theta) -> torch.Tensor:
    """:math:`Q(\\theta)=\\begin{pmatrix}\\cos\\theta&-\\sin\\theta\\\\\\sin\\theta&\\cos\\theta\\end{pmatrix}` (l.1556)."""
    t = _angle(theta)
    c, s = torch.cos(t), torch.sin(t)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def _axis_rotation(theta, i: int, j: int) -> torch.Tensor:
    t = _angle(theta)
    c, s = torch.cos(t), torch.sin(t)
    r = torch.eye(3, dtype=t.dtype, device=t.device).expand(*t.shape, 3, 3).clone()
    r[..., i, i], r[..., i, j], r[..., j, i], r[..., j, j] = c, -s, s, c
    return r


def rotation_x(theta) -> torch.Tensor:
    """Rotation by ``theta`` about the x axis (Ex 2.6)."""
    return _axis_rotation(theta, 1, 2)


def rotation_y(theta) -> torch.Tensor:
    """Rotation by ``theta`` about the y axis."""
    return _axis_rotation(theta, 2, 0)


def rotation_z(theta) -> torch.Tensor:
    """Rotation by ``theta`` about the z axis (l.1823, Ex 2.4)."""
    return _axis_rotation(theta, 0, 1)


def axis_angle(axis: torch.Tensor, angle) -> torch.Tensor:
    """Rodrigues' formula :math:`R = I + \\sin\\theta K + (1-\\cos\\theta)K^2`, ``K`` = cross matrix of the unit axis."""
    axis = axis if axis.is_floating_point() else axis.float()
    norm = torch.linalg.vector_norm(axis, dim=-1, keepdim=True)
    if bool((norm == 0).any()):
        raise ValueError("axis_angle: the rotation axis must be non-zero")
    k = axis / norm
    kx, ky, kz = k.unbind(-1)
    zero = torch.zeros_like(kx)
    kmat = torch.stack([torch.stack([zero, -kz, ky], -1), torch.stack([kz, zero, -kx], -1),
                        torch.stack([-ky, kx, zero], -1)], -2)
    t = _angle(angle, axis)[..., None, None]
    eye = torch.eye(3, dtype=axis.dtype, device=axis.device)
    return eye + torch.sin(t) * kmat + (1 - torch.cos(t)) * kmat @ kmat


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Unit quaternion ``(w, x, y, z)`` (scalar first; normalised here) -> rotation matrix ``(..., 3, 3)``."""
    if q.shape[-1] != 4:
        raise ShapeError(f"quaternion_to_matrix expects (..., 4) in (w, x, y, z) order, got {tuple(q.shape)}")
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        torch.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        torch.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quaternion(r: torch.Tensor) -> torch.Tensor:
    """Rotation matrix -> unit quaternion ``(w, x, y, z)`` with ``w >= 0`` (Shepperd's stable branch choice)."""
    check_rotation(r)
    m = r
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cands = torch.stack([
        torch.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2], m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
        torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
    ], -2)  # row k is 4 q_k q (up to scale)
    diag = torch.stack([1 + trace, 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                        1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)
    best = diag.argmax(-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return q * torch.where(q[..., :1] < 0, -1.0, 1.0)


def is_orthogonal(q: torch.Tensor, atol: float = 1e-5) -> bool:
    """Whether :math:`Q^TQ = QQ^T = I` (l.1548) within ``atol`` for every matrix in the batch."""
    if q.shape[-1] != q.shape[-2]:
        return False
    eye = torch.eye(q.shape[-1], dtype=q.dtype, device=q.device)
    return bool(torch.allclose(q.transpose(-1, -2) @ q, eye.expand_as(q), atol=atol)
                and torch.allclose(q @ q.transpose(-1, -2), eye.expand_as(q), atol=atol))


def check_rotation(r: torch.Tensor, atol: float = 1e-5) -> torch.Tensor:
    """Return ``r`` if it is a proper rotation (orthogonal, ``det = +1``); raise ``ValueError`` otherwise."""
    if r.shape[-2:] not in ((2, 2), (3, 3)):
        raise ShapeError(f"expected rotation matrices (..., 3, 3) or (..., 2, 2), got {tuple(r.shape)}")
    if not is_orthogonal(r, atol):
        err = float((r.transpose(-1, -2) @ r - torch.eye(r.shape[-1], dtype=r.dtype, device=r.device)).abs().max())
        raise ValueError(f"matrix is not orthogonal: max |R^T R - I| = {err:.3g} > {atol}; "
                         "re-orthogonalise it (e.g. via SVD: U V^T) before using it as a rotation")
    det = torch.linalg.det(r)
    if bool((det < 0).any()):
        raise ValueError("matrix is orthogonal but has det = -1 (a reflection, not a rotation)")
    return r


def _rows(points: torch.Tensor, layout: str) -> torch.Tensor:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be 'N3' (points as rows) or '3N' (points as columns), got {layout!r}")
    return points if layout == "N3" else points.transpose(-1, -2)


@dataclass
class PointCloud:
    """Points stored as rows ``(..., N, D)`` (book l.1787). Build from columns with ``layout="3N"``.

    ``PointCloud(p, layout="3N")`` takes ``(3, N)`` columns (the exercises' layout) and stores rows;
    :meth:`as_layout` gives either layout back. The layout is always explicit.
    """

    points: torch.Tensor
    layout: str = "N3"

    def __post_init__(self):
        rows = _rows(self.points, self.layout)
        if rows.dim() < 2:
            raise ShapeError(f"a point cloud needs shape (N, D) or (D, N); got {tuple(self.points.shape)}")
        self.points = rows if rows.is_floating_point() else rows.float()
        self.layout = "N3"

    def as_layout(self, layout: str) -> torch.Tensor:
        return _rows(self.points, layout)

    def translate(self, t: torch.Tensor) -> PointCloud:
        """:math:`\\mathcal P + t` broadcast over points (l.1809)."""
        return PointCloud(self.points + t)

    def rotate(self, r: torch.Tensor, check: bool = True) -> PointCloud:
        """:math:`\\mathcal P R^T` (l.1821); ``check`` verifies ``R`` is a proper rotation."""
        return PointCloud(self.points @ (check_rotation(r) if check else r).transpose(-1, -2))

    def scale(self, s) -> PointCloud:
        """Element-wise (anisotropic) scaling :math:`\\mathcal P\\cdot s` (l.1833)."""
        return PointCloud(self.points * torch.as_tensor(s, dtype=self.points.dtype, device=self.points.device))

    def centroid(self) -> torch.Tensor:
        return self.points.mean(-2)


@dataclass
class Mesh:
    """Triangle mesh: ``vertices (N, 3)`` float, ``faces (M, 3)`` long, **0-based** (book l.1793, E28)."""

    vertices: torch.Tensor
    faces: torch.Tensor

    def __post_init__(self):
        if self.vertices.dim() != 2:
            raise ShapeError(f"mesh vertices must be (N, D), got {tuple(self.vertices.shape)}")
        if self.faces.is_floating_point():
            if not bool((self.faces == self.faces.round()).all()):
                raise ShapeError("mesh faces must hold integer vertex indices")
        self.faces = self.faces.long()
        if not self.vertices.is_floating_point():
            self.vertices = self.vertices.float()
        n = self.vertices.shape[0]
        if self.faces.numel() and (int(self.faces.min()) < 0 or int(self.faces.max()) >= n):
            hint = " (faces look 1-based: use Mesh.from_one_based)" if int(self.faces.max()) == n else ""
            raise ShapeError(f"mesh faces index vertices 0..{n - 1} but hold {int(self.faces.min())}.."
                             f"{int(self.faces.max())}{hint}")

    @classmethod
    def from_one_based(cls, vertices: torch.Tensor, faces) -> Mesh:
        """Import 1-based faces (as printed in the book, l.1799, or in OBJ files)."""
        faces = torch.as_tensor(faces)
        if faces.numel() and int(faces.min()) < 1:
            raise ShapeError("from_one_based: faces contain index 0; they are already 0-based")
        return cls(vertices, faces.long() - 1)

    def _with(self, vertices: torch.Tensor) -> Mesh:
        return Mesh(vertices, self.faces)

    def translate(self, t: torch.Tensor) -> Mesh:
        return self._with(PointCloud(self.vertices).translate(t).points)

    def rotate(self, r: torch.Tensor, check: bool = True) -> Mesh:
        return self._with(PointCloud(self.vertices).rotate(r, check).points)

    def scale(self, s) -> Mesh:
        return self._with(PointCloud(self.vertices).scale(s).points)

    def edges(self) -> torch.Tensor:
        """Unique undirected edges ``(E, 2)``, smaller index first."""
        e = torch.cat([self.faces[:, [0, 1]], self.faces[:, [1, 2]], self.faces[:, [2, 0]]])
        return torch.unique(e.sort(dim=1).values, dim=0)

    def face_normals(self) -> torch.Tensor:
        """Unit normals ``(M, 3)`` from the right-hand rule on each face's vertex order."""
        v = self.vertices[self.faces]
        n = torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        return n / torch.linalg.vector_norm(n, dim=-1, keepdim=True)


def pairwise_distances(x: torch.Tensor, y: torch.Tensor | None = None, layout: str = "N3") -> torch.Tensor:
    """Euclidean distance matrix :math:`D_{ij}=\\|x_i-y_j\\|_2`, ``(..., N, M)`` (Ex 2.14).

    Uses the exact difference form (not the Gram expansion) so that zero distances are exact.
    """
    xr = _rows(x, layout)
    yr = xr if y is None else _rows(y, layout)
    return torch.linalg.vector_norm(xr.unsqueeze(-2) - yr.unsqueeze(-3), dim=-1)


def classical_mds(d: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Classical (Torgerson) MDS of a distance matrix ``(N, N)`` -> ``(coords (N, k), eigenvalues (N,))``.

    :math:`B=-\\tfrac12 JD^{\\circ2}J`, :math:`J=I-\\tfrac1N\\mathbf 1\\mathbf 1^T`; coordinates
    :math:`V_k\\Lambda_k^{1/2}` from the top-``k`` eigenpairs (negative eigenvalues clipped to 0).
    Eigenvalues are returned in decreasing order. Signs are made deterministic.
    """
    n = d.shape[-1]
    if d.shape[-2] != n:
        raise ShapeError(f"classical_mds expects a square distance matrix, got {tuple(d.shape)}")
    j = torch.eye(n, dtype=d.dtype, device=d.device) - 1.0 / n
    b = -0.5 * j @ (d * d) @ j
    vals, vecs = torch.linalg.eigh((b + b.transpose(-1, -2)) / 2)
    vals, vecs = vals.flip(-1), vecs.flip(-1)
    idx = vecs.abs().argmax(-2, keepdim=True)
    vecs = vecs * torch.sign(torch.gather(vecs, -2, idx))
    return vecs[..., :k] * vals[..., :k].clamp_min(0).sqrt().unsqueeze(-2), vals


def pca(x: torch.Tensor, k: int | None = None, unbiased: bool = True
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Centred PCA of rows ``x (N, d)`` -> ``(scores (N, k), components (d, k), variances (k,))``.

    :math:`C=\\frac1{N-1}(X-\\bar X)^T(X-\\bar X)` (``unbiased=False``: :math:`1/N`); scores
    :math:`(X-\\bar X)W_k`. The book's :math:`\\frac1NX^TX` (l.2043) omits centring (erratum E12).
    """
    if x.dim() != 2:
        raise ShapeError(f"pca expects rows (N, d), got {tuple(x.shape)}; transpose 3xN clouds first")
    k = x.shape[1] if k is None else k
    xc = x - x.mean(0, keepdim=True)
    cov = xc.T @ xc / (x.shape[0] - (1 if unbiased else 0))
    vals, vecs = torch.linalg.eigh(cov)
    vals, vecs = vals.flip(-1)[:k], vecs.flip(-1)[:, :k]
    idx = vecs.abs().argmax(0, keepdim=True)
    vecs = vecs * torch.sign(torch.gather(vecs, 0, idx))
    return xc @ vecs, vecs, vals


def great_circle_distance(p: torch.Tensor, q: torch.Tensor, radius: float = 1.0) -> torch.Tensor:
    """Geodesic distance :math:`d=R\\theta` on a sphere (l.1604) between points ``(..., 3)``.

    The central angle is :math:`\\theta=\\operatorname{atan2}(\\|p\\times q\\|, p\\cdot q)` for the
    directions of ``p`` and ``q`` (accurate for both tiny and near-antipodal angles, unlike ``acos``).
    """
    cross = torch.linalg.vector_norm(torch.linalg.cross(p, q, dim=-1), dim=-1)
    return radius * torch.atan2(cross, (p * q).sum(-1))


def spherical_to_cartesian(theta: torch.Tensor, phi: torch.Tensor, radius: float = 1.0) -> torch.Tensor:
    """Polar angle ``theta``, azimuth ``phi`` -> ``(..., 3)`` Cartesian point."""
    return radius * torch.stack([torch.sin(theta) * torch.cos(phi), torch.sin(theta) * torch.sin(phi),
                                 torch.cos(theta)], -1)


class RiemannianMetric:
    """A metric tensor field :math:`G(x)` on a chart, ``metric(x: (d,)) -> (d, d)`` SPD (l.1578).

    Christoffel symbols of the second kind are computed by autograd (l.1598):

    .. math:: \\Gamma^k_{ij}=\\tfrac12 g^{kl}(\\partial_j g_{il}+\\partial_i g_{jl}-\\partial_l g_{ij}),

    and geodesics :math:`\\ddot\\gamma^k+\\Gamma^k_{ij}\\dot\\gamma^i\\dot\\gamma^j=0` (l.1596) are
    integrated with classical RK4.
    """

    def __init__(self, metric: Callable[[torch.Tensor], torch.Tensor]):
        self.metric = metric

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.metric(x)

    def christoffel(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\Gamma^k_{ij}` at ``x (d,)`` as a ``(d, d, d)`` tensor indexed ``[k, i, j]``."""
        g = self.metric(x)
        dg = torch.autograd.functional.jacobian(self.metric, x, create_graph=x.requires_grad)  # [i, l, j] = d_j g_il
        # Gamma_{l,ij} (first kind) = 1/2 (d_j g_il + d_i g_jl - d_l g_ij)
        first = 0.5 * (dg.permute(1, 0, 2) + dg.permute(1, 2, 0) - dg.permute(2, 0, 1))  # [l, i, j]
        return torch.einsum("kl,lij->kij", torch.linalg.inv(g), first)

    def geodesic_acceleration(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """:math:`\\ddot x^k=-\\Gamma^k_{ij}v^iv^j`."""
        return -torch.einsum("kij,i,j->k", self.christoffel(x), v, v)

    def geodesic(self, x0: torch.Tensor, v0: torch.Tensor, t1: float = 1.0, steps: int = 100
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Integrate the geodesic ODE from ``(x0, v0)`` over ``[0, t1]``; returns positions and
        velocities ``(steps + 1, d)`` each. RK4, global error :math:`O(h^4)`."""
        h = t1 / steps
        xs, vs = [x0], [v0]
        x, v = x0, v0
        for _ in range(steps):
            k1x, k1v = v, self.geodesic_acceleration(x, v)
            k2x, k2v = v + h / 2 * k1v, self.geodesic_acceleration(x + h / 2 * k1x, v + h / 2 * k1v)
            k3x, k3v = v + h / 2 * k2v, self.geodesic_acceleration(x + h / 2 * k2x, v + h / 2 * k2v)
            k4x, k4v = v + h * k3v, self.geodesic_acceleration(x + h * k3x, v + h * k3v)
            x = x + h / 6 * (k1x + 2 * k2x + 2 * k3x + k4x)
            v = v + h / 6 * (k1v + 2 * k2v + 2 * k3v + k4v)
            xs.append(x)
            vs.append(v)
        return torch.stack(xs), torch.stack(vs)

    def length(self, path: torch.Tensor) -> torch.Tensor:
        """Length :math:`\\sum\\sqrt{\\Delta x^T G(\\bar x)\\Delta x}` of a discretised path ``(T, d)``."""
        dx = path[1:] - path[:-1]
        mid = (path[1:] + path[:-1]) / 2
        g = torch.stack([self.metric(m) for m in mid])
        return torch.einsum("ti,tij,tj->t", dx, g, dx).clamp_min(0).sqrt().sum()


def sphere_metric(radius: float = 1.0) -> RiemannianMetric:
    """Round sphere in ``(theta, phi)`` = (polar, azimuth): :math:`G=R^2\\mathrm{diag}(1,\\sin^2\\theta)` (l.1584)."""
    def metric(x: torch.Tensor) -> torch.Tensor:
        one = torch.ones_like(x[0])
        return radius ** 2 * torch.diag(torch.stack([one, torch.sin(x[0]) ** 2]))

    return RiemannianMetric(metric)


def divergence(field: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Divergence of a vector or tensor field at ``x (d,)`` by autograd.

    For a vector field :math:`v:\\mathbb R^d\\to\\mathbb R^d`: :math:`\\sum_i\\partial_i v_i`. For a
    matrix field :math:`H:\\mathbb R^d\\to\\mathbb R^{m\\times d}` the row-wise divergence
    :math:`(\\nabla\\cdot H)_a=\\sum_i\\partial_i H_{ai}` (the convention Ex 2.5 leaves open).
    """
    jac = torch.autograd.functional.jacobian(field, x)  # (*field_shape, d)
    return torch.diagonal(jac, dim1=-2, dim2=-1).sum(-1)
