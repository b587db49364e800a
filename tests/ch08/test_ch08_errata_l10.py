"""Chapter 8 listing L10 errata pinned (catalogue ../shared/book/ch08.md §2 L10 and §5): the book's
"semi-supervised" GCN has no label mask, and its accuracy is read from the training-mode output."""

import torch

from tensorprism.data.graph import Graph
from tensorprism.models import create_model
from tensorprism.train.tasks.graph import NodeBatch, NodeClassificationTask


def _path_graph():
    """The book's 3-node path with a fourth node, features (4, 2), labels [0, 1, 0, 1]."""
    ei = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 2, 1, 3, 2]])
    g = Graph(edge_index=ei, x=torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, 0.2]]), num_nodes=4)
    g.y = torch.tensor([0, 1, 0, 1])
    return g


def test_erratum_l10_semi_supervised_loss_reads_only_the_labelled_nodes():
    """Catalogue ch08 L10 (book lines 18767–18829): the loss covers every node, so the listing is
    supervised, not semi-supervised (D3, lines 18757–18763: L_sup is on the labelled nodes). Here
    the loss of the node-classification task reads only the masked nodes: the labels of the other
    nodes can be anything without changing it."""
    torch.manual_seed(0)
    model = create_model("gcn", in_channels=2, hidden=4, num_classes=2, dropout=0.0)
    g = _path_graph()
    mask = torch.tensor([True, True, False, False])
    task = NodeClassificationTask(num_classes=2)
    loss = task.training_step(model, NodeBatch(g, mask))["loss"]
    g.y = torch.tensor([0, 1, 1, 0])  # flip the unlabelled nodes' "labels"
    assert torch.allclose(task.training_step(model, NodeBatch(g, mask))["loss"], loss)
    all_nodes = task.training_step(model, NodeBatch(g, torch.ones(4, dtype=torch.bool)))["loss"]
    assert not torch.allclose(all_nodes, loss)  # the book's loss, over every node, is another number


def test_erratum_l10_accuracy_needs_a_new_forward_pass_in_eval_mode():
    """Catalogue ch08 L10: the listing calls ``model.eval()`` but reads the accuracy off the output of
    the last *training* forward pass, which dropout (0.5) perturbed. The evaluation step runs a new
    forward pass: in eval mode the output is deterministic, and it differs from a training-mode one."""
    torch.manual_seed(0)
    model = create_model("gcn", in_channels=2, hidden=16, num_classes=2, dropout=0.5)
    g = _path_graph()
    batch = NodeBatch(g, torch.ones(4, dtype=torch.bool))
    task = NodeClassificationTask(num_classes=2)
    model.train()
    train_out = task.evaluation_step(model, batch)["preds"]
    model.eval()
    with torch.no_grad():
        a = task.evaluation_step(model, batch)["preds"]
        b = task.evaluation_step(model, batch)["preds"]
    assert torch.equal(a, b)
    assert not torch.allclose(train_out, a)
