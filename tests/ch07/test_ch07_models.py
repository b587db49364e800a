"""Chapter 7 models: the book's configurations (parameter counts), attention weights of each model,
the no-attention baselines, and clear errors for bad input."""

from __future__ import annotations

import pytest
import torch

from tensorprism.errors import ConfigError, ShapeError
from tensorprism.models import count_parameters, create_model
from tensorprism.models.cnn.attention_cnn import attention_map
from tensorprism.models.multimodal import DigitCaptioner, DigitVQANet, VideoAttentionNet
from tensorprism.nn.blocks import CBAM, BasicBlock
from tensorprism.train.tasks import create_task


def test_attention_cnn_has_the_books_layers_and_parameter_count():
    """§7.6.1 (l. 17366-17388): conv 3→64, attention conv 64→1, conv 64→128, FC 128·8·8→256→10."""
    m = create_model("attention-cnn")
    book = (3 * 64 * 9 + 64) + (64 + 1) + (64 * 128 * 9 + 128) + (128 * 8 * 8 * 256 + 256) + (256 * 10 + 10)
    assert count_parameters(m) == book == 2_175_691
    assert count_parameters(create_model("attention-cnn-plain")) == book - 65
    x = torch.randn(2, 3, 32, 32)
    a = attention_map(m, x)
    assert a.shape == (2, 1, 16, 16)
    torch.testing.assert_close(a.sum((1, 2, 3)), torch.ones(2))
    with pytest.raises(ConfigError, match="no attention layer"):
        attention_map(create_model("attention-cnn-plain"), x)


def test_cbam_resnet20_puts_a_gate_in_every_block_and_keeps_resnet20():
    plain, cbam = create_model("resnet20-cifar"), create_model("cbam-resnet20-cifar")
    assert count_parameters(plain) == 269_722  # He et al. 2016: 0.27M (option-A shortcuts: no projection weights)
    blocks = [m for m in cbam.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 9 and all(isinstance(b.attention, CBAM) for b in blocks)
    assert all(isinstance(b.attention, torch.nn.Identity) for b in plain.modules() if isinstance(b, BasicBlock))
    assert cbam(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    book = create_model("resnet20-cifar", attention="book")
    first = next(m for m in book.modules() if isinstance(m, CBAM))
    assert type(first[0]).__name__ == "SpatialAttention" and first[1].pool == "avg"
    with pytest.raises(ConfigError, match="attention must be"):
        create_model("resnet20-cifar", attention="se")


def test_han_masks_padding_and_its_mean_variant_has_no_attention():
    m = create_model("han", vocab_size=50, embed_dim=8, hidden_size=4, num_classes=3).eval()
    ids = m.example_input(2)
    logits, att = m.attend(ids)
    assert logits.shape == (2, 3)
    mask = ids != 0
    assert torch.equal(att.word_weights[~mask], torch.zeros(int((~mask).sum())))
    assert att.sentence_weights[0, 2] == 0  # the padded sentence
    torch.testing.assert_close(att.sentence_weights.sum(1), torch.ones(2))
    mean = create_model("han-mean", vocab_size=50, embed_dim=8, hidden_size=4)
    assert mean.encoder.word_attention is None
    with pytest.raises(ShapeError, match=r"\(B, S, W\).*pad_documents"):
        m(torch.randint(1, 50, (2, 7)))


def test_book_han_configuration():
    """L7-9 (l. 16131-16159): vocab 5000, embedding 300, hidden 128, 10 classes."""
    m = create_model("han")
    assert (m.cfg.vocab_size, m.cfg.embed_dim, m.cfg.hidden_size, m.num_classes) == (5000, 300, 128, 10)
    assert m.encoder.word_rnn.bidirectional and m.encoder.word_rnn.hidden_size == 128


def test_vqa_net_attends_over_regions_and_the_baseline_does_not():
    torch.manual_seed(0)
    img, q = torch.rand(3, 1, 64, 64), torch.randint(1, 30, (3, 7))
    q[0, 5:] = 0
    net = DigitVQANet(30, 11, d=16, heads=2, layers=2)
    logits, w = net.attend(img, q)
    assert logits.shape == (3, 11) and w.shape == (3, 2, 7, 64)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 7))
    base = DigitVQANet(30, 11, d=16, attention=False)
    assert len(base.cross) == 0 and base.attend(img, q)[1] is None
    with pytest.raises(ShapeError, match="3 images but 2 questions"):
        net(img, q[:2])
    with pytest.raises(ShapeError, match="token ids"):
        net(img, q.float())
    with pytest.raises(ShapeError, match=r"images \(N, 1, 64, 64\)"):
        net(torch.rand(3, 3, 64, 64), q)


def test_captioner_generates_from_bos_and_attends_per_step():
    net = DigitCaptioner(30, d=16).eval()
    img = torch.rand(2, 1, 64, 64)
    out = net.generate(img, max_len=5)
    assert out.shape[0] == 2 and out.shape[1] <= 6 and (out[:, 0] == 1).all()
    logits, w = net.attend(img, out[:, :-1])
    assert logits.shape == (2, out.shape[1] - 1, 30)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, out.shape[1] - 1))
    base = DigitCaptioner(30, d=16, attention=False)
    _, wb = base.attend(img, out[:, :-1])
    torch.testing.assert_close(wb, torch.full_like(wb, 1 / 64))  # the mean region: uniform weights


def test_video_net_frame_weights_and_frame_averaging_baseline():
    net = VideoAttentionNet(19, channels=8)
    video = torch.rand(2, 5, 1, 64, 64)
    logits, att = net.attend(video)
    assert logits.shape == (2, 19)
    torch.testing.assert_close(att.frame_weights.sum(1), torch.ones(2))
    base = VideoAttentionNet(19, channels=8, temporal="mean")
    torch.testing.assert_close(base.attend(video)[1].frame_weights, torch.full((2, 5), 0.2))
    with pytest.raises(ShapeError, match=r"videos \(N, T, 1, H, W\)"):
        net(torch.rand(2, 5, 64, 64))


def test_multi_input_classification_task_calls_the_model_with_each_input():
    task = create_task("multi-input-classification")
    net = DigitVQANet(30, 11, d=8, heads=2, layers=1)
    batch = ((torch.rand(4, 1, 64, 64), torch.randint(1, 30, (4, 6))), torch.randint(0, 11, (4,)))
    loss = task.training_step(net, batch)["loss"]
    loss.backward()
    assert loss.dim() == 0 and net.embed.weight.grad is not None
    assert task.predict_step(net, batch).shape == (4,)


def test_speech_model_is_the_books_lstm_with_attention_pooling():
    """L7-29 (l. 17000-17032): LSTM over frames, attention pooling, linear head."""
    m = create_model("speech-attention-lstm-book")
    assert m.cfg.cell == "lstm" and m.cfg.pooling == "attention" and not m.cfg.bidirectional
    assert m(torch.randn(2, 85, 40)).shape == (2, 10)
