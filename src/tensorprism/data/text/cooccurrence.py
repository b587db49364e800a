r"""Texts as word co-occurrence graphs (book §8.8, "Custom design: review sentiment").

The nodes of a text's graph are its *distinct* words (node feature ``x (N,)`` = the word id, to be
looked up in an embedding table); two words are joined by an undirected edge when they occur
within ``window`` positions of each other somewhere in the text, i.e. for token positions
:math:`i \ne j` with :math:`|i - j| < w` (TextING, Zhang et al. 2020; TextGCN, Yao et al. 2019,
use document-level windows). With counts as weights,

.. math::
    A_{uv} = \big|\{(i, j) : 0 < j - i < w,\ \{t_i, t_j\} = \{u, v\}\}\big|, \qquad u \ne v,

and :math:`A_{uv} = 1` wherever that count is positive when ``weighted=False``. A word repeated
inside one window (``"very very"``) gives no self-loop: the GCN adds :math:`I` itself.

The book's example (lines 19911–19978) is a 10-word review with a **tridiagonal** adjacency:
that is ``window=2`` (adjacent words) on a text of ten distinct words::

    >>> g = cooccurrence_graph([5, 6, 7, 8], window=2)
    >>> g.dense_adj()
    tensor([[0., 1., 0., 0.],
            [1., 0., 1., 0.],
            [0., 1., 0., 1.],
            [0., 0., 1., 0.]])

``window=1`` gives isolated nodes: a graph model then sees a *bag of embeddings*, the no-edge
baseline of :func:`tensorprism.recipes.ch08_sentiment_graph.sentiment_graph`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ...errors import ConfigError, ShapeError
from ..graph import Graph, batch_graphs


def cooccurrence_graph(token_ids: Sequence[int] | Tensor, window: int = 2, weighted: bool = True,
                       label: int | None = None) -> Graph:
    r"""The co-occurrence graph of one token sequence (see the module docstring for :math:`A`).

    Args:
        token_ids: ``(T,)`` word ids in text order, ``T >= 1``.
        window: width :math:`w \ge 1` of the sliding window; tokens less than ``window`` positions
            apart are joined (2 = adjacent words, the book's tridiagonal example; 1 = no edges).
        weighted: ``edge_weight (E,)`` = co-occurrence counts; ``False`` leaves it ``None`` (0/1).
        label: optional graph label, stored as ``y (1,)``.

    Returns:
        :class:`~tensorprism.data.graph.Graph` with ``x (N,)`` long word ids of the distinct words
        in order of first appearance, ``edge_index (2, E)`` holding both directions of each
        undirected edge (sorted by source, then target), ``edge_weight (E,)`` float or ``None``.
    """
    ids = torch.as_tensor(token_ids, dtype=torch.long)
    if ids.dim() != 1 or ids.numel() == 0:
        raise ShapeError(f"token_ids must be a non-empty 1-D sequence of word ids, got shape "
                         f"{tuple(ids.shape)}; encode the text first (an empty text has no nodes, "
                         f"so map it to [unk_id])")
    if not isinstance(window, int) or window < 1:
        raise ConfigError(f"window must be an integer >= 1 (2 = adjacent words), got {window!r}")
    words, node_of = torch.unique(ids, sorted=False, return_inverse=True)
    # order nodes by first appearance so that node k is the k-th new word of the text
    first = torch.full((words.numel(),), ids.numel(), dtype=torch.long)
    first.scatter_reduce_(0, node_of, torch.arange(ids.numel()), reduce="amin")
    order = torch.argsort(first)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    node_of, words = rank[node_of], words[order]
    n = words.numel()
    src, dst = [], []
    for d in range(1, min(window, ids.numel())):
        src.append(node_of[:-d])
        dst.append(node_of[d:])
    if src:
        s, t = torch.cat(src), torch.cat(dst)
        keep = s != t
        s, t = s[keep], t[keep]
        s, t = torch.cat([s, t]), torch.cat([t, s])  # undirected: both directions
        pair, counts = torch.unique(s * n + t, return_counts=True)  # sorted by (source, target)
        edge_index = torch.stack([pair // n, pair % n])
        weight = counts.float() if weighted else None
    else:
        edge_index = torch.zeros(2, 0, dtype=torch.long)
        weight = torch.zeros(0) if weighted else None
    y = None if label is None else torch.tensor([int(label)])
    return Graph(edge_index=edge_index, x=words, edge_weight=weight, y=y, num_nodes=n)


class TextGraphDataset(torch.utils.data.Dataset):
    """Labelled texts as co-occurrence graphs, built once: ``dataset[i] -> Graph`` with ``y (1,)``.

    ``encode`` maps a text to word ids (e.g. :meth:`~tensorprism.data.text.WordTokenizer.encode`);
    a text with no tokens becomes the single id ``empty_id``. Batch with :meth:`batch` (block-
    diagonal, :func:`~tensorprism.data.graph.batch_graphs`) or ``DataLoader(...,
    collate_fn=collate_graphs)``.
    """

    def __init__(self, rows: Sequence[tuple[str, int]], encode, window: int = 2,
                 weighted: bool = True, empty_id: int = 1):
        self.window, self.weighted = window, weighted
        self.graphs = [cooccurrence_graph(encode(text) or [empty_id], window, weighted, label)
                       for text, label in rows]

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, i: int) -> Graph:
        return self.graphs[i]

    def batch(self, indices: Sequence[int] | Tensor) -> Graph:
        """The graphs at ``indices`` as one block-diagonal batch (``batch (N,)``, ``y (B,)``)."""
        return batch_graphs([self.graphs[int(i)] for i in indices])


__all__ = ["cooccurrence_graph", "TextGraphDataset"]
