"""Cross-modal and video attention models of Chapter 7 (book §7.3.2, §7.5.1, §7.5.3, §7.6.2).

* :class:`DigitVQANet` -- VQA (C10, C18, L7-16, L7-32, L7-35): a small CNN turns the image into
  ``h·w`` region vectors (plus a learned position embedding, so "left of" is expressible), a
  bidirectional GRU encodes the question (the case study's text says BiLSTM, its code is
  unidirectional), ``layers`` rounds of :class:`~tensorprism.nn.crossmodal_attention.
  CrossModalAttention` let the question tokens attend to the regions, and the masked mean of the
  question tokens goes to an MLP over the answers. ``attention=False`` replaces the attention by
  the mean of the regions (the no-attention baseline). The book's VQA case study attends over a
  *single* region (``unsqueeze(1)`` of one ResNet vector), so its softmax weight is always 1.
* :class:`DigitCaptioner` -- captioning (C17, L7-17, L7-31): a GRU decoder whose state at each
  step queries the regions; ``logits_t = W[s_t; c_t]``; without attention ``c_t`` is the mean
  region. ``generate`` decodes greedily.
* :class:`VideoAttentionNet` -- temporal (and optionally spatial) attention over the frames of a
  video (C15, L7-28): a per-frame CNN, then :class:`~tensorprism.nn.temporal_attention.
  SpatioTemporalAttention`; ``temporal="mean"`` is frame averaging.

They follow the ``multimodal`` contract (:class:`~tensorprism.models.contract.MultimodalMixin`)
and are registered with their no-attention baselines: ``digit-vqa-net`` / ``digit-vqa-net-mean``,
``digit-captioner`` / ``digit-captioner-mean``, ``video-attention-net`` / ``video-mean-net``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..errors import ShapeError
from ..nn.crossmodal_attention import CrossModalAttention
from ..nn.temporal_attention import SpatioTemporalAttention, VideoAttentionOutput
from . import register_model
from .contract import MultimodalMixin, check_token_ids, model_label

__all__ = ["RegionEncoder", "DigitVQANet", "DigitCaptioner", "VideoAttentionNet"]


class RegionEncoder(nn.Module):
    """``(N, C, H, W) → regions (N, (H/8)·(W/8), d)``: three conv-ReLU-maxpool stages plus a learned
    position embedding per region."""

    def __init__(self, in_chans: int = 1, d: int = 64, img_size: int = 64):
        super().__init__()
        if img_size % 8:
            raise ShapeError(f"img_size must be a multiple of 8, got {img_size}")
        self.cnn = nn.Sequential(
            nn.Conv2d(in_chans, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(64, d, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2))
        self.grid = img_size // 8
        self.pos = nn.Parameter(torch.randn(self.grid * self.grid, d) * 0.02)
        self.in_chans, self.img_size = in_chans, img_size

    def forward(self, image: Tensor) -> Tensor:
        if image.dim() != 4 or image.shape[1:] != (self.in_chans, self.img_size, self.img_size):
            raise ShapeError(f"expected images (N, {self.in_chans}, {self.img_size}, {self.img_size}), "
                             f"got {tuple(image.shape)}")
        f = self.cnn(image)  # (N, d, g, g)
        return f.flatten(2).transpose(1, 2) + self.pos  # regions are the encoder's channels (not the input's)


class DigitVQANet(MultimodalMixin, nn.Module):
    """``forward(image (N, 1, 64, 64), question (N, L) ids, 0 = padding) -> answer logits (N, A)``;
    ``attend(...)`` also returns the weights of the last round ``(N, heads, L, regions)``."""

    inputs = ("image", "question")
    token_argument = 1

    def __init__(self, vocab_size: int, num_answers: int, d: int = 64, heads: int = 4, layers: int = 2,
                 attention: bool = True, img_size: int = 64):
        super().__init__()
        self.vocab_size, self.attention, self.num_classes = vocab_size, attention, num_answers
        self.regions = RegionEncoder(1, d, img_size)
        self.embed = nn.Embedding(vocab_size, d, padding_idx=0)
        self.rnn = nn.GRU(d, d // 2, batch_first=True, bidirectional=True)
        self.cross = nn.ModuleList(CrossModalAttention(d, d, d, heads) for _ in range(layers if attention else 0))
        self.norms = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers if attention else 0))
        self.head = nn.Sequential(nn.Linear(2 * d, 2 * d), nn.ReLU(inplace=True), nn.Linear(2 * d, num_answers))

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        dev, g = self._example_device(), self.regions.img_size
        q = torch.randint(1, self.vocab_size, (batch_size, 6), device=dev)
        q[0, 4:] = 0
        return torch.rand(batch_size, 1, g, g, device=dev), q

    def attend(self, image: Tensor, question: Tensor) -> tuple[Tensor, Tensor | None]:
        check_token_ids(question, self.vocab_size, model_label(self), "question token ids")
        if question.dim() != 2:
            raise ShapeError(f"question must be token ids (N, L), got {tuple(question.shape)}")
        if question.shape[0] != image.shape[0]:
            raise ShapeError(f"{image.shape[0]} images but {question.shape[0]} questions")
        regions = self.regions(image)  # (N, R, d)
        mask = question != 0
        q, _ = self.rnn(self.embed(question))  # (N, L, d)
        summary = (q * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        weights = None
        if self.attention:
            h = q
            for cross, norm in zip(self.cross, self.norms, strict=True):
                c, weights = cross(h, regions, need_weights=True)
                h = norm(h + c)
            seen = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        else:
            seen = regions.mean(1)  # every region counts the same: the mean-pooled baseline
        return self.head(torch.cat([summary, seen], -1)), weights

    def forward(self, image: Tensor, question: Tensor) -> Tensor:
        return self.attend(image, question)[0]


class DigitCaptioner(MultimodalMixin, nn.Module):
    """``forward(image (N, 1, 64, 64), tgt_in (N, T), src_lengths=None, teacher_forcing=1.0) ->
    logits (N, T, V)`` (teacher forcing always; the argument is accepted for
    :class:`~tensorprism.train.tasks.seq2seq.Seq2SeqTask`); ``generate(image, max_len)`` -> ids
    ``(N, 1 + steps)`` starting with ``bos_id``; ``attend`` returns the weights ``(N, T, regions)``."""

    inputs = ("image", "tgt_in")
    output = "sequence-logits"
    token_argument = 1

    def __init__(self, vocab_size: int, d: int = 64, attention: bool = True, bos_id: int = 1, eos_id: int = 2,
                 img_size: int = 64):
        super().__init__()
        self.vocab_size, self.attention, self.bos_id, self.eos_id = vocab_size, attention, bos_id, eos_id
        self.regions = RegionEncoder(1, d, img_size)
        self.embed = nn.Embedding(vocab_size, d, padding_idx=0)
        self.init = nn.Linear(d, d)
        self.rnn = nn.GRU(d, d, batch_first=True)
        self.cross = CrossModalAttention(d, d, d, 1) if attention else None
        self.out = nn.Linear(2 * d, vocab_size)

    def _context(self, s: Tensor, regions: Tensor) -> tuple[Tensor, Tensor]:
        if self.cross is None:
            c = regions.mean(1, keepdim=True).expand(-1, s.shape[1], -1)
            return c, torch.full(s.shape[:2] + regions.shape[1:2], 1.0 / regions.shape[1], device=s.device)
        c, w = self.cross(s, regions, need_weights=True)
        return c, w[:, 0]

    def example_input(self, batch_size: int = 2) -> tuple[Tensor, Tensor]:
        dev, g = self._example_device(), self.regions.img_size
        return torch.rand(batch_size, 1, g, g, device=dev), torch.randint(1, self.vocab_size, (batch_size, 5), device=dev)

    def attend(self, image: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor]:
        check_token_ids(tgt_in, self.vocab_size, model_label(self), "caption token ids")
        regions = self.regions(image)
        h0 = torch.tanh(self.init(regions.mean(1)))[None]  # (1, N, d)
        s, _ = self.rnn(self.embed(tgt_in), h0)  # (N, T, d)
        c, w = self._context(s, regions)
        return self.out(torch.cat([s, c], -1)), w

    def forward(self, image: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None,
                teacher_forcing: float = 1.0) -> Tensor:
        return self.attend(image, tgt_in)[0]

    @torch.no_grad()
    def generate(self, image: Tensor, max_len: int = 10) -> Tensor:
        regions = self.regions(image)
        h = torch.tanh(self.init(regions.mean(1)))[None]
        y = torch.full((image.shape[0], 1), self.bos_id, dtype=torch.long, device=image.device)
        done = torch.zeros(image.shape[0], dtype=torch.bool, device=image.device)
        for _ in range(max_len):
            s, h = self.rnn(self.embed(y[:, -1:]), h)
            c, _ = self._context(s, regions)
            nxt = self.out(torch.cat([s, c], -1))[:, -1].argmax(-1)
            nxt = nxt.masked_fill(done, 0)
            y = torch.cat([y, nxt[:, None]], 1)
            done |= nxt == self.eos_id
            if bool(done.all()):
                break
        return y


class VideoAttentionNet(MultimodalMixin, nn.Module):
    """``forward(video (N, T, 1, H, W)) -> logits (N, classes)``; ``attend`` also returns the
    :class:`~tensorprism.nn.temporal_attention.VideoAttentionOutput`."""

    inputs = ("video",)

    def __init__(self, num_classes: int, channels: int = 64, temporal: str = "attention", spatial: str = "mean",
                 in_chans: int = 1):
        super().__init__()
        self.in_chans, self.num_classes = in_chans, num_classes
        self.frames = nn.Sequential(
            nn.Conv2d(in_chans, 32, 5, stride=2, padding=2), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(64, channels, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.pool = SpatioTemporalAttention(channels, spatial=spatial, temporal=temporal)
        self.head = nn.Sequential(nn.Linear(channels, 128), nn.ReLU(inplace=True), nn.Linear(128, num_classes))

    def attend(self, video: Tensor) -> tuple[Tensor, VideoAttentionOutput]:
        if video.dim() != 5 or video.shape[2] != self.in_chans:
            raise ShapeError(f"expected videos (N, T, {self.in_chans}, H, W), got {tuple(video.shape)}")
        N, T = video.shape[:2]
        f = self.frames(video.flatten(0, 1))  # every frame through the same CNN
        out = self.pool(f.view(N, T, *f.shape[1:]))
        return self.head(out.context), out

    def example_input(self, batch_size: int = 2) -> Tensor:
        return torch.rand(batch_size, 4, self.in_chans, 64, 64, device=self._example_device())

    def forward(self, video: Tensor) -> Tensor:
        return self.attend(video)[0]


@dataclass
class DigitVQAConfig:
    vocab_size: int = 33  # the digit-scene vocabulary (data.datasets.digit_scenes.WORDS)
    num_answers: int = 11
    d_model: int = 64
    heads: int = 4
    layers: int = 2
    attention: bool = True
    img_size: int = 64


@register_model("digit-vqa-net", config=DigitVQAConfig, family="multimodal")
def digit_vqa_net(cfg: DigitVQAConfig) -> DigitVQANet:
    """VQA on digit scenes: question tokens attend to image regions (cross-modal attention)."""
    return DigitVQANet(cfg.vocab_size, cfg.num_answers, cfg.d_model, cfg.heads, cfg.layers, cfg.attention, cfg.img_size)


register_model("digit-vqa-net-mean", config=DigitVQAConfig, family="multimodal", attention=False,
               description="the VQA net with mean-pooled regions instead of attention (baseline)")(digit_vqa_net)


@dataclass
class DigitCaptionerConfig:
    vocab_size: int = 33
    d_model: int = 64
    attention: bool = True
    bos_id: int = 1
    eos_id: int = 2
    img_size: int = 64


@register_model("digit-captioner", config=DigitCaptionerConfig, family="multimodal")
def digit_captioner(cfg: DigitCaptionerConfig) -> DigitCaptioner:
    """Captioning digit scenes: each decoder state attends to the image regions."""
    return DigitCaptioner(cfg.vocab_size, cfg.d_model, cfg.attention, cfg.bos_id, cfg.eos_id, cfg.img_size)


register_model("digit-captioner-mean", config=DigitCaptionerConfig, family="multimodal", attention=False,
               description="the captioner with the mean region instead of attention (baseline)")(digit_captioner)


@dataclass
class VideoNetConfig:
    num_classes: int = 19
    channels: int = 64
    temporal: str = "attention"
    spatial: str = "mean"
    in_chans: int = 1


@register_model("video-attention-net", config=VideoNetConfig, family="multimodal")
def video_attention_net(cfg: VideoNetConfig) -> VideoAttentionNet:
    """Per-frame CNN, temporal attention over frames (Moving MNIST)."""
    return VideoAttentionNet(cfg.num_classes, cfg.channels, cfg.temporal, cfg.spatial, cfg.in_chans)


register_model("video-mean-net", config=VideoNetConfig, family="multimodal", temporal="mean",
               description="the video net with frame averaging instead of attention (baseline)")(video_attention_net)
