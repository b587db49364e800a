"""3-D plots of point clouds and triangle meshes (§2.5.1). Layouts are explicit, as in
:mod:`tensorprism.tensor.geometry`: ``layout="N3"`` (points as rows) or ``"3N"`` (columns)."""

from __future__ import annotations

import torch

from ..tensor.geometry import Mesh, PointCloud
from .tensor import label_axes

__all__ = ["plot_point_cloud", "plot_mesh"]


def _axes3d(ax):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig = plt.figure()
    return fig, fig.add_subplot(projection="3d")


def plot_point_cloud(points, layout: str = "N3", ax=None, c=None, s: float = 8.0, title: str | None = None):
    """Scatter a point cloud ``(N, 3)`` / ``(3, N)`` in 3-D; ``c`` colours points (default: height z)."""
    p = PointCloud(torch.as_tensor(points), layout).points.detach().cpu().numpy()
    fig, ax = _axes3d(ax)
    ax.scatter(p[:, 0], p[:, 1], p[:, 2], c=p[:, 2] if c is None else c, s=s)
    label_axes(ax, title, labels=("x", "y", "z"))
    return fig


def plot_mesh(mesh: Mesh, ax=None, color: str = "tab:blue", alpha: float = 0.6, edges: bool = True,
              title: str | None = None):
    """Draw a triangle mesh's faces (0-based ``faces``) as a 3-D polygon collection."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    v = mesh.vertices.detach().cpu().numpy()
    tris = v[mesh.faces.cpu().numpy()]
    fig, ax = _axes3d(ax)
    ax.add_collection3d(Poly3DCollection(tris, facecolor=color, alpha=alpha, edgecolor="k" if edges else None))
    lo, hi = v.min(0), v.max(0)
    pad = 0.05 * max(float((hi - lo).max()), 1e-9)
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - pad, hi[1] + pad)
    ax.set_zlim(lo[2] - pad, hi[2] + pad)
    label_axes(ax, title, labels=("x", "y", "z"))
    return fig
