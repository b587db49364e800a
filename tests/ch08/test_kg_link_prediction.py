"""Knowledge-graph completion (book §8.4.5): DistMult/TransE scoring against PyTorch Geometric's,
fast paths against the equations, the filtered ranking protocol against a brute-force loop, the
basis-first R-GCN layer against RGCNConv, and the WordNet loader (WN18RR relations, leak-free split)."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tensorprism.errors import ConfigError, DatasetNotFoundError, ShapeError
from tensorprism.functional.kg import (
    distmult_score,
    distmult_score_all,
    filter_mask,
    ranking_metrics,
    ranks_from_scores,
    transe_score,
    transe_score_all,
)
from tensorprism.models.gnn.kg import (
    KGEmbedding,
    RGCNLinkPredictor,
    reciprocal_triples,
    rgcn_basis_forward,
    sampled_softmax_loss,
)
from tensorprism.testing import require_path

G = torch.Generator().manual_seed(0)


def test_scores_equal_pytorch_geometric_with_the_same_weights():
    kge = pytest.importorskip("torch_geometric.nn.kge")
    n, r, d = 7, 3, 5
    h, rel, t = torch.tensor([0, 1, 6, 3]), torch.tensor([0, 2, 1, 1]), torch.tensor([4, 4, 2, 3])
    dm = kge.DistMult(n, r, d)
    ours = distmult_score(dm.node_emb(h), dm.rel_emb(rel), dm.node_emb(t))
    assert torch.allclose(ours, dm(h, rel, t), atol=1e-6)
    te = kge.TransE(n, r, d, p_norm=2.0)
    # PyG's TransE normalises the entity vectors to unit length before scoring
    e = F.normalize(te.node_emb.weight, p=2.0, dim=-1)
    ours = transe_score(e[h], te.rel_emb(rel), e[t], p=2)
    assert torch.allclose(ours, te(h, rel, t), atol=1e-6)
    te1 = kge.TransE(n, r, d, p_norm=1.0)
    e = F.normalize(te1.node_emb.weight, p=1.0, dim=-1)
    assert torch.allclose(transe_score(e[h], te1.rel_emb(rel), e[t], p=1), te1(h, rel, t), atol=1e-6)


@pytest.mark.parametrize("p", [1, 2])
def test_score_all_fast_paths_equal_the_equations(p):
    q_h, q_r, ent = torch.randn(4, 6, generator=G), torch.randn(4, 6, generator=G), torch.randn(9, 6, generator=G)
    ref_dm = torch.stack([distmult_score(q_h[b].expand(9, 6), q_r[b].expand(9, 6), ent) for b in range(4)])
    ref_te = torch.stack([transe_score(q_h[b].expand(9, 6), q_r[b].expand(9, 6), ent, p) for b in range(4)])
    assert torch.allclose(distmult_score_all(q_h, q_r, ent), ref_dm, atol=1e-5)
    assert torch.allclose(transe_score_all(q_h, q_r, ent, p), ref_te, atol=1e-4)
    with pytest.raises(ConfigError, match="L1 or L2"):
        transe_score_all(q_h, q_r, ent, p=3)
    with pytest.raises(ShapeError, match="aligned"):
        distmult_score(q_h, q_r, ent)


def test_filtered_ranks_equal_a_brute_force_loop():
    n = 12
    known = torch.tensor([[0, 0, 1], [0, 0, 2], [0, 0, 3], [1, 1, 0], [2, 0, 5], [0, 1, 4]])
    queries = torch.tensor([[0, 0, 2], [1, 1, 0], [2, 0, 5], [0, 1, 4]])
    scores = torch.randn(4, n, generator=G)
    scores[0, 7] = scores[0, 2]  # one tie with the target
    mask = filter_mask(queries, known, n)
    ranks = ranks_from_scores(scores, queries[:, 2], mask)
    known_set = {tuple(k) for k in known.tolist()}
    for b, (h, r, t) in enumerate(queries.tolist()):
        better = equal = 0
        for e in range(n):
            if e == t or (h, r, e) in known_set:
                continue
            better += scores[b, e] > scores[b, t]
            equal += scores[b, e] == scores[b, t]
        assert ranks[b] == pytest.approx(1 + better + equal / 2)
    assert mask[0].nonzero().flatten().tolist() == [1, 2, 3]  # the other known tails of (0, 0, ?)
    raw = ranks_from_scores(scores, queries[:, 2])
    assert (raw >= ranks).all()


def test_ranking_metrics_by_hand_and_ties_count_half():
    m = ranking_metrics(torch.tensor([1.0, 2.0, 4.0, 20.0]))
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 20) / 4)
    assert (m["hits@1"], m["hits@3"], m["hits@10"]) == (0.25, 0.5, 0.75)
    # a model that scores every entity equally is ranked in the middle, not first
    flat = ranks_from_scores(torch.zeros(1, 11), torch.tensor([3]))
    assert flat.item() == 6.0
    with pytest.raises(ShapeError, match="no ranks"):
        ranking_metrics(torch.tensor([]))


def test_basis_first_rgcn_layer_equals_rgcnconv():
    n, r = 10, 4
    triples = torch.stack([torch.randint(n, (40,), generator=G), torch.randint(r, (40,), generator=G),
                           torch.randint(n, (40,), generator=G)], 1)
    model = RGCNLinkPredictor(n, r, dim=6, num_layers=2, num_bases=3).set_graph(triples)
    conv = model.convs[0]
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(n, 6, generator=G)
    fast = rgcn_basis_forward(conv, x, model.edge_index, model.edge_type, model._inv_count)
    assert torch.allclose(fast, conv(x, model.edge_index, model.edge_type), atol=1e-5)
    assert model(torch.tensor([0, 1]), torch.tensor([0, 5])).shape == (2, n)


def test_models_answer_queries_and_the_sampled_loss_reduces_to_the_full_one():
    n, r = 9, 2
    triples = torch.tensor([[0, 0, 1], [1, 1, 2], [3, 0, 4], [5, 1, 6]])
    rec = reciprocal_triples(triples, r)
    assert rec.shape == (8, 3) and rec[4].tolist() == [1, 2, 0]
    for model in (KGEmbedding(n, r, 4, "distmult"), KGEmbedding(n, r, 4, "transe"),
                  RGCNLinkPredictor(n, r, 4).set_graph(triples)):
        scores = model(rec[:, 0], rec[:, 1])
        assert scores.shape == (8, n)
        full = F.cross_entropy(scores, rec[:, 2])
        assert torch.allclose(sampled_softmax_loss(model, rec, n), full)
        assert sampled_softmax_loss(model, rec, 3, torch.Generator().manual_seed(1)).isfinite()
    with pytest.raises(ShapeError, match=r"entity ids must be in \[0, 9\)"):
        KGEmbedding(n, r, 4)(torch.tensor([9]), torch.tensor([0]))
    with pytest.raises(ConfigError, match="score must be one of"):
        KGEmbedding(n, r, 4, "complex")
    with pytest.raises(ConfigError, match="set_graph"):
        RGCNLinkPredictor(n, r, 4)(torch.tensor([0]), torch.tensor([0]))


def test_training_ranks_the_true_tails_of_a_small_graph_first():
    """DistMult learns a 2-relation graph: every training tail ends up ranked first (filtered)."""
    torch.manual_seed(0)
    n, r = 12, 2
    triples = torch.tensor([[i, i % 2, (i * 5 + 1) % n] for i in range(n)])
    model = KGEmbedding(n, r, 16, "distmult")
    opt = torch.optim.Adam(model.parameters(), 0.1)
    rec = reciprocal_triples(triples, r)
    for _ in range(60):
        opt.zero_grad()
        sampled_softmax_loss(model, rec, n).backward()
        opt.step()
    scores = model(rec[:, 0], rec[:, 1]).detach()
    ranks = ranks_from_scores(scores, rec[:, 2], filter_mask(rec, rec, n))
    assert ranking_metrics(ranks)["hits@1"] == 1.0


# ---------------------------------------------------------------------------- the WordNet data
@pytest.fixture(scope="module")
def wordnet():
    from tensorprism.data import load_dataset
    from tensorprism.data.datasets.wordnet import PACKAGED

    require_path(PACKAGED / "data.noun", "WordNet 3.0 from Debian wordnet-base (make data)")
    return {s: load_dataset("wordnet-kg", root="/nonexistent", split=s) for s in ("train", "val", "test")}


@pytest.mark.data
def test_wordnet_has_the_wn18rr_relations_and_no_inverse_pairs(wordnet):
    from tensorprism.data.datasets.wordnet import RELATIONS

    tr = wordnet["train"]
    assert len(RELATIONS) == 11 and "hyponym" not in RELATIONS and "member_holonym" not in RELATIONS
    assert (tr.num_entities, len(tr), len(wordnet["val"]), len(wordnet["test"])) == (17053, 51927, 2797, 2814)
    # (car, hypernym, motor_vehicle) and (car, has_part, bumper) are WordNet facts; their inverses
    # (hyponym, part holonym) are not relations here
    eid = {e: i for i, e in enumerate(tr.entities)}
    car, vehicle, bumper = eid["02958343n"], eid["03791235n"], eid["02918595n"]
    known = {tuple(t) for t in tr.known.tolist()}
    assert (car, RELATIONS.index("hypernym"), vehicle) in known and tr.names[car] == "car"
    assert (car, RELATIONS.index("has_part"), bumper) in known
    assert not any((vehicle, rel, car) in known or (bumper, rel, car) in known for rel in range(11))


@pytest.mark.data
def test_wordnet_split_shares_no_entity_pair_and_no_unseen_entity(wordnet):
    def pairs(t):
        return {frozenset((h, tl)) for h, _, tl in t.tolist()}

    train, val, test = (pairs(wordnet[s].triples) for s in ("train", "val", "test"))
    assert not (train & val) and not (train & test) and not (val & test)
    seen = set(wordnet["train"].triples[:, [0, 2]].flatten().tolist())
    assert set(wordnet["test"].triples[:, [0, 2]].flatten().tolist()) <= seen


def test_wordnet_loader_errors(tmp_path: Path, monkeypatch):
    from tensorprism.data import load_dataset
    from tensorprism.data.datasets import wordnet as wn

    monkeypatch.setattr(wn, "PACKAGED", tmp_path / "absent")
    with pytest.raises(DatasetNotFoundError, match="wordnet-base"):
        load_dataset("wordnet-kg", root=tmp_path, split="train")
    with pytest.raises(ConfigError, match="core must be"):
        load_dataset("wordnet-kg", root=tmp_path, split="train", core=0)
    with pytest.raises(ConfigError):
        load_dataset("wordnet-kg", root=tmp_path, split="dev")
    bad = tmp_path / "wordnet"
    bad.mkdir()
    for p in wn.POS_FILES:
        (bad / f"data.{p}").write_text("00001740 03 n zz\n")
    with pytest.raises(Exception, match="not a WordNet synset line"):
        load_dataset("wordnet-kg", root=tmp_path, split="train", verify=False)
