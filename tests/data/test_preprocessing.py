"""Preprocessing fitted on a training split travels with the model: saved in the run, rebuilt from
JSON, and applied to raw inputs by `prism predict`, so raw inputs score what the test split scores."""

import json

import numpy as np
import pytest
import torch

from tensorprism.cli import main
from tensorprism.data import is_available, load_dataset
from tensorprism.data.preprocessing import (
    CharVocab,
    DocumentVocab,
    ImageNormalize,
    PairVocab,
    Preprocessing,
    Standardize,
    WordVocab,
    preprocessing_of,
)
from tensorprism.errors import ConfigError, DataError, ShapeError
from tensorprism.testing import in_ci
from tensorprism.train.run import Predictor

QUIET = ["progress=false", "plots=false", "tensorboard=false"]


@pytest.mark.parametrize("pre, raw", [
    (Standardize([1.0, 2.0], [2.0, 4.0]), torch.tensor([[3.0, 6.0]])),
    (Standardize([0.0] * 4, [1.0] * 4, shape=(1, 2, 2)), torch.arange(8.0).view(2, 4)),
    (ImageNormalize([0.5], [0.25]), torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)),
    (CharVocab.fit("hello"), "hole"),
    (WordVocab.fit(["a good film", "a bad film"]), ["A good, bad film", ""]),
    (DocumentVocab.fit(["A good film. A bad one!"], max_sentences=3, max_words=2), ["A good film. Bad?", ""]),
    (PairVocab.fit([("ein guter Film", "a good film"), ("ein Film", "a film")], max_len=4), ["ein guter Film x", ""]),
])
def test_json_round_trip_gives_the_same_transform(pre, raw):
    doc = json.loads(json.dumps(pre.to_dict()))
    again = Preprocessing.from_dict(doc)
    assert again == pre
    a, b = pre(raw), again(raw)
    for x, y in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b], strict=True):
        assert torch.equal(x, y)


def test_transforms_compute_what_they_document():
    assert torch.allclose(Standardize([1.0, 2.0], [2.0, 4.0])(np.array([[3.0, 6.0]])), torch.tensor([[1.0, 1.0]]))
    img = ImageNormalize([0.5], [0.25])(np.full((1, 4, 4), 255, dtype=np.uint8))  # (N, H, W): one channel
    assert img.shape == (1, 1, 4, 4) and torch.allclose(img, torch.full_like(img, 2.0))
    words = WordVocab.fit(["a good film"])
    ids = words(["a GOOD unseen"])[0]
    assert ids[2] == words.tokenizer.vocab.unk_id and ids[0] == ids[0] != 0  # id 0 is padding only


def test_pair_vocab_wraps_targets_cuts_to_max_len_and_decodes():
    pairs = PairVocab.fit([("ein guter Film", "a good film"), ("ein Film", "a film")], max_len=4)
    src, tgt = pairs.encode_pair("ein guter Film heute", "a good film today")
    assert src.tolist() == pairs.src.encode("ein guter film")[:4] + [pairs.unk_id]  # unknown word kept as <unk>
    assert tgt.tolist()[0] == pairs.bos_id and tgt.tolist()[-1] == pairs.eos_id and len(tgt) == 4  # max_len
    assert pairs.decode(tgt.tolist()[1:] + [pairs.pad_id]) == "a good"
    with pytest.raises(ConfigError, match="max_len must be >= 3"):
        PairVocab.fit([("a", "b")], max_len=2)


def test_document_vocab_splits_sentences_pads_and_caps():
    """Texts -> (S, W) ids for hierarchical models: one row per sentence, 0 only as padding, at most
    max_sentences x max_words, and a text without words still gives one (unknown) word."""
    docs = DocumentVocab.fit(["the sea is wide. the ship is small!"], max_sentences=2, max_words=3)
    a, b, c = docs(["The sea is wide. The ship is very small! Extra sentence?", "wide sea", "  "])
    assert a.shape == (2, 3) and a.dtype == torch.long and (a != 0).all()  # capped: 2 sentences of 3 words
    assert a[1].tolist() == docs.tokenizer.encode("the ship is")  # sentence 2, cut to its first 3 words
    assert b.shape == (1, 2) and c.shape == (1, 1) and c[0, 0] == docs.tokenizer.vocab.unk_id
    short = docs(["Wide. The sea is"])[0]
    assert short.shape == (2, 3) and short[0].tolist() == [*docs.tokenizer.encode("wide."), 0]  # padded words
    with pytest.raises(ConfigError, match="max_sentences and max_words"):
        DocumentVocab(["<pad>", "<unk>"], max_sentences=0)


