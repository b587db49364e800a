"""Tokenisers, vocabularies, padding, bucketing, LM datasets and the real text/time-series loaders."""

import pytest
import torch

from tensorprism.data import load_dataset
from tensorprism.data.text import (
    BucketBatchSampler,
    CharTokenizer,
    PadCollator,
    SlidingWindowDataset,
    Vocab,
    WordTokenizer,
    batchify_stream,
    pad_sequences,
    tbptt_segments,
)
from tensorprism.errors import ConfigError
from tensorprism.testing import require_path, shared_data


def test_char_tokenizer_is_the_books_char_to_idx():
    tok = CharTokenizer.fit("hello world")
    assert tok.vocab.itos == sorted(set("hello world"))  # D3: chars = sorted(set(text))
    assert tok.decode(tok.encode("hello")) == "hello"


def test_word_vocab_specials_unknowns_and_max_size():
    texts = ["I love this product!", "This is the worst thing ever.", "love love"]
    tok = WordTokenizer().fit(texts, max_size=3)
    v = tok.vocab
    assert v.itos[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"] and len(v) == 7
    assert v.itos[4] == "love"  # most frequent first
    ids = tok.encode("love zebra", bos=True, eos=True)
    assert ids == [2, 4, v.unk_id, 3]
    assert tok.decode(ids) == "love <unk>"
    with pytest.raises(KeyError):
        Vocab(["a"], specials=())["b"]


def test_vocab_save_load_round_trip(tmp_path):
    v = Vocab.build([["a", "b", "a"]])
    v.save(tmp_path / "v.json")
    w = Vocab.load(tmp_path / "v.json")
    assert w.itos == v.itos and w["a"] == v["a"]


def test_pad_sequences_pre_and_post():
    seqs = [[1, 2, 3], [4]]
    assert pad_sequences(seqs).tolist() == [[1, 2, 3], [4, 0, 0]]
    assert pad_sequences(seqs, padding="pre").tolist() == [[1, 2, 3], [0, 0, 4]]
    assert pad_sequences(seqs, maxlen=2, truncating="pre").tolist() == [[2, 3], [4, 0]]
    with pytest.raises(ConfigError):
        pad_sequences(seqs, padding="middle")


def test_pad_collator_gives_lengths_for_packing():
    batch = PadCollator(("src", "tgt", "y"))([([1, 2], [5], 1), ([3], [6, 7, 8], 0)])
    assert batch["src"].tolist() == [[1, 2], [3, 0]] and batch["src_lengths"].tolist() == [2, 1]
    assert batch["tgt_lengths"].tolist() == [1, 3] and batch["y"].tolist() == [1, 0]


def test_bucket_sampler_groups_similar_lengths_and_covers_all():
    lengths = [int(x) for x in torch.randint(1, 100, (1000,))]
    s = BucketBatchSampler(lengths, 10, pool_factor=20)
    batches = list(s)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 10  # random batches would spread ~80
    assert list(s) != batches  # a new order each epoch


def test_sliding_window_next_and_shifted_targets():
    ids = list(range(10))
    nxt = SlidingWindowDataset(ids, 5, target="next")  # the book's x = seq[i:i+L], y = seq[i+L]
    assert len(nxt) == 5 and nxt[0][0].tolist() == [0, 1, 2, 3, 4] and int(nxt[0][1]) == 5
    sh = SlidingWindowDataset(ids, 4, stride=4)
    assert sh[1][0].tolist() == [4, 5, 6, 7] and sh[1][1].tolist() == [5, 6, 7, 8]


def test_erratum_tbptt_segments_do_not_overlap():
    """E4 (l. 10928-10932): the book's segments share end points; ours partition the steps."""
    rows = batchify_stream(list(range(21)), 2)  # (2, 10)
    segs = list(tbptt_segments(rows, 4))
    xs = torch.cat([x for x, _ in segs], 1)
    assert xs.tolist() == rows[:, :9].tolist()
    assert torch.equal(torch.cat([y for _, y in segs], 1), rows[:, 1:])


@pytest.mark.data
def test_real_text_loaders():
    require_path(shared_data("tinyshakespeare"), "Tiny Shakespeare")
    require_path(shared_data("sst2"), "SST-2")
    require_path(shared_data("multi30k"), "Multi30k")
    assert len(load_dataset("tinyshakespeare", split="all")) == 1_115_394
    test = load_dataset("sst2", split="test")
    assert len(test) == 1821 and {y for _, y in test} == {0, 1}
    pairs = load_dataset("multi30k", split="test2016")
    assert len(pairs) == 1000 and pairs[0][1].startswith("A man")
    with pytest.raises(ConfigError, match="test2016"):
        load_dataset("multi30k", split="test")


def test_time_series_loaders():
    air = load_dataset("airline", split="all")
    assert air.values.shape == (144,) and air.values[0] == 112 and air.period == 12
    train, test = air.split()
    assert len(test) == 24 and load_dataset("airline", split="train").values.shape == (120,)
    sun = load_dataset("sunspots", split="all")
    assert sun.values.shape == (309,) and sun.index[0] == "1700"
    gp = load_dataset("gunpoint", split="train")
    assert gp.x.shape == (50, 1, 150) and set(gp.y.tolist()) == {0, 1}
