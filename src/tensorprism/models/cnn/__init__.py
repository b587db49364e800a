"""Convolutional model zoo (book Chapter 4): every model shares the :class:`ConvNet` interface.

``forward_features`` → last feature map ``(N, C, h, w)``; ``forward_head(x, pre_logits=...)`` →
logits ``(N, num_classes)`` or the pre-logit vector; ``reset_classifier(n)``; ``feature_maps(x)``
returns every stage's output (with ``feature_info`` channels and strides) for detection and
segmentation heads. Builders are registered by name in the modules of this package.
"""
