"""Chapter 7 data: fortunes, documents, Moving MNIST, digit VQA/captions, spoken digits, log-mel."""

from __future__ import annotations

import collections
import shutil

import numpy as np
import pytest
import torch

from tensorprism.data import load_dataset
from tensorprism.data.datasets import digit_scenes, moving_mnist, spoken_digits
from tensorprism.data.text.documents import pad_documents, split_sentences
from tensorprism.errors import ConfigError, DataError, ShapeError
from tensorprism.functional.audio import log_mel_spectrogram, mel_filterbank
from tensorprism.testing import require_path, shared_data

FORTUNES = "/usr/share/games/fortunes"


def _mnist():
    from tensorprism.data import is_available

    if not is_available("mnist", shared_data()):
        require_path(shared_data("mnist", "absent"), "MNIST digits (make data)")


# ----------------------------------------------------------------------------- documents
def test_split_sentences_and_pad_documents():
    assert split_sentences("One. Two!  Three?\n\nFour\n-- Someone") == ["One.", "Two!", "Three?", "Four", "-- Someone"]
    ids = pad_documents([[[1, 2, 3], [4]], [[], [5, 6]], []], max_words=2)
    assert ids.shape == (3, 2, 2)
    assert ids[0].tolist() == [[1, 2], [4, 0]] and ids[1].tolist() == [[0, 0], [5, 6]] and ids[2].sum() == 0


def test_pad_documents_rejects_ragged_or_untokenised_documents():
    with pytest.raises(DataError, match="document 0 must be a list of sentences"):
        pad_documents(["a plain string"])
    with pytest.raises(DataError, match="sentence 1 of document 0 must be a list of int token ids"):
        pad_documents([[[1, 2], "words"]])
    with pytest.raises(DataError, match="sentence 0 of document 1 must be a list of int"):
        pad_documents([[[1]], [[1.5, 2]]])
    with pytest.raises(DataError, match="padding id 0"):
        pad_documents([[[3, 0, 4]]])


# ----------------------------------------------------------------------------- fortunes
def test_fortunes_split_is_fixed_stratified_and_disjoint():
    require_path(FORTUNES, "Debian fortunes (apt-get install fortunes)")
    from tensorprism.data.datasets.fortunes import fortune_categories

    splits = {s: load_dataset("fortunes", split=s) for s in ("train", "val", "test")}
    assert {s: len(v) for s, v in splits.items()} == {"train": 12173, "val": 1522, "test": 1522}
    cats = fortune_categories(shared_data())
    assert len(cats) == 43 and "science" in cats
    texts = {s: {t for t, _ in v} for s, v in splits.items()}
    assert not (texts["train"] & texts["test"] - texts["val"]) or len(texts["train"] & texts["test"]) < 20  # duplicates only
    counts = collections.Counter(y for _, y in splits["test"])
    assert len(counts) >= 40 and len({y for _, y in splits["train"]}) == 43  # tiny categories may miss the test set
    assert load_dataset("fortunes", split="test")[:3] == splits["test"][:3]  # deterministic


# ----------------------------------------------------------------------------- Moving MNIST
def test_moving_video_is_seeded_bouncing_and_in_range():
    digits = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    labels = np.arange(20) % 10
    ds = moving_mnist.MovingMNIST(digits, labels, n=5, seed=3)
    v, y = ds[2]
    assert v.shape == (20, 1, 64, 64) and 0 <= v.min() and v.max() <= 1 and 0 <= y <= 18
    again = moving_mnist.make_moving_mnist(digits, labels, 5, seed=3)
    assert torch.equal((torch.from_numpy(again["videos"][2]).float() / 255).unsqueeze(1), v)
    assert int(again["digits"][2].sum()) == y
    pos = again["positions"]
    assert pos.min() >= 0 and pos.max() <= 64 - 28  # digits never leave the frame
    steps = np.abs(np.diff(pos, axis=1))
    assert steps.max() <= 5.0 + 1e-9 and steps.max() > 0  # moves at most `speed` per frame
    other = moving_mnist.MovingMNIST(digits, labels, n=5, seed=4)
    assert not torch.equal(other[2][0], v)
    with pytest.raises(ConfigError, match="label must be one of"):
        moving_mnist.MovingMNIST(digits, labels, 2, label="colour")


def test_moving_mnist_from_real_digits():
    _mnist()
    ds = load_dataset("moving-mnist", split="test", n=4)
    v, y = ds[0]
    assert v.shape == (20, 1, 64, 64) and ds.num_classes == 19
    assert (v > 0.5).flatten(1).any(1).all()  # every frame shows ink


