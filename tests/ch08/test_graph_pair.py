"""Siamese graph-pair scorer (book §8.6.3, catalogue C22 / listing L20): dense reference, batching,
shared weights, order invariance of the symmetric combine, erratum D1 and a small training run."""


import pytest
import torch
import torch.nn.functional as F

from tensorprism.data.graph import Graph, batch_graphs
from tensorprism.errors import ConfigError, ShapeError
from tensorprism.models import count_parameters, create_model, list_models
from tensorprism.models.gnn.pair import GraphPairScorer
from tensorprism.tensor.graph import dense_to_edge_index


def random_graph(n: int, p: float, features: int, gen: torch.Generator) -> Graph:
    """Undirected Erdős–Rényi graph on ``n`` nodes with ``N(0, 1)`` features."""
    upper = torch.triu((torch.rand(n, n, generator=gen) < p).float(), diagonal=1)
    ei, _ = dense_to_edge_index(upper + upper.t())
    return Graph(edge_index=ei, x=torch.randn(n, features, generator=gen), num_nodes=n)


def dense_gcn_embedding(model: GraphPairScorer, x: torch.Tensor, adj: torch.Tensor,
                        readout: str = "mean") -> torch.Tensor:
    """``Â = D̃^{-1/2}(A + I)D̃^{-1/2}``, ``relu(Â X W1ᵀ + b1)``, ``Â H W2ᵀ + b2``, pooled: ``(F_out,)``."""
    a = adj + torch.eye(adj.size(0))
    d = a.sum(1).rsqrt()
    a_hat = d[:, None] * a * d[None, :]
    c1, c2 = model.convs
    h = torch.relu(a_hat @ x @ c1.lin.weight.t() + c1.bias)
    h = a_hat @ h @ c2.lin.weight.t() + c2.bias
    return {"mean": h.mean(0), "sum": h.sum(0), "max": h.amax(0)}[readout]


def _pair(gen, n1=5, n2=6, f=3):
    return random_graph(n1, 0.5, f, gen), random_graph(n2, 0.5, f, gen)


@pytest.mark.parametrize("readout", ["mean", "sum", "max"])
def test_single_pair_matches_dense_gcn_reference(readout):
    gen = torch.Generator().manual_seed(0)
    g1, g2 = _pair(gen)
    torch.manual_seed(0)
    model = GraphPairScorer(3, 4, 2, readout=readout)
    h1 = dense_gcn_embedding(model, g1.x, g1.dense_adj(), readout)
    h2 = dense_gcn_embedding(model, g2.x, g2.dense_adj(), readout)
    want = torch.cat([h1, h2]) @ model.head.weight[0] + model.head.bias[0]
    got = model.score(g1, g2)
    assert got.shape == (1,)
    torch.testing.assert_close(got[0], want)
    torch.testing.assert_close(model.predict_proba(g1, g2), torch.sigmoid(got.detach()))


def test_symmetric_combine_matches_dense_reference():
    gen = torch.Generator().manual_seed(1)
    g1, g2 = _pair(gen)
    model = GraphPairScorer(3, 4, 2, combine="symmetric")
    h1 = dense_gcn_embedding(model, g1.x, g1.dense_adj())
    h2 = dense_gcn_embedding(model, g2.x, g2.dense_adj())
    want = torch.cat([(h1 - h2).abs(), h1 * h2]) @ model.head.weight[0] + model.head.bias[0]
    torch.testing.assert_close(model.score(g1, g2)[0], want)


