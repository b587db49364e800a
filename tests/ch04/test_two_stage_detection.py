"""Two-stage detection (book §4.6.2–§4.6.3): RoI Align fast path = reference = a scalar bilinear loop, anchors
and box deltas against their formulas, batched NMS = greedy NMS, the RPN's matching and the book's head size,
Faster/Mask R-CNN losses, targets, bad input and a short fit, and instance-mask AP (hand-computed and
against pycocotools)."""

from __future__ import annotations

import math

import pytest
import torch

from tensorprism.errors import ConfigError, DataError
from tensorprism.functional.pooling import roi_align
from tensorprism.functional.roi import paste_masks, roi_align_fast
from tensorprism.metrics.detection import (
    average_precision,
    coco_evaluate,
    mask_iou,
    mean_average_precision,
)
from tensorprism.models import count_parameters, create_model
from tensorprism.models.detection.rpn import (
    RPNHead,
    match_anchors,
    nms_sorted_batched,
    sample_labels,
)
from tensorprism.tensor import boxes as B
from tensorprism.vision.canvas import CanvasConfig, collate_canvases, make_canvases

SMALL = dict(backbone_channels=(16, 32, 64), rpn_channels=32, representation=64, mask_channels=8, roi_batch=16)


# ------------------------------------------------------------------------------------ RoI Align
def _naive_roi_align(x, box, out_hw, scale, g):
    """RoI Align written out one sample at a time (He et al. 2017): bin (i, j) averages g×g bilinear samples at
    the sub-cell centres; a sample more than one cell off the map reads 0, others are clamped to the border."""
    C, H, W = x.shape[1:]
    b, x1, y1, x2, y2 = box.tolist()
    x1, y1, x2, y2 = (v * scale - 0.5 for v in (x1, y1, x2, y2))
    oh, ow = out_hw
    out = torch.zeros(C, oh, ow, dtype=x.dtype)

    def sample(y, xx):
        if y < -1 or y > H or xx < -1 or xx > W:
            return torch.zeros(C, dtype=x.dtype)
        y, xx = min(max(y, 0.0), H - 1), min(max(xx, 0.0), W - 1)
        y0, x0 = int(math.floor(y)), int(math.floor(xx))
        y1_, x1_ = min(y0 + 1, H - 1), min(x0 + 1, W - 1)
        ly, lx = y - y0, xx - x0
        f = x[int(b)]
        return ((1 - ly) * (1 - lx) * f[:, y0, x0] + (1 - ly) * lx * f[:, y0, x1_]
                + ly * (1 - lx) * f[:, y1_, x0] + ly * lx * f[:, y1_, x1_])

    bh, bw = (y2 - y1) / oh, (x2 - x1) / ow
    for i in range(oh):
        for j in range(ow):
            acc = torch.zeros(C, dtype=x.dtype)
            for a in range(g):
                for c in range(g):
                    acc += sample(y1 + (i + (a + 0.5) / g) * bh, x1 + (j + (c + 0.5) / g) * bw)
            out[:, i, j] = acc / g**2
    return out


def test_roi_align_fast_equals_reference_and_a_naive_bilinear_loop():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    boxes = torch.tensor([[0, 1.0, 2, 30, 20], [1, -5, -3, 4, 40], [0, 3, 3, 3.5, 3.2], [1, 40, 40, 60, 70],
                          [0, 10, 8, 22, 30]], dtype=torch.float64)
    for g in (1, 2, 3):
        fast = roi_align_fast(x, boxes, (3, 4), 0.25, g)
        torch.testing.assert_close(fast, roi_align(x, boxes, (3, 4), 0.25, g), rtol=0, atol=1e-12)
        if g == 2:  # the scalar loop is slow: one sampling ratio
            naive = torch.stack([_naive_roi_align(x, b, (3, 4), 0.25, g) for b in boxes])
            torch.testing.assert_close(fast, naive, rtol=0, atol=1e-12)
    # gradients with respect to the features, with the boxes out of image order
    perm = torch.tensor([3, 0, 4, 1, 2])
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    w = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    (roi_align_fast(xa, boxes[perm], 2, 0.25, 2) * w).sum().backward()
    (roi_align(xb, boxes[perm], 2, 0.25, 2) * w).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=0, atol=1e-12)


