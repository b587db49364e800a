"""Chapter 4 vision helpers: detectors (YOLO/SSD heads), segmentation and super-resolution
utilities, metric-learning embeddings, style transfer, Grad-CAM, transfer learning, ensembles, and
reading single images (``vision.io.read_image``).

The training paradigms themselves are registered tasks in :mod:`tensorprism.train.tasks.vision`
(``augmented-classification``, ``fine-tune``, ``segmentation``, ``super-resolution``, ``triplet``,
``detection``), and the pieces they need live in lower layers (``tensor.boxes``,
``losses.triplet``, ``metrics.retrieval``, ``metrics.detection``); the modules here re-export them
under their old paths. Optional packages (pycocotools, optuna) are imported inside the functions
that need them.
"""
