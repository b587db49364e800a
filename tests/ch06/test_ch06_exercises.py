"""Chapter 6 exercises 2, 4, 7, 9, 11, 12 and 13 (book §6.9, l.15629-15737) on the library's
attention, multi-head attention, feed-forward and dropout code. Expected numbers are written out by
hand (scores as integer dot products, softmax with ``math.exp``) so that they do not reuse the code
under test. Exercises 1, 5, 10, 14 and 15 are in ``test_attention_functional.py``,
``test_attention_layers.py`` and ``test_vit.py``."""

import math

import torch

from tensorprism.functional.attention import attention_reference
from tensorprism.functional.dropout import classic_dropout, inverted_dropout
from tensorprism.nn.attention import MultiheadAttention
from tensorprism.nn.mlp import MLP


def _softmax(row):
    e = [math.exp(v - max(row)) for v in row]
    return [v / sum(e) for v in e]


def _attend(scores, values):
    """Hand softmax over each row of ``scores`` and the weighted sum of ``values`` rows."""
    out = []
    for row in scores:
        w = _softmax(row)
        out.append([sum(wi * v[c] for wi, v in zip(w, values, strict=True)) for c in range(len(values[0]))])
    return torch.tensor(out)


def test_exercise_6_2_two_heads_with_their_own_projections_l15629():
    """X = [[1,2],[3,4]]; per-head Q = X W_Q etc.; scores / sqrt(2); the heads' contexts concatenated."""
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    swap, eye = torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.eye(2)
    heads = [(eye, swap, torch.tensor([[1.0, 1.0], [1.0, -1.0]])), (swap, eye, torch.tensor([[0.0, 1.0], [-1.0, 1.0]]))]
    outs = [attention_reference(X @ wq, X @ wk, X @ wv)[0] for wq, wk, wv in heads]
    concat = torch.cat(outs, dim=-1)
    r2 = math.sqrt(2)
    # head 1: Q = X, K = [[2,1],[4,3]], V = [[3,-1],[7,-1]]; head 2: Q = [[2,1],[4,3]], K = X, V = [[-2,3],[-4,7]]
    head1 = _attend([[4 / r2, 10 / r2], [10 / r2, 24 / r2]], [[3, -1], [7, -1]])
    head2 = _attend([[4 / r2, 10 / r2], [10 / r2, 24 / r2]], [[-2, 3], [-4, 7]])
    torch.testing.assert_close(concat, torch.cat([head1, head2], dim=-1))
    assert concat.shape == (2, 4)


def test_exercise_6_4_self_attention_with_a_permuted_key_projection_l15648():
    """X (4x3), W_Q = W_V = I, W_K swaps features 0 and 1; one head of the library's MultiheadAttention."""
    X = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    wk = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    mha = MultiheadAttention(3, 1, bias=False)
    with torch.no_grad():  # nn.Linear stores out x in: the rows are W^T for the x W convention
        mha.in_proj.weight.copy_(torch.cat([torch.eye(3), wk.T, torch.eye(3)]))
        mha.out_proj.weight.copy_(torch.eye(3))
    out, w = mha(X[None], need_weights=True)
    keys = [[0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 1]]  # X W_K
    scores = [[sum(a * b for a, b in zip(q, k, strict=True)) / math.sqrt(3) for k in keys] for q in X.tolist()]
    torch.testing.assert_close(out[0], _attend(scores, X.tolist()))
    assert scores[0] == [1 / math.sqrt(3), 2 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3)]
    torch.testing.assert_close(w.reshape(4, 4).sum(-1), torch.ones(4))


def test_exercise_6_7_heads_with_identity_and_doubled_projections_then_w_o_l15668():
    """X = [[1..9]]; head 1 W = I, head 2 W = 2I (head size 3 each); concat (3x6) @ W_O (6x3). The
    scores X X^T / sqrt(3) differ by >= 10 between keys, so every query attends to the last token."""
    X = torch.arange(1.0, 10.0).reshape(3, 3)
    w_o = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]])
    h1, _ = attention_reference(X, X, X)
    h2, _ = attention_reference(2 * X, 2 * X, 2 * X)
    out = torch.cat([h1, h2], dim=-1) @ w_o
    # nearly one-hot on token 3: head 1 ~ [7,8,9], head 2 ~ [14,16,18]
    torch.testing.assert_close(out, torch.tensor([[39.0, 38.0, 43.0]] * 3), atol=2e-3, rtol=0)
    scores = [[sum(a * b for a, b in zip(q, k, strict=True)) / math.sqrt(3) for k in X.tolist()] for q in X.tolist()]
    torch.testing.assert_close(h1, _attend(scores, X.tolist()))


