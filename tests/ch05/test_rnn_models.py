"""Registered recurrent models: LM sampling and TBPTT task, packed classifiers, seq2seq decoding."""

import math

import pytest
import torch

from tensorprism.models import count_parameters, create_model
from tensorprism.train.tasks import create_task
from tensorprism.train.tasks.seq2seq import teacher_forcing_ratio


def test_char_lstm_shapes_state_and_sampling():
    m = create_model("rnn-lm", vocab_size=11, embed_dim=8, hidden_size=16, num_layers=2)
    x = torch.randint(0, 11, (3, 7))
    logits, state = m(x, return_state=True)
    assert logits.shape == (3, 7, 11) and state[0].shape == (2, 3, 16)
    # feeding the sequence in two pieces with the carried state gives the same logits
    m.eval()
    a = m(x)
    l1, s = m(x[:, :4], return_state=True)
    l2 = m(x[:, 4:], s)
    torch.testing.assert_close(torch.cat([l1, l2], 1), a, atol=1e-6, rtol=1e-6)
    out = m.sample(x[:, :2], 5, temperature=0.8, top_k=3, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 7) and torch.equal(out[:, :2], x[:, :2])
    greedy = m.sample(x[:, :2], 5, greedy=True)
    assert torch.equal(greedy, m.sample(x[:, :2], 5, greedy=True))


def test_book_char_rnn_parameter_count():
    m = create_model("char-rnn-book", vocab_size=20)
    # Embedding 20*50 + LSTM 4*100*(50+100) + 2*4*100 + Linear 100*20 + 20
    assert count_parameters(m) == 20 * 50 + 4 * 100 * 150 + 800 + 2000 + 20


def test_language_model_task_tbptt_carries_state():
    m = create_model("rnn-lm", vocab_size=5, embed_dim=4, hidden_size=6, num_layers=1, dropout=0.0)
    task = create_task("language-model", tbptt=True)
    x = torch.randint(0, 5, (2, 8))
    out1 = task.training_step(m, (x[:, :4], x[:, 1:5]))
    assert task.state is not None and not task.state[0].requires_grad
    out1["loss"].backward()
    _, s = m(x[:, :4], return_state=True)
    torch.testing.assert_close(task.state[0], s[0].detach())
    assert math.isfinite(task.training_step(m, (x[:, 4:], x[:, 4:]))["loss"].item())


def test_classifier_ignores_padding():
    torch.manual_seed(0)
    for pooling in ("last", "max", "mean", "attention"):
        m = create_model("rnn-classifier", vocab_size=30, embed_dim=8, hidden_size=6, pooling=pooling,
                         dropout=0.0).eval()
        x = torch.randint(1, 30, (1, 5))
        padded = torch.cat([x, torch.zeros(1, 3, dtype=torch.long)], 1)
        torch.testing.assert_close(m(x), m(padded), atol=1e-6, rtol=1e-6)
    ucr = create_model("lstm-ucr")
    assert ucr(torch.randn(4, 24, 1)).shape == (4, 2)


def test_teacher_forcing_schedules():
    assert teacher_forcing_ratio(0, 100, "linear") == 1.0
    assert teacher_forcing_ratio(50, 100, "linear") == pytest.approx(0.5)
    assert teacher_forcing_ratio(100, 100, "exponential", end=0.1) == pytest.approx(0.1)
    assert teacher_forcing_ratio(0, 100, "inverse_sigmoid") == pytest.approx(1.0)
    assert teacher_forcing_ratio(100, 100, "inverse_sigmoid") == pytest.approx(0.0, abs=1e-9)
    assert teacher_forcing_ratio(7, 100, "constant", start=0.5) == 0.5


@pytest.mark.parametrize("attention", ["bahdanau", "luong-dot", "luong-general", "luong-concat", "none"])
def test_seq2seq_shapes_and_masked_attention(attention):
    m = create_model("rnn-seq2seq", src_vocab=13, tgt_vocab=11, embed_dim=8, hidden_size=12, attn_dim=10,
                     attention=attention, dropout=0.0)
    src = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    tgt = torch.tensor([[2, 5, 6, 3], [2, 7, 3, 0]])
    logits, w = m(src, tgt[:, :-1], return_attention=True)
    assert logits.shape == (2, 3, 11)
    if attention != "none":
        assert w.shape == (2, 3, 4) and torch.all(w[1, :, 2:] == 0)
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 3))
    hyps = m.translate(src, max_len=5)
    assert len(hyps) == 2 and all(len(h) <= 5 for h in hyps)


def test_seq2seq_with_lstm_cells_decodes_with_beams():
    m = create_model("rnn-seq2seq", src_vocab=9, tgt_vocab=7, embed_dim=8, hidden_size=10, attn_dim=6,
                     cell="lstm", dropout=0.0)
    src = torch.tensor([[5, 6, 7], [8, 0, 0]])
    logits, w = m(src, torch.tensor([[2, 4], [2, 5]]), teacher_forcing=0.5, return_attention=True)
    assert logits.shape == (2, 2, 7) and torch.all(w[1, :, 1:] == 0)
    assert len(m.translate(src, max_len=4, num_beams=2)) == 2


def test_seq2seq_learns_to_reverse_and_beam_search_is_at_least_as_likely():
    """A tiny reversal task: after ~150 steps the attention model decodes it exactly."""
    torch.manual_seed(0)
    m = create_model("rnn-seq2seq", src_vocab=12, tgt_vocab=12, embed_dim=16, hidden_size=32,
                     attn_dim=32, dropout=0.0)
    task = create_task("seq2seq")
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(150):
        src = torch.randint(4, 12, (32, 5))
        tgt = torch.cat([torch.full((32, 1), 2), src.flip(1), torch.full((32, 1), 3)], 1)
        loss = task.training_step(m, {"src": src, "tgt": tgt})["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    src = torch.randint(4, 12, (16, 5))
    greedy = m.translate(src, max_len=8)
    acc = sum(g == s for g, s in zip(greedy, src.flip(1).tolist(), strict=True)) / 16
    assert acc >= 0.8
    beam = m.translate(src, max_len=8, num_beams=3)
    assert sum(b == s for b, s in zip(beam, src.flip(1).tolist(), strict=True)) / 16 >= acc - 0.07


def test_erratum_seq2seq_loss_shifts_time_axis_and_ignores_padding():
    """C7 (l. 11512-11515, 12705-12708): the book slices output[1:] — the batch axis of its
    batch-first tensors — and counts padding. The task predicts tgt[:, 1:] from tgt[:, :-1] and
    ignores <pad>."""
    V = 6

    class Fixed(torch.nn.Module):
        def forward(self, src, tgt_in, src_lengths=None, teacher_forcing=1.0):
            self.seen = tgt_in
            return torch.arange(tgt_in.numel() * V, dtype=torch.float32).reshape(*tgt_in.shape, V).sin()

    model = Fixed()
    tgt = torch.tensor([[2, 4, 5, 3], [2, 5, 3, 0]])
    loss = create_task("seq2seq", pad_id=0).training_step(model, {"src": tgt, "tgt": tgt})["loss"]
    assert torch.equal(model.seen, tgt[:, :-1])
    logits = model(tgt, tgt[:, :-1])
    terms = [torch.nn.functional.cross_entropy(logits[b, t][None], tgt[b, t + 1][None])
             for b in range(2) for t in range(3) if tgt[b, t + 1] != 0]
    torch.testing.assert_close(loss, torch.stack(terms).mean())
