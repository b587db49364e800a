"""Vision tasks of Chapter 4: training with on-batch augmentation, detection, segmentation,
super-resolution, metric learning, style transfer, Grad-CAM, transfer learning, ensembles, and
reading single images (``vision.io.read_image``).

Sub-modules import torch only; optional packages (torchmetrics' COCO backend, optuna) are imported
inside the functions that need them.
"""
