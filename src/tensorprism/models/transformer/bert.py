"""BERT (book §6.4.1, lines 13531-13567) and ALBERT (§6.4.3, lines 13807-13817): encoder-only.

Input embeddings are the **sum** of token, segment and learned position embeddings (13539-13547;
the book's listing L6-4 uses sinusoidal positions and no segments instead — erratum 5.1.16), then
LayerNorm and dropout; then a post-LN encoder stack with GELU. Heads:

* pre-training: masked LM (transform + decoder tied to the token embeddings) and a 2-way
  sentence-pair head used for NSP (BERT) or SOP (ALBERT) with cross-entropy on the true label
  (the book's NSP loss sums both classes' log-probabilities, erratum 5.1.3);
* fine-tuning (eq. at 14238-14248): sequence classification, token classification, extractive QA
  spans (start/end logits, eq. at 14850-14858) and multiple choice (softmax over choices,
  14897-14903).

ALBERT options: ``embedding_size < hidden_size`` factorises the embedding ``E = E_1 E_2``
(``V x e`` then ``e x H``), and ``share_layers`` applies one layer ``num_layers`` times.

Parameter names differ from Hugging Face's; :mod:`tensorprism.interop.hf` maps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...errors import ShapeError
from ...nn.positional import LearnedPositionalEmbedding
from ...nn.transformer import TransformerEncoderLayer, TransformerStack, activation_fn
from .. import register_model
from ..contract import EncoderMixin

__all__ = [
    "BertConfig",
    "BertModel",
    "BertOutput",
    "BertForPreTraining",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
    "BertForMultipleChoice",
    "best_span",
    "attention_mask_from",
]


@dataclass
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position: int = 512
    type_vocab_size: int = 2
    dropout: float = 0.1
    attn_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    activation: str = "gelu"
    pad_token_id: int = 0
    # RoBERTa numbers real tokens from pad_token_id + 1 and gives padding position pad_token_id
    roberta_positions: bool = False
    embedding_size: int | None = None  # ALBERT factorised embeddings when < hidden_size
    share_layers: bool = False  # ALBERT cross-layer sharing
    pooler: bool = True
    init_std: float = 0.02
    head: str = "pretraining"  # pretraining | sequence | token | qa | choice | none (encoder only)
    num_labels: int = 2
    classifier_dropout: float | None = None


class BertOutput(NamedTuple):
    hidden: Tensor  # (N, L, H) last layer
    pooled: Tensor | None  # (N, H) tanh(W h_[CLS] + b)
    attentions: list[Tensor] | None  # per layer (N, h, L, L) when asked for
    hidden_states: list[Tensor] | None  # input embeddings + each layer's output when asked for


def attention_mask_from(attention_mask: Tensor | None) -> Tensor | None:
    """``(N, S)`` 1/0 (Hugging Face style) or boolean mask -> key mask ``(N, 1, 1, S)``."""
    if attention_mask is None:
        return None
    if attention_mask.dim() != 2:
        raise ShapeError(f"attention_mask must be (N, S) with 1 at real tokens, got {tuple(attention_mask.shape)}")
    return attention_mask.bool()[:, None, None, :]


def roberta_position_ids(input_ids: Tensor | None, x: Tensor, pad_id: int, max_len: int) -> Tensor:
    """RoBERTa's position ids ``(N, L)``: real tokens count up from ``pad_id + 1`` (skipping
    padding), padding tokens take ``pad_id``; without ``input_ids`` (embeddings given) positions
    run ``pad_id + 1 .. pad_id + L``."""
    N, L = x.shape[:2]
    if pad_id + 1 + L > max_len:
        raise ShapeError(
            f"sequence of {L} tokens needs RoBERTa positions up to {pad_id + L}, but the table has "
            f"{max_len} rows (max {max_len - pad_id - 1} tokens); truncate the input")
    if input_ids is None:
        return torch.arange(pad_id + 1, pad_id + 1 + L, device=x.device).expand(N, L)
    real = (input_ids != pad_id).long()
    return real.cumsum(1) * real + pad_id


class BertEmbeddings(nn.Module):
    def __init__(self, cfg: BertConfig):
        super().__init__()
        e = cfg.embedding_size or cfg.hidden_size
        self.word = nn.Embedding(cfg.vocab_size, e, padding_idx=cfg.pad_token_id)
        self.position = LearnedPositionalEmbedding(cfg.max_position, e, cfg.init_std)
        self.token_type = nn.Embedding(cfg.type_vocab_size, e)
        self.norm = nn.LayerNorm(e, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.dropout)
        self.roberta_positions, self.pad_token_id = cfg.roberta_positions, cfg.pad_token_id
        # ALBERT: E_2 maps the small embedding width e to the hidden width H
        self.project = nn.Linear(e, cfg.hidden_size) if e != cfg.hidden_size else None

    def forward(self, input_ids: Tensor | None, token_type_ids: Tensor | None = None,
                inputs_embeds: Tensor | None = None) -> Tensor:
        x = self.word(input_ids) if inputs_embeds is None else inputs_embeds
        if token_type_ids is None:
            token_type_ids = torch.zeros(x.shape[:2], dtype=torch.long, device=x.device)
        x = x + self.token_type(token_type_ids)
        if self.roberta_positions:
            x = x + self.position.weight[roberta_position_ids(input_ids, x, self.pad_token_id, self.position.max_len)]
        else:
            x = self.position(x)
        x = self.dropout(self.norm(x))
        return x if self.project is None else self.project(x)


def _encoder_attributes(model: EncoderMixin, cfg: BertConfig) -> None:
    """``vocab_size`` and ``block_size`` (usable positions: RoBERTa spends pad_token_id + 1 of them)."""
    model.vocab_size = cfg.vocab_size
    model.block_size = cfg.max_position - (cfg.pad_token_id + 1 if cfg.roberta_positions else 0)


class BertModel(EncoderMixin, nn.Module):
    """The encoder: embeddings -> ``num_layers`` post-LN layers -> optional pooler."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.config = cfg
        _encoder_attributes(self, cfg)
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = TransformerStack(
            lambda: TransformerEncoderLayer(
                cfg.hidden_size, cfg.num_heads, cfg.intermediate_size, cfg.dropout, cfg.activation,
                norm_first=False, layer_norm_eps=cfg.layer_norm_eps, attn_dropout=cfg.attn_dropout,
                ffn_dropout=0.0,
            ),
            cfg.num_layers,
            share=cfg.share_layers,
        )
        self.pooler = nn.Linear(cfg.hidden_size, cfg.hidden_size) if cfg.pooler else None
        self.apply(lambda m: init_bert_weights(m, cfg.init_std))

    def forward(
        self,
        input_ids: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        *,
        inputs_embeds: Tensor | None = None,
        need_weights: bool = False,
        output_hidden_states: bool = False,
    ) -> BertOutput:
        """``input_ids (N, L)`` (or ``inputs_embeds (N, L, e)``, for attributions), segments
        ``(N, L)``, ``attention_mask (N, L)`` with 1 at real tokens."""
        if inputs_embeds is None:
            self.check_tokens(input_ids, "input_ids")
        if token_type_ids is not None:
            self.check_tokens(token_type_ids, "token_type_ids", self.config.type_vocab_size)
        x = self.embeddings(input_ids, token_type_ids, inputs_embeds)
        mask = attention_mask_from(attention_mask)
        states = [x] if output_hidden_states else None
        weights = []
        for i in range(self.encoder.num_layers):
            x, w = self.encoder.layer(i)(x, mask, need_weights=need_weights)
            weights.append(w)
            if states is not None:
                states.append(x)
        pooled = torch.tanh(self.pooler(x[:, 0])) if self.pooler is not None else None
        return BertOutput(x, pooled, weights if need_weights else None, states)