# ----------------------------------------------------------------------------- digit scenes
def test_digit_vqa_answers_are_consistent_with_the_scene():
    rng_digits = np.zeros((100, 28, 28), np.uint8)
    labels = np.arange(100) % 10
    ds = digit_scenes.DigitVQA(rng_digits, labels, 300, "train", 0)
    for q, a, t, cells in zip(ds.questions, ds.answers, ds.qtypes, ds.cells, strict=True):
        if t == "count":
            assert a == str(len(cells))
        elif t == "largest":
            assert a == str(max(cells.values()))
        elif t == "position":
            cell = digit_scenes.CELLS.index(q.removeprefix("which digit is in the ").removesuffix(" ?"))
            assert a == (str(cells[cell]) if cell in cells else "nothing")
        else:
            b = int(q.split()[-2])
            rel = "left of" if t == "left-of" else "above"
            assert (int(a), b, rel) in digit_scenes._neighbours(cells)
    assert set(ds.qtypes) == set(digit_scenes.QUESTION_TYPES)
    (img, q), a = ds[0]
    assert img.shape == (1, 64, 64) and q.shape == (9,) and digit_scenes.decode(q) == ds.questions[0]


def test_captions_hold_out_compositions():
    digits = np.zeros((100, 28, 28), np.uint8)
    labels = np.arange(100) % 10
    train = digit_scenes.DigitCaptions(digits, labels, 300, "train", 0)
    held = digit_scenes.DigitCaptions(digits, labels, 100, "test-heldout", 0)

    def pair(c):
        w = c.split()
        return int(w[1]), int(w[-1])

    assert not any(digit_scenes.held_out_pair(*pair(c)) for c in train.captions)
    assert all(digit_scenes.held_out_pair(*pair(c)) for c in held.captions)
    item = train[0]
    assert digit_scenes.decode(item["tgt"][1:]) == train.captions[0]
    vqa_train = digit_scenes.DigitVQA(digits, labels, 200, "val", 0)
    assert not any(digit_scenes.held_out_pair(a, b) for c in vqa_train.cells for a, b, _ in digit_scenes._neighbours(c))


def test_digit_scenes_from_real_digits_are_reproducible():
    _mnist()
    a = load_dataset("digit-vqa", split="test", n=20)
    b = load_dataset("digit-vqa", split="test", n=20)
    assert np.array_equal(a.images, b.images) and a.questions == b.questions
    assert a.images.max() == 255


# ----------------------------------------------------------------------------- audio
def test_mel_filterbank_matches_librosa():
    librosa = pytest.importorskip("librosa", reason="librosa is the oracle (requirements-dev.txt)")
    for kw in ({}, {"htk": True}, {"fmin": 50.0, "fmax": 8000.0}):
        ours = mel_filterbank(22050, 512, 40, **kw)
        ref = torch.from_numpy(librosa.filters.mel(sr=22050, n_fft=512, n_mels=40, dtype=np.float64, **kw))
        torch.testing.assert_close(ours, ref, rtol=1e-7, atol=1e-10)
    x = np.random.default_rng(0).standard_normal(4000)
    S = librosa.feature.melspectrogram(y=x, sr=22050, n_fft=512, hop_length=256, center=False, n_mels=40)
    torch.testing.assert_close(log_mel_spectrogram(torch.from_numpy(x), 22050),
                               torch.from_numpy(np.log(np.maximum(S, 1e-10)).T), rtol=1e-6, atol=1e-6)


def test_audio_shorter_than_a_frame_is_a_clear_error():
    with pytest.raises(ShapeError, match="shorter than one analysis frame of n_fft=512"):
        log_mel_spectrogram(torch.zeros(300), 22050)
    with pytest.raises(ShapeError, match="float samples"):
        log_mel_spectrogram(torch.zeros(600, dtype=torch.int16), 22050)
    assert log_mel_spectrogram(torch.zeros(512), 22050).shape == (1, 40)


def test_spoken_digit_placement_and_speaker_split():
    assert [spoken_digits.speaker_split(k) for k in range(5)] == ["train", "train", "train", "val", "test"]
    clip = np.ones(100, np.float32)
    a = spoken_digits.place(clip, 1000, "x.wav")
    assert a.sum() == 100 and np.array_equal(a, spoken_digits.place(clip, 1000, "x.wav"))
    assert spoken_digits.place(np.ones(2000, np.float32), 1000, "y").sum() == 1000
    quiet = np.r_[np.zeros(50), np.ones(10), np.zeros(30)].astype(np.float32)
    assert len(spoken_digits.trim(quiet)) == 10


def test_spoken_digits_hold_out_speakers():
    if shutil.which("espeak-ng") is None:
        require_path("/usr/bin/espeak-ng", "Debian espeak-ng (apt-get install espeak-ng)")
    test = load_dataset("spoken-digits", split="test")
    train = load_dataset("spoken-digits", split="train")
    assert test.data.shape == (240, 85, 40) and len(train) == 720
    assert not set(test.meta["speakers"]) & set(train.meta["speakers"])
    assert torch.equal(torch.bincount(test.targets), torch.full((10,), 24))
    assert torch.isfinite(test.data).all()
