"""Classification training with augmentation applied to whole batches on the training device:
:class:`AugmentedClassificationTask`, registered as ``augmented-classification`` in
:mod:`tensorprism.train.tasks.vision` and kept importable from here."""

from ..train.tasks.vision import AugmentedClassificationTask

__all__ = ["AugmentedClassificationTask"]