def init_bert_weights(m: nn.Module, std: float) -> None:
    """BERT's initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm."""
    if isinstance(m, (nn.Linear, nn.Embedding)):
        nn.init.normal_(m.weight, std=std)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


class _Headed(EncoderMixin, nn.Module):
    """A BERT encoder plus a task head; ``forward`` returns a dict with logits (and, when labels
    are given, the loss — the Hugging Face convention; tasks may compute their own)."""

    def __init__(self, cfg: BertConfig):
        super().__init__()
        self.config = cfg
        _encoder_attributes(self, cfg)
        self.bert = BertModel(cfg)
        p = cfg.dropout if cfg.classifier_dropout is None else cfg.classifier_dropout
        self.dropout = nn.Dropout(p)

    def _init_head(self) -> None:
        for m in self.children():
            if m is not self.bert:
                m.apply(lambda mod: init_bert_weights(mod, self.config.init_std))

    def encode(self, input_ids, token_type_ids=None, attention_mask=None, **kw) -> BertOutput:
        if kw.get("inputs_embeds") is None:  # checked here too, so the error names this model
            self.check_tokens(input_ids, "input_ids")
        return self.bert(input_ids, token_type_ids, attention_mask, **kw)


class BertForPreTraining(_Headed):
    """Masked-LM head (tied decoder) + sentence-pair head (NSP/SOP).

    ``loss = CE(mlm_logits[masked], mlm_labels[masked]) + CE(pair_logits, pair_labels)`` where
    ``mlm_labels`` is -100 at unmasked positions (book line 13045, with the MLM loss restricted to
    masked tokens; the listing L6-4 averages over every position).
    """

    def __init__(self, cfg: BertConfig):
        super().__init__(cfg)
        e = cfg.embedding_size or cfg.hidden_size
        self.mlm_transform = nn.Linear(cfg.hidden_size, e)
        self.mlm_norm = nn.LayerNorm(e, eps=cfg.layer_norm_eps)
        self.mlm_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.pair_head = nn.Linear(cfg.hidden_size, 2)
        self._act = activation_fn(cfg.activation)
        self._init_head()

    def mlm_logits(self, hidden: Tensor) -> Tensor:
        h = self.mlm_norm(self._act(self.mlm_transform(hidden)))
        return F.linear(h, self.bert.embeddings.word.weight, self.mlm_bias)  # tied to E

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, mlm_labels=None,
                pair_labels=None, **kw) -> dict:
        out = self.encode(input_ids, token_type_ids, attention_mask, **kw)
        res = {"mlm_logits": self.mlm_logits(out.hidden), "pair_logits": self.pair_head(out.pooled), "output": out}
        loss = None
        if mlm_labels is not None:
            loss = F.cross_entropy(res["mlm_logits"].flatten(0, 1), mlm_labels.flatten(), ignore_index=-100)
        if pair_labels is not None:
            pair = F.cross_entropy(res["pair_logits"], pair_labels)
            loss = pair if loss is None else loss + pair
        res["loss"] = loss
        return res


