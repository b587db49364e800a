"""Chapter 8 errata pinned (catalogue ../shared/book/ch08.md §5: E12 and the ratings targets of the
"silently wrong" code)."""

import numpy as np
import pytest
import torch

from tensorprism.graph.ratings import bounded_rating, observed_rating_mse


def test_erratum_e12_hybrid_model_builds_a_superpixel_graph_per_image_l20102():
    """E12 (book line 20102 vs code 20177–20184): the text says "image represented as a graph of
    superpixels"; the code makes each whole image one node of a 5-node path graph. The library's
    ``image_to_graph`` builds one graph per image: SLIC regions are the nodes (mean intensity and
    centroid as features) and regions that touch are joined, so an image with two halves of
    different brightness gives several nodes whose features differ, connected across the border."""
    pytest.importorskip("skimage")
    from tensorprism.graph.superpixels import image_to_graph

    img = np.zeros((16, 16))
    img[:, 8:] = 1.0
    g = image_to_graph(img, n_segments=8, compactness=0.1, label=3)
    assert g.num_nodes > 1  # not one node per image
    assert g.x.shape == (g.num_nodes, 3) and g.y.tolist() == [3]
    seg = g.meta["segments"]
    assert seg.shape == (16, 16) and seg.max() + 1 == g.num_nodes
    for s in range(g.num_nodes):  # feature = the region's mean intensity
        assert g.x[s, 0].item() == pytest.approx(img[seg == s].mean(), abs=1e-6)
    assert set(g.x[:, 0].round().tolist()) == {0.0, 1.0}
    src, dst = g.edge_index
    assert g.edge_index.shape[1] > 0 and (src != dst).all()
    edges = set(zip(src.tolist(), dst.tolist(), strict=True))
    assert all((b, a) in edges for a, b in edges)  # undirected
    dark, light = g.x[:, 0] < 0.5, g.x[:, 0] > 0.5
    assert any(dark[a] and light[b] for a, b in edges)  # regions meeting at the border are joined
    # only touching regions: every edge's two segments are 4-neighbours somewhere in the label map
    touching = {(int(a), int(b)) for a, b in zip(seg[:, :-1].ravel(), seg[:, 1:].ravel(), strict=True)}
    touching |= {(int(a), int(b)) for a, b in zip(seg[:-1].ravel(), seg[1:].ravel(), strict=True)}
    touching |= {(b, a) for a, b in touching}
    assert edges <= touching


def test_erratum_ratings_targets_unrated_entries_are_masked_and_predictions_reach_the_scale():
    """Catalogue ch08 §5, "silently wrong" code (ratings matrix of book line 19800 and its model):
    ratings 0–5 are fitted with a sigmoid, and the unrated zeros are used as targets. A sigmoid
    output stays below 1, so a rating of 5 costs at least (5 − 1)², and the zeros pull the
    unrated predictions to "rated 0". ``observed_rating_mse`` takes the loss over the observed
    entries only, and ``bounded_rating`` maps a score onto [0, 5]."""
    ratings = torch.tensor([[5.0, 3.0, 0.0, 1.0, 0.0],
                            [4.0, 0.0, 0.0, 1.0, 2.0],
                            [1.0, 1.0, 0.0, 5.0, 0.0],
                            [0.0, 1.0, 5.0, 4.0, 0.0]])
    observed = ratings != 0
    scores = torch.zeros_like(ratings, requires_grad=True)
    book = (torch.sigmoid(scores) - ratings).pow(2).mean()  # sigmoid + every entry a target
    book.backward()
    assert (scores.grad[~observed] > 0).all()  # unrated entries are pushed down towards 0
    best_sigmoid = (ratings[observed] - 1).clamp(min=0).pow(2).mean()  # σ → 1 at best
    assert best_sigmoid.item() > 3.0  # the book's model cannot fit its targets
    scores.grad = None
    loss = observed_rating_mse(bounded_rating(scores), ratings)
    loss.backward()
    assert torch.all(scores.grad[~observed] == 0)  # unrated entries are not targets
    exact = torch.where(observed, ratings, torch.full_like(ratings, 2.5))
    assert observed_rating_mse(exact, ratings).item() == 0.0  # any value where unrated
    hit = bounded_rating(torch.logit(ratings.clamp(0.01, 4.99) / 5))
    assert observed_rating_mse(hit, ratings).item() < 1e-3  # the scale is reachable
    with pytest.raises(ValueError):
        observed_rating_mse(ratings, torch.zeros_like(ratings))
