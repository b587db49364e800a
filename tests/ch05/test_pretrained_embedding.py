"""Embedding layers started from word2vec vectors (Ch. 5, D8)."""

import pytest
import torch

from tensorprism.errors import DataError, ShapeError
from tensorprism.nn.pretrained_embedding import (
    embedding_from_vectors,
    load_word_vectors,
    save_word_vectors,
)


def test_known_rows_are_copied_unknown_rows_match_the_scale_and_padding_is_zero(tmp_path):
    g = torch.Generator().manual_seed(0)
    words = [f"w{i}" for i in range(200)]
    vectors = torch.randn(200, 8, generator=g) * 0.3
    path = save_word_vectors(tmp_path / "word_vectors.pt", words, vectors)
    words2, vectors2 = load_word_vectors(tmp_path)  # a run directory works too
    assert words2 == words and torch.equal(vectors2, vectors) and path.is_file()
    vocab = ["<pad>", "W3", "w7", "unseen"] + [f"x{i}" for i in range(300)]
    emb, info = embedding_from_vectors(vocab, words, vectors, padding_idx=0, generator=g)
    assert (info.found, info.total) == (2, 304) and info.coverage == pytest.approx(2 / 304)
    torch.testing.assert_close(emb.weight[1], vectors[3])  # looked up lower-cased
    torch.testing.assert_close(emb.weight[2], vectors[7])
    assert torch.equal(emb.weight[0], torch.zeros(8))
    assert float(emb.weight[4:].detach().std()) == pytest.approx(float(vectors.std()), rel=0.1)
    assert emb.weight.requires_grad
    frozen, _ = embedding_from_vectors(vocab, words, vectors, freeze=True)
    assert not frozen.weight.requires_grad


def test_bad_vector_files_and_shapes_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="ch02-word2vec"):
        load_word_vectors(tmp_path)
    torch.save({"other": 1}, tmp_path / "word_vectors.pt")
    with pytest.raises(DataError, match="not a word-vector file"):
        load_word_vectors(tmp_path)
    with pytest.raises(ShapeError, match="one vector per word"):
        embedding_from_vectors(["a"], ["a", "b"], torch.zeros(3, 4))


@pytest.mark.data
def test_word2vec_recipe_writes_vectors_that_start_an_embedding(tmp_path):
    from tensorprism.data import is_available
    from tensorprism.recipes import run_recipe
    from tensorprism.testing import in_ci

    if not is_available("tinyshakespeare"):
        if in_ci():
            pytest.fail("tinyshakespeare is not available")
        pytest.skip("tinyshakespeare is not available")
    result = run_recipe("ch02-word2vec", epochs=1, max_steps=3, embed_dim=8, queries=["thou"], topk=2,
                        out_dir=str(tmp_path), progress=False, tensorboard=False, plots=False, device="cpu")
    words, vectors = load_word_vectors(result["word_vectors"])
    assert len(words) == result["vocab_size"] and vectors.shape == (len(words), 8)
    emb, info = embedding_from_vectors(["<pad>", "thou", "king", "xyzzy"], words, vectors, padding_idx=0)
    assert info.found == 2
    torch.testing.assert_close(emb.weight[1], vectors[words.index("thou")])