class BertForSequenceClassification(_Headed):
    """``softmax(W h_pooled + b)`` (eq. at 15038); ``num_labels == 1`` is regression (MSE)."""

    def __init__(self, cfg: BertConfig):
        super().__init__(cfg)
        self.classifier = nn.Linear(cfg.hidden_size, cfg.num_labels)
        self._init_head()

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, labels=None, **kw) -> dict:
        out = self.encode(input_ids, token_type_ids, attention_mask, **kw)
        logits = self.classifier(self.dropout(out.pooled))
        loss = None
        if labels is not None:
            loss = (F.mse_loss(logits.squeeze(-1), labels.float()) if self.config.num_labels == 1
                    else F.cross_entropy(logits, labels))
        return {"logits": logits, "loss": loss, "output": out}


class BertForTokenClassification(_Headed):
    """Per-token softmax (NER, eq. at 15072: independent labels, no CRF); labels -100 ignored."""

    def __init__(self, cfg: BertConfig):
        super().__init__(cfg)
        self.classifier = nn.Linear(cfg.hidden_size, cfg.num_labels)
        self._init_head()

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, labels=None, **kw) -> dict:
        out = self.encode(input_ids, token_type_ids, attention_mask, **kw)
        logits = self.classifier(self.dropout(out.hidden))
        loss = None if labels is None else F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return {"logits": logits, "loss": loss, "output": out}


class BertForQuestionAnswering(_Headed):
    """Span extraction: ``P(start_i) = softmax_i(w_s . h_i)``, ``P(end_j) = softmax_j(w_e . h_j)``;
    loss ``-(log P(start*) + log P(end*)) / 2`` (the book's sum, halved as in BERT's code)."""

    def __init__(self, cfg: BertConfig):
        super().__init__(cfg)
        self.qa_outputs = nn.Linear(cfg.hidden_size, 2)
        self._init_head()

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, start_positions=None,
                end_positions=None, **kw) -> dict:
        out = self.encode(input_ids, token_type_ids, attention_mask, **kw)
        start, end = self.qa_outputs(out.hidden).unbind(-1)  # (N, L) each
        if attention_mask is not None:
            start = start.masked_fill(attention_mask == 0, float("-inf"))
            end = end.masked_fill(attention_mask == 0, float("-inf"))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = (F.cross_entropy(start, start_positions) + F.cross_entropy(end, end_positions)) / 2
        return {"start_logits": start, "end_logits": end, "loss": loss, "output": out}


