"""Box operations for detection (IoU, GIoU, NMS, anchors, encoding): they live in
:mod:`tensorprism.tensor.boxes` (box geometry, below the metrics and tasks that use it); this module
keeps the ``tensorprism.vision.boxes`` import path."""

from ..tensor.boxes import *  # noqa: F403 - the public path of the box operations
from ..tensor.boxes import __all__  # noqa: F401
