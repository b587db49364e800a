"""The encoder–decoder Transformer (book §6.3.3, lines 13427-13439; Vaswani et al. 2017).

``H = Encoder(X)``, ``O = Decoder(Y_shifted_right, H)``, ``P(y_t | y_<t, x) = softmax(O W)``.
Embeddings are scaled by ``sqrt(d_model)`` and summed with sinusoidal positions (with dropout);
the decoder's self-attention is causal, its cross-attention takes queries from the decoder (the
book's L6-3 has no causal mask and L6-38 swaps query and value; errata 5.2.2, 5.2.4). Training
uses teacher forcing (``tgt[:, :-1]`` in, ``tgt[:, 1:]`` out, book line 15330) and label-smoothed
cross-entropy that ignores padding (the book's L6-40 mask has no effect, erratum 5.2.10); pair it
with the Noam schedule (``tensorprism.train.schedules.noam``) and Adam(0.9, 0.98, 1e-9).
The same model serves T5-style span corruption and BART-style denoising (see ``objectives``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...functional.attention import padding_mask
from ...nn.positional import SinusoidalPositionalEncoding
from ...nn.transformer import (
    DecoderCache,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
    TransformerStack,
)
from .. import register_model
from ..contract import Seq2SeqMixin

__all__ = ["Seq2SeqConfig", "TransformerSeq2Seq"]


@dataclass
class Seq2SeqConfig:
    src_vocab_size: int = 32000
    tgt_vocab_size: int = 32000
    d_model: int = 512
    nhead: int = 8
    num_encoder_layers: int = 6
    num_decoder_layers: int = 6
    d_ff: int = 2048
    dropout: float = 0.1
    activation: str = "relu"
    norm_first: bool = False  # the book's post-LN; pre-LN trains more stably when small
    max_len: int = 512
    pad_id: int = 0
    bos_id: int = 2  # generate() starts every target with <bos> and stops at <eos>
    eos_id: int = 3
    share_embeddings: bool = False  # one vocabulary for source and target (T5/BART)
    tie_output: bool = True  # output projection = target embedding matrix


class TransformerSeq2Seq(Seq2SeqMixin, nn.Module):
    """Source ids ``(N, S)`` and shifted target ids ``(N, T)`` -> logits ``(N, T, V_tgt)``."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.config = cfg
        self.src_vocab_size, self.tgt_vocab_size, self.pad_id = cfg.src_vocab_size, cfg.tgt_vocab_size, cfg.pad_id
        self.src_embed = nn.Embedding(cfg.src_vocab_size, cfg.d_model, padding_idx=cfg.pad_id)
        self.tgt_embed = (self.src_embed if cfg.share_embeddings
                          else nn.Embedding(cfg.tgt_vocab_size, cfg.d_model, padding_idx=cfg.pad_id))
        self.pos = SinusoidalPositionalEncoding(cfg.d_model, cfg.max_len, cfg.dropout)
        layer_args = (cfg.d_model, cfg.nhead, cfg.d_ff, cfg.dropout, cfg.activation, cfg.norm_first)
        final = (lambda: nn.LayerNorm(cfg.d_model)) if cfg.norm_first else (lambda: None)
        self.encoder = TransformerStack(lambda: TransformerEncoderLayer(*layer_args), cfg.num_encoder_layers,
                                        final_norm=final())
        self.decoder = TransformerStack(lambda: TransformerDecoderLayer(*layer_args), cfg.num_decoder_layers,
                                        final_norm=final())
        self.out = nn.Linear(cfg.d_model, cfg.tgt_vocab_size, bias=False)
        self.reset_parameters()
        if cfg.tie_output:
            self.out.weight = self.tgt_embed.weight

    def reset_parameters(self) -> None:
        for name, p in self.named_parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p) if "embed" not in name else nn.init.normal_(p, std=self.config.d_model**-0.5)
        with torch.no_grad():
            self.src_embed.weight[self.config.pad_id].zero_()
            self.tgt_embed.weight[self.config.pad_id].zero_()

    def _embed(self, emb: nn.Embedding, ids: Tensor, offset: int = 0) -> Tensor:
        return self.pos(emb(ids) * math.sqrt(self.config.d_model), offset)  # line 13510

    def encode(self, src: Tensor, need_weights: bool = False, src_mask: Tensor | None = None) -> tuple[Tensor, Tensor, list]:
        """``memory (N, S, D)``, source key mask ``(N, 1, 1, S)`` and encoder attention weights.

        ``src_mask`` (boolean ``(N, S)``, True at real tokens) defaults to ``src != pad_id``."""
        self.check_tokens(src, "source ids (src)", self.src_vocab_size)
        mask = padding_mask(src, self.config.pad_id) if src_mask is None else self.source_mask(src, src_mask)[:, None, None, :]
        memory, weights = self.encoder(self._embed(self.src_embed, src), mask, need_weights=need_weights)
        return memory, mask, weights

    def decode(self, tgt_in: Tensor, memory: Tensor, src_mask: Tensor, cache: list | None = None,
               need_weights: bool = False) -> tuple[Tensor, list]:
        offset = len(cache[0]) if cache else 0
        self.check_tokens(tgt_in, "target ids (tgt_in)", self.tgt_vocab_size)
        # padded target positions only produce ignored outputs, so the causal mask is enough
        x, weights = self.decoder(self._embed(self.tgt_embed, tgt_in, offset), memory, None, src_mask,
                                  cache=cache, need_weights=need_weights)
        return self.out(x), weights

    def forward(self, src: Tensor, tgt_in: Tensor, src_mask: Tensor | None = None) -> Tensor:
        """Teacher-forced logits ``(N, T, V_tgt)``; ``src_mask (N, S)`` True at real source tokens."""
        memory, key_mask, _ = self.encode(src, src_mask=src_mask)
        return self.decode(tgt_in, memory, key_mask)[0]

    def loss(self, src: Tensor, tgt: Tensor, label_smoothing: float = 0.0) -> Tensor:
        """Teacher-forced, label-smoothed CE on ``tgt[:, 1:]`` given ``tgt[:, :-1]``; pads ignored."""
        logits = self(src, tgt[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=self.config.pad_id, label_smoothing=label_smoothing)

    # ------------------------------------------------------------------------------ generation

    def step(self, tokens: Tensor, state: dict) -> tuple[Tensor, dict]:
        """Generation step; ``state`` starts as ``{"memory", "src_mask"}`` from :meth:`encode`."""
        if "cache" not in state:
            state = {**state, "cache": [DecoderCache() for _ in range(self.config.num_decoder_layers)]}
        logits, _ = self.decode(tokens, state["memory"], state["src_mask"], cache=state["cache"])
        return logits[:, -1], state

    @torch.no_grad()
    def generate(self, src: Tensor, bos_id: int | None = None, eos_id: int | None = None, *,
                 max_len: int | None = None, src_mask: Tensor | None = None, **kwargs: Any) -> Tensor:
        """Translate ``src (N, S)``: returns target ids ``(N, 1 + new)`` starting with ``bos_id``
        (default: the config's), at most ``max_len`` new tokens (default ``min(max_len - 1, 2S + 10)``).
        Other keyword arguments are :class:`~tensorprism.generation.GenerationConfig` fields."""
        from ...generation import generate

        bos_id = self.config.bos_id if bos_id is None else bos_id
        eos_id = self.config.eos_id if eos_id is None else eos_id
        was = self.training
        self.eval()
        try:
            memory, src_mask, _ = self.encode(src, src_mask=src_mask)
            prompt = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
            if max_len is not None:
                kwargs["max_new_tokens"] = max_len
            kwargs.setdefault("max_new_tokens", min(self.config.max_len - 1, 2 * src.shape[1] + 10))
            kwargs.setdefault("pad_token", self.config.pad_id)
            return generate(self.step, prompt, state={"memory": memory, "src_mask": src_mask},
                            stop_tokens=[eos_id], **kwargs)
        finally:
            self.train(was)


@register_model("transformer-base", config=Seq2SeqConfig, family="transformer")
def transformer_base(cfg: Seq2SeqConfig) -> TransformerSeq2Seq:
    """Transformer base (Vaswani et al. 2017): 6+6 layers, d_model 512, 8 heads, d_ff 2048."""
    return TransformerSeq2Seq(cfg)


@register_model("transformer-small", config=Seq2SeqConfig, family="transformer", d_model=256, nhead=4,
                num_encoder_layers=3, num_decoder_layers=3, d_ff=1024, norm_first=True)
def transformer_small(cfg: Seq2SeqConfig) -> TransformerSeq2Seq:
    """A small pre-LN encoder–decoder for Multi30k-sized translation (3+3 layers, 256 wide)."""
    return TransformerSeq2Seq(cfg)
