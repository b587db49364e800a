"""Detection, segmentation and super-resolution building blocks (book §4.6.2–§4.6.4)."""

import pytest
import torch

from tensorprism.vision import boxes as B
from tensorprism.vision.canvas import CanvasConfig, make_canvases
from tensorprism.vision.detection import (
    SSDDetector,
    YOLODetector,
    average_precision,
    coco_average_precision,
)
from tensorprism.vision.segmentation import confusion_iou
from tensorprism.vision.superres import degrade, psnr


def test_iou_and_giou_hand_values():
    a = torch.tensor([[0.0, 0, 2, 2]])
    b = torch.tensor([[1.0, 1, 3, 3], [4.0, 0, 6, 2], [0.0, 0, 2, 2]])
    assert B.box_iou(a, b)[0].tolist() == pytest.approx([1 / 7, 0.0, 1.0])
    # disjoint boxes: IoU 0 but GIoU = -(hull - union)/hull = -(12 - 8)/12
    assert B.generalized_box_iou(a, b)[0].tolist() == pytest.approx([1 / 7 - (9 - 7) / 9, -4 / 12, 1.0])
    torch.testing.assert_close(B.giou_loss(a.expand(3, 4), b), 1 - B.generalized_box_iou(a, b)[0])


def test_nms_keeps_best_and_drops_overlaps_per_class():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    assert B.nms(boxes, scores, 0.5).tolist() == [0, 2]
    labels = torch.tensor([0, 0, 0, 1])  # the last box is another class: never suppressed by box 0
    assert sorted(B.batched_nms(boxes, scores, labels, 0.5).tolist()) == [0, 2, 3]


def test_anchors_and_box_encoding_round_trip():
    anchors = B.make_anchors((2, 3), 8, scales=(1.0, 2.0), ratios=(0.5, 1.0, 2.0))
    assert anchors.shape == (2 * 3 * 6, 4)
    wh = anchors[:6, 2:] - anchors[:6, :2]
    torch.testing.assert_close((wh[:, 0] * wh[:, 1])[[0, 3]], torch.tensor([64.0, 256.0]))  # area (s·scale)²
    torch.testing.assert_close(B.xyxy_to_cxcywh(anchors[:1]), torch.tensor([[4.0, 4.0, 8 * 0.5**0.5, 8 / 0.5**0.5]]))
    gt = anchors + torch.randn_like(anchors).abs()
    for w in [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]:
        torch.testing.assert_close(B.decode_boxes(B.encode_boxes(gt, anchors, w), anchors, w), gt, atol=1e-4, rtol=1e-4)


def _random_detections(seed):
    g = torch.Generator().manual_seed(seed)
    preds, targets = [], []
    for _ in range(5):
        xy = torch.rand(4, 2, generator=g) * 40
        gt = torch.cat([xy, xy + 5 + torch.rand(4, 2, generator=g) * 15], 1)
        labels = torch.randint(0, 3, (4,), generator=g)
        pick = torch.randint(0, 4, (6,), generator=g)
        det = gt[pick] + torch.randn(6, 4, generator=g) * 2
        det[:, 2:] = torch.maximum(det[:, 2:], det[:, :2] + 1)
        keep_label = torch.rand(6, generator=g) < 0.7
        det_labels = torch.where(keep_label, labels[pick], torch.randint(0, 3, (6,), generator=g))
        preds.append({"boxes": det, "scores": torch.rand(6, generator=g), "labels": det_labels})
        targets.append({"boxes": gt, "labels": labels})
    return preds, targets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_ap_equals_pycocotools_cocoeval(seed):
    pytest.importorskip("pycocotools", reason="dev dependency (requirements-dev.txt)")
    preds, targets = _random_detections(seed)
    assert average_precision(preds, targets) == pytest.approx(coco_average_precision(preds, targets), abs=1e-9)


def test_perfect_detections_have_map_one():
    _, targets = _random_detections(0)
    preds = [{"boxes": t["boxes"], "scores": torch.ones(len(t["boxes"])), "labels": t["labels"]} for t in targets]
    assert average_precision(preds, targets) == pytest.approx(1.0)


