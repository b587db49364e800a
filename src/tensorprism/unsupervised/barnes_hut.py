r"""Barnes-Hut approximation of t-SNE's repulsive forces (van der Maaten 2014, "Accelerating t-SNE
using tree-based algorithms"), vectorised in torch.

t-SNE's gradient splits into an attraction over the (sparse, k-nearest-neighbour) :math:`p_{ij}` and a
repulsion over *all* pairs,

.. math:: \frac{\partial C}{\partial y_i}=4\Big(\sum_j p_{ij}\,w_{ij}(y_i-y_j)-\frac1Z\sum_j w_{ij}^2(y_i-y_j)\Big),
          \qquad w_{ij}=(1+\lVert y_i-y_j\rVert^2)^{-1},\; Z=\sum_{k\ne l}w_{kl},

whose exact cost is :math:`O(N^2)`. Barnes-Hut puts the embedding in a quadtree (2-D; an octree in
3-D) and, for point :math:`i`, replaces the points of a cell of width :math:`r` whose centre of mass
:math:`y_c` is far enough away, :math:`r/\lVert y_i-y_c\rVert<\theta` (``angle``), by ``n_c`` copies
of :math:`y_c`: the repulsion costs :math:`O(N\log N)`. ``theta = 0`` visits every leaf (exact up to
points sharing a leaf at ``max_depth``).

Instead of a pointer tree walked point by point, the tree here is a stack of regular grids (level
:math:`\ell` has :math:`2^{\ell}` cells per axis), whose counts and centres of mass are two
``index_add`` calls per level; the traversal keeps a frontier of (point, cell) pairs, accepts the
far cells of all points at once and replaces the others by their non-empty children. A point's own
cell is never summarised; at the deepest level it counts without the point itself.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..errors import ConfigError


def _grid_keys(coords: Tensor, side: int) -> Tensor:
    """Integer cell coordinates ``(M, d)`` → flat keys ``(M,)`` on a grid of ``side`` cells per axis."""
    key = coords[:, 0].clone()
    for k in range(1, coords.shape[1]):
        key = key * side + coords[:, k]
    return key


def barnes_hut_repulsion(y: Tensor, theta: float = 0.5, max_depth: int | None = None) -> tuple[Tensor, Tensor]:
    r"""``(rep (N, d), Z)``: :math:`\sum_j w_{ij}^2(y_i-y_j)` per point and :math:`Z=\sum_{i\ne j}w_{ij}`,
    both by the Barnes-Hut approximation with opening angle ``theta``. ``y (N, d)``, ``d`` in 1..3."""
    n, d = y.shape
    if not 1 <= d <= 3:
        raise ConfigError(f"Barnes-Hut t-SNE supports 1 to 3 embedding dimensions, got {d}; use method='exact'")
    if theta < 0:
        raise ConfigError(f"the Barnes-Hut angle must be >= 0, got {theta}")
    # deep enough for ~64 cells per point on the last level (few leaves shared by 3+ points), capped
    depth = max_depth or min({1: 20, 2: 11, 3: 7}[d], max(2, math.ceil((math.log2(max(n, 2)) + 6) / d)))
    if (1 << depth) ** d > 1 << 22:  # the deepest level's grid is dense: keep it to ~4 million cells
        raise ConfigError(f"max_depth={depth} gives {(1 << depth) ** d:,} cells in {d}-D; use at most "
                          f"{22 // d} levels")
    lo = y.min(0).values
    width = float((y.max(0).values - lo).max()) * (1 + 1e-9) + 1e-12
    top = 1 << depth
    g = ((y - lo) / width * top).long().clamp_(0, top - 1)  # each point's cell at the deepest level
    offsets = torch.cartesian_prod(*[torch.tensor([0, 1], device=y.device)] * d).view(-1, d)  # 2^d children
    rep = torch.zeros_like(y)
    z = y.new_zeros(())
    pi = torch.arange(n, device=y.device).repeat_interleave(len(offsets))  # level 1: every child of the root
    cell = offsets.repeat(n, 1)
    for level in range(1, depth + 1):
        side = 1 << level
        own_cells = g >> (depth - level)
        own_key = _grid_keys(own_cells, side)
        count = torch.zeros(side**d, dtype=y.dtype, device=y.device).index_add_(0, own_key, torch.ones_like(y[:, 0]))
        mass = torch.zeros(side**d, d, dtype=y.dtype, device=y.device).index_add_(0, own_key, y)
        key = _grid_keys(cell, side)
        cnt = count[key]
        keep = cnt > 0
        pi, cell, key, cnt = pi[keep], cell[keep], key[keep], cnt[keep]
        com = mass[key]
        own = key == own_key[pi]
        if level == depth:  # leaves: everything left is summarised; one's own leaf without oneself
            com = torch.where(own[:, None], com - y[pi], com)
            cnt = torch.where(own, cnt - 1, cnt)
            keep = cnt > 0
            pi, com, cnt = pi[keep], com[keep], cnt[keep]
            accept = torch.ones_like(cnt, dtype=torch.bool)
        com = com / cnt[:, None]
        diff = y[pi] - com
        d2 = (diff * diff).sum(1)
        if level < depth:
            r = width / side
            accept = ~own & (r * r < theta * theta * d2)
        w = 1.0 / (1.0 + d2[accept])
        nw = cnt[accept] * w
        z = z + nw.sum()
        rep.index_add_(0, pi[accept], (nw * w)[:, None] * diff[accept])
        if level == depth:
            break
        pi, cell = pi[~accept], cell[~accept]
        pi = pi.repeat_interleave(len(offsets))
        cell = (cell * 2).repeat_interleave(len(offsets), dim=0) + offsets.repeat(len(cell), 1)
    return rep, z


__all__ = ["barnes_hut_repulsion"]
