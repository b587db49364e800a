"""Chapter 4 two-stage detection on digit canvases (book §4.6.2–§4.6.3; catalogue case studies 8, 11, 17).

* ``ch04-faster-rcnn``: Faster R-CNN (RPN + RoI Align box head) on the canvases of ``ch04-detect``;
* ``ch04-mask-rcnn``: Mask R-CNN, the same plus the mask branch trained on the canvases' instance masks.

Same canvases, splits, backbone (``simple-cnn`` 32-64-128, conv-BN) and optimiser as the YOLO- and SSD-style
detectors of ``ch04-detect``, and the 300 test canvases of the YOLO-style run that gave mAP@0.5 0.934. The defaults
(1,500 training canvases × 4 epochs in batches of 16: 376 steps, about 170 CPU-seconds on one core) gave Mask
R-CNN box mAP@0.5 0.956 and mask mAP@0.5 0.958 (benchmarks/results/ch04_two_stage.md); with batches of 64 the
second stage gets too few steps to learn. Reported: COCO mAP@0.5 and mAP@[.5:.95] on the test canvases
(pycocotools, with the plain-torch mAP@0.5 beside it), mask AP for Mask R-CNN, and inference images per second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from . import register_recipe
from .ch04_vision import CanvasRecipeConfig, _canvases, _fit
from .kit import save_result


@dataclass
class TwoStageRecipeConfig(CanvasRecipeConfig):
    head: str = "two-stage"
    train_canvases: int = 1500
    test_canvases: int = 300
    epochs: int = 4
    batch_size: int = 16
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # TwoStageConfig overrides (e.g. roi_batch)
    speed_repeats: int = 3


def _two_stage(cfg: TwoStageRecipeConfig, name: str) -> dict[str, Any]:
    from ..optional import check_available

    check_available(["pycocotools"], feature=f"recipe ch04-{name}")
    import torch

    from ..models import count_parameters, create_model
    from ..train.tasks.vision import DetectionTask
    from ..vision.detection_eval import detection_scores, images_per_second, predict_detections

    torch.manual_seed(cfg.seed)
    train, test = _canvases(cfg, "detection")
    model = create_model(name, **(dict(img_size=cfg.canvas_size, backbone_channels=tuple(cfg.backbone_channels))
                                  | cfg.model_kwargs))
    metrics, timing = _fit(model, DetectionTask(), train, test, cfg)
    model = model.cpu()
    preds, targets, _ = predict_detections(model, test)
    images = torch.stack([test[i][0] for i in range(len(test))])
    speed = images_per_second(model, images, repeats=cfg.speed_repeats)
    scores = {f"test_{k}": round(v, 4) for k, v in detection_scores(preds, targets).items()}
    return save_result(cfg, {"config": asdict(cfg), "model": name, "parameters": count_parameters(model), **timing,
                             **scores, "images_per_s": round(speed, 1), "threads": torch.get_num_threads(),
                             "test_map50_trainer": metrics["test/map50"]})


@register_recipe("ch04-faster-rcnn", config=TwoStageRecipeConfig)
def faster_rcnn(cfg: TwoStageRecipeConfig) -> dict[str, Any]:
    """Train Faster R-CNN on digit canvases; returns the test box mAP@0.5 and mAP@[.5:.95] and images/s."""
    return _two_stage(cfg, "faster-rcnn")


@register_recipe("ch04-mask-rcnn", config=TwoStageRecipeConfig)
def mask_rcnn(cfg: TwoStageRecipeConfig) -> dict[str, Any]:
    """Train Mask R-CNN on digit canvases; returns box and instance-mask mAP and images/s."""
    return _two_stage(cfg, "mask-rcnn")
