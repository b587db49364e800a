"""Behavioural errata of Chapter 8 not pinned in ``test_book_errata.py`` and the layer tests
(catalogue ``book/ch08.md`` §5)."""

import pytest
import torch

from tensorprism.graph.algorithms import pagerank
from tensorprism.nn.graph.gat import GATConv
from tensorprism.nn.graph.rgcn import RGCNConv


def test_erratum_E8_pagerank_on_a_directed_graph_divides_by_the_out_degree_l19176():
    """E8 (l.19174-19176): PageRank is "adapted to use node embeddings" but uses only structure, α has
    no value, and for a directed graph d_j must be the out-degree. The library uses out-degrees,
    α = 0.85 by default, spreads dangling mass uniformly, and agrees with NetworkX."""
    nx = pytest.importorskip("networkx")
    edges = [(0, 1), (0, 2), (1, 2), (2, 0), (3, 2), (4, 3)]  # node 4 has no in-edges, 2 has in-degree 3
    edge_index = torch.tensor(edges).T
    pr = pagerank(edge_index, num_nodes=5)
    g = nx.DiGraph(edges)
    want = nx.pagerank(g, alpha=0.85, tol=1e-12)
    torch.testing.assert_close(pr, torch.tensor([want[i] for i in range(5)], dtype=torch.float32), atol=1e-5, rtol=0)


def test_erratum_E10_knowledge_graph_layer_uses_the_relation_types_l19230():
    """E10: the knowledge-graph text speaks of relation types, the code runs a plain GCN that ignores
    them. R-GCN keeps one W_r per relation, so relabelling the edges changes the output."""
    torch.manual_seed(0)
    conv = RGCNConv(4, 3, num_relations=2)
    x = torch.randn(4, 4)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    a = conv(x, edge_index, torch.tensor([0, 0, 1, 1]))
    b = conv(x, edge_index, torch.tensor([1, 1, 0, 0]))
    assert not torch.allclose(a, b)


def test_erratum_rgcn_normalises_by_relation_degree_and_starts_from_glorot_not_randn():
    """Code defect "R-GCN has no normalization and uses randn initialization": the library's default
    aggregation is the paper's mean, 1/c_{i,r} = 1/|N_r(i)| (a node with many neighbours of one relation
    gets their average, not their sum), and every W_r starts Glorot-uniform."""
    conv = RGCNConv(3, 2, num_relations=1, root_weight=False, bias=False)
    bound = (6 / (3 + 2)) ** 0.5
    assert float(conv.weight.detach().abs().max()) <= bound
    x = torch.randn(5, 3)
    edge_index = torch.tensor([[1, 2, 3, 4], [0, 0, 0, 0]])  # four in-neighbours of node 0
    out = conv(x, edge_index, torch.zeros(4, dtype=torch.long))
    torch.testing.assert_close(out[0], x[1:].mean(0) @ conv.weight[0])
    summed = RGCNConv(3, 2, num_relations=1, root_weight=False, bias=False, aggr="sum")
    summed.load_state_dict(conv.state_dict())
    torch.testing.assert_close(summed(x, edge_index, torch.zeros(4, dtype=torch.long))[0], 4 * out[0])


def test_erratum_gat_attention_dropout_is_a_setting_not_a_hard_coded_0_6():
    """Code defect "GAT attention dropout hard-coded to 0.6": the rate is a constructor argument
    (0 by default; Veličković et al. use 0.6 on Cora); dropout acts only in training."""
    torch.manual_seed(0)
    x = torch.randn(6, 4)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 0]])
    assert GATConv(4, 3).dropout == 0.0
    gat = GATConv(4, 3, dropout=0.6)
    gat.eval()
    first, second = gat(x, edge_index), gat(x, edge_index)
    torch.testing.assert_close(first, second)  # no dropout at evaluation
    gat.train()
    assert not torch.allclose(gat(x, edge_index), first)
