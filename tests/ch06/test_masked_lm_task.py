"""The masked-LM training task and the SST-2 recipe's bucketed batches."""

from __future__ import annotations

import torch

from tensorprism import create_model
from tensorprism.models.transformer.objectives import mask_tokens
from tensorprism.recipes.ch06_sst2 import _Encoded
from tensorprism.train.tasks.masked_lm import MaskedLMTask

PAD, CLS, SEP, MASK, V = 0, 2, 3, 4, 50


def _tiny():
    torch.manual_seed(0)
    return create_model("bert-mini", head="pretraining", vocab_size=V, hidden_size=16, num_layers=1,
                        num_heads=2, intermediate_size=32, max_position=16, dropout=0.0, attn_dropout=0.0)


def _batch():
    ids = torch.randint(5, V, (4, 10))
    ids[:, 0], ids[:, -1] = CLS, SEP
    ids[1, 6:] = PAD  # a shorter sentence
    return ids


def test_masked_positions_only_loss_equals_the_full_vocabulary_head_loss():
    model, ids = _tiny(), _batch()
    task = MaskedLMTask(MASK, V, [PAD, CLS, SEP, MASK], PAD)
    fast = task.loss(model, ids, torch.Generator().manual_seed(3))
    special = torch.isin(ids, torch.tensor([PAD, CLS, SEP, MASK]))
    x, labels = mask_tokens(ids, MASK, V, special, generator=torch.Generator().manual_seed(3))
    assert (labels != -100).any() and not (labels[special] != -100).any()
    full = model(x, attention_mask=(ids != PAD).long(), mlm_labels=labels)["loss"]
    torch.testing.assert_close(fast, full)
    g_fast = torch.autograd.grad(fast, model.bert.embeddings.word.weight)[0]
    g_full = torch.autograd.grad(full, model.bert.embeddings.word.weight)[0]
    torch.testing.assert_close(g_fast, g_full)


def test_batch_with_nothing_masked_gives_zero_loss_not_nan():
    model, ids = _tiny(), _batch()
    loss = MaskedLMTask(MASK, V, [PAD, CLS, SEP], PAD, mlm_probability=0.0).loss(model, ids)
    assert loss.item() == 0.0
    loss.backward()  # still part of the graph


def test_evaluation_masks_are_reproducible_and_training_masks_are_fresh():
    model, ids = _tiny(), _batch()
    task = MaskedLMTask(MASK, V, [PAD, CLS, SEP], PAD)
    with torch.no_grad():
        e1, e2 = (task.evaluation_step(model, {"x": ids})["loss"] for _ in range(2))
        t = [task.training_step(model, {"x": ids})["loss"] for _ in range(4)]
    assert e1 == e2
    assert len({float(v) for v in t}) > 1


def test_bucketed_batches_cover_every_sentence_once_with_less_padding():
    torch.manual_seed(0)
    seqs = [[1] * int(n) for n in torch.randint(1, 60, (512,))]
    data = _Encoded(seqs, list(range(512)), pad_id=7)
    batches = list(data.loader(32, shuffle=True, seed=0))
    assert sorted(int(y) for b in batches for y in b["y"]) == list(range(512))
    bucketed = sum(b["x"].numel() for b in batches)
    plain = sum(b["x"].numel() for b in torch.utils.data.DataLoader(data, 32, shuffle=True,
                                                                      collate_fn=data.collate_fn))
    assert bucketed < 0.6 * plain
    for b in batches:  # padded with the tokenizer's pad id, to the batch's own longest sentence
        beyond = torch.arange(b["x"].shape[1]) >= b["x_lengths"][:, None]
        assert (b["x"][beyond] == 7).all() and (b["x"][~beyond] == 1).all()
        assert b["x"].shape[1] == b["x_lengths"].max()
    eval_lengths = [b["x"].shape[1] for b in data.loader(64, shuffle=False)]
    assert eval_lengths == sorted(eval_lengths)
