"""Scoring any detector of the detection contract (``model(images)``, ``model.detect(raw)``) on a dataset:
predictions, COCO-style box mAP@0.5 and mAP@[.5:.95], instance-mask AP when the model predicts masks, and
inference throughput in images per second (book §4.6.2–§4.6.3)."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor, nn

from ..metrics.detection import average_precision, coco_evaluate

__all__ = ["predict_detections", "detection_scores", "images_per_second"]


@torch.no_grad()
def predict_detections(model: nn.Module, dataset: Any, batch_size: int = 64) -> tuple[list[dict[str, Tensor]], list[dict[str, Tensor]], float]:
    """``(predictions, targets, seconds)`` over ``dataset`` of ``(image, target dict)`` pairs, in eval mode;
    ``seconds`` is the wall time of the forward passes and ``detect`` only (no data handling)."""
    from torch.utils.data import DataLoader

    from .canvas import collate_canvases

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    preds, targets, seconds = [], [], 0.0
    for images, batch_targets in DataLoader(dataset, batch_size=batch_size, collate_fn=collate_canvases):
        t0 = time.perf_counter()
        out = model.detect(model(images.to(device)))
        seconds += time.perf_counter() - t0
        preds += [{k: v.cpu() for k, v in o.items()} for o in out]
        targets += batch_targets
    model.train(was_training)
    return preds, targets, seconds


def detection_scores(preds: list[dict[str, Tensor]], targets: list[dict[str, Tensor]]) -> dict[str, float]:
    """Box ``map50``/``map``/``map75`` by pycocotools, the plain-torch ``map50_reference``, and ``mask_map50``/
    ``mask_map``/``mask_map75`` when the predictions carry masks."""
    box = coco_evaluate(preds, targets, "bbox")
    out = {"map50": box["map50"], "map": box["map"], "map75": box["map75"],
           "map50_reference": average_precision(preds, targets, 0.5)}
    if preds and "masks" in preds[0]:
        seg = coco_evaluate(preds, targets, "segm")
        out |= {"mask_map50": seg["map50"], "mask_map": seg["map"], "mask_map75": seg["map75"]}
    return out


@torch.no_grad()
def images_per_second(model: nn.Module, images: Tensor, batch_size: int = 64, repeats: int = 3) -> float:
    """Inference throughput (forward + ``detect``) on ``images`` ``(N, C, H, W)``: the best of ``repeats`` passes."""
    was_training = model.training
    model.eval()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for chunk in images.split(batch_size):
            model.detect(model(chunk))
        best = min(best, time.perf_counter() - t0)
    model.train(was_training)
    return len(images) / best