def test_digit_canvases_boxes_and_masks_are_consistent():
    digits = torch.zeros(5, 1, 28, 28)
    for i in range(5):
        digits[i, 0, 4 + i : 20, 6:18 + i] = 1.0  # a solid "ink" block of known extent
    data = make_canvases(digits, torch.arange(5), 20, CanvasConfig(size=64, max_digits=3), seed=0)
    assert data["images"].shape == (20, 1, 64, 64)
    for img, mask, boxes, labels in zip(data["images"], data["masks"], data["boxes"], data["labels"], strict=True):
        assert 1 <= len(boxes) <= 3
        for (x1, y1, x2, y2), c in zip(boxes.long().tolist(), labels.tolist(), strict=True):
            ink = mask[y1:y2, x1:x2] == c + 1
            assert ink[0].any() and ink[-1].any() and ink[:, 0].any() and ink[:, -1].any()  # tight box
        assert ((img[0] > 0.3) == (mask > 0)).all()


def test_yolo_and_ssd_heads_shapes_assignment_and_loss_backward():
    backbone = dict(channels=(8, 16, 16), padding="same", norm="bn", hidden=(), img_size=64)
    images = torch.rand(2, 1, 64, 64)
    targets = [{"boxes": torch.tensor([[10.0, 10, 22, 30], [40, 30, 52, 50]]), "labels": torch.tensor([3, 7])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    yolo = YOLODetector(10, backbone_kwargs=backbone)
    raw = yolo(images)
    assert raw.shape == (2, 2, 15, 8, 8)
    idx, gt, cls = yolo.assign(targets, (8, 8))
    assert idx.tolist() == [[0, 0, 2, 2], [0, 0, 5, 5]] and cls.tolist() == [3, 7]  # centre cells, tall anchor
    yolo.loss(raw, targets)["loss"].backward()
    ssd = SSDDetector(10, backbone_kwargs={**backbone, "channels": (8, 16, 16, 16)})
    loc, conf = ssd(images)
    assert loc.shape == (2, len(ssd.default_boxes), 4) and conf.shape == (2, len(ssd.default_boxes), 11)
    cls, matched = ssd.match(targets[0]["boxes"], targets[0]["labels"])
    assert set(cls.unique().tolist()) >= {0, 4, 8}  # background and both classes (+1 offset)
    ssd.loss((loc, conf), targets)["loss"].backward()
    dets = ssd.detect((loc.detach(), conf.detach()))
    assert len(dets) == 2 and dets[0]["boxes"].shape[1] == 4


def test_confusion_iou_matches_torchmetrics_jaccard():
    from torchmetrics.functional.classification import multiclass_jaccard_index

    pred, target = torch.randint(0, 4, (3, 16, 16)), torch.randint(0, 4, (3, 16, 16))
    ours = confusion_iou(pred, target, 4).mean()
    torch.testing.assert_close(ours.float(), multiclass_jaccard_index(pred, target, 4, average="macro"))


def test_sklearn_jaccard_example_of_listing_81():
    """Book L81 (lines 8718–8733): y_true=[0,1,1,0,1], y_pred=[0,1,0,0,1] → macro IoU 2/3, accuracy 0.8."""
    iou = confusion_iou(torch.tensor([0, 1, 0, 0, 1]), torch.tensor([0, 1, 1, 0, 1]), 2)
    assert iou.mean().item() == pytest.approx(2 / 3)


def test_psnr_and_degradation():
    y = torch.rand(2, 3, 32, 32)
    assert torch.isinf(psnr(y, y)).all() or (psnr(y, y) > 100).all()
    noisy = (y + 0.1).clamp(0, 1)
    assert psnr(noisy, y).shape == (2,)
    x = degrade(y, 2)
    assert x.shape == y.shape and 0 <= x.min() and x.max() <= 1
    from tensorprism.models import create_model

    sr = create_model("srcnn", residual=True)
    torch.nn.init.zeros_(sr[-1].weight), torch.nn.init.zeros_(sr[-1].bias)
    torch.testing.assert_close(sr(x), x)  # the global skip starts from the bicubic image
