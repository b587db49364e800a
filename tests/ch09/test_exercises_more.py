"""Book Chapter 9 exercises 9.4, 9.7, 9.8, 9.10 and 9.12 (catalogue ``shared/book/ch09-11.md``, table
"Chapter 9 exercises", book L22747-22831). Where the book leaves a quantity undefined, the test
states the definition it uses in its docstring."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tensorprism.functional.unsupervised import umap_cross_entropy
from tensorprism.losses.contrastive import nt_xent_pairs
from tensorprism.models.transformer.objectives import mask_tokens
from tensorprism.train.tasks import create_task
from tensorprism.train.tasks.ssl import rotate90


def test_exercise_9_4_linear_predictive_coding_one_gradient_step():
    """Ex. 9.4 (L22747-22757): W_enc = [[.2,.4],[.6,.8]], W_dec = [[.1,.3],[.5,.7]], x_t = (.5,.9),
    x_{t+1} = (.6,.8). The book gives no activation or learning rate: here linear maps,
    z = W_enc x_t, x̂_{t+1} = W_dec z, L = ||x_{t+1} - x̂_{t+1}||² (I11.08), one GD step with lr 0.1."""
    w_enc = torch.tensor([[0.2, 0.4], [0.6, 0.8]], dtype=torch.float64, requires_grad=True)
    w_dec = torch.tensor([[0.1, 0.3], [0.5, 0.7]], dtype=torch.float64, requires_grad=True)
    x_t, x_next = torch.tensor([0.5, 0.9], dtype=torch.float64), torch.tensor([0.6, 0.8], dtype=torch.float64)
    z = w_enc @ x_t
    pred = w_dec @ z
    loss = ((x_next - pred) ** 2).sum()
    torch.testing.assert_close(z, torch.tensor([0.46, 1.02], dtype=torch.float64))  # by hand
    torch.testing.assert_close(pred, torch.tensor([0.352, 0.944], dtype=torch.float64))
    assert float(loss.detach()) == pytest.approx(0.248**2 + 0.144**2)  # error (0.248, -0.144)
    loss.backward()
    e = (x_next - pred).detach()
    torch.testing.assert_close(w_dec.grad, -2 * torch.outer(e, z.detach()))  # dL/dW_dec = -2 e zᵀ
    torch.testing.assert_close(w_enc.grad, torch.outer(w_dec.detach().T @ (-2 * e), x_t))  # chain rule
    with torch.no_grad():
        new = ((x_next - (w_dec - 0.1 * w_dec.grad) @ ((w_enc - 0.1 * w_enc.grad) @ x_t)) ** 2).sum()
    assert float(new) < float(loss.detach())  # one step of gradient descent lowers the prediction error


def test_exercise_9_7_contrastive_loss_on_five_embeddings():
    """Ex. 9.7 (L22782-22791; catalogue erratum 28: "R^128" but 10 columns, no pairs given). Definition
    used: NT-Xent with temperature 0.5, positive pairs (0, 1) and (2, 3), embedding 4 a negative only;
    each anchor's softmax runs over the 4 other embeddings. The dimension is free (10 here)."""
    e = torch.tensor([[math.sin(i * 0.7 + j) for j in range(10)] for i in range(5)], dtype=torch.float64)
    partner = torch.tensor([1, 0, 3, 2, 0])  # row 4's entry is unused: it is not an anchor
    ours = nt_xent_pairs(e, partner, 0.5, reduction="none")[:4].mean()
    zn = F.normalize(e, dim=1)
    by_hand = 0.0
    for i, p in enumerate([1, 0, 3, 2]):
        sims = [float(zn[i] @ zn[j]) / 0.5 for j in range(5) if j != i]
        by_hand += -float(zn[i] @ zn[p]) / 0.5 + math.log(sum(math.exp(s) for s in sims))
    assert float(ours) == pytest.approx(by_hand / 4)


