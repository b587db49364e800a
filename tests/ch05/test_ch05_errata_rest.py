"""Chapter 5 errata pinned (catalogue ../shared/book/ch05.md §5: E10, E11 and C16)."""

import itertools
import math

import torch
from torch import nn
from torch.utils.data import TensorDataset

from tensorprism.losses.ctc import ctc_loss
from tensorprism.models.rnn.seq2seq import Seq2Seq, Seq2SeqConfig


def test_erratum_e10_without_attention_the_context_enters_every_decoder_step_l11344():
    """E10 (l.10417 vs 11344 vs 12589): the decoder equations disagree: 10417 passes the encoder's
    context only through the initial state, 11344 adds it at every step, and the non-attention code
    implements only the first. With ``attention="none"`` the library's decoder has both: the first
    state comes from the encoder (bridge) and the averaged encoder summary c is an input of every
    step, so one decoder step from the same state changes with the source (in the 10417 form it
    could not)."""
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(src_vocab=11, tgt_vocab=9, embed_dim=4, hidden_size=5, attn_dim=5, attention="none",
                        dropout=0.0)
    model = Seq2Seq(cfg).eval()
    src_a, src_b = torch.tensor([[4, 5, 6, 3]]), torch.tensor([[7, 8, 9, 3]])
    state_a, mem_a = model.encode(src_a)
    state_b, mem_b = model.encode(src_b)
    assert not torch.allclose(state_a, state_b)  # 10417: the source sets the initial state
    y_prev = torch.tensor([cfg.bos_id])
    with torch.no_grad():
        logits_a, _, _ = model.decode_step(y_prev, state_a, mem_a)
        logits_b, _, _ = model.decode_step(y_prev, state_a, mem_b)  # same state, other source
    assert not torch.allclose(logits_a, logits_b)  # 11344: the context is an input of every step
    assert model.decoder.input_size == cfg.embed_dim + 2 * cfg.hidden_size  # [E y_{t-1}; c]


def _collapse(path, blank=0):
    out = [k for k, _ in itertools.groupby(path)]
    return tuple(k for k in out if k != blank)


def test_erratum_e11_speech_likelihood_needs_an_alignment_model_ctc_l12016():
    """E11 (l.12016): the speech likelihood ∏_{t=1}^{T'} P(y_t | h_t) assumes one label per input
    step (T′ = T); no CTC or alignment model is given although phoneme/word sequences are shorter
    than the input. The library's ``ctc_loss`` sums over every alignment of the T frames that
    collapses to the labels; on a tiny case it equals the brute-force path sum, and the CTC
    probabilities of all label sequences sum to 1 although T′ < T for most of them."""
    g = torch.Generator().manual_seed(0)
    T, C = 4, 3  # class 0 is the blank
    log_probs = torch.randn(1, T, C, generator=g).log_softmax(-1)
    p = log_probs[0].exp()
    brute: dict[tuple, float] = {}
    for path in itertools.product(range(C), repeat=T):
        prob = math.prod(p[t, k].item() for t, k in enumerate(path))
        brute[_collapse(path)] = brute.get(_collapse(path), 0.0) + prob
    assert math.isclose(sum(brute.values()), 1.0, rel_tol=1e-5)
    for target in [(1, 2), (1, 1), (2,), (1, 2, 1)]:
        nll = ctc_loss(log_probs, torch.tensor([target]), torch.tensor([T]), torch.tensor([len(target)]),
                       reduction="none")
        assert math.isclose(math.exp(-nll.item()), brute[target], rel_tol=1e-4)
    # the book's product needs T' = T: for a 2-label target over 4 frames it is not even defined, and
    # reading it as the single path "1 2 blank blank" gives only part of the probability
    one_path = p[0, 1] * p[1, 2] * p[2, 0] * p[3, 0]
    assert one_path.item() < brute[(1, 2)] - 1e-3


def test_erratum_c16_value_clipping_is_applied_at_every_batch_not_once_per_epoch():
    """C16 (listing #21, book lines 11069–11110): value clipping (``clip_grad_value_``, not the norm
    clipping of the equations, E7), and the forward/backward sits at epoch level because of the
    indentation, so only the last segment trains. The Trainer's ``grad_clip_value`` clamps the
    gradients of every batch before every optimiser step: 3 batches → 3 clipped steps per epoch."""
    from tensorprism.train import Trainer

    torch.manual_seed(0)
    model = nn.Linear(2, 1, bias=False)
    data = TensorDataset(100 * torch.randn(12, 2), 100 * torch.randn(12, 1))  # large gradients
    t = Trainer(model, train_data=data, task="regression", progress=False, tensorboard=False, optimizer="sgd",
                lr=0.01, epochs=1, batch_size=4, grad_clip_value=1.0)
    seen = []
    clip = t.clip_gradients

    def record(optimizer):
        clip(optimizer)
        seen.append(model.weight.grad.detach().clone())

    t.clip_gradients = record
    before = model.weight.detach().clone()
    t.fit()
    assert len(seen) == 3  # one clipped step per batch
    assert all(g.abs().max() <= 1.0 for g in seen)
    assert any((g.abs() == 1.0).any() for g in seen)  # the clamp was active
    torch.testing.assert_close(model.weight.detach(), before - 0.01 * sum(seen), rtol=1e-5, atol=1e-6)