def test_roi_align_fast_needs_a_fixed_sampling_ratio_and_handles_no_boxes():
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(ConfigError, match="sampling_ratio > 0"):
        roi_align_fast(x, torch.tensor([[0, 0.0, 0, 2, 2]]), 2, sampling_ratio=0)
    assert roi_align_fast(x, torch.zeros(0, 5), (2, 3)).shape == (0, 2, 2, 3)


def test_paste_masks_fills_the_box_and_inverts_roi_align():
    ones = torch.ones(1, 4, 4)
    pasted = paste_masks(ones, torch.tensor([[2.0, 3.0, 8.0, 7.0]]), 10, 12)[0]
    inside = torch.zeros(10, 12, dtype=torch.bool)
    inside[3:7, 2:8] = True  # pixel centres (x + 0.5, y + 0.5) inside the box
    assert torch.all(pasted[inside] == 1) and torch.all(pasted[~inside] == 0)
    # cut a smooth mask out with RoI Align, paste it back: the same values at the pixel centres
    img = torch.zeros(1, 1, 16, 16)
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    img[0, 0] = torch.sin(xx / 3) * torch.cos(yy / 4)
    box = torch.tensor([[0, 4.0, 4.0, 12.0, 12.0]])
    cut = roi_align_fast(img, box, 8, 1.0, 1)[:, 0]  # one sample per pixel: exactly the pixels
    back = paste_masks(cut, box[:, 1:], 16, 16)[0]
    torch.testing.assert_close(back[5:11, 5:11], img[0, 0, 5:11, 5:11], atol=1e-5, rtol=0)


# ------------------------------------------------------------------------------------ anchors, deltas, NMS
def test_anchors_equal_their_formula_and_deltas_round_trip():
    stride, scales, ratios = 8, (2.0, 3.0), (0.5, 1.0, 2.0)
    fast = B.make_anchors((3, 4), stride, scales, ratios)
    ref = []
    for r in range(3):  # cell-major: row, column, then scale × ratio
        for c in range(4):
            cx, cy = (c + 0.5) * stride, (r + 0.5) * stride
            for s in scales:
                for q in ratios:
                    w, h = stride * s * math.sqrt(q), stride * s / math.sqrt(q)
                    ref.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    torch.testing.assert_close(fast, torch.tensor(ref), rtol=0, atol=1e-5)
    gt = torch.tensor([[10.0, 12, 30, 40], [0, 0, 5, 9]])
    anchors = fast[:2]
    t = B.encode_boxes(gt, anchors, (10.0, 10.0, 5.0, 5.0))
    a = B.xyxy_to_cxcywh(anchors)
    g = B.xyxy_to_cxcywh(gt)
    hand = torch.stack([10 * (g[:, 0] - a[:, 0]) / a[:, 2], 10 * (g[:, 1] - a[:, 1]) / a[:, 3],
                        5 * torch.log(g[:, 2] / a[:, 2]), 5 * torch.log(g[:, 3] / a[:, 3])], 1)
    torch.testing.assert_close(t, hand)
    torch.testing.assert_close(B.decode_boxes(t, anchors, (10.0, 10.0, 5.0, 5.0)), gt, atol=1e-4, rtol=0)


def test_batched_fixed_point_nms_equals_greedy_nms():
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        P = int(torch.randint(1, 40, (1,), generator=g))
        xy = torch.rand(3, P, 2, generator=g) * 40
        boxes = torch.cat([xy, xy + torch.rand(3, P, 2, generator=g) * 20 + 1], -1)
        scores = torch.rand(3, P, generator=g)
        order = scores.argsort(1, descending=True)
        boxes, scores = boxes.gather(1, order[..., None].expand(-1, -1, 4)), scores.gather(1, order)
        valid = torch.rand(3, P, generator=g) < 0.9
        keep = nms_sorted_batched(boxes, valid, 0.5)
        for i in range(3):
            ref = torch.zeros(P, dtype=torch.bool)
            idx = valid[i].nonzero().flatten()
            ref[idx[B.nms(boxes[i][idx], scores[i][idx], 0.5)]] = True
            assert torch.equal(keep[i], ref)


