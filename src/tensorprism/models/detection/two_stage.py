r"""Two-stage detectors: Faster R-CNN with RoI Align heads and Mask R-CNN (book §4.6.2–§4.6.3, lines 8381–8387,
8647–8651; case studies 8, 11 and 17 of the catalogue, lines 8389–8450, 8653–8696, 9323–9385).

Stage one is the :class:`~tensorprism.models.detection.rpn.RegionProposalNetwork` on a backbone map
:math:`\mathbf F`: :math:`\mathbf R_i = \text{RPN}(\mathbf F)` (line 8383). Stage two reads a fixed-size feature
:math:`\mathbf f_i = \text{RoIAlign}(\mathbf F, \mathbf R_i)` per proposal (RoI Align, He et al. 2017, in place of the
book's RoI pooling, line 8375) and applies two fully connected layers, then
:math:`\hat{\mathbf c}_i = \mathbf W_{cls}\mathbf f_i + \mathbf b_{cls}` (``C + 1`` scores, background first; line 9339)
and a class-specific box regression :math:`\hat{\mathbf b}_i = \mathbf W_{reg}\mathbf f_i + \mathbf b_{reg}` (``4C``
deltas, line 8363). Training follows Faster R-CNN: the ground-truth boxes join the proposals, each proposal
takes the class of the ground truth it overlaps with IoU ≥ 0.5 (else background), ``roi_batch`` of them per image are
sampled with at most a quarter positive; cross-entropy on the classes, smooth-L1 on the deltas of the true class
(encoding weights 10, 10, 5, 5). Inference: softmax, per-class decoding, clipping, score threshold, per-class NMS.

Mask R-CNN adds a mask branch in parallel (line 8651): RoI Align at ``mask_roi × mask_roi`` on a finer
backbone map, a few 3×3 convolutions, a 2× transposed convolution and one ``M × M`` mask logit map per class.
Its target is the ground-truth instance mask cut out by the same RoI Align at the proposal (binarised at 0.5);
its loss is the binary cross-entropy of the true class's map only, so the classes do not compete for pixels.
At inference the mask of the predicted class is pasted back into the image inside the detected box.

Registered as ``faster-rcnn`` and ``mask-rcnn`` (detection paradigm of :mod:`tensorprism.models.contract`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ...errors import DataError, ShapeError
from ...functional.pooling import boxes_with_batch_index
from ...functional.roi import paste_masks, roi_align_fast
from ...tensor.boxes import batched_nms, decode_boxes, encode_boxes
from .. import create_model, register_model
from ..contract import DetectionMixin
from .rpn import RegionProposalNetwork, clip_boxes, match_anchors, sample_labels

__all__ = ["TwoStageConfig", "FasterRCNN", "check_targets"]

BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)  # Faster R-CNN's second-stage delta scaling


@dataclass
class TwoStageConfig:
    num_classes: int = 10
    in_chans: int = 1
    img_size: int = 64
    backbone: str = "simple-cnn"  # a registered CNN with feature_maps()
    backbone_channels: tuple[int, ...] = (32, 64, 128)  # simple-cnn stage widths (the YOLO/SSD detectors' backbone)
    backbone_kwargs: dict | None = None  # extra options for the backbone
    box_level: int = -1  # backbone map of the RPN and the box head (stride 8 for the default)
    anchor_scales: tuple[float, ...] = (2.0, 3.0)  # anchor sides in units of the stride
    anchor_ratios: tuple[float, ...] = (0.5, 1.0)  # width / height
    rpn_channels: int = 128
    objectness: str = "sigmoid"  # "softmax": the book's two logits per anchor
    rpn_batch: int = 64
    rpn_pre_nms: int = 200
    rpn_post_nms: int = 32
    roi_size: int = 7
    sampling_ratio: int = 2
    representation: int = 128  # width of the two fully connected layers of the box head
    roi_batch: int = 16  # sampled RoIs per image (a canvas holds at most three digits)
    roi_positive_fraction: float = 0.25
    fg_iou: float = 0.5
    mask: bool = False  # True: Mask R-CNN
    mask_level: int = -2  # the finer map the mask branch reads (stride 4 for the default)
    mask_roi: int = 7  # RoI Align size of the mask branch; masks are 2·mask_roi square
    mask_channels: int = 32
    mask_convs: int = 2
    score_threshold: float = 0.05
    nms_iou: float = 0.5
    max_detections: int = 100


def check_targets(targets: list[dict[str, Tensor]], num_classes: int, need_masks: bool) -> None:
    """:class:`DataError` for ground truth a detector cannot learn from: boxes not ``(G, 4)``, degenerate boxes
    (``x2 ≤ x1`` or ``y2 ≤ y1``), labels outside ``[0, num_classes)``, missing or mis-sized instance masks."""
    for i, t in enumerate(targets):
        boxes, labels = t["boxes"], t["labels"]
        if boxes.dim() != 2 or boxes.shape[1] != 4 or len(labels) != len(boxes):
            raise DataError(f"target {i}: boxes must be (G, 4) with one label each, got boxes {tuple(boxes.shape)} "
                            f"and labels {tuple(labels.shape)}")
        bad = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
        if bad.any():
            raise DataError(f"target {i}: degenerate box {boxes[bad][0].tolist()} (x2 <= x1 or y2 <= y1); boxes are "
                            "(x1, y1, x2, y2) corners: drop empty boxes or convert (x, y, w, h) first")
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise DataError(f"target {i}: labels must lie in [0, {num_classes}) (no background class), got "
                            f"{labels.tolist()}")
        if need_masks and ("masks" not in t or len(t["masks"]) != len(boxes)):
            raise DataError(f"target {i}: Mask R-CNN needs 'masks' (G, H, W), one instance mask per box")


class FasterRCNN(DetectionMixin, nn.Module):
    """Faster R-CNN (and, with ``mask=True``, Mask R-CNN) on one backbone map.

    ``forward(images (N, C, H, W))`` → ``dict(objectness (N, M), deltas (N, M, 4), anchors (M, 4), proposals
    [(P_i, 4)], features [maps])``; ``loss(raw, targets)``; ``detect(raw)`` (see the module docstring).
    """

    def __init__(self, cfg: TwoStageConfig):
        super().__init__()
        self.cfg, self.num_classes, self.in_chans, self.img_size = cfg, cfg.num_classes, cfg.in_chans, cfg.img_size
        kwargs = dict(cfg.backbone_kwargs or {})
        if cfg.backbone == "simple-cnn":
            kwargs = dict(channels=tuple(cfg.backbone_channels), padding="same", norm="bn", hidden=(),
                          img_size=cfg.img_size) | kwargs
        self.backbone = create_model(cfg.backbone, in_chans=cfg.in_chans, num_classes=0, **kwargs)
        box_info = self.backbone.feature_info[cfg.box_level]
        self.box_stride = box_info.reduction
        self.rpn = RegionProposalNetwork(box_info.channels, box_info.reduction, cfg.anchor_scales, cfg.anchor_ratios,
                                         cfg.rpn_channels, cfg.objectness, batch_per_image=cfg.rpn_batch,
                                         pre_nms_top_n=cfg.rpn_pre_nms, post_nms_top_n=cfg.rpn_post_nms)
        r = cfg.representation
        self.box_head = nn.Sequential(nn.Flatten(), nn.Linear(box_info.channels * cfg.roi_size**2, r), nn.ReLU(),
                                      nn.Linear(r, r), nn.ReLU())
        self.cls_score = nn.Linear(r, cfg.num_classes + 1)
        self.bbox_pred = nn.Linear(r, 4 * cfg.num_classes)
        nn.init.normal_(self.cls_score.weight, std=0.01)
        nn.init.normal_(self.bbox_pred.weight, std=0.001)
        nn.init.zeros_(self.cls_score.bias), nn.init.zeros_(self.bbox_pred.bias)
        self.mask_head = None
        if cfg.mask:
            mask_info = self.backbone.feature_info[cfg.mask_level]
            self.mask_stride = mask_info.reduction
            layers, c = [], mask_info.channels
            for _ in range(cfg.mask_convs):
                layers += [nn.Conv2d(c, cfg.mask_channels, 3, padding=1), nn.ReLU()]
                c = cfg.mask_channels
            layers += [nn.ConvTranspose2d(c, cfg.mask_channels, 2, stride=2), nn.ReLU(), nn.Conv2d(cfg.mask_channels, cfg.num_classes, 1)]
            self.mask_head = nn.Sequential(*layers)

    # ------------------------------------------------------------------ forward
    def forward(self, images: Tensor) -> dict[str, object]:
        if images.dim() != 4 or images.shape[1] != self.in_chans:
            raise ShapeError(f"{type(self).__name__} expects images (N, {self.in_chans}, H, W), got {tuple(images.shape)}")
        maps = self.backbone.feature_maps(images)
        rpn = self.rpn(maps[self.cfg.box_level], tuple(images.shape[-2:]))
        return {**rpn, "features": maps, "image_size": tuple(images.shape[-2:])}

    def _box_outputs(self, maps: list[Tensor], rois: Tensor) -> tuple[Tensor, Tensor]:
        """Class logits ``(K, C + 1)`` and class-specific deltas ``(K, C, 4)`` of RoIs ``(K, 5)``."""
        f = roi_align_fast(maps[self.cfg.box_level], rois, self.cfg.roi_size, 1 / self.box_stride, self.cfg.sampling_ratio)
        h = self.box_head(f)
        return self.cls_score(h), self.bbox_pred(h).view(-1, self.num_classes, 4)

    def _mask_logits(self, maps: list[Tensor], rois: Tensor) -> Tensor:
        """Mask logits ``(K, C, 2·mask_roi, 2·mask_roi)`` of RoIs ``(K, 5)``."""
        f = roi_align_fast(maps[self.cfg.mask_level], rois, self.cfg.mask_roi, 1 / self.mask_stride, self.cfg.sampling_ratio)
        return self.mask_head(f)

    # ------------------------------------------------------------------ training
    def sample_rois(self, proposals: list[Tensor], targets: list[dict[str, Tensor]]):
        """Per image: proposals + ground truth, matched at ``fg_iou``, ``roi_batch`` sampled.

        Returns RoIs ``(K, 5)``, classes ``(K,)`` (0 = background), regression targets ``(K, 4)`` and the matched
        ground-truth index ``(K,)`` within its image."""
        rois, classes, reg, matched = [], [], [], []
        for props, t in zip(proposals, targets, strict=True):
            gt, labels = t["boxes"].to(props.dtype), t["labels"]
            props = torch.cat([props, gt])
            idx, lab = match_anchors(props, gt, self.cfg.fg_iou, self.cfg.fg_iou, allow_low_quality=False)
            keep = sample_labels(lab, self.cfg.roi_batch, self.cfg.roi_positive_fraction)
            props, idx, lab = props[keep], idx[keep], lab[keep]
            if len(gt):
                classes.append(torch.where(lab == 1, labels[idx] + 1, torch.zeros_like(idx)))
                reg.append(encode_boxes(gt[idx], props, BOX_WEIGHTS))
            else:
                classes.append(torch.zeros_like(idx))
                reg.append(props.new_zeros(len(props), 4))
            rois.append(props)
            matched.append(idx)
        return boxes_with_batch_index(rois), torch.cat(classes), torch.cat(reg), torch.cat(matched)

    def loss(self, raw: dict, targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """RPN + box-head (+ mask) losses; ``"loss"`` is their sum."""
        check_targets(targets, self.num_classes, self.mask_head is not None)
        out = self.rpn.loss(raw, [t["boxes"].to(raw["deltas"].dtype) for t in targets])
        maps = raw["features"]
        rois, classes, reg_t, matched = self.sample_rois(raw["proposals"], targets)
        logits, deltas = self._box_outputs(maps, rois)
        out["roi_cls"] = F.cross_entropy(logits, classes)
        pos = (classes > 0).nonzero().flatten()
        pred = deltas[pos, classes[pos] - 1]
        out["roi_box"] = F.smooth_l1_loss(pred, reg_t[pos], beta=1.0, reduction="sum") / max(len(classes), 1)
        if self.mask_head is not None:
            out["mask"] = self._mask_loss(maps, rois[pos], classes[pos] - 1, matched[pos], targets)
        total = sum(out.values())
        return {"loss": total, **{k: v.detach() for k, v in out.items()}}

    def mask_targets(self, rois: Tensor, matched: Tensor, targets: list[dict[str, Tensor]]) -> Tensor:
        """Binary mask targets ``(K, M, M)``: each RoI's ground-truth instance mask cut out by RoI Align at the RoI."""
        size = 2 * self.cfg.mask_roi
        out = rois.new_zeros(len(rois), size, size)
        for b, t in enumerate(targets):
            sel = (rois[:, 0] == b).nonzero().flatten()
            if len(sel) == 0:
                continue
            masks = t["masks"].to(rois.dtype)[:, None]  # (G, 1, H, W): one "image" per instance
            boxes = torch.cat([matched[sel, None].to(rois.dtype), rois[sel, 1:]], 1)
            out[sel] = roi_align_fast(masks, boxes, size, 1.0, self.cfg.sampling_ratio)[:, 0]
        return (out >= 0.5).to(rois.dtype)

    def _mask_loss(self, maps, rois, cls, matched, targets) -> Tensor:
        if len(rois) == 0:
            return sum(p.sum() for p in self.mask_head.parameters()) * 0.0
        logits = self._mask_logits(maps, rois)[torch.arange(len(rois), device=rois.device), cls]
        return F.binary_cross_entropy_with_logits(logits, self.mask_targets(rois, matched, targets))

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def detect(self, raw: dict) -> list[dict[str, Tensor]]:
        maps, H, W = raw["features"], *raw["image_size"]
        proposals = raw["proposals"]
        rois = boxes_with_batch_index(proposals)
        logits, deltas = self._box_outputs(maps, rois)
        probs = logits.softmax(-1)[:, 1:]  # (K, C), background dropped
        boxes = clip_boxes(decode_boxes(deltas, rois[:, None, 1:].expand_as(deltas), BOX_WEIGHTS), H, W)  # (K, C, 4)
        C = self.num_classes
        results = []
        for b in range(len(proposals)):
            sel = rois[:, 0] == b
            bx, sc = boxes[sel].reshape(-1, 4), probs[sel].reshape(-1)
            lab = torch.arange(C, device=bx.device).repeat(int(sel.sum()))
            keep = (sc > self.cfg.score_threshold) & ((bx[:, 2:] - bx[:, :2]) > 1e-3).all(1)
            bx, sc, lab = bx[keep], sc[keep], lab[keep]
            keep = batched_nms(bx, sc, lab, self.cfg.nms_iou)[: self.cfg.max_detections]
            results.append({"boxes": bx[keep], "scores": sc[keep], "labels": lab[keep]})
        if self.mask_head is not None:
            det = boxes_with_batch_index([r["boxes"] for r in results])
            labels = torch.cat([r["labels"] for r in results])
            probs = self._mask_logits(maps, det)[torch.arange(len(det), device=det.device), labels].sigmoid()
            pasted = paste_masks(probs, det[:, 1:], H, W)
            for b, r in enumerate(results):
                r["masks"] = pasted[det[:, 0] == b]
        return results


@register_model("faster-rcnn", config=TwoStageConfig, family="detection")
def faster_rcnn(cfg: TwoStageConfig) -> FasterRCNN:
    """Faster R-CNN with RoI Align heads (digit-canvas defaults: 64×64 grey images, 10 classes)."""
    return FasterRCNN(cfg)


@register_model("mask-rcnn", config=TwoStageConfig, family="detection", mask=True)
def mask_rcnn(cfg: TwoStageConfig) -> FasterRCNN:
    """Mask R-CNN: Faster R-CNN plus the per-class mask branch."""
    return FasterRCNN(cfg)
