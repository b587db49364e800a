r"""Box operations for detection (book §4.6.2): IoU, GIoU, NMS, anchors, box encoding.

Boxes are ``(..., 4)`` tensors in ``(x1, y1, x2, y2)`` pixel corners (x to the right, y down).

* IoU :math:`= |A\cap B| / |A\cup B|` (book line 8556).
* GIoU (Rezatofighi et al. 2019) :math:`= \text{IoU} - |C \setminus (A\cup B)|/|C|`, ``C`` the
  smallest box enclosing both; in [−1, 1] and informative even for disjoint boxes.
* Greedy NMS: keep the highest-scoring box, drop the rest whose IoU with it exceeds a threshold,
  repeat (per class with ``batched_nms``). The book never mentions NMS.
* Anchors: ``len(scales)·len(ratios)`` boxes centred on every cell of a stride-``s`` grid
  (9 per location in the book's RPN, line 8405); width ``s·√r``, height ``s/√r``.
* Encoding (Faster R-CNN): :math:`t_x = (x - x_a)/w_a,\ t_y = (y - y_a)/h_a,\ t_w = \log(w/w_a),\ t_h = \log(h/h_a)`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import ShapeError

__all__ = [
    "box_area", "box_iou", "generalized_box_iou", "giou_loss", "nms", "batched_nms", "make_anchors",
    "encode_boxes", "decode_boxes", "cxcywh_to_xyxy", "xyxy_to_cxcywh",
]


def _check(b: Tensor, name: str) -> None:
    if b.shape[-1] != 4:
        raise ShapeError(f"{name} must be (..., 4) boxes (x1, y1, x2, y2), got {tuple(b.shape)}")


def box_area(b: Tensor) -> Tensor:
    """``(..., 4) → (...)``; degenerate boxes have area 0."""
    return (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)


def _inter_union(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter, union


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise IoU ``(A, 4), (B, 4) → (A, B)``."""
    _check(a, "a"), _check(b, "b")
    inter, union = _inter_union(a, b)
    return inter / union.clamp(min=1e-12)


def generalized_box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise GIoU ``(A, 4), (B, 4) → (A, B)``."""
    _check(a, "a"), _check(b, "b")
    inter, union = _inter_union(a, b)
    iou = inter / union.clamp(min=1e-12)
    lt = torch.minimum(a[:, None, :2], b[None, :, :2])
    rb = torch.maximum(a[:, None, 2:], b[None, :, 2:])
    hull = (rb - lt).clamp(min=0).prod(-1)
    return iou - (hull - union) / hull.clamp(min=1e-12)


def giou_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Element-wise ``1 − GIoU`` of matched boxes ``(N, 4), (N, 4) → (N,)`` (differentiable)."""
    lt = torch.maximum(pred[:, :2], target[:, :2])
    rb = torch.minimum(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = box_area(pred) + box_area(target) - inter
    hull = (torch.maximum(pred[:, 2:], target[:, 2:]) - torch.minimum(pred[:, :2], target[:, :2])).clamp(min=0).prod(-1)
    giou = inter / union.clamp(min=1e-9) - (hull - union) / hull.clamp(min=1e-9)
    return 1 - giou


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Indices of the boxes kept by greedy NMS, by decreasing score."""
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    iou = box_iou(boxes, boxes)
    keep = torch.ones(len(order), dtype=torch.bool, device=boxes.device)
    for i in range(len(order)):
        if keep[i]:
            keep[i + 1 :] &= iou[i, i + 1 :] <= iou_threshold
    return order[keep]


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
    """NMS within each label: boxes of different labels never suppress each other."""
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    offset = labels.to(boxes.dtype)[:, None] * (boxes.max() + 1)  # move each class to its own region
    return nms(boxes + offset, scores, iou_threshold)


def make_anchors(grid_hw: tuple[int, int], stride: int, scales: tuple[float, ...] = (1.0,),
                 ratios: tuple[float, ...] = (1.0,)) -> Tensor:
    """Anchors ``(H·W·A, 4)`` ordered cell-major (row, column, anchor), centred at ``(j + 0.5)·stride``."""
    h, w = grid_hw
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    centres = torch.stack([(xs + 0.5) * stride, (ys + 0.5) * stride], -1).view(-1, 1, 2)
    sizes = torch.tensor([[stride * s * r**0.5, stride * s / r**0.5] for s in scales for r in ratios])  # (A, 2) = (w, h)
    return torch.cat([centres - sizes / 2, centres + sizes / 2], -1).view(-1, 4)


def xyxy_to_cxcywh(b: Tensor) -> Tensor:
    """Boxes ``(..., 4)`` from (x1, y1, x2, y2) to (centre x, centre y, width, height)."""
    return torch.stack([(b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2, b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]], -1)


def cxcywh_to_xyxy(b: Tensor) -> Tensor:
    """Boxes ``(..., 4)`` from (centre x, centre y, width, height) to (x1, y1, x2, y2)."""
    return torch.stack([b[..., 0] - b[..., 2] / 2, b[..., 1] - b[..., 3] / 2, b[..., 0] + b[..., 2] / 2, b[..., 1] + b[..., 3] / 2], -1)


def encode_boxes(boxes: Tensor, anchors: Tensor, weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)) -> Tensor:
    """Offsets ``(t_x, t_y, t_w, t_h)`` of ``boxes`` relative to ``anchors`` (both ``(N, 4)`` xyxy)."""
    b, a = xyxy_to_cxcywh(boxes), xyxy_to_cxcywh(anchors)
    wx, wy, ww, wh = weights
    return torch.stack([wx * (b[:, 0] - a[:, 0]) / a[:, 2], wy * (b[:, 1] - a[:, 1]) / a[:, 3],
                        ww * torch.log(b[:, 2] / a[:, 2]), wh * torch.log(b[:, 3] / a[:, 3])], -1)


def decode_boxes(deltas: Tensor, anchors: Tensor, weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)) -> Tensor:
    """Inverse of :func:`encode_boxes`: ``(..., 4)`` offsets + anchors → xyxy boxes."""
    a = xyxy_to_cxcywh(anchors)
    wx, wy, ww, wh = weights
    cx = deltas[..., 0] / wx * a[..., 2] + a[..., 0]
    cy = deltas[..., 1] / wy * a[..., 3] + a[..., 1]
    w = torch.exp((deltas[..., 2] / ww).clamp(max=8.0)) * a[..., 2]
    h = torch.exp((deltas[..., 3] / wh).clamp(max=8.0)) * a[..., 3]
    return cxcywh_to_xyxy(torch.stack([cx, cy, w, h], -1))