def test_exercise_6_9_cross_attention_with_more_keys_than_queries_l15692():
    """Q (3x4) against K, V (4x4), scores Q K^T unscaled as the exercise states; output (3x4)."""
    Q = torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 1], [1, 1, 1, 1]])
    K = torch.tensor([[1.0, 2, 3, 4], [4, 3, 2, 1], [1, 3, 2, 4], [4, 2, 1, 3]])
    V = torch.tensor([[0.0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1]])
    out, w = attention_reference(Q, K, V, scale=1.0)
    scores = [[4, 6, 3, 5], [6, 4, 7, 5], [10, 10, 10, 10]]
    torch.testing.assert_close(w, torch.tensor([_softmax(r) for r in scores]))
    torch.testing.assert_close(out, _attend(scores, V.tolist()))
    torch.testing.assert_close(out[2], V.mean(0))  # equal scores: the plain average of the values


def test_exercise_6_11_feed_forward_with_relu_l15705():
    """X (3x2), W1 (2x3), W2 (3x1), ReLU, no bias: hidden [[0.3,1,0.9],[1.1,2.2,1.5],[1.9,3.4,2.1]],
    output [0.43, 0.87, 1.31]."""
    ffn = MLP(2, [3], 1, activation="relu", head="regression", bias=False)
    with torch.no_grad():
        ffn.features[0].weight.copy_(torch.tensor([[0.5, 0.2, -0.3], [-0.1, 0.4, 0.6]]).T)
        ffn.head.weight.copy_(torch.tensor([[0.7], [-0.5], [0.8]]).T)
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    hidden = ffn.features(X)
    torch.testing.assert_close(hidden, torch.tensor([[0.3, 1.0, 0.9], [1.1, 2.2, 1.5], [1.9, 3.4, 2.1]]))
    torch.testing.assert_close(ffn(X).squeeze(-1), torch.tensor([0.43, 0.87, 1.31]))


def test_exercise_6_12_positional_encodings_added_to_the_keys_l15715():
    """K' = K + P; scores Q K'^T / sqrt(3) = [[5, 9.5, 14], [7.5, 13.5, 19.5]] / sqrt(3); context over V."""
    Q = torch.tensor([[1.0, 0, 2], [0, 1, 3]])
    K = torch.tensor([[1.0, 1, 1], [2, 2, 2], [3, 3, 3]])
    P = torch.tensor([[0.0, 0.5, 1], [0.5, 1, 1.5], [1, 1.5, 2]])
    V = torch.tensor([[1.0, 0, 1], [0, 1, 0], [1, 1, 1]])
    out, _ = attention_reference(Q, K + P, V)
    s = 1 / math.sqrt(3)
    torch.testing.assert_close(out, _attend([[5 * s, 9.5 * s, 14 * s], [7.5 * s, 13.5 * s, 19.5 * s]], V.tolist()))


def test_exercise_6_13_feed_forward_with_a_fixed_dropout_mask_l15725():
    """The book fixes the mask M but not whether survivors are scaled by 1/(1-p) = 2: both readings.
    Row 1: hidden X W1 = [3.0, 3.6, 4.2], masked [3.0, 0, 4.2], output [3.12, 2.40] without scaling
    (classic dropout, training) and [6.24, 4.80] with it (inverted dropout, the library default)."""
    X = torch.arange(1.0, 13.0).reshape(4, 3)
    w1 = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]])
    w2 = torch.tensor([[0.2, 0.1], [0.4, 0.3], [0.6, 0.5]])
    M = torch.tensor([[1.0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 0]])
    hidden = torch.relu(X @ w1)
    torch.testing.assert_close(hidden[0], torch.tensor([3.0, 3.6, 4.2]))
    plain = classic_dropout(hidden, keep=0.5, training=True, mask=M) @ w2
    scaled = inverted_dropout(hidden, p=0.5, training=True, mask=M) @ w2
    torch.testing.assert_close(plain[0], torch.tensor([3.12, 2.40]))
    torch.testing.assert_close(scaled, 2 * plain)
    assert torch.equal(inverted_dropout(hidden, p=0.5, training=False, mask=M), hidden)  # identity at test time
