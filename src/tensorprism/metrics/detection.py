r"""Detection metrics (book §4.6.2, lines 8548–8564; §4.6.3 mask IoU, lines 8698–8714): mean average precision
at one IoU threshold or averaged over COCO's ten (mAP@[.5:.95]), for boxes or instance masks.

:func:`average_precision` is the plain-torch reference; :func:`coco_average_precision` calls
pycocotools' ``COCOeval`` (the backend of torchmetrics' mAP); :func:`mean_ap50` wraps either in a
torchmetrics ``Metric``. Predictions are ``[dict(boxes (D, 4), scores (D,), labels (D,))]`` and
targets ``[dict(boxes (G, 4), labels (G,))]``, one dict per image, boxes ``(x1, y1, x2, y2)``. For instance
masks (``iou_type="segm"``) predictions also carry ``masks (D, H, W)`` (probabilities, binarised at 0.5, or bool)
and targets ``masks (G, H, W)`` bool; the IoU of two detections is then the IoU of their pixel sets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..tensor.boxes import box_iou

__all__ = ["average_precision", "coco_average_precision", "mean_ap50", "mask_iou", "mean_average_precision",
           "coco_evaluate", "COCO_IOU_THRESHOLDS"]

COCO_IOU_THRESHOLDS = tuple(float(t) for t in np.linspace(0.5, 0.95, 10))  # 0.50, 0.55, …, 0.95


def mask_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise IoU of binary masks ``(A, H, W), (B, H, W) → (A, B)`` (book line 8700); two empty masks give 0."""
    a, b = a.flatten(1).to(torch.float64), b.flatten(1).to(torch.float64)
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return inter / union.clamp(min=1e-12)


def _binary(masks: Tensor) -> Tensor:
    return masks if masks.dtype == torch.bool else masks > 0.5


def _pair_iou(p: dict[str, Tensor], t: dict[str, Tensor], keep_p: Tensor, keep_t: Tensor, iou_type: str) -> Tensor:
    if iou_type == "segm":
        return mask_iou(_binary(p["masks"][keep_p]), _binary(t["masks"][keep_t]))
    return box_iou(p["boxes"][keep_p], t["boxes"][keep_t])


def average_precision(preds: list[dict[str, Tensor]], targets: list[dict[str, Tensor]], iou_threshold: float = 0.5,
                      max_detections: int = 100, iou_type: str = "bbox") -> float:
    r"""COCO-style mAP at one IoU threshold, in plain torch (the reference for :class:`MeanAP50`).

    Per class: detections of all images sorted by score; each takes the unmatched ground truth of its
    image with the highest IoU ≥ threshold (true positive) or is a false positive; precision is made
    monotone (the envelope) and read at the 101 recall points ``0, 0.01, …, 1``:
    :math:`\text{AP} = \frac{1}{101}\sum_r \max_{\tilde r \ge r} P(\tilde r)` (book line 8560 integrates
    :math:`P(R)` over recall; this is its COCO discretisation). mAP averages the classes that have ground truth.
    ``iou_type="segm"`` matches instance masks instead of boxes.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type={iou_type!r}; expected 'bbox' (boxes) or 'segm' (instance masks)")
    classes = sorted({int(c) for t in targets for c in t["labels"]})
    aps = []
    for c in classes:
        n_gt, records = 0, []
        for img, (p, t) in enumerate(zip(preds, targets, strict=True)):
            keep_t = (t["labels"] == c).nonzero().flatten()
            gt = keep_t
            n_gt += len(gt)
            keep = (p["labels"] == c).nonzero().flatten()
            order = p["scores"][keep].argsort(descending=True, stable=True)[:max_detections]
            keep = keep[order]
            boxes, scores = keep, p["scores"][keep]
            iou = _pair_iou(p, t, keep, keep_t, iou_type) if len(gt) and len(boxes) else torch.zeros(len(boxes), len(gt))
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


def mean_average_precision(preds: list[dict[str, Tensor]], targets: list[dict[str, Tensor]],
                           iou_thresholds: tuple[float, ...] = COCO_IOU_THRESHOLDS, iou_type: str = "bbox") -> float:
    """COCO's headline mAP@[.5:.95]: :func:`average_precision` averaged over ``iou_thresholds`` (plain torch)."""
    return sum(average_precision(preds, targets, t, iou_type=iou_type) for t in iou_thresholds) / len(iou_thresholds)


def coco_evaluate(preds: list[dict[str, Tensor]], targets: list[dict[str, Tensor]], iou_type: str = "bbox") -> dict[str, float]:
    """pycocotools' ``COCOeval`` with its default ten IoU thresholds: ``map`` (mAP@[.5:.95]), ``map50``, ``map75``.

    ``iou_type="segm"`` scores instance masks (run-length encoded by ``pycocotools.mask``, predictions binarised at
    0.5). Images without ground truth count (their detections are false positives), as in COCO.
    """
    import contextlib
    import io

    from ..optional import require

    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type={iou_type!r}; expected 'bbox' (boxes) or 'segm' (instance masks)")
    COCO = require("pycocotools.coco", feature="COCO mAP").COCO
    COCOeval = require("pycocotools.cocoeval", feature="COCO mAP").COCOeval
    mask_utils = require("pycocotools.mask", feature="COCO mask AP")

    def xywh(b: Tensor) -> list[float]:
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    def rle(m: Tensor) -> dict:
        r = mask_utils.encode(np.asfortranarray(_binary(m).numpy().astype(np.uint8)))
        r["counts"] = r["counts"].decode("ascii")
        return r

    images, anns, dets = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets, strict=True)):
        image = {"id": i}
        if iou_type == "segm":  # pycocotools decodes masks at the image size
            image["height"], image["width"] = (int(v) for v in t["masks"].shape[-2:])
        images.append(image)
        for j, (b, c) in enumerate(zip(t["boxes"], t["labels"], strict=True)):
            ann = {"id": len(anns) + 1, "image_id": i, "category_id": int(c), "bbox": xywh(b), "iscrowd": 0,
                   "area": float((b[2] - b[0]) * (b[3] - b[1]))}
            if iou_type == "segm":
                ann["segmentation"] = rle(t["masks"][j].cpu())
                ann["area"] = float(_binary(t["masks"][j]).sum())
            anns.append(ann)
        for j, (b, s, c) in enumerate(zip(p["boxes"], p["scores"], p["labels"], strict=True)):
            det = {"image_id": i, "category_id": int(c), "bbox": xywh(b), "score": float(s)}
            if iou_type == "segm":
                det["segmentation"] = rle(p["masks"][j].cpu())
            dets.append(det)
    cats = sorted({a["category_id"] for a in anns} | {d["category_id"] for d in dets})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in cats]}
        gt.createIndex()
        if not dets:
            return {"map": 0.0, "map50": 0.0, "map75": 0.0}
        ev = COCOeval(gt, gt.loadRes(dets), iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"map": float(max(ev.stats[0], 0.0)), "map50": float(max(ev.stats[1], 0.0)), "map75": float(max(ev.stats[2], 0.0))}
