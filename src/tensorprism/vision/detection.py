r"""One-stage detectors on zoo backbones (book §4.6.2): a YOLO-style grid head and an SSD-style multi-scale head.

Both heads read :meth:`ConvNet.feature_maps` of a registered backbone and expose the same three calls:
``raw = model(images)``, ``model.loss(raw, targets) -> dict`` and ``model.detect(raw) -> [dict(boxes,
scores, labels)]`` (after score filtering and per-class NMS), so :class:`DetectionTask` trains either
with the :class:`~tensorprism.train.Trainer` and scores it with COCO-style mAP (pycocotools' COCOeval in a torchmetrics Metric).

**YOLO-style** (Redmon et al. 2016/2017): an ``S×S`` grid; each cell has ``A`` anchor shapes and predicts
``(t_x, t_y, t_w, t_h, objectness, class logits)`` per anchor. A ground-truth box is assigned to the
cell containing its centre and the anchor whose shape fits it best; the box is
:math:`x = (j + \sigma(t_x))s,\ w = w_a e^{t_w}`. Confidence ``σ(obj) · max softmax(class)`` is the book's
``P(object) × P(class | object)`` (line 8460). Loss: BCE objectness + CE class + GIoU box loss.

**SSD-style** (Liu et al. 2016): default boxes (several scales/ratios) on two feature maps; a 3×3 conv per
map predicts box offsets (Faster R-CNN encoding) and ``C + 1`` class scores per default box. Matching:
each ground truth takes its best default box, and every default box with IoU ≥ 0.5. Loss: smooth-L1 on
matched offsets + CE with hard-negative mining (3 negatives per positive).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..metrics.detection import average_precision, coco_average_precision, mean_ap50
from ..models import create_model
from ..nn.conv import ConvNormAct
from ..tensor.boxes import batched_nms, box_iou, decode_boxes, encode_boxes, giou_loss, make_anchors
from ..train.tasks.vision import DetectionTask

__all__ = ["YOLODetector", "SSDDetector", "DetectionTask", "mean_ap50", "average_precision", "coco_average_precision", "postprocess"]


def postprocess(boxes: Tensor, scores: Tensor, labels: Tensor, score_threshold: float, iou_threshold: float,
                max_detections: int) -> dict[str, Tensor]:
    """Filter by score, per-class NMS, keep the ``max_detections`` best of one image."""
    keep = scores > score_threshold
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = batched_nms(boxes, scores, labels, iou_threshold)[:max_detections]
    return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]}


def _backbone(name: str, in_chans: int, kwargs: dict | None) -> nn.Module:
    return create_model(name, in_chans=in_chans, num_classes=0, **(kwargs or {}))


class YOLODetector(nn.Module):
    """Grid detector on the last backbone feature map (stride ``s``): raw ``(N, A, 5 + C, S_h, S_w)``."""

    def __init__(self, num_classes: int, backbone: str = "simple-cnn", backbone_kwargs: dict | None = None,
                 in_chans: int = 1, anchors: tuple[tuple[float, float], ...] = ((12.0, 20.0), (20.0, 20.0)),
                 score_threshold: float = 0.05, iou_threshold: float = 0.5, max_detections: int = 100):
        super().__init__()
        self.backbone = _backbone(backbone, in_chans, backbone_kwargs)
        info = self.backbone.feature_info[-1]
        self.stride, self.num_classes = info.reduction, num_classes
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32), persistent=False)  # (A, 2) = (w, h)
        A = len(anchors)
        self.head = nn.Sequential(ConvNormAct(info.channels, info.channels, 3), nn.Conv2d(info.channels, A * (5 + num_classes), 1))
        with torch.no_grad():  # objectness prior p = 0.01 so that the many empty cells do not swamp the start
            self.head[-1].bias.view(A, 5 + num_classes)[:, 4] = -4.6
        self.post = dict(score_threshold=score_threshold, iou_threshold=iou_threshold, max_detections=max_detections)

    def forward(self, images: Tensor) -> Tensor:
        f = self.backbone.feature_maps(images)[-1]
        out = self.head(f)
        n, _, h, w = out.shape
        return out.view(n, len(self.anchors), 5 + self.num_classes, h, w)

    def _boxes(self, raw: Tensor) -> Tensor:
        """Decoded boxes ``(N, A, S_h, S_w, 4)``."""
        _, _, _, h, w = raw.shape
        ys, xs = torch.meshgrid(torch.arange(h, device=raw.device), torch.arange(w, device=raw.device), indexing="ij")
        cx = (xs + torch.sigmoid(raw[:, :, 0])) * self.stride
        cy = (ys + torch.sigmoid(raw[:, :, 1])) * self.stride
        aw, ah = self.anchors[:, 0].view(1, -1, 1, 1), self.anchors[:, 1].view(1, -1, 1, 1)
        bw, bh = aw * torch.exp(raw[:, :, 2].clamp(max=6)), ah * torch.exp(raw[:, :, 3].clamp(max=6))
        return torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1)

    def assign(self, targets: list[dict[str, Tensor]], grid: tuple[int, int]) -> tuple[Tensor, ...]:
        """Responsible (image, anchor, row, col) for every ground-truth box, and its box and label."""
        idx, gt, cls = [], [], []
        for b, t in enumerate(targets):
            boxes = t["boxes"]
            if len(boxes) == 0:
                continue
            wh = boxes[:, 2:] - boxes[:, :2]
            centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            inter = torch.minimum(wh[:, None], self.anchors[None]).prod(-1)  # shape-only IoU with each anchor
            a = (inter / (wh.prod(-1)[:, None] + self.anchors.prod(-1)[None] - inter)).argmax(1)
            col = (centres[:, 0] / self.stride).long().clamp(0, grid[1] - 1)
            row = (centres[:, 1] / self.stride).long().clamp(0, grid[0] - 1)
            idx.append(torch.stack([torch.full_like(a, b), a, row, col], 1))
            gt.append(boxes)
            cls.append(t["labels"])
        if not idx:
            z = self.anchors.new_zeros
            return z(0, 4).long(), z(0, 4), z(0).long()
        return torch.cat(idx), torch.cat(gt), torch.cat(cls)

    def loss(self, raw: Tensor, targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        idx, gt, cls = self.assign(targets, raw.shape[-2:])
        obj_target = torch.zeros_like(raw[:, :, 4])
        b, a, r, c = idx.unbind(1) if len(idx) else (idx[:, 0],) * 4
        obj_target[b, a, r, c] = 1.0
        loss_obj = F.binary_cross_entropy_with_logits(raw[:, :, 4], obj_target, reduction="sum") / raw.shape[0]
        if len(idx) == 0:
            zero = raw.sum() * 0
            return {"loss": loss_obj, "obj": loss_obj.detach(), "box": zero, "cls": zero}
        pred_boxes = self._boxes(raw)[b, a, r, c]
        loss_box = giou_loss(pred_boxes, gt).sum() / raw.shape[0]
        logits = raw[b, a, 5:, r, c]
        loss_cls = F.cross_entropy(logits, cls, reduction="sum") / raw.shape[0]
        return {"loss": loss_obj + 2.0 * loss_box + loss_cls, "obj": loss_obj.detach(), "box": loss_box.detach(), "cls": loss_cls.detach()}

    @torch.no_grad()
    def detect(self, raw: Tensor) -> list[dict[str, Tensor]]:
        boxes = self._boxes(raw)  # (N, A, H, W, 4)
        obj = torch.sigmoid(raw[:, :, 4])
        prob, labels = raw[:, :, 5:].softmax(2).max(2)
        scores = obj * prob
        return [postprocess(boxes[i].reshape(-1, 4), scores[i].reshape(-1), labels[i].reshape(-1), **self.post) for i in range(len(raw))]


class SSDDetector(nn.Module):
    """Multi-scale default-box detector on the last ``len(scales)`` backbone maps.

    ``raw = (loc (N, D, 4), conf (N, D, C + 1))`` over the ``D`` default boxes (class 0 = background).
    """

    def __init__(self, num_classes: int, backbone: str = "simple-cnn", backbone_kwargs: dict | None = None,
                 in_chans: int = 1, scales: tuple[tuple[float, ...], ...] = ((1.5, 2.5), (1.5, 2.5)),
                 ratios: tuple[float, ...] = (0.5, 1.0), image_size: int = 64, score_threshold: float = 0.05,
                 iou_threshold: float = 0.5, max_detections: int = 100, neg_pos_ratio: int = 3):
        super().__init__()
        self.backbone = _backbone(backbone, in_chans, backbone_kwargs)
        infos = self.backbone.feature_info[-len(scales):]
        self.num_classes, self.neg_pos_ratio = num_classes, neg_pos_ratio
        self.per_loc = [len(s) * len(ratios) for s in scales]
        self.loc = nn.ModuleList(nn.Conv2d(f.channels, k * 4, 3, padding=1) for f, k in zip(infos, self.per_loc, strict=True))
        self.conf = nn.ModuleList(nn.Conv2d(f.channels, k * (num_classes + 1), 3, padding=1) for f, k in zip(infos, self.per_loc, strict=True))
        anchors = [make_anchors((-(-image_size // f.reduction),) * 2, f.reduction, s, ratios) for f, s in zip(infos, scales, strict=True)]
        self.register_buffer("default_boxes", torch.cat(anchors), persistent=False)
        self.variances = (10.0, 10.0, 5.0, 5.0)  # the usual SSD encoding weights (1/0.1, 1/0.2)
        self.post = dict(score_threshold=score_threshold, iou_threshold=iou_threshold, max_detections=max_detections)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        maps = self.backbone.feature_maps(images)[-len(self.loc):]
        n = images.shape[0]
        # (N, k·4, H, W) -> (N, H, W, k, 4) -> (N, H·W·k, 4): cell-major like make_anchors
        loc = torch.cat([l(f).permute(0, 2, 3, 1).reshape(n, -1, 4) for l, f in zip(self.loc, maps, strict=True)], 1)
        conf = torch.cat([c(f).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes + 1) for c, f in zip(self.conf, maps, strict=True)], 1)
        return loc, conf

    def match(self, boxes: Tensor, labels: Tensor, threshold: float = 0.5) -> tuple[Tensor, Tensor]:
        """Per default box: the class to predict (0 = background) and the matched ground-truth box."""
        D = len(self.default_boxes)
        if len(boxes) == 0:
            return torch.zeros(D, dtype=torch.long, device=boxes.device), self.default_boxes.clone()
        iou = box_iou(boxes, self.default_boxes)  # (G, D)
        best_iou, best_gt = iou.max(0)
        best_iou[iou.argmax(1)] = 2.0  # every ground truth keeps its best default box
        best_gt[iou.argmax(1)] = torch.arange(len(boxes), device=boxes.device)
        cls = torch.where(best_iou >= threshold, labels[best_gt] + 1, torch.zeros_like(best_gt))
        return cls, boxes[best_gt]

    def loss(self, raw: tuple[Tensor, Tensor], targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        loc, conf = raw
        matched = [self.match(t["boxes"], t["labels"]) for t in targets]
        cls = torch.stack([m[0] for m in matched])  # (N, D)
        gt = torch.stack([m[1] for m in matched])  # (N, D, 4)
        pos = cls > 0
        n_pos = pos.sum().clamp(min=1)
        anchors = self.default_boxes.expand_as(gt)
        target_loc = encode_boxes(gt[pos], anchors[pos], self.variances)
        loss_loc = F.smooth_l1_loss(loc[pos], target_loc, reduction="sum") / n_pos
        ce = F.cross_entropy(conf.flatten(0, 1), cls.flatten(), reduction="none").view_as(cls)
        # hard-negative mining: the highest-loss negatives, neg_pos_ratio per positive in each image
        neg_loss = ce.masked_fill(pos, -1.0)
        rank = neg_loss.argsort(1, descending=True).argsort(1)
        neg = rank < (self.neg_pos_ratio * pos.sum(1, keepdim=True)).clamp(min=self.neg_pos_ratio)
        loss_conf = ce[pos | neg].sum() / n_pos
        return {"loss": loss_loc + loss_conf, "box": loss_loc.detach(), "cls": loss_conf.detach()}

    @torch.no_grad()
    def detect(self, raw: tuple[Tensor, Tensor]) -> list[dict[str, Tensor]]:
        loc, conf = raw
        boxes = decode_boxes(loc, self.default_boxes.expand_as(loc), self.variances)
        probs = conf.softmax(-1)[..., 1:]  # drop background
        scores, labels = probs.max(-1)
        return [postprocess(boxes[i], scores[i], labels[i], **self.post) for i in range(len(loc))]
