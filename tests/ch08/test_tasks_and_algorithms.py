"""Graph tasks on the Trainer, samplers, PageRank, communities and recommendation metrics."""

import networkx as nx
import pytest
import torch

from tensorprism.data import load_dataset
from tensorprism.data.graph import Graph
from tensorprism.graph import (
    NeighborSampler,
    label_propagation,
    modularity,
    ndcg_at_k,
    negative_sampling,
    pagerank,
    recall_at_k,
    sample_neighbors,
    spectral_communities,
    split_edges,
)
from tensorprism.models import create_model
from tensorprism.train import Trainer
from tensorprism.train.tasks.graph import (
    GraphBatchDataset,
    KeepBestWeights,
    link_split_data,
    node_split_data,
)


def trainer(model, task, **kw):
    return Trainer(model, task, progress=False, device="cpu", optimizer="adam", **kw)


def test_full_batch_node_classification_learns_karate_from_two_labels():
    g = load_dataset("karate")
    torch.manual_seed(0)
    model = create_model("gcn", in_channels=34, hidden=16, num_classes=2, dropout=0.0)
    tr = trainer(model, "node-classification", **node_split_data(g), epochs=60, lr=0.02)
    tr.fit()
    assert tr.evaluate("test")["test/acc"] >= 0.85


def test_keep_best_weights_restores_the_best_epoch():
    g = load_dataset("karate")
    torch.manual_seed(0)
    model = create_model("gcn", in_channels=34, num_classes=2)
    keep = KeepBestWeights(patience=5)
    data = node_split_data(g)
    data["val_data"] = data.pop("test_data")
    tr = trainer(model, "node-classification", **data, callbacks=[keep], epochs=20, lr=0.05)
    tr.fit()
    assert keep.state is not None and 1 <= keep.best_epoch <= 20
    for k, v in model.state_dict().items():
        assert torch.equal(v, keep.state[k])


def test_keep_best_weights_stops_after_patience_without_progress():
    class Fake:
        epoch, should_stop, model = 0, False, torch.nn.Linear(1, 1)

    keep, t = KeepBestWeights(patience=2), Fake()
    for acc, loss in [(0.5, 1.0), (0.6, 0.9), (0.55, 0.95), (0.6, 0.92)]:
        keep.on_epoch_end(t, {"val/acc": acc, "val/loss": loss})
    assert not t.should_stop  # acc 0.6 reached its best again on the last epoch: progress
    keep.on_epoch_end(t, {"val/acc": 0.5, "val/loss": 1.2})
    keep.on_epoch_end(t, {"val/acc": 0.5, "val/loss": 1.2})
    assert t.should_stop


def test_sample_neighbors_caps_in_degree_and_keeps_real_edges():
    g = Graph.from_networkx(nx.karate_club_graph())
    sub = sample_neighbors(g.edge_index, 34, k=3, generator=torch.Generator().manual_seed(0))
    indeg = torch.bincount(sub[1], minlength=34)
    full = torch.bincount(g.edge_index[1], minlength=34)
    assert torch.equal(indeg, full.clamp(max=3))
    edges = set(map(tuple, g.edge_index.t().tolist()))
    assert set(map(tuple, sub.t().tolist())) <= edges


def test_neighbor_sampler_minibatches_put_seeds_first():
    g = load_dataset("karate")
    s = NeighborSampler(g, [3, 2], mask=g.test_mask, seed=0)
    batch = s.collate_fn([5, 7, 9])
    assert int(batch.mask.sum()) == 3 and batch.mask[:3].all()
    assert torch.equal(batch.graph.y[:3], g.y[[5, 7, 9]])
    assert int(torch.bincount(batch.graph.edge_index[1]).max()) <= 3 + 2


def test_minibatch_training_with_sampled_neighbourhoods():
    g = load_dataset("karate")
    torch.manual_seed(0)
    model = create_model("graphsage", in_channels=34, hidden=16, num_classes=2, dropout=0.0)
    train = NeighborSampler(g, [5, 5], mask=torch.ones(34, dtype=torch.bool), seed=0)
    tr = trainer(model, "node-classification", train_data=train, epochs=15, batch_size=8, lr=0.02)
    tr.fit()
    test = node_split_data(g)["test_data"]
    assert tr.evaluate(test)["eval/acc"] >= 0.9


def test_negative_sampling_avoids_edges_and_self_loops():
    g = Graph.from_networkx(nx.karate_club_graph())
    neg = negative_sampling(g.edge_index, 34, 200, torch.Generator().manual_seed(0))
    edges = set(map(tuple, g.edge_index.t().tolist()))
    assert neg.size(1) == 200 and not (set(map(tuple, neg.t().tolist())) & edges)
    assert bool((neg[0] != neg[1]).all())