def test_exercise_9_8_mlm_masks_positions_3_and_7_and_scores_only_them():
    """Ex. 9.8 (L22793-22795): X in R^{10x50} read as 10 tokens one-hot over a 50-word vocabulary;
    objective L = -sum_{i in M} log P(x_i | X without M) over the masked set M = {3, 7} only
    (I9.22). Masking strategy: BERT's (15 % chosen; of those 80 % [MASK], 10 % random, 10 % kept)."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 50, (1, 10), generator=g)
    x = F.one_hot(ids, 50).double()
    assert x.shape == (1, 10, 50)
    labels = torch.full_like(ids, -100)
    labels[0, [3, 7]] = ids[0, [3, 7]]
    logits = torch.randn(1, 10, 50, generator=g, dtype=torch.float64)
    loss = F.cross_entropy(logits.view(-1, 50), labels.view(-1), ignore_index=-100, reduction="sum")
    manual = -(logits[0, 3].log_softmax(0)[ids[0, 3]] + logits[0, 7].log_softmax(0)[ids[0, 7]])
    torch.testing.assert_close(loss, manual)
    other = logits.clone()
    other[0, [0, 1, 2, 4, 5, 6, 8, 9]] += 5.0  # unmasked predictions do not enter the objective
    torch.testing.assert_close(F.cross_entropy(other.view(-1, 50), labels.view(-1), reduction="sum"), loss)
    big = torch.randint(5, 50, (200, 50), generator=g)
    corrupted, lab = mask_tokens(big, mask_token_id=0, vocab_size=50, mlm_probability=0.15, generator=g)
    chosen = lab != -100
    assert abs(float(chosen.float().mean()) - 0.15) < 0.01
    assert abs(float((corrupted[chosen] == 0).float().mean()) - 0.8) < 0.03  # 80 % become [MASK]
    assert torch.equal(corrupted[~chosen], big[~chosen])


def test_exercise_9_10_rotation_pretext_pipeline_and_classifier():
    """Ex. 9.10 (L22805-22815): rotation prediction. The pipeline: each image at 0/90/180/270 degrees
    with labels 0..3 (the rotation task), embeddings E_0..E_270 (4x3 each; the book's values are not
    reproduced in the catalogue, so here 4 separable clusters), a linear classifier trained by
    cross-entropy on the 16 labelled embeddings, which then names every rotation."""
    task = create_task("rotation")
    x = torch.rand(4, 1, 6, 6)
    xr, k = task._pairs(x)
    assert k.tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    torch.testing.assert_close(xr[4:8], rotate90(x, torch.ones(4, dtype=torch.long)))
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [-1.0, -1.0, -1.0]])
    emb = torch.cat([centres[r] + 0.1 * torch.randn(4, 3, generator=g) for r in range(4)])  # E_0 ... E_270
    head = torch.nn.Linear(3, 4)
    opt = torch.optim.SGD(head.parameters(), lr=0.5)
    for _ in range(200):
        opt.zero_grad()
        F.cross_entropy(head(emb), k).backward()
        opt.step()
    assert torch.equal(head(emb).argmax(1), k)


def test_exercise_9_12_simplified_umap_for_the_first_two_points():
    """Ex. 9.12 (L22825-22831): UMAP of 8 points Z (8x2) to 1-D, the "simplified" computation for
    points 0 and 1 (not defined in the book). Definition used: k = 2 nearest neighbours, fuzzy
    weights w_{j|i} = exp(-(d_ij - rho_i)/sigma_i) with rho_i the distance to the nearest neighbour
    and sigma_i = 1, symmetrised w = a + b - ab; low-dimensional v = (1 + a d^{2b})^{-1}; the pair's
    term of the fuzzy cross-entropy (catalogue erratum 2) at a 1-D embedding y."""
    z = torch.tensor([[1.0, 2], [1.5, 1.8], [5, 8], [8, 8], [1, 0.6], [9, 11], [8, 2], [10, 2]], dtype=torch.float64)
    d = torch.cdist(z, z)
    k = 2
    w = torch.zeros(8, 8, dtype=torch.float64)
    for i in range(8):
        dist = d[i].clone()
        dist[i] = math.inf
        nbr = dist.topk(k, largest=False).indices
        rho = float(dist[nbr].min())
        w[i, nbr] = torch.exp(-(dist[nbr] - rho))
    w = w + w.T - w * w.T
    d01 = float(d[0, 1])
    assert float(w[0, 1]) == pytest.approx(1.0)  # each is the other's nearest neighbour: weight 1
    assert d01 == pytest.approx(math.hypot(0.5, 0.2))
    y = torch.tensor([0.0, 0.3, 4.0, 5.0, -0.4, 7.0, 3.0, 4.5], dtype=torch.float64)[:, None]
    dy = torch.cdist(y, y)
    a, b = 1.577, 0.8951
    v01 = 1 / (1 + a * 0.3 ** (2 * b))
    term01 = 1.0 * math.log(1.0 / v01)  # w = 1: only the attractive part
    full = umap_cross_entropy(w, dy, a, b)
    only_pair = torch.zeros_like(w)
    only_pair[0, 1] = only_pair[1, 0] = 1.0
    sub = umap_cross_entropy(w * only_pair, dy * only_pair + (1 - only_pair) * 1e6, a, b)  # other terms ~0
    assert float(sub) == pytest.approx(2 * term01, rel=1e-6)  # (0, 1) and (1, 0)
    assert float(full) > float(sub)
