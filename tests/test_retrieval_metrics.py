"""Retrieval metrics in their one home, metrics/retrieval.py (also reached through the old paths)."""

import pytest
import torch

from tensorprism.errors import ShapeError
from tensorprism.metrics.retrieval import (
    embedding_recall_at_k,
    embedding_recall_metric,
    ndcg_at_k,
    recall_at_k,
)


def test_old_import_paths_are_the_same_functions():
    from tensorprism.graph import ndcg_at_k as graph_ndcg
    from tensorprism.graph import recall_at_k as graph_recall
    from tensorprism.vision.metric_learning import recall_at_k as vision_recall

    assert graph_recall is recall_at_k and graph_ndcg is ndcg_at_k and vision_recall is embedding_recall_at_k


def test_embedding_recall_metric_over_batches_equals_the_function_on_everything():
    torch.manual_seed(0)
    emb, labels = torch.randn(30, 4), torch.randint(0, 3, (30,))
    metric = embedding_recall_metric(k=2)
    for chunk in range(3):
        metric.update(emb[chunk * 10:(chunk + 1) * 10], labels[chunk * 10:(chunk + 1) * 10])
    want = embedding_recall_at_k(emb, labels, emb, labels, 2, exclude_self=True)
    assert metric.compute().item() == pytest.approx(want)


def test_leave_one_out_does_not_let_a_query_find_itself():
    emb = torch.tensor([[0.0], [10.0]])
    labels = torch.tensor([0, 1])
    assert embedding_recall_at_k(emb, labels, emb, labels, 1) == 1.0
    assert embedding_recall_at_k(emb, labels, emb, labels, 1, exclude_self=True) == 0.0


def test_ranked_metrics_refuse_mismatched_shapes():
    with pytest.raises(ShapeError, match="users, items"):
        recall_at_k(torch.randn(3, 5), torch.ones(3, 4, dtype=torch.bool), 2)