def test_bad_inputs_and_documents_are_clear_errors():
    with pytest.raises(ShapeError, match=r"expected an array of shape \(N, 2\)"):
        Standardize([0.0, 0.0], [1.0, 1.0])(np.zeros((3, 5)))
    with pytest.raises(ShapeError, match=r"expected \(N, 3, H, W\)"):
        ImageNormalize([0.5] * 3, [0.2] * 3)(np.zeros((2, 1, 4, 4)))
    with pytest.raises(DataError, match="not in the model's vocabulary"):
        CharVocab.fit("abc")("abz")
    with pytest.raises(DataError, match="numeric"):
        Standardize([0.0], [1.0])(np.array([[True]]))
    with pytest.raises(ConfigError, match="unknown preprocessing 'pickle'"):
        Preprocessing.from_dict({"kind": "pickle"})
    with pytest.raises(ConfigError, match="unexpected settings"):
        Preprocessing.from_dict({"kind": "standardize", "mean": [0.0], "scale": [1.0], "code": "x"})
    with pytest.raises(ConfigError, match="scale > 0"):
        Standardize([0.0], [0.0])


def test_datasets_expose_the_transform_fitted_on_their_training_split():
    test = load_dataset("digits", split="test")
    pre = preprocessing_of(test)
    raw = load_dataset("digits", split="test", standardize=False)
    assert torch.allclose(pre(raw.data), test.data)
    assert preprocessing_of(raw) is None


def _accuracy_of_raw_predictions(capsys, run, raw, labels, tmp_path):
    np.save(tmp_path / "raw.npy", raw)
    out = tmp_path / "pred.npy"
    assert main(["predict", str(run), "-i", str(tmp_path / "raw.npy"), "-o", str(out)]) == 0
    capsys.readouterr()
    return float((np.load(out) == labels).mean())


def _eval_accuracy(capsys, run):
    assert main(["eval", str(run), "--json"]) == 0
    return json.loads(capsys.readouterr().out)["test/acc"]


def test_raw_digits_predicted_through_the_run_score_the_test_accuracy(tmp_path, capsys):
    run = tmp_path / "digits"
    assert main(["train", "--out", str(run), "--epochs", "1", *QUIET]) == 0
    capsys.readouterr()
    raw = load_dataset("digits", split="test", standardize=False)  # pixels 0..16
    assert raw.data.max() == 16
    acc = _accuracy_of_raw_predictions(capsys, run, raw.data.numpy(), raw.targets.numpy(), tmp_path)
    assert acc == pytest.approx(_eval_accuracy(capsys, run)) and acc > 0.5
    # the same through the Python API
    assert float((Predictor.from_run(run)(raw.data) == raw.targets).float().mean()) == pytest.approx(acc)


def test_raw_mnist_predicted_through_the_run_score_the_test_accuracy(tmp_path, capsys):
    if not is_available("mnist"):
        if in_ci():
            pytest.fail("MNIST is missing in CI")
        pytest.skip("MNIST is not available here")
    run, n = tmp_path / "mnist", 400
    assert main(["train", "--model", "lenet5", "--dataset", "mnist", "--out", str(run), "--epochs", "1",
                 f"dataset.limit={n}", "batch_size=32", *QUIET]) == 0
    capsys.readouterr()
    raw = load_dataset("mnist", split="test", raw=True)  # uint8 0..255, the first n as the run's test split
    images, labels = raw.data[:n].numpy(), raw.targets[:n].numpy()
    acc = _accuracy_of_raw_predictions(capsys, run, images, labels, tmp_path)
    assert acc == pytest.approx(_eval_accuracy(capsys, run))
    # an MNIST model is not evaluated on a dataset of another kind
    assert main(["eval", str(run), "--dataset", "cora"]) == 2
    assert "not of the kind the model was trained on" in capsys.readouterr().err
