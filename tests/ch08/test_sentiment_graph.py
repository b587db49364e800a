"""Review sentiment as word co-occurrence graphs (book §8.8, catalogue E-11 / L28, lines 19911–19978)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tensorprism.data.graph import batch_graphs
from tensorprism.data.text.cooccurrence import TextGraphDataset, cooccurrence_graph
from tensorprism.errors import ConfigError, ShapeError
from tensorprism.models import create_model
from tensorprism.testing import require_path, shared_data

BOOK_TRIDIAGONAL = torch.diag(torch.ones(9), 1) + torch.diag(torch.ones(9), -1)  # 10 words


def _brute_force_adj(ids, window):
    words = list(dict.fromkeys(ids))
    a = torch.zeros(len(words), len(words))
    for i in range(len(ids)):
        for j in range(i + 1, min(i + window, len(ids))):
            u, v = words.index(ids[i]), words.index(ids[j])
            if u != v:
                a[u, v] += 1
                a[v, u] += 1
    return words, a


def test_window_2_on_distinct_words_is_the_books_tridiagonal_graph():
    g = cooccurrence_graph(list(range(20, 30)), window=2)
    assert g.num_nodes == 10 and g.x.tolist() == list(range(20, 30))
    torch.testing.assert_close(g.dense_adj(), BOOK_TRIDIAGONAL)
    assert g.is_undirected()


def test_repeated_words_merge_into_one_node_with_counted_edges():
    g = cooccurrence_graph([7, 3, 7, 9, 7], window=2)  # "good , good movie good"
    assert g.x.tolist() == [7, 3, 9]  # distinct words, first-appearance order
    expected = torch.tensor([[0.0, 2, 2], [2, 0, 0], [2, 0, 0]])
    torch.testing.assert_close(g.dense_adj(), expected)
    unweighted = cooccurrence_graph([7, 3, 7, 9, 7], window=2, weighted=False)
    assert unweighted.edge_weight is None
    torch.testing.assert_close(unweighted.dense_adj(), (expected > 0).float())
    assert cooccurrence_graph([4, 4, 4], window=3).num_edges == 0  # no self-loops


def test_window_3_adds_two_hop_edges_and_window_1_none():
    a3 = cooccurrence_graph([0, 1, 2, 3, 4], window=3).dense_adj()
    path = torch.diag(torch.ones(4), 1) + torch.diag(torch.ones(3), 2)
    torch.testing.assert_close(a3, path + path.t())
    g1 = cooccurrence_graph([0, 1, 2, 3, 4], window=1)
    assert g1.num_nodes == 5 and g1.num_edges == 0


def test_cooccurrence_matches_a_brute_force_count():
    gen = torch.Generator().manual_seed(0)
    for window in (2, 3, 5):
        for _ in range(20):
            ids = torch.randint(0, 6, (int(torch.randint(1, 15, (1,), generator=gen)),),
                                generator=gen).tolist()
            words, a = _brute_force_adj(ids, window)
            g = cooccurrence_graph(ids, window=window)
            assert g.x.tolist() == words
            torch.testing.assert_close(g.dense_adj(), a)


def test_bad_inputs_say_what_to_do():
    with pytest.raises(ShapeError, match="non-empty"):
        cooccurrence_graph([], window=2)
    with pytest.raises(ConfigError, match="window"):
        cooccurrence_graph([1, 2], window=0)
    model = create_model("gcn-text-graph", vocab_size=10, embed_dim=4, hidden=4)
    with pytest.raises(ShapeError, match="word ids"):
        model(torch.randn(3, 4), torch.zeros(2, 0, dtype=torch.long))


def test_erratum_L28_width2_output_against_width1_label_broadcasts():
    """Book 19913–19978: ``SentimentGCN`` ends in a 2-wide layer, mean-pools to ``(2,)`` and takes
    ``MSELoss`` against ``[1.0]`` ``(1,)``: the label is copied to both outputs, which are pulled
    the same way, so the two outputs never separate the classes. Corrected: ``(B, 2)`` logits and
    cross-entropy, whose gradient moves the two logits in opposite directions."""
    torch.manual_seed(0)
    x, adj = torch.rand(10, 5), BOOK_TRIDIAGONAL  # book lines 19950-19960
    gc1, gc2 = nn.Linear(5, 6), nn.Linear(6, 2)  # GraphConvolution v4: adj @ Linear(x)
    out = (adj @ gc2(F.relu(adj @ gc1(x)))).mean(0)
    assert out.shape == (2,)
    label = torch.tensor([1.0])
    with pytest.warns(UserWarning, match="broadcast"):
        book_loss = F.mse_loss(out, label)
    torch.testing.assert_close(book_loss, ((out - 1.0) ** 2).mean())  # label broadcast to (2,)
    (g_book,) = torch.autograd.grad(book_loss, out)
    torch.testing.assert_close(g_book, out.detach() - 1.0)  # each output pushed towards 1 alone

    model = create_model("gcn-text-graph", vocab_size=10, embed_dim=5, hidden=6, dropout=0.0)
    g = cooccurrence_graph(list(range(10)), window=2, label=1)
    logits = model(g.x, g.edge_index, None, g.edge_weight)
    assert logits.shape == (1, 2)
    (g_fixed,) = torch.autograd.grad(F.cross_entropy(logits, g.y), logits)
    torch.testing.assert_close(g_fixed, logits.softmax(1).detach() - F.one_hot(g.y, 2).float())
    assert g_fixed[0, 0] > 0 > g_fixed[0, 1]  # raise the positive logit, lower the negative


def _dense_reference(model, graphs):
    """Embedding, dense ``D^{-1/2}(A+I)D^{-1/2}`` GCN per graph, mean, linear."""
    outs = []
    for g in graphs:
        h = model.embed(g.x)
        a = g.dense_adj() + torch.eye(g.num_nodes)
        d = a.sum(1).rsqrt()
        a_hat = d[:, None] * a * d[None, :]
        for conv in model.convs:
            h = F.relu(a_hat @ h @ conv.lin.weight.t() + conv.bias)
        outs.append(model.head(h.mean(0)))
    return torch.stack(outs)


def test_model_batched_equals_per_graph_and_dense_reference():
    torch.manual_seed(0)
    model = create_model("gcn-text-graph", vocab_size=30, embed_dim=8, hidden=12, num_layers=2,
                         dropout=0.5).eval()
    texts = [[3, 4, 5, 3, 6], [7], [8, 9, 10, 11, 9, 8, 12, 13], [14, 15]]
    graphs = [cooccurrence_graph(t, window=3, label=i % 2) for i, t in enumerate(texts)]
    b = batch_graphs(graphs)
    with torch.no_grad():
        batched = model(b.x, b.edge_index, b.batch, b.edge_weight)
        single = torch.cat([model(g.x, g.edge_index, None, g.edge_weight) for g in graphs])
        dense = _dense_reference(model, graphs)
    assert batched.shape == (4, 2)
    torch.testing.assert_close(batched, single)
    torch.testing.assert_close(batched, dense)
    assert b.y.tolist() == [0, 1, 0, 1]

    data = TextGraphDataset([("a b a", 1), ("", 0)], lambda s: [ord(c) - 90 for c in s.split()],
                            window=2, empty_id=1)
    assert data[1].x.tolist() == [1] and data.batch([0, 1]).y.tolist() == [1, 0]


def test_recipe_smoke_on_sst2(tmp_path):
    require_path(shared_data("sst2", "test.tsv"), "SST-2 TSV files")
    from tensorprism.recipes import list_recipes, run_recipe

    assert "ch08-sentiment-graph" in list_recipes()
    res = run_recipe("ch08-sentiment-graph", max_train=2000, epochs=1, embed_dim=16, hidden=16,
                     data_root=str(shared_data()), out_dir=str(tmp_path), tensorboard=False, plots=False)
    assert res["train_examples"] == 2000 and res["mean_undirected_edges"] > 0
    for key in ("graph", "no_edge_baseline"):
        assert 0.3 < res[key]["test_acc"] < 1.0 and res[key]["best_epoch"] == 1
    assert res["graph"]["parameters"] == res["no_edge_baseline"]["parameters"]
    assert res["test_acc_gain"] == pytest.approx(res["graph"]["test_acc"]
                                                 - res["no_edge_baseline"]["test_acc"])
