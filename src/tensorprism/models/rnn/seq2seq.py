r"""Recurrent encoder–decoder with attention for translation (book §5.4, N5/N6, S1-S5).

Encoder: embedding → bidirectional GRU/LSTM over the packed source → outputs :math:`h_j`
``(B, S, 2H)``; the decoder's first state is :math:`s_0 = \tanh(W[\overrightarrow{h}_S;
\overleftarrow{h}_1])` (Bahdanau et al. 2015). Decoder step (l. 10513-10525, 10633-10641):

.. math::
    c_t = \mathrm{Attention}(s_{t-1}, h_{1..S}),\qquad
    s_t = \mathrm{GRU}([E y_{t-1}; c_t], s_{t-1}),\qquad
    p(y_t) = \mathrm{softmax}(W_o [s_t; c_t; E y_{t-1}])

The book's printed models have shape bugs (C1-C3, C5, C7: missing permute, a bidirectional
encoder assumed but not built, slicing the batch axis instead of time); this one is batch-first
throughout, masks source padding in the attention, and leaves the loss to the caller
(:class:`~tensorprism.train.tasks.seq2seq.Seq2SeqTask`) with ``ignore_index=pad``.
With ``attention="none"`` the context is the encoder's summary, fed at every step (l. 11344).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ...errors import ConfigError
from ...nn.rnn_attention import AdditiveAttention, LuongAttention
from .. import register_model
from ..contract import Seq2SeqMixin
from ._common import recurrent_layer


@dataclass
class Seq2SeqConfig:
    src_vocab: int = 8000
    tgt_vocab: int = 6000
    embed_dim: int = 256
    hidden_size: int = 512
    attn_dim: int = 512
    enc_layers: int = 1
    cell: str = "gru"
    attention: str = "bahdanau"  # bahdanau | luong-dot | luong-general | luong-concat | none
    dropout: float = 0.3
    pad_id: int = 0
    bos_id: int = 2
    eos_id: int = 3


class Seq2Seq(Seq2SeqMixin, nn.Module):
    """``forward(src (B, S), tgt_in (B, T), src_lengths=None, teacher_forcing=1.0, *, src_mask=None,
    return_attention=False) -> logits (B, T, V)`` (with ``return_attention``: and the attention
    weights ``(B, T, S)``)."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        if cfg.cell not in ("gru", "lstm"):
            raise ConfigError(f"cell must be 'gru' or 'lstm', got {cfg.cell!r}")
        self.cfg = cfg
        self.src_vocab_size, self.tgt_vocab_size, self.pad_id = cfg.src_vocab, cfg.tgt_vocab, cfg.pad_id
        H, E = cfg.hidden_size, cfg.embed_dim
        self.src_embed = nn.Embedding(cfg.src_vocab, E, padding_idx=cfg.pad_id)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, E, padding_idx=cfg.pad_id)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = recurrent_layer(cfg.cell, E, H, num_layers=cfg.enc_layers, bidirectional=True,
                                       dropout=cfg.dropout if cfg.enc_layers > 1 else 0.0)
        self.bridge = nn.Linear(2 * H, H)
        kinds = {"bahdanau", "luong-dot", "luong-general", "luong-concat", "none"}
        if cfg.attention not in kinds:
            raise ConfigError(f"attention must be one of {sorted(kinds)}, got {cfg.attention!r}")
        if cfg.attention == "bahdanau":
            self.attention = AdditiveAttention(H, 2 * H, cfg.attn_dim)
        elif cfg.attention == "none":
            self.attention = None
        else:
            score = cfg.attention.split("-")[1]
            if score == "dot":  # dot products need equal sizes: project the keys to H first
                self.key_proj = nn.Linear(2 * H, H, bias=False)
                self.attention = LuongAttention(H, H, "dot")
            else:
                self.attention = LuongAttention(H, 2 * H, score, attn_dim=cfg.attn_dim)
        cell = nn.GRUCell if cfg.cell == "gru" else nn.LSTMCell
        self.decoder = cell(E + 2 * H, H)
        self.out = nn.Linear(H + 2 * H + E, cfg.tgt_vocab)

    # ------------------------------------------------------------------ encoder
    def encode(self, src: Tensor, src_lengths: Tensor | None = None):
        """Returns the decoder's initial state and the attention memory ``(keys, projected, mask)``."""
        self.check_tokens(src, "source ids (src)", self.src_vocab_size)
        if src_lengths is None:
            src_lengths = (src != self.cfg.pad_id).sum(1).clamp(min=1)
        enc, state = self.encoder(self.drop(self.src_embed(src)), lengths=src_lengths)  # (B, S, 2H)
        h_n = state[0] if isinstance(state, tuple) else state  # (L*2, B, H)
        s0 = torch.tanh(self.bridge(torch.cat([h_n[-2], h_n[-1]], dim=-1)))  # (B, H)
        mask = torch.arange(src.shape[1], device=src.device)[None] < src_lengths.to(src.device)[:, None]
        if self.cfg.attention == "none":
            keys = (enc * mask[..., None]).sum(1, keepdim=True) / src_lengths.to(enc.device)[:, None, None]
            mask = mask[:, :1]
            proj = keys
        else:  # scores use the projected keys; the context averages the encoder states
            keys = enc
            proj = self.key_proj(enc) if self.cfg.attention == "luong-dot" else self.attention.project_keys(enc)
        dec_state = s0 if self.cfg.cell == "gru" else (s0, torch.zeros_like(s0))
        return dec_state, (keys, proj, mask)

    # ------------------------------------------------------------------ one decoder step
    def decode_step(self, y_prev: Tensor, dec_state, memory):
        """``y_prev (B,)`` → ``(logits (B, V), new_state, weights (B, S))``."""
        values, proj, mask = memory
        s_prev = dec_state if self.cfg.cell == "gru" else dec_state[0]
        emb = self.drop(self.tgt_embed(y_prev))  # (B, E)
        if self.attention is None:
            context, weights = values[:, 0], mask.to(values.dtype)
        else:
            context, weights = self.attention(s_prev, values, mask=mask, projected_keys=proj)
        dec_state = self.decoder(torch.cat([emb, context], -1), dec_state)
        s = dec_state if self.cfg.cell == "gru" else dec_state[0]
        logits = self.out(self.drop(torch.cat([s, context, emb], -1)))
        return logits, dec_state, weights

    # ------------------------------------------------------------------ training forward
    def forward(self, src: Tensor, tgt_in: Tensor, src_lengths: Tensor | None = None,
                teacher_forcing: float = 1.0, *, src_mask: Tensor | None = None,
                return_attention: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Teacher forcing: with probability ``teacher_forcing`` each sentence's next input is the
        gold token, otherwise the model's own greedy prediction (scheduled sampling, Bengio et
        al. 2015; the book flips one coin for the whole batch, l. 10496-10508).

        The source lengths come from ``src_lengths (B,)``, else ``src_mask (B, S)`` (True at real
        tokens, a prefix of each row), else the non-pad tokens."""
        self.check_tokens(tgt_in, "target ids (tgt_in)", self.tgt_vocab_size)
        if src_lengths is None and src_mask is not None:
            src_lengths = self.source_mask(src, src_mask).sum(1).clamp(min=1)
        dec_state, memory = self.encode(src, src_lengths)
        logits, weights = [], []
        y = tgt_in[:, 0]
        for t in range(tgt_in.shape[1]):
            step_logits, dec_state, w = self.decode_step(y, dec_state, memory)
            logits.append(step_logits)
            weights.append(w)
            if t + 1 < tgt_in.shape[1]:
                y = tgt_in[:, t + 1]
                if teacher_forcing < 1.0:
                    use_gold = torch.rand(y.shape[0], device=y.device) < teacher_forcing
                    y = torch.where(use_gold, y, step_logits.argmax(-1))
        logits = torch.stack(logits, 1)
        return (logits, torch.stack(weights, 1)) if return_attention else logits

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def generate(self, src: Tensor, src_lengths: Tensor | None = None, *, max_len: int = 60,
                 num_beams: int = 1, length_penalty: float = 1.0) -> Tensor:
        """Greedy (``num_beams=1``) or beam-search decoding through :mod:`tensorprism.generation`;
        beam hypotheses are ranked by :math:`\\log P(y)/|y|^{\\alpha}` (``length_penalty`` α).
        Returns target ids ``(B, 1 + new)`` starting with ``<bos>``, padded after ``<eos>``."""
        from ...generation import generate

        was = self.training
        self.eval()
        dec_state, memory = self.encode(src, src_lengths)

        def step(tokens, state):
            dec, mem = state
            logits, dec, _ = self.decode_step(tokens[:, -1], dec, mem)
            return logits, (dec, mem)

        bos = torch.full((src.shape[0], 1), self.cfg.bos_id, dtype=torch.long, device=src.device)
        out = generate(step, bos, state=(dec_state, memory), max_new_tokens=max_len,
                       num_beams=num_beams, length_penalty=length_penalty,
                       stop_tokens=(self.cfg.eos_id,), pad_token=self.cfg.pad_id)
        self.train(was)
        return out

    def translate(self, src: Tensor, src_lengths: Tensor | None = None, *, max_len: int = 60,
                  num_beams: int = 1, length_penalty: float = 1.0) -> list[list[int]]:
        """:meth:`generate`, as token ids per sentence without ``<bos>`` and cut at ``<eos>``."""
        out = self.generate(src, src_lengths, max_len=max_len, num_beams=num_beams, length_penalty=length_penalty)
        result = []
        for row in out[:, 1:].tolist():
            cut = row.index(self.cfg.eos_id) if self.cfg.eos_id in row else len(row)
            result.append([t for t in row[:cut] if t != self.cfg.pad_id])
        return result


def plot_alignment(weights: Tensor, src_tokens: list[str], tgt_tokens: list[str], path) -> None:
    """Save a heat map of attention weights ``(T, S)``: target tokens down, source across."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = weights[: len(tgt_tokens), : len(src_tokens)].detach().cpu().numpy()
    fig, ax = plt.subplots(figsize=(0.45 * len(src_tokens) + 2, 0.45 * len(tgt_tokens) + 1.5))
    ax.imshow(w, cmap="Greys", vmin=0, vmax=max(float(w.max()), 1e-6))
    ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=60, ha="right")
    ax.set_yticks(range(len(tgt_tokens)), tgt_tokens)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@register_model("rnn-seq2seq", config=Seq2SeqConfig, family="rnn")
def rnn_seq2seq(cfg: Seq2SeqConfig) -> Seq2Seq:
    """Bidirectional GRU encoder, attention GRU decoder (Bahdanau et al. 2015)."""
    return Seq2Seq(cfg)


@register_model("gru-attention-multi30k", config=Seq2SeqConfig, family="rnn", embed_dim=256,
                hidden_size=512, attn_dim=512, dropout=0.3, attention="bahdanau")
def gru_attention_multi30k(cfg: Seq2SeqConfig) -> Seq2Seq:
    """The Multi30k de→en configuration (vocabulary sizes are set from the data)."""
    return Seq2Seq(cfg)
