"""Hierarchical attention network for document classification (Yang et al. 2016; book §7.2.3,
l. 16036-16159, catalogue C4, L7-8, L7-9).

``Embedding → word BiGRU → word attention → sentence BiGRU → sentence attention → Linear``, on
token ids ``(B, S, W)`` (documents × sentences × words, padding id ``pad_id``), built on
:class:`~tensorprism.nn.hierarchical_attention.HierarchicalAttention` (which masks padded words
and sentences). The book's example configuration (L7-9) is ``vocab_size=5000, embed_size=300,
hidden_dim=128, num_classes=10``; ``pooling="mean"`` is the same network without attention.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ...errors import ShapeError
from ...nn.hierarchical_attention import HANOutput, HierarchicalAttention
from .. import register_model
from ..contract import SequenceMixin, check_token_ids, model_label


@dataclass
class HANConfig:
    vocab_size: int = 5000
    embed_dim: int = 300
    hidden_size: int = 128
    attn_dim: int | None = None
    num_classes: int = 10
    pooling: str = "attention"  # "attention" (HAN) or "mean" (no attention)
    cell: str = "gru"
    dropout: float = 0.0
    pad_id: int = 0


class HAN(SequenceMixin, nn.Module):
    """``forward(ids (B, S, W)) -> logits (B, num_classes)``; ``attend(ids)`` also returns the
    :class:`~tensorprism.nn.hierarchical_attention.HANOutput` weights."""

    input_layout = "documents"  # token ids (B, S, W): `prism train` splits texts into sentences for it

    def __init__(self, cfg: HANConfig):
        super().__init__()
        self.cfg, self.vocab_size, self.num_classes = cfg, cfg.vocab_size, cfg.num_classes
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=cfg.pad_id)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = HierarchicalAttention(cfg.embed_dim, cfg.hidden_size, cfg.attn_dim, cfg.pooling, cfg.cell)
        self.head = nn.Linear(self.encoder.out_features, cfg.num_classes)

    def example_input(self, batch_size: int = 2) -> Tensor:
        import torch

        ids = torch.randint(1, self.vocab_size, (batch_size, 3, 5), device=self._example_device())
        ids[0, 2] = self.cfg.pad_id  # a padded sentence
        ids[-1, 1, 3:] = self.cfg.pad_id  # padded words
        return ids

    def attend(self, ids: Tensor) -> tuple[Tensor, HANOutput]:
        if ids.dim() != 3:
            raise ShapeError(f"{model_label(self)} expects token ids (B, S, W) (documents × sentences × words), "
                             f"got {tuple(ids.shape)}; data.text.documents.pad_documents builds them")
        check_token_ids(ids, self.vocab_size, model_label(self))
        out = self.encoder(self.drop(self.embed(ids)), ids != self.cfg.pad_id)
        return self.head(self.drop(out.document)), out

    def forward(self, ids: Tensor) -> Tensor:
        return self.attend(ids)[0]


@register_model("han", config=HANConfig, family="rnn")
def han(cfg: HANConfig) -> HAN:
    """Hierarchical attention network (the book's L7-9 configuration by default)."""
    return HAN(cfg)


register_model("han-mean", config=HANConfig, family="rnn", pooling="mean",
               description="the hierarchical network with mean pooling at both levels (no attention)")(han)