def test_erratum_d1_concatenate_pooled_vectors_along_the_feature_axis():
    """Book listing L20 (lines 19341–19384): ``torch.cat([h1.mean(0), h2.mean(0)], dim=1)`` on
    1-D ``(F_out,)`` vectors raises IndexError; ``dim=0`` is the intended ``(2F_out,)`` input of
    ``Linear(2·out, 1)``, which is what the model computes (batched: ``dim=1`` of ``(B, F_out)``)."""
    torch.manual_seed(0)
    x1, x2 = torch.randn(5, 3), torch.randn(5, 3)  # two 5-atom graphs, 3 features (book example)
    adj1 = torch.tensor([[0.0, 1, 0, 0, 1], [1, 0, 1, 0, 0], [0, 1, 0, 1, 0], [0, 0, 1, 0, 1],
                         [1, 0, 0, 1, 0]])
    adj2 = torch.tensor([[0.0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [1, 1, 0, 1, 0], [0, 0, 1, 0, 1],
                         [0, 0, 0, 1, 0]])
    model = create_model("gcn-pair")  # the book's widths 3 → 4 → 2, Linear(4, 1)
    h1 = dense_gcn_embedding(model, x1, adj1)
    h2 = dense_gcn_embedding(model, x2, adj2)
    with pytest.raises(IndexError):
        torch.cat([h1, h2], dim=1)  # as printed
    fixed = torch.cat([h1, h2], dim=0)
    assert fixed.shape == (4,)
    want = torch.sigmoid(model.head(fixed))
    ei1, _ = dense_to_edge_index(adj1)
    ei2, _ = dense_to_edge_index(adj2)
    got = model.predict_proba(x1, ei1, x2, ei2)
    assert got.shape == (1,) and 0 < got.item() < 1
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("combine", ["concat", "symmetric"])
@pytest.mark.parametrize("readout", ["mean", "sum", "max"])
def test_batch_of_pairs_equals_each_pair_separately(combine, readout):
    gen = torch.Generator().manual_seed(2)
    sizes = [(3, 7), (5, 2), (8, 8), (1, 4)]  # a single-node graph included
    pairs = [_pair(gen, a, b) for a, b in sizes]
    model = GraphPairScorer(3, 8, 4, combine=combine, readout=readout)
    model.eval()
    b1 = batch_graphs([p[0] for p in pairs])
    b2 = batch_graphs([p[1] for p in pairs])
    batched = model.score(b1, b2)
    assert batched.shape == (len(pairs),)
    single = torch.cat([model.score(g1, g2) for g1, g2 in pairs])
    torch.testing.assert_close(batched, single)
    explicit = model(b1.x, b1.edge_index, b2.x, b2.edge_index, b1.batch, b2.batch)
    torch.testing.assert_close(explicit, batched)


def test_both_graphs_share_one_set_of_encoder_parameters():
    model = create_model("gcn-pair")
    gcn_params = (3 * 4 + 4) + (4 * 2 + 2)  # one GCN 3 → 4 → 2, not two
    assert count_parameters(model) == gcn_params + (2 * 2 + 1)
    gen = torch.Generator().manual_seed(3)
    g1, g2 = _pair(gen)
    # With shared encoders, swapping the graphs equals swapping the two halves of the head.
    swapped = GraphPairScorer(3, 4, 2)
    swapped.load_state_dict(model.state_dict())
    with torch.no_grad():
        swapped.head.weight.copy_(model.head.weight.roll(2, dims=1))
    torch.testing.assert_close(swapped.score(g2, g1), model.score(g1, g2))
    # Gradients of a loss on graph 2 alone reach the same (shared) first-layer weight.
    model.zero_grad()
    model.embed(g2.x, g2.edge_index).sum().backward()
    assert model.convs[0].lin.weight.grad.abs().sum() > 0


def test_symmetric_combine_is_order_invariant_and_concat_is_not():
    gen = torch.Generator().manual_seed(4)
    pairs = [_pair(gen, a, b) for a, b in [(4, 6), (5, 5), (7, 3)]]
    b1 = batch_graphs([p[0] for p in pairs])
    b2 = batch_graphs([p[1] for p in pairs])
    torch.manual_seed(0)
    sym = GraphPairScorer(3, 8, 4, combine="symmetric")
    torch.testing.assert_close(sym.score(b1, b2), sym.score(b2, b1))
    torch.manual_seed(0)
    cat = GraphPairScorer(3, 8, 4, combine="concat")
    assert (cat.score(b1, b2) - cat.score(b2, b1)).abs().max() > 1e-3


def test_mismatched_numbers_of_graphs_are_rejected():
    gen = torch.Generator().manual_seed(5)
    graphs = [random_graph(4, 0.5, 3, gen) for _ in range(5)]
    b1, b2 = batch_graphs(graphs[:3]), batch_graphs(graphs[3:])
    model = create_model("gcn-pair")
    with pytest.raises(ShapeError, match="3 graphs in batch1 and 2 in batch2"):
        model.score(b1, b2)
    with pytest.raises(ShapeError, match="1 graphs in batch1 and 2"):
        model.score(graphs[0], b2)
    with pytest.raises(ShapeError, match="batch1 must be"):
        model(b1.x, b1.edge_index, b1.x, b1.edge_index, b1.batch[:-1], b1.batch)
    with pytest.raises(ShapeError, match="x1 must be"):
        model(b1.x[:, 0], b1.edge_index, b1.x, b1.edge_index)


def test_bad_options_are_rejected_and_model_is_registered():
    assert "gcn-pair" in list_models(family="gnn")
    for bad in ({"combine": "sum"}, {"readout": "attention"}, {"conv": "gat"}, {"num_layers": 0}):
        with pytest.raises(ConfigError):
            create_model("gcn-pair", **bad)
    sage = create_model("gcn-pair", conv="sage", hidden=8, out_channels=4, combine="symmetric")
    gen = torch.Generator().manual_seed(6)
    g1, g2 = _pair(gen)
    assert sage.score(g1, g2).shape == (1,)


def test_learns_whether_two_graphs_have_the_same_number_of_nodes():
    """Constant node features, sum readout: the GCN's last-layer bias summed over a graph is
    ``N · b``, so ``|h1 − h2|`` measures ``|N1 − N2|`` and the symmetric model can threshold it.
    (A mean readout cannot count nodes; concat cannot test equality with one linear layer.)"""
    gen = torch.Generator().manual_seed(0)

    def make(count):
        firsts, seconds, labels = [], [], []
        for k in range(count):
            n1 = int(torch.randint(3, 9, (1,), generator=gen))
            n2 = n1 if k % 2 == 0 else int(torch.randint(3, 9, (1,), generator=gen))
            for n, out in ((n1, firsts), (n2, seconds)):
                g = random_graph(n, 0.4, 1, gen)
                out.append(Graph(edge_index=g.edge_index, x=torch.ones(n, 1), num_nodes=n))
            labels.append(float(n1 == n2))
        return batch_graphs(firsts), batch_graphs(seconds), torch.tensor(labels)

    train, test = make(256), make(256)
    torch.manual_seed(0)
    model = GraphPairScorer(1, 16, 8, readout="sum", combine="symmetric")
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(300):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model.score(train[0], train[1]), train[2])
        loss.backward()
        opt.step()
    model.eval()
    acc = ((model.predict_proba(test[0], test[1]) > 0.5).float() == test[2]).float().mean().item()
    base = max(test[2].mean().item(), 1 - test[2].mean().item())  # majority-class accuracy
    assert acc >= 0.95 and acc > base + 0.3, (acc, base)