def test_anchor_matching_and_sampling_follow_faster_rcnn_rules():
    anchors = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 20, 20], [50, 50, 60, 60], [40, 40, 41, 41]])
    gt = torch.tensor([[0.0, 0, 10, 10], [45, 45, 70, 70]])
    idx, label = match_anchors(anchors, gt, 0.7, 0.3)
    # IoU with gt 0: 1.0, 0.68 (ignored), 0.25 (negative); anchor 3 is gt 1's best (IoU 0.16): positive anyway
    assert label.tolist() == [1, -1, 0, 1, 0] and idx[[0, 3]].tolist() == [0, 1]
    _, strict = match_anchors(anchors, gt, 0.7, 0.3, allow_low_quality=False)
    assert strict[3] == 0
    empty_idx, empty = match_anchors(anchors, torch.zeros(0, 4), 0.7, 0.3)
    assert empty.tolist() == [0] * 5  # an image without objects: every anchor is background
    lab = torch.tensor([1] * 10 + [0] * 100 + [-1] * 5)
    pick = sample_labels(lab, 32, 0.25)
    assert len(pick) == 32 and int((lab[pick] == 1).sum()) == 8 and not (lab[pick] == -1).any()


def test_rpn_head_has_the_book_parameter_count():
    """Catalogue §1.8: RPN head on ResNet-50 C5 (lines 8401–8450), 3×3 conv 512, cls 9·2, reg 9·4: 9,465,398."""
    with torch.device("meta"):
        head = RPNHead(2048, 9, 512, objectness="softmax")
    assert count_parameters(head) == 9_465_398


def test_erratum_rpn_softmax_is_per_anchor():
    """Catalogue L73 (book lines 8391–8417): the TF RPN applies ``softmax`` over all 9·2 channels of a cell at once, so
    the anchors compete. Right: a softmax over each anchor's (not object, object) pair. Here raising one anchor's
    logits leaves every other anchor's objectness unchanged, and each anchor's is the pair's softmax."""
    torch.manual_seed(0)
    head = RPNHead(4, 3, 8, objectness="softmax")
    f = torch.randn(1, 4, 2, 2)
    logits, _ = head(f)
    pair = head.cls(torch.relu(head.conv(f))).permute(0, 2, 3, 1).reshape(1, -1, 2)
    torch.testing.assert_close(torch.sigmoid(logits), pair.softmax(-1)[..., 1])
    with torch.no_grad():
        head.cls.bias[0:2] += torch.tensor([-5.0, 5.0])  # anchor 0 of every cell
    again, _ = head(f)
    changed = (torch.sigmoid(again) - torch.sigmoid(logits)).abs() > 1e-6
    assert changed.view(4, 3)[:, 0].all() and not changed.view(4, 3)[:, 1:].any()


