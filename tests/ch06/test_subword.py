"""WordPiece and byte-level BPE trained locally on real text, saved and reloaded."""

from __future__ import annotations

import pytest

from tensorprism.data.text.subword import SubwordTokenizer, train_bpe, train_wordpiece
from tensorprism.testing import require_path, shared_data


@pytest.fixture(scope="module")
def sentences():
    path = require_path(shared_data("sst2", "dev.tsv"), "SST-2 dev sentences")
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t", 1)[1] for line in lines]


def test_wordpiece_trains_encodes_pairs_and_round_trips(sentences, tmp_path):
    tok = train_wordpiece(sentences, vocab_size=2000)
    assert tok.pad_id == 0 and len(tok) <= 2000
    ids = tok.encode("it 's a charming and often affecting journey .")
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert tok.decode(ids) == "it ' s a charming and often affecting journey."  # BERT's cleanup
    assert any(t.startswith("##") for s in sentences[:50] for t in tok.tokens(s))  # continuation pieces
    batch = tok.encode_batch(["a good film", "bad"], pairs=["yes", "no at all"])
    assert batch["input_ids"].shape == batch["attention_mask"].shape == batch["token_type_ids"].shape
    n_b = len(tok.encode("yes", add_special_tokens=False)) + 1  # "yes [SEP]" is segment B
    assert int((batch["token_type_ids"][0] * batch["attention_mask"][0]).sum()) == n_b
    assert batch["attention_mask"][1].tolist()[-1] == 0  # padded
    tok.save(tmp_path)
    again = SubwordTokenizer.load(tmp_path)
    assert again.encode(sentences[3]) == tok.encode(sentences[3])


def test_byte_level_bpe_is_lossless_even_on_unseen_characters(sentences, tmp_path):
    tok = train_bpe(sentences, vocab_size=1500)
    for text in [sentences[0], "Ünïcödé ✓ never seen — 123", "  spaces\tand\nnewlines "]:
        assert tok.decode(tok.encode(text)) == text
    assert tok.mask_id is not None and set(tok.special_ids()) == {0, 1, 2, 3}
    assert len(tok.encode(sentences[0])) < len(sentences[0].encode()) / 2  # merges compress
    SubwordTokenizer.load(tok.save(tmp_path))