def best_span(start_logits: Tensor, end_logits: Tensor, max_answer_len: int = 30,
              allowed: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Most likely span ``(start, end)`` per row with ``start <= end < start + max_answer_len``.

    The book takes the two argmaxes independently (lines 14886-14891), which can give
    ``end < start``; this maximises ``s_i + e_j`` over valid pairs. ``allowed (N, L)`` restricts
    both ends (e.g. to context tokens).
    """
    s, e = start_logits, end_logits
    if allowed is not None:
        s = s.masked_fill(~allowed.bool(), float("-inf"))
        e = e.masked_fill(~allowed.bool(), float("-inf"))
    L = s.shape[-1]
    i = torch.arange(L, device=s.device)
    valid = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_answer_len)  # (start, end)
    scores = (s[:, :, None] + e[:, None, :]).masked_fill(~valid, float("-inf"))
    flat = scores.flatten(1).argmax(-1)
    return flat // L, flat % L


class BertForMultipleChoice(_Headed):
    """Score each (context, choice) encoding with ``w . h_pooled``; softmax over the choices.

    Inputs are ``(N, C, L)`` (the book's L6-24 passes ``(C, L)``, read as ``L`` choices)."""

    def __init__(self, cfg: BertConfig):
        super().__init__(cfg)
        self.classifier = nn.Linear(cfg.hidden_size, 1)
        self._init_head()

    def forward(self, input_ids, token_type_ids=None, attention_mask=None, labels=None, **kw) -> dict:
        if input_ids.dim() != 3:
            raise ShapeError(f"multiple choice expects (N, num_choices, L) ids, got {tuple(input_ids.shape)}")
        N, C, L = input_ids.shape
        flat = lambda t: None if t is None else t.reshape(N * C, L)  # noqa: E731
        out = self.encode(flat(input_ids), flat(token_type_ids), flat(attention_mask), **kw)
        logits = self.classifier(self.dropout(out.pooled)).view(N, C)
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return {"logits": logits, "loss": loss, "output": out}


_HEADS = {
    "none": BertModel,
    "pretraining": BertForPreTraining,
    "sequence": BertForSequenceClassification,
    "token": BertForTokenClassification,
    "qa": BertForQuestionAnswering,
    "choice": BertForMultipleChoice,
}


def build_bert(cfg: BertConfig) -> nn.Module:
    if cfg.head not in _HEADS:
        raise ShapeError(f"unknown BERT head {cfg.head!r}; choose one of {sorted(_HEADS)}")
    return _HEADS[cfg.head](cfg)


@register_model("bert-base", config=BertConfig, family="transformer")
def bert_base(cfg: BertConfig) -> nn.Module:
    """BERT-base: 12 layers, 768 hidden, 12 heads (Devlin et al. 2019; book L6-4 config)."""
    return build_bert(cfg)


@register_model("bert-large", config=BertConfig, family="transformer", hidden_size=1024, num_layers=24,
                num_heads=16, intermediate_size=4096)
def bert_large(cfg: BertConfig) -> nn.Module:
    """BERT-large: 24 layers, 1024 hidden, 16 heads."""
    return build_bert(cfg)


@register_model("bert-mini", config=BertConfig, family="transformer", hidden_size=256, num_layers=4,
                num_heads=4, intermediate_size=1024)
def bert_mini(cfg: BertConfig) -> nn.Module:
    """BERT-mini (Turc et al. 2019): 4 layers, 256 hidden; small enough to pre-train on a CPU."""
    return build_bert(cfg)


@register_model("minilm-l6", config=BertConfig, family="transformer", hidden_size=384, num_layers=6,
                num_heads=12, intermediate_size=1536, head="none")
def minilm_l6(cfg: BertConfig) -> nn.Module:
    """all-MiniLM-L6-v2's BERT encoder (load weights with ``interop.hf.load_minilm``)."""
    return build_bert(cfg)


@register_model("albert-base", config=BertConfig, family="transformer", vocab_size=30000, embedding_size=128,
                share_layers=True, activation="gelu_tanh", dropout=0.0, attn_dropout=0.0)
def albert_base(cfg: BertConfig) -> nn.Module:
    """ALBERT-base: factorised 128-d embeddings, one layer shared 12 times (Lan et al. 2020)."""
    return build_bert(cfg)