# ------------------------------------------------------------------------------------ models
def _toy_canvases(n, seed=0):
    # five "digits" told apart by texture (RoI Align resamples every box to one size, so not by size):
    # solid, frame, horizontal stripes, vertical stripes, checkerboard, all 18 × 12 pixels
    yy, xx = torch.meshgrid(torch.arange(18), torch.arange(12), indexing="ij")
    frame = (yy < 3) | (yy > 14) | (xx < 3) | (xx > 8)
    patterns = [torch.ones(18, 12, dtype=torch.bool), frame, (yy // 3) % 2 == 0, (xx // 3) % 2 == 0,
                ((yy // 3) + (xx // 3)) % 2 == 0]
    digits = torch.zeros(5, 1, 28, 28)
    for i, pat in enumerate(patterns):
        digits[i, 0, 5:23, 8:20] = pat.float()
    data = make_canvases(digits, torch.arange(5), n, CanvasConfig(size=48, max_digits=2), seed=seed)
    items = []
    for i in range(n):
        k = len(data["boxes"][i])
        masks = data["instances"][i][None] == torch.arange(1, k + 1)[:, None, None]
        items.append((data["images"][i], {"boxes": data["boxes"][i], "labels": data["labels"][i], "masks": masks}))
    return collate_canvases(items), data


def test_canvas_instance_masks_partition_the_ink_and_sit_in_their_boxes():
    (_, targets), data = _toy_canvases(12)
    for t, sem in zip(targets, data["masks"], strict=True):
        assert torch.equal(t["masks"].any(0), sem > 0)
        for m, (x1, y1, x2, y2), c in zip(t["masks"], t["boxes"].long().tolist(), t["labels"].tolist(), strict=True):
            assert m.sum() > 0 and not m[:y1].any() and not m[y2:].any() and not m[:, :x1].any() and not m[:, x2:].any()
            assert (sem[m] == c + 1).all()


def test_mask_rcnn_targets_losses_detect_and_bad_input():
    torch.manual_seed(0)
    (images, targets), _ = _toy_canvases(2)
    m = create_model("mask-rcnn", num_classes=5, img_size=48, **SMALL)
    # mask target of a RoI equal to a solid ground-truth block: all ones; of a RoI on its left half: the left half
    block = torch.zeros(1, 48, 48, dtype=torch.bool)
    block[0, 14:32, 9:21] = True
    solid = [{"boxes": torch.tensor([[9.0, 14, 21, 32]]), "labels": torch.tensor([0]), "masks": block}]
    rois = torch.tensor([[0, 9.0, 14, 21, 32], [0, 3.0, 14, 15, 32]])
    t = m.mask_targets(rois, torch.zeros(2, dtype=torch.long), solid)
    assert torch.all(t[0] == 1) and torch.all(t[1][:, :7] == 0) and torch.all(t[1][:, 7:] == 1)
    raw = m(images)
    out = m.loss(raw, targets)
    assert set(out) == {"loss", "rpn_obj", "rpn_box", "roi_cls", "roi_box", "mask"}
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in m.parameters() if p.grad is not None)
    # an image without objects: a finite loss, and detect returns well-formed (possibly empty) outputs
    empty = [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long), "masks": torch.zeros(0, 48, 48, dtype=torch.bool)}] * 2
    assert torch.isfinite(m.loss(m(torch.zeros(2, 1, 48, 48)), empty)["loss"])
    m.eval()
    det = m.detect(m(torch.zeros(2, 1, 48, 48)))
    for d in det:
        n = len(d["boxes"])
        assert d["boxes"].shape == (n, 4) and d["scores"].shape == d["labels"].shape == (n,) and d["masks"].shape == (n, 48, 48)
    # bad ground truth is refused with what was wrong
    bad = [dict(targets[0], boxes=torch.tensor([[10.0, 10, 10, 20]]), labels=torch.tensor([1]), masks=targets[0]["masks"][:1])]
    with pytest.raises(DataError, match="degenerate box"):
        m.loss(m(images[:1]), bad)
    with pytest.raises(DataError, match=r"labels must lie in \[0, 5\)"):
        m.loss(m(images[:1]), [dict(targets[0], labels=targets[0]["labels"] + 5)])
    with pytest.raises(DataError, match="needs 'masks'"):
        m.loss(m(images[:1]), [{"boxes": targets[0]["boxes"], "labels": targets[0]["labels"]}])


def test_faster_rcnn_loss_falls_on_toy_canvases():
    torch.manual_seed(0)
    (images, targets), _ = _toy_canvases(8)
    m = create_model("faster-rcnn", num_classes=5, img_size=48, **SMALL)
    opt = torch.optim.AdamW(m.parameters(), 3e-3)
    losses = []
    for _ in range(12):
        loss = m.loss(m(images), targets)["loss"]
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert min(losses[-3:]) < 0.6 * losses[0]


@pytest.mark.slow
def test_faster_rcnn_fits_toy_canvases():
    """A short fit on five textures at the default size: the loss falls and the boxes are found (mAP@0.5 on the
    training images; 0.97 after 50 steps when written)."""
    torch.manual_seed(0)
    (images, targets), _ = _toy_canvases(16)
    m = create_model("faster-rcnn", num_classes=5, img_size=48)
    opt = torch.optim.AdamW(m.parameters(), 3e-3)
    first = None
    for _ in range(60):
        loss = m.loss(m(images), targets)["loss"]
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.5 * first
    m.eval()
    assert average_precision(m.detect(m(images)), targets) > 0.5


# ------------------------------------------------------------------------------------ mask AP
def _hand_case():
    def m(*cells):
        out = torch.zeros(4, 4, dtype=torch.bool)
        for r, c in cells:
            out[r, c] = True
        return out

    a = m((0, 0), (0, 1), (1, 0), (1, 1))  # ground truth, image 0
    b = m((0, 0), (0, 1), (0, 2), (0, 3))  # ground truth, image 1
    far = m((2, 2), (2, 3), (3, 2), (3, 3))
    half = m((0, 0), (0, 1))  # IoU with b = 2 / 4 = 0.5
    box = torch.tensor([[0.0, 0, 4, 4]])
    targets = [{"boxes": box, "labels": torch.tensor([0]), "masks": a[None]},
               {"boxes": box, "labels": torch.tensor([0]), "masks": b[None]}]
    preds = [{"boxes": box.repeat(2, 1), "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([0, 0]),
              "masks": torch.stack([a, far]).float()},
             {"boxes": box, "scores": torch.tensor([0.7]), "labels": torch.tensor([0]), "masks": half[None].float()}]
    return preds, targets


def test_mask_ap_on_a_hand_computed_case():
    """Detections by score: exact mask (TP), a disjoint mask (FP), a half-covering mask (IoU 0.5: TP only at 0.5).
    At 0.5: precision envelope 1 up to recall 0.5 (51 of COCO's 101 recall points) and 2/3 above (50 points):
    AP = (51 + 50·2/3)/101 = 253/303. At 0.55 … 0.95 the last is a FP: AP = 51/101. mAP@[.5:.95] = 1630/3030."""
    preds, targets = _hand_case()
    assert mask_iou(targets[1]["masks"], preds[1]["masks"] > 0.5).item() == 0.5
    assert average_precision(preds, targets, 0.5, iou_type="segm") == pytest.approx(253 / 303, abs=1e-12)
    assert average_precision(preds, targets, 0.75, iou_type="segm") == pytest.approx(51 / 101, abs=1e-12)
    assert mean_average_precision(preds, targets, iou_type="segm") == pytest.approx(1630 / 3030, abs=1e-12)
    # the boxes are all the same square: as boxes, the half mask is a perfect match at every threshold
    assert average_precision(preds, targets, 0.75) == pytest.approx(253 / 303, abs=1e-12)


def test_mask_and_box_map_equal_the_pycocotools_oracle():
    pytest.importorskip("pycocotools", reason="dev dependency (requirements-dev.txt)")
    preds, targets = _hand_case()
    coco = coco_evaluate(preds, targets, "segm")
    assert coco["map50"] == pytest.approx(253 / 303, abs=1e-9)
    assert coco["map"] == pytest.approx(1630 / 3030, abs=1e-9)
    g = torch.Generator().manual_seed(1)
    preds, targets = [], []
    for _ in range(4):  # random rectangles as masks, detections jittered copies with wrong labels at times
        xy = torch.randint(0, 20, (3, 2), generator=g)
        gt = torch.cat([xy, xy + torch.randint(4, 12, (3, 2), generator=g)], 1).float()
        labels = torch.randint(0, 2, (3,), generator=g)
        det = (gt[torch.randint(0, 3, (5,), generator=g)] + torch.randint(-2, 3, (5, 4), generator=g)).clamp(0, 31)
        det[:, 2:] = torch.maximum(det[:, 2:], det[:, :2] + 2)

        def rect(bs):
            out = torch.zeros(len(bs), 32, 32, dtype=torch.bool)
            for k, (x1, y1, x2, y2) in enumerate(bs.long().tolist()):
                out[k, y1:y2, x1:x2] = True
            return out

        targets.append({"boxes": gt, "labels": labels, "masks": rect(gt)})
        preds.append({"boxes": det, "scores": torch.rand(5, generator=g), "labels": torch.randint(0, 2, (5,), generator=g),
                      "masks": rect(det).float()})
    for kind in ("segm", "bbox"):
        coco = coco_evaluate(preds, targets, kind)
        assert mean_average_precision(preds, targets, iou_type=kind) == pytest.approx(coco["map"], abs=1e-9)
        assert average_precision(preds, targets, 0.5, iou_type=kind) == pytest.approx(coco["map50"], abs=1e-9)
