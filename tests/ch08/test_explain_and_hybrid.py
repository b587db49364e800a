"""Explanations (book §8.9, errata X1, X2, E11) and the superpixel hybrid (§8.10, erratum E12)."""

import networkx as nx
import numpy as np
import pytest
import torch

from tensorprism.data.graph import Graph
from tensorprism.explain.graph import (
    ExplainerConfig,
    explanation_subgraph,
    gnn_explainer,
    gradient_saliency,
    plot_explanation,
)
from tensorprism.models import create_model


@pytest.fixture
def path_model():
    torch.manual_seed(0)
    g = Graph.from_networkx(nx.path_graph(9), x=torch.randn(9, 4))
    model = create_model("gcn", in_channels=4, hidden=8, num_classes=3, dropout=0.0)
    return g, model


def test_erratum_X1_X2_saliency_of_one_logit_is_repeatable(path_model):
    """Book lines 20007-20023: backward from a vector output fails (X1) and never-zeroed
    gradients double the second call's scores (X2). Ours: a class logit, no accumulation."""
    g, model = path_model
    a = gradient_saliency(model, g.x, g.edge_index, node=4)
    b = gradient_saliency(model, g.x, g.edge_index, node=4)
    torch.testing.assert_close(a["edges"], b["edges"])
    torch.testing.assert_close(a["features"], b["features"])
    assert a["features"].shape == (9, 4) and a["edges"].shape == (g.num_edges,)


def test_erratum_E11_saliency_is_zero_outside_the_receptive_field(path_model):
    """A 2-layer GCN at node 4 sees the features of nodes 2..6 only, and edge weights only through
    rows 2..6 of Â (the degrees of nodes 2 and 6 count too); non-edges have no score at all (edge
    scores are derivatives w.r.t. existing edges' weights, not the dense adjacency)."""
    g, model = path_model
    s = gradient_saliency(model, g.x, g.edge_index, node=4)
    far = torch.tensor([0, 1, 7, 8])
    assert s["node_score"][far].abs().max() == 0 and s["node_score"][4] > 0
    outside = torch.isin(g.edge_index[1], far)
    assert s["edges"][outside].abs().max() == 0 and s["edges"][~outside].min() > 0


def test_gnn_explainer_keeps_prediction_and_picks_edges_near_the_node(path_model, tmp_path):
    g, model = path_model
    before = [p.detach().clone() for p in model.parameters()]
    exp = gnn_explainer(model, g.x, g.edge_index, node=4, cfg=ExplainerConfig(epochs=100, lr=0.05))
    for p, q in zip(model.parameters(), before, strict=True):
        assert torch.equal(p, q) and p.requires_grad  # model untouched
    assert exp["edge_mask"].shape == (g.num_edges,) and exp["feature_mask"].shape == (4,)
    outside = torch.isin(g.edge_index[1], torch.tensor([0, 1, 7, 8]))
    assert exp["edge_mask"][outside].abs().max() == 0  # cannot matter, so not in the explanation
    keep = explanation_subgraph(g.edge_index, exp["edge_mask"], threshold=0.5)
    assert 0 < int(keep.sum()) < int((~outside).sum())  # a proper subset of the computation graph
    with torch.no_grad():
        pred = int(model(g.x, g.edge_index)[4].argmax())
    assert exp["target"] == pred
    path = plot_explanation(g.edge_index, exp["edge_mask"], keep, tmp_path / "e.png", node=4)
    assert path.exists() and path.stat().st_size > 1000


def test_superpixel_graph_of_a_synthetic_digit():
    pytest.importorskip("skimage")
    from tensorprism.graph.superpixels import image_to_graph

    img = np.zeros((28, 28))
    img[6:22, 12:16] = 1.0  # a vertical bar, like a "1"
    g = image_to_graph(img, n_segments=40, label=1)
    assert 20 <= g.num_nodes <= 60 and g.is_undirected() and g.y.tolist() == [1]
    assert g.x.shape == (g.num_nodes, 3) and float(g.x[:, 0].max()) > 0.9
    seg = g.meta["segments"]
    a, b = seg[:, :-1].ravel(), seg[:, 1:].ravel()  # horizontally touching regions are joined
    touching = {(int(u), int(v)) for u, v in zip(a, b, strict=True) if u != v}
    edges = set(map(tuple, g.edge_index.t().tolist()))
    assert touching <= edges
