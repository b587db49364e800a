"""The Chapter 5 frame-wise tagger (N10) and video action recogniser (N12) on Moving MNIST: the
per-frame direction labels follow the digit's bounces, and the two heads have the book's shapes."""

import numpy as np
import torch

from tensorprism.data.datasets.moving_mnist import _label, moving_video
from tensorprism.recipes.ch05_video_sequences import FrameTaggingTask, SequenceNet, _quadrant


def test_quadrant_equals_the_datasets_direction_label():
    for v in ([1.0, 2.0], [1.0, -2.0], [-1.0, -2.0], [-1.0, 2.0], [0.0, 0.0]):
        assert _quadrant(np.array(v)) == _label("direction", np.array([3]), np.array([v]))


def test_frame_labels_change_exactly_when_the_digit_bounces():
    digits = np.zeros((1, 28, 28), np.uint8)
    o = moving_video(digits, np.random.default_rng(3), frames=60, size=40, num_digits=1, speed=(4.0, 5.0))
    pos = o["positions"][:, 0]
    v = np.concatenate([o["velocity"][:1], np.diff(pos, axis=0)])
    q = _quadrant(v)
    assert len(set(q.tolist())) > 1  # 60 frames of a fast digit in a 40-pixel frame: it bounces
    flips = np.nonzero(q[1:] != q[:-1])[0] + 1
    for t in flips:  # a label change is a sign change of a velocity component
        assert (np.sign(v[t]) != np.sign(v[t - 1])).any()


def test_heads_have_the_book_shapes_and_the_tagging_loss_covers_every_frame():
    x = torch.rand(2, 5, 1, 40, 40)
    per_video = SequenceNet(8, 16, 4, recurrent=True, per_frame=False)
    tagger = SequenceNet(8, 16, 4, recurrent=True, per_frame=True)
    assert per_video(x).shape == (2, 4) and tagger(x).shape == (2, 5, 4)
    assert SequenceNet(8, 16, 4, recurrent=False, per_frame=False)(x).shape == (2, 4)
    y = torch.randint(0, 4, (2, 5))
    out = FrameTaggingTask().training_step(tagger, (x, y))
    logits = tagger(x)
    want = torch.nn.functional.cross_entropy(logits.reshape(10, 4), y.reshape(10))
    assert torch.allclose(out["loss"], want)
