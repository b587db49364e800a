r"""Region proposal network (Ren et al. 2015; book §4.6.2, lines 8381–8450).

The RPN slides a small network over the backbone map :math:`\mathbf F`: a 3×3 convolution + ReLU, then
two 1×1 convolutions giving, for each of the ``A`` anchors of every cell, an objectness score and four
box deltas :math:`(t_x, t_y, t_w, t_h)` (book lines 8405–8407, 8436–8437). The book leaves open what this
module fixes, following Faster R-CNN:

* **anchors**: ``len(scales)·len(ratios)`` boxes per cell (:func:`~tensorprism.tensor.boxes.make_anchors`);
* **matching**: an anchor is positive when its IoU with some ground truth is ≥ ``fg_iou`` (0.7), or when it
  is the best anchor of a ground truth; negative below ``bg_iou`` (0.3); in between it is ignored;
* **sampling**: ``batch_per_image`` anchors per image, at most half of them positive;
* **loss**: binary cross-entropy on objectness + smooth-L1 on the deltas of positives (the book's TF listing
  uses MSE, line 8413, which the ``box_loss`` option keeps), both over the sampled anchors;
* **proposals**: deltas decoded on the anchors, clipped to the image, boxes under ``min_size`` dropped,
  the ``pre_nms_top_n`` best scored, NMS at ``nms_iou``, the ``post_nms_top_n`` best kept.

``objectness="softmax"`` gives the book's two-class head (``A·2`` channels, line 8406) with a softmax over
each anchor's pair of logits; the book's TF listing applies it across all ``A·2`` channels at once (catalogue
L73), which mixes the anchors.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...tensor.boxes import box_iou, decode_boxes, encode_boxes, make_anchors

__all__ = ["RPNHead", "RegionProposalNetwork", "match_anchors", "sample_labels", "clip_boxes", "nms_sorted_batched"]


def clip_boxes(boxes: Tensor, height: int, width: int) -> Tensor:
    """Boxes ``(..., 4)`` clipped to the image ``[0, width] × [0, height]``."""
    x = boxes[..., 0::2].clamp(0, width)
    y = boxes[..., 1::2].clamp(0, height)
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], -1)


def match_anchors(anchors: Tensor, gt: Tensor, fg_iou: float, bg_iou: float,
                  allow_low_quality: bool = True) -> tuple[Tensor, Tensor]:
    """Per anchor (or proposal) ``(M, 4)``: the matched ground-truth index ``(M,)`` and its label
    (1 positive, 0 negative, −1 ignored) against ``gt`` ``(G, 4)``.

    With ``allow_low_quality`` every ground truth also claims the anchors of its highest IoU, so that a
    small object with no anchor above ``fg_iou`` still has a positive (Faster R-CNN's rule).
    """
    M = len(anchors)
    if len(gt) == 0:
        return torch.zeros(M, dtype=torch.long, device=anchors.device), torch.zeros(M, dtype=torch.long, device=anchors.device)
    iou = box_iou(gt, anchors)  # (G, M)
    best, idx = iou.max(0)
    label = torch.full((M,), -1, dtype=torch.long, device=anchors.device)
    label[best < bg_iou] = 0
    label[best >= fg_iou] = 1
    if allow_low_quality:
        per_gt = iou.max(1, keepdim=True).values
        g, m = ((iou == per_gt) & (per_gt > 0)).nonzero(as_tuple=True)
        label[m] = 1
        idx[m] = g
    return idx, label


def sample_labels(label: Tensor, batch: int, positive_fraction: float, generator: torch.Generator | None = None) -> Tensor:
    """Indices of ``batch`` sampled entries of ``label`` (1/0/−1): at most ``positive_fraction`` positives,
    negatives for the rest (fewer when there are not enough)."""
    pos = (label == 1).nonzero().flatten()
    neg = (label == 0).nonzero().flatten()
    n_pos = min(len(pos), int(batch * positive_fraction))
    n_neg = min(len(neg), batch - n_pos)
    pos = pos[torch.randperm(len(pos), generator=generator, device=label.device)[:n_pos]] if len(pos) else pos
    neg = neg[torch.randperm(len(neg), generator=generator, device=label.device)[:n_neg]] if len(neg) else neg
    return torch.cat([pos, neg])


def nms_sorted_batched(boxes: Tensor, valid: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS of many images at once: boxes ``(B, P, 4)`` sorted by decreasing score in each image, ``valid``
    ``(B, P)`` → kept ``(B, P)`` bool, the same boxes :func:`~tensorprism.tensor.boxes.nms` keeps.

    One pass over the ``P`` ranks, each step for all images together: a kept box at rank ``i`` removes the later
    boxes that overlap it by more than the threshold (``P`` small batched steps instead of ``B·P`` Python steps).
    """
    B, P, _ = boxes.shape
    keep = valid.clone()
    if P == 0:
        return keep
    lt = torch.maximum(boxes[:, :, None, :2], boxes[:, None, :, :2])
    rb = torch.minimum(boxes[:, :, None, 2:], boxes[:, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = (boxes[..., 2:] - boxes[..., :2]).clamp(min=0).prod(-1)
    over = inter / (area[:, :, None] + area[:, None, :] - inter).clamp(min=1e-12) > iou_threshold  # (B, P, P)
    for i in range(P - 1):
        keep[:, i + 1:] &= ~(over[:, i, i + 1:] & keep[:, i, None])
    return keep


class RPNHead(nn.Module):
    """The book's RPN head (lines 8401–8450): ``conv3×3(C → mid) + ReLU``, ``cls 1×1`` with ``A`` (sigmoid) or
    ``2A`` (``objectness="softmax"``) channels and ``reg 1×1`` with ``4A`` channels.

    ``forward(F (N, C, H, W))`` → objectness logits ``(N, H·W·A)`` and deltas ``(N, H·W·A, 4)``, ordered
    cell-major like :func:`~tensorprism.tensor.boxes.make_anchors`. With ``C = 2048``, ``mid = 512``, ``A = 9`` and
    ``objectness="softmax"`` it has the book's 9,465,398 parameters.
    """

    def __init__(self, in_channels: int, num_anchors: int, mid_channels: int = 256, objectness: str = "sigmoid"):
        super().__init__()
        if objectness not in ("sigmoid", "softmax"):
            raise ValueError(f"objectness={objectness!r}; expected 'sigmoid' (one logit per anchor) or 'softmax' "
                             "(the book's object / not-object pair per anchor)")
        self.num_anchors, self.objectness = num_anchors, objectness
        self.conv = nn.Conv2d(in_channels, mid_channels, 3, padding=1)
        self.cls = nn.Conv2d(mid_channels, num_anchors * (2 if objectness == "softmax" else 1), 1)
        self.reg = nn.Conv2d(mid_channels, num_anchors * 4, 1)
        for layer in (self.conv, self.cls, self.reg):  # Faster R-CNN's initialisation
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor]:
        h = F.relu(self.conv(features))
        n = h.shape[0]
        cls = self.cls(h).permute(0, 2, 3, 1)  # (N, H, W, A[·2])
        if self.objectness == "softmax":  # per-anchor softmax over (not object, object), read as one logit
            pair = cls.reshape(n, -1, 2)
            logits = pair[..., 1] - pair[..., 0]  # log p(object) - log p(not object): sigmoid of it = the softmax
        else:
            logits = cls.reshape(n, -1)
        deltas = self.reg(h).permute(0, 2, 3, 1).reshape(n, -1, 4)
        return logits, deltas


class RegionProposalNetwork(nn.Module):
    """Anchors + :class:`RPNHead` + matching, sampling, loss and proposals on one feature map of stride ``stride``."""

    def __init__(self, in_channels: int, stride: int, scales: tuple[float, ...] = (2.0, 3.0),
                 ratios: tuple[float, ...] = (0.5, 1.0), mid_channels: int = 128, objectness: str = "sigmoid",
                 fg_iou: float = 0.7, bg_iou: float = 0.3, batch_per_image: int = 64, positive_fraction: float = 0.5,
                 pre_nms_top_n: int = 200, post_nms_top_n: int = 32, nms_iou: float = 0.7, min_size: float = 1.0,
                 box_loss: str = "smooth_l1"):
        super().__init__()
        if box_loss not in ("smooth_l1", "mse"):
            raise ValueError(f"box_loss={box_loss!r}; expected 'smooth_l1' (Faster R-CNN) or 'mse' (the book's TF listing)")
        self.stride, self.scales, self.ratios = stride, tuple(scales), tuple(ratios)
        self.head = RPNHead(in_channels, len(self.scales) * len(self.ratios), mid_channels, objectness)
        self.fg_iou, self.bg_iou, self.batch_per_image, self.positive_fraction = fg_iou, bg_iou, batch_per_image, positive_fraction
        self.pre_nms_top_n, self.post_nms_top_n, self.nms_iou, self.min_size = pre_nms_top_n, post_nms_top_n, nms_iou, min_size
        self.box_loss = box_loss

    def anchors(self, grid_hw: tuple[int, int], device: torch.device) -> Tensor:
        """Anchors ``(H·W·A, 4)`` of a feature map of ``grid_hw`` cells."""
        return make_anchors(grid_hw, self.stride, self.scales, self.ratios).to(device)

    def forward(self, features: Tensor, image_hw: tuple[int, int]) -> dict[str, Tensor | list[Tensor]]:
        """Objectness ``(N, M)``, deltas ``(N, M, 4)``, anchors ``(M, 4)`` and the proposals ``[(P_i, 4)]``
        (detached: the second stage does not back-propagate into the box coordinates)."""
        logits, deltas = self.head(features)
        anchors = self.anchors(tuple(features.shape[-2:]), features.device)
        return {"objectness": logits, "deltas": deltas, "anchors": anchors,
                "proposals": self.propose(logits.detach(), deltas.detach(), anchors, image_hw)}

    def propose(self, logits: Tensor, deltas: Tensor, anchors: Tensor, image_hw: tuple[int, int]) -> list[Tensor]:
        H, W = image_hw
        boxes = clip_boxes(decode_boxes(deltas, anchors.expand_as(deltas)), H, W)  # (N, M, 4)
        valid = ((boxes[..., 2:] - boxes[..., :2]) >= self.min_size).all(-1)
        scores = logits.masked_fill(~valid, float("-inf"))
        top = scores.topk(min(self.pre_nms_top_n, scores.shape[1]), dim=1).indices  # sorted, best first
        boxes = boxes.gather(1, top[..., None].expand(-1, -1, 4))
        valid = valid.gather(1, top)
        keep = nms_sorted_batched(boxes, valid, self.nms_iou)
        return [b[k][: self.post_nms_top_n] for b, k in zip(boxes, keep, strict=True)]

    def loss(self, raw: dict[str, Tensor], gt_boxes: list[Tensor]) -> dict[str, Tensor]:
        """Objectness BCE and box loss over ``batch_per_image`` sampled anchors per image (mean over the samples)."""
        logits, deltas, anchors = raw["objectness"], raw["deltas"], raw["anchors"]
        idx_all, obj_t, logit_s, delta_s, delta_t = [], [], [], [], []
        for b, gt in enumerate(gt_boxes):
            idx, label = match_anchors(anchors, gt, self.fg_iou, self.bg_iou)
            keep = sample_labels(label, self.batch_per_image, self.positive_fraction)
            idx_all.append(keep)
            logit_s.append(logits[b, keep])
            obj_t.append(label[keep].to(logits.dtype))
            pos = keep[label[keep] == 1]
            delta_s.append(deltas[b, pos])
            delta_t.append(encode_boxes(gt[idx[pos]], anchors[pos]) if len(pos) else deltas.new_zeros(0, 4))
        n = max(sum(len(k) for k in idx_all), 1)
        loss_obj = F.binary_cross_entropy_with_logits(torch.cat(logit_s), torch.cat(obj_t), reduction="sum") / n
        pred, target = torch.cat(delta_s), torch.cat(delta_t)
        if self.box_loss == "mse":
            loss_box = F.mse_loss(pred, target, reduction="sum") / n
        else:
            loss_box = F.smooth_l1_loss(pred, target, beta=1 / 9, reduction="sum") / n
        return {"rpn_obj": loss_obj, "rpn_box": loss_box}