def test_link_prediction_split_and_training_gives_auc_above_chance():
    g = load_dataset("karate")
    tg, splits = split_edges(g, 0.1, 0.2, seed=0)
    held = torch.cat([splits["val"][0], splits["test"][0]], 1)
    train_set = set(map(tuple, tg.edge_index.t().tolist()))
    assert not (set(map(tuple, held.t().tolist())) & train_set)  # no leakage
    torch.manual_seed(0)
    model = create_model("gcn", in_channels=34, hidden=32, num_classes=16, dropout=0.0)
    tr = trainer(model, "link-prediction", **link_split_data(g, 0.1, 0.2), epochs=60, lr=0.01)
    tr.fit()
    m = tr.evaluate("test")
    assert m["test/auc"] > 0.6 and 0 < m["test/ap"] <= 1


@pytest.mark.parametrize("name,task", [("gin", "graph-classification"), ("mpnn", "graph-regression"),
                                       ("gcn-graph", "graph-regression")])
def test_graph_level_tasks_fit_a_tiny_dataset(name, task):
    torch.manual_seed(0)
    graphs = []
    for k in range(24):  # label = whether the graph is a cycle (vs a path); regression: #nodes/10
        n = 4 + k % 5
        nxg = nx.cycle_graph(n) if k % 2 else nx.path_graph(n)
        gr = Graph.from_networkx(nxg, x=torch.ones(n, 3))
        gr.edge_attr = torch.ones(gr.num_edges, 2)
        gr.y = torch.tensor([k % 2]) if task == "graph-classification" else torch.tensor([[n / 10]])
        graphs.append(gr)
    out = 2 if task == "graph-classification" else 1
    model = create_model(name, in_channels=3, hidden=16, out_channels=out, edge_dim=2, num_layers=2)
    data = GraphBatchDataset(graphs)
    tr = trainer(model, task, train_data=data, val_data=data, epochs=40, batch_size=8, lr=0.01)
    tr.fit()
    m = tr.evaluate("val")
    if task == "graph-classification":
        assert m["val/acc"] >= 0.9
    else:
        assert m["val/mse"] < 0.02


def test_pagerank_matches_networkx_directed_with_dangling_node():
    g = nx.gnp_random_graph(30, 0.1, seed=1, directed=True)
    g.add_node(30)  # dangling
    gr = Graph.from_networkx(g)
    ours = pagerank(gr.edge_index, 31)
    ref = nx.pagerank(g, alpha=0.85, tol=1e-12)
    torch.testing.assert_close(ours, torch.tensor([ref[i] for i in range(31)]), atol=1e-6, rtol=0)


def test_erratum_N1_book_pagerank_example_with_self_loops():
    """Book lines 19174-19193 call nx.from_numpy_matrix (removed in NetworkX 3); on its 5-node
    path graph with self-loops PageRank is ≈ [0.1636, 0.2261, 0.2206, 0.2261, 0.1636]."""
    a = torch.eye(5) + torch.diag(torch.ones(4), 1) + torch.diag(torch.ones(4), -1)
    ei = a.nonzero().t().flip(0)
    torch.testing.assert_close(pagerank(ei, 5), torch.tensor([0.1636, 0.2261, 0.2206, 0.2261, 0.1636]),
                               atol=1e-4, rtol=0)


def test_communities_of_two_cliques():
    g = nx.disjoint_union(nx.complete_graph(6), nx.complete_graph(6))
    g.add_edge(0, 6)
    gr = Graph.from_networkx(g)
    labels = spectral_communities(gr.edge_index, 2, 12)
    assert len(set(labels[:6].tolist())) == 1 and labels[0] != labels[6]
    truth = torch.tensor([0] * 6 + [1] * 6)
    q = modularity(gr.edge_index, truth, 12)
    ref = nx.community.modularity(g, [set(range(6)), set(range(6, 12))])
    assert abs(q - ref) < 1e-6
    mask = torch.zeros(12, dtype=torch.bool)
    mask[[1, 7]] = True
    assert torch.equal(label_propagation(gr.edge_index, truth, mask, 12), truth)


def test_recall_and_ndcg_at_k_by_hand():
    scores = torch.tensor([[0.9, 0.8, 0.1, 0.7], [0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.5, 0.5]])
    rel = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=torch.bool)
    # user 0: top-2 = {0, 1}: 1 of 2 relevant; user 1: top-2 = {3, 2}: 1 of 1; user 2 skipped
    assert recall_at_k(scores, rel, 2) == pytest.approx((0.5 + 1.0) / 2)
    # ndcg user 0: dcg = 1/log2(2) = 1, idcg = 1 + 1/log2(3); user 1: 1
    want = (1 / (1 + 1 / torch.log2(torch.tensor(3.0)).item()) + 1.0) / 2
    assert ndcg_at_k(scores, rel, 2) == pytest.approx(want, rel=1e-6)
