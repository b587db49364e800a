"""The three detector families side by side on the same digit canvases (book §4.6.2): YOLO-style, SSD-style and
two-stage (Faster R-CNN = the Mask R-CNN below without its mask branch, and Mask R-CNN).

Trains the YOLO- and SSD-style detectors here with the given budget, loads the two-stage model from a
``prism run ch04-mask-rcnn`` (or ``ch04-faster-rcnn``) run directory trained with the same settings, scores
every model on the same test canvases (COCO box mAP@0.5 and mAP@[.5:.95], instance-mask AP) and times inference
(forward + ``detect``, images per second) in this one process, the models taking turns::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/ch04_two_stage.py --two-stage-run RUN \\
        --train-canvases 800 --epochs 2 --batch-size 16 --out /tmp/ch04_two_stage.json
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time

import torch

from tensorprism.models import count_parameters
from tensorprism.recipes.ch04_vision import CanvasRecipeConfig, _canvases, _fit
from tensorprism.train.checkpoint import load_model
from tensorprism.vision.detection import DetectionTask, SSDDetector, YOLODetector
from tensorprism.vision.detection_eval import (
    detection_scores,
    images_per_second,
    predict_detections,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--two-stage-run", required=True, help="run directory of prism run ch04-mask-rcnn")
    ap.add_argument("--train-canvases", type=int, default=800)
    ap.add_argument("--test-canvases", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help="JSON file for the results")
    ap.add_argument("--run-root", default="/tmp/ch04_two_stage_runs", help="where the YOLO/SSD runs are written")
    args = ap.parse_args()
    torch.set_num_threads(1)

    cfg = CanvasRecipeConfig(train_canvases=args.train_canvases, test_canvases=args.test_canvases, epochs=args.epochs,
                             batch_size=args.batch_size, lr=args.lr, progress=False, plots=False)
    train, test = _canvases(cfg, "detection")
    channels = tuple(cfg.backbone_channels)
    backbone = dict(channels=channels, padding="same", norm="bn", hidden=(), img_size=cfg.canvas_size)
    models, rows = {}, {}
    for name in ("yolo", "ssd"):
        torch.manual_seed(cfg.seed)
        if name == "yolo":
            model = YOLODetector(10, backbone_kwargs=backbone)
        else:
            model = SSDDetector(10, backbone_kwargs=dict(backbone, channels=channels + (channels[-1],)), image_size=cfg.canvas_size)
        run_cfg = dataclasses.replace(cfg, out_dir=f"{args.run_root}/{name}", overwrite=True)
        _, timing = _fit(model, DetectionTask(), train, test, run_cfg)
        models[name], rows[name] = model.cpu().eval(), {"parameters": count_parameters(model), **timing}
    two = load_model(args.two_stage_run).eval()
    rows_two = json.load(open(f"{args.two_stage_run}/result.json"))["result"]
    name = two.prism_spec["name"]
    models[name], rows[name] = two, {"parameters": count_parameters(two), "train_wall_s": rows_two.get("train_wall_s"),
                                     "train_cpu_s": rows_two.get("train_cpu_s")}
    if two.mask_head is not None:  # the same trained network without its mask branch is a Faster R-CNN
        faster = copy.deepcopy(two)
        faster.mask_head = None
        models["faster-rcnn (mask branch off)"] = faster
        rows["faster-rcnn (mask branch off)"] = {"parameters": count_parameters(faster)}
    for key, model in models.items():
        preds, targets, _ = predict_detections(model, test)
        rows[key] |= {f"test_{k}": round(v, 4) for k, v in detection_scores(preds, targets).items()}
        first = len(test) if len(test) < 200 else 200  # the 200-canvas split of the earlier ch04-detect rows
        rows[key]["test200_map50"] = round(detection_scores(preds[:first], targets[:first])["map50"], 4)
    images = torch.stack([test[i][0] for i in range(len(test))])
    speeds: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(args.repeats):  # the models take turns, so a change in machine load hits all of them
        for key, model in models.items():
            speeds[key].append(images_per_second(model, images, repeats=1))
    for key in models:
        rows[key]["images_per_s"] = round(max(speeds[key]), 1)
        rows[key]["images_per_s_all"] = [round(s, 1) for s in speeds[key]]
    doc = {"settings": vars(args), "threads": torch.get_num_threads(), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
           "rows": rows}
    text = json.dumps(doc, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
