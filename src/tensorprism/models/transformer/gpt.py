"""GPT: a decoder-only causal language model (book §6.4.2, lines 13682-13712).

``P(x) = prod_t P(x_t | x_<t)`` and ``L = -sum_t log P(x_t | x_<t)`` (line 13708; the sign is
missing at 13049, erratum 5.1.1). Each block is pre-LN causal self-attention + MLP (GPT-2), the
token embedding is tied to the output projection, and positions are learned (GPT-2), or rotary,
ALiBi or sinusoidal by configuration.

The book's listing L6-6 builds this from ``nn.TransformerDecoderLayer(x, x)`` with **no causal
mask** and **unshifted targets**, so it learns to copy its input (erratum 5.2.2); here the
attention is causal and :meth:`GPT.loss` predicts token ``t+1`` from tokens ``<= t``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ...errors import ConfigError, ShapeError
from ...nn.attention import KVCache
from ...nn.efficient_attention import make_attention
from ...nn.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from ...nn.transformer import TransformerEncoderLayer, TransformerStack
from .. import register_model
from ..contract import LanguageModelMixin

__all__ = ["GPTConfig", "GPT"]


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True
    layer_norm_eps: float = 1e-5
    activation: str = "gelu_tanh"
    n_inner: int | None = None  # MLP width; None = 4 * n_embd (GPT-2's default)
    position: str = "learned"  # learned | sinusoidal | rotary | alibi
    tie_weights: bool = True
    init_std: float = 0.02
    attention: str = "full"  # or an efficient attention of nn.efficient_attention.make_attention
    attention_kwargs: dict[str, Any] = field(default_factory=dict)


class GPT(LanguageModelMixin, nn.Module):
    """Token ids ``(N, T)`` -> next-token logits ``(N, T, V)`` (language-model contract)."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if cfg.position not in {"learned", "sinusoidal", "rotary", "alibi"}:
            raise ConfigError(f"position must be learned, sinusoidal, rotary or alibi, got {cfg.position!r}")
        self.config = cfg
        self.vocab_size = cfg.vocab_size
        # learned/sinusoidal tables end at block_size; rotary and ALiBi extrapolate
        self.block_size = cfg.block_size if cfg.position in {"learned", "sinusoidal"} else None
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        if cfg.position == "learned":
            self.wpe = LearnedPositionalEmbedding(cfg.block_size, cfg.n_embd, cfg.init_std)
        elif cfg.position == "sinusoidal":
            self.wpe = SinusoidalPositionalEncoding(cfg.n_embd, cfg.block_size)
        else:
            self.wpe = None
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.attention != "full" and cfg.position in ("rotary", "alibi"):
            raise ConfigError(f"position={cfg.position!r} acts inside softmax attention: use attention='full', "
                              "or learned/sinusoidal positions with an efficient attention")
        self.blocks = TransformerStack(
            lambda: TransformerEncoderLayer(
                cfg.n_embd, cfg.n_head, cfg.n_inner or 4 * cfg.n_embd, cfg.dropout, cfg.activation, norm_first=True,
                layer_norm_eps=cfg.layer_norm_eps, bias=cfg.bias,
                rotary=cfg.position == "rotary", alibi=cfg.position == "alibi", ffn_dropout=0.0,
                self_attn=None if cfg.attention == "full" else make_attention(
                    cfg.attention, cfg.n_embd, cfg.n_head, cfg.dropout, cfg.bias, **cfg.attention_kwargs),
            ),
            cfg.n_layer,
            final_norm=nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps),
        )
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.wte.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2 init: N(0, 0.02), residual projections scaled by 1/sqrt(2 n_layer)."""
        std = self.config.init_std
        for name, p in self.named_parameters():
            if name.rsplit(".", 1)[-1] in ("mask_logits", "E", "F"):  # efficient attentions' own tables
                continue
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "norm" in name:
                nn.init.ones_(p)
            elif p.dim() >= 2:
                scale = (2 * self.config.n_layer) ** -0.5 if name.endswith(("out_proj.weight", "linear2.weight")) else 1
                nn.init.normal_(p, std=std * scale)

    def forward(self, idx: Tensor, *, cache: list[KVCache] | None = None, need_weights: bool = False,
                inputs_embeds: Tensor | None = None) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Logits ``(N, T, V)``; with a ``cache`` (one :class:`KVCache` per layer) ``idx`` holds
        only the new tokens. ``need_weights`` also returns per-layer attention weights."""
        if inputs_embeds is None:
            self.check_tokens(idx)
        x = self.wte(idx) if inputs_embeds is None else inputs_embeds
        T = x.shape[1]
        offset = len(cache[0]) if cache else 0
        if offset + T > self.config.block_size and self.config.position in {"learned", "sinusoidal"}:
            raise ShapeError(
                f"sequence of {offset + T} tokens exceeds block_size={self.config.block_size}; crop the "
                "context (generate() does) or use position='rotary'/'alibi'"
            )
        if self.wpe is not None:
            x = self.wpe(x, offset)
        x, weights = self.blocks(self.drop(x), cache=cache, is_causal=True, need_weights=need_weights)
        logits = self.lm_head(x)
        return (logits, weights) if need_weights else logits

    # ------------------------------------------------------------------------------ generation

    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]:
        """A :mod:`tensorprism.generation` step: feed new ``tokens (N, t)``, return last logits.

        When the context would exceed ``block_size`` (learned/sinusoidal positions) the cache is
        rebuilt from the last ``block_size - 1`` tokens, as nanoGPT crops its context.
        """
        if self.config.attention != "full":  # no KV cache: re-read the (cropped) context each step
            ctx = tokens if state is None else torch.cat([state["ctx"], tokens], dim=1)
            if self.block_size is not None:
                ctx = ctx[:, -self.block_size:]
            return self(ctx)[:, -1], {"ctx": ctx}
        if state is None:
            state = {"ctx": tokens[:, :0], "cache": [KVCache() for _ in range(self.config.n_layer)]}
        ctx = torch.cat([state["ctx"], tokens], dim=1)
        cache = state["cache"]
        limit = self.config.block_size if self.config.position in {"learned", "sinusoidal"} else None
        if limit is not None and ctx.shape[1] > limit:
            ctx = ctx[:, -limit:]
            cache = [KVCache() for _ in range(self.config.n_layer)]
            tokens = ctx
        logits = self(tokens, cache=cache)[:, -1]
        return logits, {"ctx": ctx, "cache": cache}


@register_model("gpt2", config=GPTConfig, family="transformer")
def gpt2(cfg: GPTConfig) -> GPT:
    """GPT-2 small: 12 layers, 12 heads, 768 wide, 1024 context (124M parameters)."""
    return GPT(cfg)


@register_model("gpt2-medium", config=GPTConfig, family="transformer", n_layer=24, n_head=16, n_embd=1024)
def gpt2_medium(cfg: GPTConfig) -> GPT:
    """GPT-2 medium: 24 layers, 16 heads, 1024 wide (355M parameters)."""
    return GPT(cfg)


@register_model("gpt-char", config=GPTConfig, family="transformer", vocab_size=65, block_size=64, n_layer=4,
                n_head=4, n_embd=128)
def gpt_char(cfg: GPTConfig) -> GPT:
    """nanoGPT's CPU character model: 4 layers, 4 heads, 128 wide, context 64 (Tiny Shakespeare)."""
    return GPT(cfg)
