"""Behavioural errata of Chapter 6 not pinned elsewhere (catalogue ``book/ch06-07.md`` §5.1).

Entries 1, 3, 6, 7, 8, 9 and code classes 5.2.1, 5.2.2, 5.2.9, 5.2.10 are in ``test_models.py``,
``test_attention_functional.py``, ``test_attention_layers.py``, ``test_vit.py``, ``test_swin.py``
and ``test_efficient_attention.py``; entry 5 (80/10/10) in ``test_models.py::test_mlm_masking_rates_80_10_10``.
"""

import torch

from tensorprism import create_model
from tensorprism.functional.attention import sliding_window_mask
from tensorprism.generation import generate
from tensorprism.nn.positional import SinusoidalPositionalEncoding


def test_erratum_10_local_attention_window_is_centred_as_in_the_code_l16657():
    """Entry 10 (l.16657 vs code l.16740): the formula Q_{i:i+w}K_{i:i+w}^T is a forward block window,
    the code a centred one. The library's band is centred, |i - j| <= w // 2 (and, with causal=True,
    the backward window 0 <= i - j < w that a decoder needs); a forward window would let position i
    see only its future."""
    band = sliding_window_mask(7, 5)
    i, j = torch.meshgrid(torch.arange(7), torch.arange(7), indexing="ij")
    assert torch.equal(band, (i - j).abs() <= 2)
    assert band[3].nonzero().flatten().tolist() == [1, 2, 3, 4, 5]
    causal = sliding_window_mask(7, 3, causal=True)
    assert causal[3].nonzero().flatten().tolist() == [1, 2, 3]


def test_erratum_16_bert_adds_learned_position_and_segment_embeddings_l13539():
    """Entry 16 (l.13539-13547 vs listing L6-4): the text describes learned position and segment
    embeddings, the code sinusoidal positions and no segments. The library's BERT follows the text:
    positions are a trained parameter and the segment (token type) changes the representation."""
    torch.manual_seed(0)
    bert = create_model("bert-mini", vocab_size=40, num_layers=1, hidden_size=16, num_heads=2,
                        intermediate_size=32, dropout=0.0, attn_dropout=0.0).eval()
    emb = bert.bert.embeddings
    assert emb.position.weight.requires_grad
    ids = torch.randint(5, 40, (1, 6))
    seg_a, seg_b = torch.zeros_like(ids), torch.ones_like(ids)
    assert not torch.allclose(emb(ids, seg_a), emb(ids, seg_b))
    # swapping two tokens changes their vectors beyond the swap: positions are added
    swapped = ids[:, [1, 0, 2, 3, 4, 5]]
    assert not torch.allclose(emb(ids, seg_a)[:, 0], emb(swapped, seg_a)[:, 1])


def test_erratum_17_generation_offers_sampling_as_well_as_greedy_l13710():
    """Entry 17 (l.13710/13779/13801): the text says "sampling", the code decodes greedily. Both exist:
    greedy (the default) always takes the arg max; do_sample draws from the softmax."""
    probs = torch.tensor([0.5, 0.3, 0.2])

    def step(feed, state):
        return probs.log().expand(feed.shape[0], 3), state

    prompt = torch.zeros(200, 1, dtype=torch.long)
    greedy = generate(step, prompt, max_new_tokens=1)[:, 1]
    assert greedy.unique().tolist() == [0]
    sampled = generate(step, prompt, max_new_tokens=1, do_sample=True, generator=torch.Generator().manual_seed(0))[:, 1]
    freq = torch.bincount(sampled, minlength=3).float() / 200
    assert sampled.unique().numel() == 3 and abs(float(freq[0]) - 0.5) < 0.1


def test_erratum_21_positional_encoding_has_the_transformers_dropout():
    """Entry 21: the book omits the dropout that the original Transformer applies to the sum of
    embeddings and positional encodings. The encoding takes a dropout rate: active in training,
    identity in evaluation."""
    pe = SinusoidalPositionalEncoding(8, max_len=16, dropout=0.5)
    x = torch.ones(4, 10, 8)
    pe.eval()
    clean = pe(x)
    pe.train()
    torch.manual_seed(0)
    noisy = pe(x)
    assert bool((noisy == 0).any())
    kept = noisy != 0
    torch.testing.assert_close(noisy[kept], clean[kept] * 2)  # inverted dropout, 1 / (1 - p)


def test_erratum_2_nsp_pairs_are_half_true_next_half_random_from_another_document_l13565():
    """Entry 2 (l.13565): "|A| = |B| = 50" is meaningless; the standard NSP setup is 50 % pairs whose B is
    the true next sentence (label 1) and 50 % whose B is a random sentence of another document (label 0)."""
    from tensorprism.models.transformer.objectives import sentence_pairs

    # document d holds sentences [100 d + i]: a sentence's document and position are readable
    docs = [[[100 * d + i] for i in range(21)] for d in range(20)]
    pairs = sentence_pairs(docs, mode="nsp", seed=0)
    labels = torch.tensor([label for _, _, label in pairs], dtype=torch.float32)
    assert len(pairs) == 20 * 20 and abs(float(labels.mean()) - 0.5) < 0.06
    for a, b, label in pairs:
        if label == 1:
            assert b[0] == a[0] + 1
        else:
            assert b[0] // 100 != a[0] // 100  # from another document
