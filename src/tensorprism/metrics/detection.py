r"""Detection metrics (book §4.6.2): mean average precision at one IoU threshold.

:func:`average_precision` is the plain-torch reference; :func:`coco_average_precision` calls
pycocotools' ``COCOeval`` (the backend of torchmetrics' mAP); :func:`mean_ap50` wraps either in a
torchmetrics ``Metric``. Predictions are ``[dict(boxes (D, 4), scores (D,), labels (D,))]`` and
targets ``[dict(boxes (G, 4), labels (G,))]``, one dict per image, boxes ``(x1, y1, x2, y2)``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..tensor.boxes import box_iou

__all__ = ["average_precision", "coco_average_precision", "mean_ap50"]


def average_precision(preds: list[dict[str, Tensor]], targets: list[dict[str, Tensor]], iou_threshold: float = 0.5,
                      max_detections: int = 100) -> float:
    r"""COCO-style mAP at one IoU threshold, in plain torch (the reference for :class:`MeanAP50`).

    Per class: detections of all images sorted by score; each takes the unmatched ground truth of its
    image with the highest IoU ≥ threshold (true positive) or is a false positive; precision is made
    monotone (the envelope) and read at the 101 recall points ``0, 0.01, …, 1``:
    :math:`\text{AP} = \frac{1}{101}\sum_r \max_{\tilde r \ge r} P(\tilde r)` (book line 8560 integrates
    :math:`P(R)` over recall; this is its COCO discretisation). mAP averages the classes that have ground truth.
    """
    classes = sorted({int(c) for t in targets for c in t["labels"]})
    aps = []
    for c in classes:
        n_gt, records = 0, []
        for img, (p, t) in enumerate(zip(preds, targets, strict=True)):
            gt = t["boxes"][t["labels"] == c]
            n_gt += len(gt)
            keep = p["labels"] == c
            boxes, scores = p["boxes"][keep], p["scores"][keep]
            order = scores.argsort(descending=True, stable=True)[:max_detections]
            boxes, scores = boxes[order], scores[order]
            iou = box_iou(boxes, gt) if len(gt) and len(boxes) else torch.zeros(len(boxes), len(gt))
            taken = torch.zeros(len(gt), dtype=torch.bool)
            for d in range(len(boxes)):  # greedy matching inside the image, best-scoring detection first
                cand = iou[d].masked_fill(taken, -1.0)
                tp = bool(len(gt)) and float(cand.max()) >= iou_threshold
                if tp:
                    taken[int(cand.argmax())] = True
                records.append((float(scores[d]), img, d, tp))
        records.sort(key=lambda r: -r[0])
        tp = torch.tensor([r[3] for r in records], dtype=torch.float64)
        if n_gt == 0:
            continue
        ctp, cfp = tp.cumsum(0), (1 - tp).cumsum(0)
        recall = ctp / n_gt
        precision = ctp / (ctp + cfp).clamp(min=1e-12)
        precision = precision.flip(0).cummax(0).values.flip(0)  # envelope
        # numpy's linspace, not torch's: the two differ in the last bit at some points (e.g. 0.29), which
        # moves a recall that lands exactly on a point to the other side of it
        points = torch.from_numpy(np.linspace(0.0, 1.0, 101))
        idx = torch.searchsorted(recall, points, side="left")
        valid = idx < len(precision)
        sampled = torch.zeros(101, dtype=torch.float64)
        sampled[valid] = precision[idx[valid]]
        aps.append(float(sampled.mean()))
    return sum(aps) / len(aps) if aps else 0.0


def coco_average_precision(preds: list[dict[str, Tensor]], targets: list[dict[str, Tensor]], iou_threshold: float = 0.5) -> float:
    """mAP at ``iou_threshold`` by pycocotools' ``COCOeval`` (the backend torchmetrics' mAP uses)."""
    import contextlib
    import io

    from ..optional import require

    COCO = require("pycocotools.coco", feature="COCO mAP").COCO
    COCOeval = require("pycocotools.cocoeval", feature="COCO mAP").COCOeval

    def xywh(b: Tensor) -> list[float]:
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    images, anns, dets = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets, strict=True)):
        images.append({"id": i})
        for b, c in zip(t["boxes"], t["labels"], strict=True):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c), "bbox": xywh(b),
                         "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": 0})
        for b, s, c in zip(p["boxes"], p["scores"], p["labels"], strict=True):
            dets.append({"image_id": i, "category_id": int(c), "bbox": xywh(b), "score": float(s)})
    cats = sorted({a["category_id"] for a in anns} | {d["category_id"] for d in dets})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in cats]}
        gt.createIndex()
        if not dets:
            return 0.0
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.iouThrs = np.array([iou_threshold])
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(max(ev.stats[0], 0.0))


def mean_ap50(backend: str = "coco"):
    """A torchmetrics ``Metric`` for mAP@0.5: ``update(preds, targets)``, ``compute()`` → scalar tensor.

    torchmetrics' own ``MeanAveragePrecision`` requires torchvision, which cannot be installed beside
    this torch build, so this metric calls the same backend (pycocotools ``COCOeval``) directly;
    ``backend="reference"`` uses :func:`average_precision` instead (tested equal).
    """
    from torchmetrics import Metric

    class MeanAP50(Metric):
        full_state_update = False

        def __init__(self):
            super().__init__()
            self.add_state("preds", default=[], dist_reduce_fx=None)
            self.add_state("targets", default=[], dist_reduce_fx=None)

        def update(self, preds, targets) -> None:
            self.preds.extend({k: v.detach().cpu() for k, v in p.items()} for p in preds)
            self.targets.extend({k: t[k].detach().cpu() for k in ("boxes", "labels")} for t in targets)

        def compute(self):
            fn = coco_average_precision if backend == "coco" else average_precision
            return torch.tensor(fn(self.preds, self.targets))

    return MeanAP50()
