"""Knowledge distillation (Hinton et al. 2015): a student matches a teacher's softened outputs.

:func:`distillation_loss` is the one soft-target loss of the library, for any model that produces
logits over the last axis: the CNN students of Chapter 11 (``DistillationTask``) and DistilBERT's
masked-LM student of §6.4 (:mod:`tensorprism.models.transformer.objectives` re-exports it).

.. math::

    \\mathcal L = a_{soft}\\,T^2\\,\\mathrm{KL}\\big(\\mathrm{softmax}(t/T)\\,\\|\\,\\mathrm{softmax}(s/T)\\big)
                + a_{hard}\\,\\mathrm{CE}(s, y) + a_{cos}\\,(1 - \\cos(h_s, h_t))

The ``T^2`` factor keeps the soft gradients' scale independent of ``T`` (Hinton et al. 2015); the
book's ``alpha L_soft + (1 - alpha) L_hard`` (§6.4) has no temperature (erratum 5.1.21).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["distillation_loss", "deit_distillation_loss"]


def distillation_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    labels: Tensor | None = None,
    *,
    temperature: float = 2.0,
    alpha_soft: float = 0.5,
    alpha_hard: float = 0.5,
    student_hidden: Tensor | None = None,
    teacher_hidden: Tensor | None = None,
    alpha_cos: float = 0.0,
    ignore_index: int = -100,
) -> Tensor:
    """``a_soft T^2 KL(softmax(t/T) || softmax(s/T)) + a_hard CE(s, y) + a_cos (1 - cos(h_s, h_t))``.

    Logits ``(..., V)`` (image classifiers: ``(N, C)``; language models ``(N, T, V)``); ``labels``
    ``(...)`` use ``ignore_index`` for positions without a target (MLM), which are also left out
    of the soft term; hidden states ``(..., H)``. The teacher's tensors are detached.
    """
    s = student_logits.reshape(-1, student_logits.shape[-1])
    t = teacher_logits.reshape(-1, teacher_logits.shape[-1]).detach()
    keep = None if labels is None else labels.reshape(-1) != ignore_index
    if keep is not None:
        s_soft, t_soft = s[keep], t[keep]
    else:
        s_soft, t_soft = s, t
    soft = F.kl_div(F.log_softmax(s_soft / temperature, -1), F.log_softmax(t_soft / temperature, -1),
                    reduction="batchmean", log_target=True) * temperature**2
    loss = alpha_soft * soft
    if labels is not None and alpha_hard:
        loss = loss + alpha_hard * F.cross_entropy(s, labels.reshape(-1), ignore_index=ignore_index)
    if alpha_cos and student_hidden is not None and teacher_hidden is not None:
        hs = student_hidden.reshape(-1, student_hidden.shape[-1])
        ht = teacher_hidden.reshape(-1, teacher_hidden.shape[-1]).detach()
        loss = loss + alpha_cos * (1 - F.cosine_similarity(hs, ht, dim=-1)).mean()
    return loss


def deit_distillation_loss(cls_logits: Tensor, dist_logits: Tensor, targets: Tensor, teacher_logits: Tensor, *,
                           kind: str = "hard", alpha: float = 0.5, temperature: float = 3.0,
                           label_smoothing: float = 0.0) -> Tensor:
    """DeiT's objectives (Touvron et al. 2021, eqs. 2-3): the class head learns from the labels, the
    distillation head from the teacher. ``(N, C)`` logits of both heads and of the teacher;
    ``targets`` class ids ``(N,)`` or probabilities ``(N, C)`` (mixup/cutmix).

    * ``kind="hard"``: ``(1 - α) CE(z_cls, y) + α CE(z_dist, argmax z_teacher)`` (the paper's best, α = 1/2);
    * ``kind="soft"``: ``(1 - α) CE(z_cls, y) + α T² KL(softmax(z_t/T) || softmax(z_dist/T))``.

    For a model without a distillation token pass the same logits twice.
    """
    if kind not in ("hard", "soft"):
        raise ValueError(f"kind must be 'hard' or 'soft', got {kind!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    teacher_logits = teacher_logits.detach()
    if targets.is_floating_point():
        targets = targets.to(cls_logits.dtype)
    ce = F.cross_entropy(cls_logits, targets, label_smoothing=label_smoothing)
    if kind == "hard":
        distil = F.cross_entropy(dist_logits, teacher_logits.argmax(-1))
    else:
        distil = distillation_loss(dist_logits, teacher_logits, None, temperature=temperature, alpha_soft=1.0,
                                   alpha_hard=0.0)
    return (1 - alpha) * ce + alpha * distil
