"""Explaining GNN predictions (book §8.9): gradient saliency and a GNNExplainer-style mask.

Saliency (book eqs. 19982–19988), corrected:

* the gradient is taken of one **scalar** — the logit of class ``c`` at the target node (or of the
  graph) — not of a whole output vector (book bug X1);
* gradients are computed with :func:`torch.autograd.grad`, so nothing accumulates between calls
  (bug X2);
* edge scores are derivatives with respect to the **weights of existing edges**
  ``s(e_ij) = |∂f_c / ∂w_ij|`` at ``w = 1``, so non-edges get no score (erratum E11).

GNNExplainer (Ying et al. 2019): learn a soft edge mask ``σ(M) ∈ (0,1)^E`` and a feature mask
``σ(F) ∈ (0,1)^D`` that keep the model's prediction while being small and nearly binary::

    min_M,F  −log p(c | X ⊙ σ(F), A ⊙ σ(M)) + β_e Σ σ(M) + β_H H(σ(M)) + β_f mean σ(F) + β_H H(σ(F))

Models must accept ``model(x, edge_index, edge_weight)`` (GCN, GraphSAGE-style weighted models);
attention models without edge weights cannot be masked this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _target_logit(out: Tensor, node: int | None, target: int | None) -> tuple[Tensor, int]:
    row = out[node] if node is not None else out.reshape(-1, out.size(-1))[0]
    c = int(row.argmax()) if target is None else int(target)
    return row[c], c


def gradient_saliency(model: nn.Module, x: Tensor, edge_index: Tensor, node: int | None = None,
                      target: int | None = None) -> dict[str, Tensor | int]:
    """``|∂ logit_c / ∂X|`` per node feature ``(N, D)`` and ``|∂ logit_c / ∂w_e|`` per edge ``(E,)``.

    ``node``: explain that node's prediction (``None``: a graph-level output row 0). ``target``:
    the class (default: the predicted one). Also returns ``node_score (N,)``, the feature sum.
    """
    was = model.training
    model.eval()
    xg = x.detach().clone().requires_grad_(True)
    w = torch.ones(edge_index.size(1), device=x.device, requires_grad=True)
    logit, c = _target_logit(model(xg, edge_index, w), node, target)
    gx, gw = torch.autograd.grad(logit, (xg, w))
    model.train(was)
    return {"features": gx.abs(), "node_score": gx.abs().sum(1), "edges": gw.abs(), "target": c}


@dataclass
class ExplainerConfig:
    epochs: int = 200
    lr: float = 0.01
    edge_size: float = 0.005
    edge_entropy: float = 1.0
    feature_size: float = 1.0
    feature_entropy: float = 0.1


def _entropy(m: Tensor) -> Tensor:
    m = m.clamp(1e-6, 1 - 1e-6)
    return (-m * m.log() - (1 - m) * (1 - m).log()).mean()


def gnn_explainer(model: nn.Module, x: Tensor, edge_index: Tensor, node: int | None = None,
                  target: int | None = None, cfg: ExplainerConfig | None = None,
                  seed: int = 0) -> dict[str, Tensor | int]:
    """Optimise edge and feature masks for one prediction; returns ``edge_mask (E,)``,
    ``feature_mask (D,)`` in ``(0, 1)``, the explained ``target`` and the masked log-probability.

    Only edges inside the prediction's computation graph (non-zero gradient at ``w = 1``) are
    optimised; the others cannot change the output and get mask 0 (as GNNExplainer restricts
    itself to the target's k-hop subgraph). The model's weights are not changed.
    """
    cfg = cfg or ExplainerConfig()
    active = gradient_saliency(model, x, edge_index, node, target)["edges"] > 0
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            _, c = _target_logit(model(x, edge_index, None), node, target)
        gen = torch.Generator(device="cpu").manual_seed(seed)
        std = nn.init.calculate_gain("relu") * (2.0 / (2 * x.size(0))) ** 0.5
        edge_logit = (torch.randn(edge_index.size(1), generator=gen) * std).to(x.device).requires_grad_()
        feat_logit = (torch.randn(x.size(1), generator=gen) * 0.1).to(x.device).requires_grad_()
        opt = torch.optim.Adam([edge_logit, feat_logit], lr=cfg.lr)
        for _ in range(cfg.epochs):
            opt.zero_grad()
            em, fm = edge_logit.sigmoid() * active, feat_logit.sigmoid()
            out = model(x * fm, edge_index, em)
            row = out[node] if node is not None else out.reshape(-1, out.size(-1))[0]
            loss = (-F.log_softmax(row, -1)[c] + cfg.edge_size * em.sum()
                    + cfg.edge_entropy * _entropy(em[active]) + cfg.feature_size * fm.mean()
                    + cfg.feature_entropy * _entropy(fm))
            loss.backward()
            opt.step()
        with torch.no_grad():
            em, fm = edge_logit.sigmoid() * active, feat_logit.sigmoid()
            row = model(x * fm, edge_index, em)
            row = row[node] if node is not None else row.reshape(-1, row.size(-1))[0]
            logp = F.log_softmax(row, -1)[c]
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    return {"edge_mask": em, "feature_mask": fm, "target": c, "log_prob": logp}


def explanation_subgraph(edge_index: Tensor, edge_score: Tensor, threshold: float | None = None,
                         top_k: int | None = None) -> Tensor:
    """Boolean ``(E,)`` mask of the explanation's edges: score above ``threshold`` (book eq. 20051)
    or the ``top_k`` best (both directions of an undirected edge count separately)."""
    if top_k is not None:
        keep = torch.zeros_like(edge_score, dtype=torch.bool)
        keep[edge_score.topk(min(top_k, edge_score.numel())).indices] = True
        return keep
    return edge_score > (0.1 if threshold is None else threshold)


def plot_explanation(edge_index: Tensor, edge_score: Tensor, keep: Tensor, path: str | Path,
                     node: int | None = None, labels: Tensor | None = None,
                     title: str = "") -> Path:
    """Draw the explanation subgraph (networkx spring layout, as the book's figure, line 20061):
    kept edges with width ∝ importance, nodes coloured by ``labels``, the explained node ringed.
    Only nodes touched by a kept edge are drawn (the book also drew nodes that failed the node
    threshold, listing L30). Saves a PNG and returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..optional import require

    nx = require("networkx", feature="drawing an explanation subgraph")

    g = nx.Graph()
    sel = keep.nonzero().view(-1).tolist()
    for e in sel:
        s, t = int(edge_index[0, e]), int(edge_index[1, e])
        w = float(edge_score[e])
        if g.has_edge(s, t):
            g[s][t]["weight"] = max(g[s][t]["weight"], w)
        else:
            g.add_edge(s, t, weight=w)
    if node is not None:
        g.add_node(node)
    pos = nx.spring_layout(g, seed=0)
    fig, ax = plt.subplots(figsize=(6, 5))
    ws = [g[u][v]["weight"] for u, v in g.edges]
    top = max(ws, default=1.0) or 1.0
    colors = {"node_color": [int(labels[v]) for v in g.nodes], "cmap": "tab10", "vmin": 0,
              "vmax": 9} if labels is not None else {"node_color": "lightblue"}
    nx.draw_networkx_edges(g, pos, ax=ax, width=[0.5 + 4 * w / top for w in ws], edge_color="gray")
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=300, **colors,
                           edgecolors=["red" if v == node else "black" for v in g.nodes],
                           linewidths=[3 if v == node else 0.5 for v in g.nodes])
    nx.draw_networkx_labels(g, pos, ax=ax, font_size=7)
    ax.set_title(title or "explanation subgraph")
    ax.axis("off")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
