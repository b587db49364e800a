"""Two-stage detection (book §4.6.2–§4.6.3): the region proposal network, Faster R-CNN with RoI Align heads
and Mask R-CNN. The one-stage YOLO- and SSD-style heads are in :mod:`tensorprism.vision.detection`."""

from .rpn import RegionProposalNetwork, RPNHead, clip_boxes, match_anchors, sample_labels
from .two_stage import FasterRCNN, TwoStageConfig, check_targets

__all__ = ["RPNHead", "RegionProposalNetwork", "match_anchors", "sample_labels", "clip_boxes", "FasterRCNN",
           "TwoStageConfig", "check_targets"]
